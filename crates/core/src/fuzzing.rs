//! Entry points for the fuzz targets in `fuzz/` (cargo fuzz) and for the replay of their corpus
//! in `cargo test` (`tests/it/fuzz_replay.rs`): each takes arbitrary bytes and runs one parser
//! of untrusted input. A refusal is fine; a panic, a hang or an overflow is the bug sought.
//! Hidden from the docs: nothing in the app calls these.

use time::macros::date;

use crate::enterprises::CreditCode;
use crate::epidemic::policy::{classify, DivisionCode, Facts, PolicyDraft, RiskArea};
use crate::kernel::idnumber::ResidentId;
use crate::kernel::phone::Phone;
use crate::registry::{roster, sheet};

/// One target's entry point.
pub type Target = fn(&[u8]);

/// The fuzz targets, by name: the folder of `fuzz/corpus/` each reads.
pub const TARGETS: &[(&str, Target)] = &[
    ("id_number", id_number),
    ("phone", phone),
    ("credit_code", credit_code),
    ("roster", roster_file),
    ("policy", policy),
];

fn text(data: &[u8]) -> &str {
    std::str::from_utf8(data).unwrap_or_default()
}

/// A resident ID number (GB 11643) as typed.
pub fn id_number(data: &[u8]) {
    let _ = ResidentId::parse(text(data), date!(2020 - 02 - 10));
}

/// A mainland mobile or landline number as typed.
pub fn phone(data: &[u8]) {
    let _ = Phone::parse(text(data));
}

/// A unified social credit code (GB 32100).
pub fn credit_code(data: &[u8]) {
    let _ = CreditCode::parse(text(data));
}

/// An uploaded roster: a workbook by its first bytes (xlsx, xls, ods), else CSV text in any of
/// the encodings the import accepts; every row read to the end.
pub fn roster_file(data: &[u8]) {
    if sheet::is_workbook(data) {
        let _ = sheet::read_rows_from_bytes(data, |_, _, _| true);
    } else {
        let (text, _) = roster::decode(data);
        let _ = roster::read_csv(&text);
    }
}

/// A policy as the editor's JSON mode takes it, with the facts of one screening and the risk
/// areas in force: `{"policy": {...}, "facts": {...}, "areas": [...]}`.
pub fn policy(data: &[u8]) {
    #[derive(serde::Deserialize)]
    struct Case {
        policy: serde_json::Value,
        facts: Facts,
        #[serde(default)]
        areas: Vec<RiskArea>,
    }
    let Ok(case) = serde_json::from_slice::<Case>(data) else {
        return;
    };
    let Ok(policy) = PolicyDraft::from_json(&case.policy.to_string()) else {
        return;
    };
    let Ok(community) = DivisionCode::parse("533401") else {
        return;
    };
    let _ = classify(&policy, &case.facts, &case.areas, &community, &|_| None);
}
