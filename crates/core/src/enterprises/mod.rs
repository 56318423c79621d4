//! Enterprises and individual businesses (企业、个体工商户) and their reopening (复工复产):
//! the unified social credit code, the reopening checklist of the source reports, the community's
//! decision, the inspections that follow, and why a business has not reopened yet.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::kernel::labels::Labelled;
use crate::labelled;
use crate::CoreError;

// ---------------------------------------------------------------------------------------------
// Unified social credit code (统一社会信用代码)
// ---------------------------------------------------------------------------------------------

/// The 31 characters of GB 32100-2015, in the order of their values 0..=30 (I, O, Z, S and V
/// are left out because they are read as 1, 0, 2, 5 and U).
const ALPHABET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";

/// Weights of positions 1–17 in GB 32100-2015 §5 (校验码): w_i = 3^(i-1) mod 31. Computed, not
/// copied, and checked against the standard's table in the tests.
const WEIGHTS: [u32; 17] = {
    let mut w = [0u32; 17];
    let mut i = 0;
    let mut v = 1u32;
    while i < 17 {
        w[i] = v;
        v = v * 3 % 31;
        i += 1;
    }
    w
};

const FIELD: &str = "credit_code";

fn value_of(c: u8) -> Option<u32> {
    ALPHABET.iter().position(|&a| a == c).map(|p| p as u32)
}

/// The check character (position 18) of the first 17 characters of a code, per GB 32100-2015:
/// C18 = 31 − (Σ v_i·w_i mod 31), where 31 is written as 0. `None` if a character is outside
/// the code's alphabet.
pub fn credit_check_char(body: &[u8]) -> Option<char> {
    if body.len() != 17 {
        return None;
    }
    let mut sum = 0u32;
    for (c, w) in body.iter().zip(WEIGHTS) {
        sum += value_of(*c)? * w;
    }
    let c = (31 - sum % 31) % 31;
    Some(ALPHABET[c as usize] as char)
}

/// Full-width ASCII (what a Chinese input method types) to half-width.
fn fold_full_width(c: char) -> char {
    match c {
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(u32::from(c) - 0xFEE0).unwrap_or(c),
        '\u{3000}' => ' ',
        _ => c,
    }
}

/// A unified social credit code (GB 32100-2015), normalised: 18 characters, upper case.
///
/// Checked: the alphabet, positions 3–8 (the GB/T 2260 division code) being digits, and the
/// check character at position 18. Not checked: the organisation code's own GB 11714 check
/// character at position 17 — codes issued to individual businesses (92…) and to bodies whose
/// organisation code was assigned in the new scheme do not all satisfy it, and position 18
/// already covers every single-character typo over the whole code; nor the registration
/// authority and entity type codes of positions 1–2, whose lists change by decree.
#[derive(Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct CreditCode(String);

impl CreditCode {
    /// Parses a code as typed: trimmed, inner spaces removed, full-width folded, upper-cased.
    /// A wrong check character is refused without saying which character would be right:
    /// a typo elsewhere in the code also shows up as a wrong check character, and naming the
    /// "right" one would invite a valid-looking but wrong code.
    pub fn parse(raw: &str) -> Result<CreditCode, CoreError> {
        let s: String = raw
            .chars()
            .map(fold_full_width)
            .filter(|c| !c.is_whitespace() && *c != '-')
            .map(|c| c.to_ascii_uppercase())
            .collect();
        if s.is_empty() {
            return Err(CoreError::invalid(FIELD, "请填写统一社会信用代码"));
        }
        let n = s.chars().count();
        if n != 18 {
            return Err(CoreError::invalid(
                FIELD,
                format!("统一社会信用代码应为 18 位，这里是 {n} 位"),
            ));
        }
        if let Some((i, bad)) = s
            .char_indices()
            .find(|(_, c)| !c.is_ascii() || value_of(*c as u8).is_none())
        {
            return Err(CoreError::invalid(
                FIELD,
                format!(
                    "第 {} 位「{bad}」不能出现在统一社会信用代码中（只用数字和除 I、O、Z、S、V 以外的大写字母）",
                    i + 1
                ),
            ));
        }
        let b = s.as_bytes();
        if !b[2..8].iter().all(u8::is_ascii_digit) {
            return Err(CoreError::invalid(
                FIELD,
                "第 3 至 8 位应为登记管理机关的行政区划代码（6 位数字）",
            ));
        }
        if credit_check_char(&b[..17]) != Some(b[17] as char) {
            return Err(CoreError::invalid(
                FIELD,
                "统一社会信用代码校验位不符，请对照营业执照逐位核对",
            ));
        }
        Ok(CreditCode(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The GB/T 2260 division code of the registering authority (positions 3–8).
    pub fn division(&self) -> &str {
        &self.0[2..8]
    }
}

impl fmt::Debug for CreditCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CreditCode({})", self.0)
    }
}

impl fmt::Display for CreditCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

// ---------------------------------------------------------------------------------------------
// Labelled choices
// ---------------------------------------------------------------------------------------------

labelled! {
    /// A company (any legal form) or an individual business (个体工商户: shops, stalls).
    #[derive(Hash, Deserialize, strum::Display)]
    pub enum EnterpriseKind: "kind", FromStr {
        #[strum(serialize = "enterprise", props(zh = "企业"))]
        Enterprise,
        #[strum(serialize = "individual", props(zh = "个体工商户"))]
        Individual,
    }
}

labelled! {
    /// The four conditions every business had to show before reopening, from the source reports.
    #[derive(Hash, Deserialize, strum::Display)]
    pub enum ChecklistItem: "checklist", FromStr {
        #[strum(serialize = "thermometers", props(zh = "配备体温计"))]
        Thermometers,
        #[strum(serialize = "disinfection", props(zh = "每日两次消毒"))]
        Disinfection,
        #[strum(serialize = "masks", props(zh = "员工全部佩戴口罩"))]
        Masks,
        #[strum(serialize = "staff_registration", props(zh = "员工信息登记"))]
        StaffRegistration,
    }
}

labelled! {
    /// Why a business has not reopened, so the community knows what help is needed.
    #[derive(Hash, Deserialize, strum::Display)]
    pub enum NotReopenedReason: "reason", FromStr {
        #[strum(serialize = "workers_short", props(zh = "员工未返岗"))]
        WorkersShort,
        #[strum(serialize = "no_protective_supplies", props(zh = "缺少防护物资"))]
        NoProtectiveSupplies,
        #[strum(serialize = "no_materials", props(zh = "原材料短缺"))]
        NoMaterials,
        #[strum(serialize = "no_demand", props(zh = "市场需求不足"))]
        NoDemand,
        #[strum(serialize = "other", props(zh = "其他"))]
        Other,
    }
}

labelled! {
    /// Where a reopening application stands.
    #[derive(Hash, Deserialize, strum::Display)]
    pub enum ReopeningStatus: "status", FromStr {
        #[strum(serialize = "submitted", props(zh = "待审核"))]
        Submitted,
        #[strum(serialize = "approved", props(zh = "已同意复工"))]
        Approved,
        #[strum(serialize = "rejected", props(zh = "未通过"))]
        Rejected,
    }
}

// ---------------------------------------------------------------------------------------------
// Small parsed fields
// ---------------------------------------------------------------------------------------------

fn keep<T>(errors: &mut Vec<CoreError>, r: Result<T, CoreError>) -> Option<T> {
    r.map_err(|e| errors.push(e)).ok()
}

fn blank(v: Option<&str>) -> Option<&str> {
    v.map(str::trim).filter(|s| !s.is_empty())
}

/// Trimmed text of at most `max` characters, with no control characters.
fn short_text(field: &str, label: &str, raw: &str, max: usize) -> Result<String, CoreError> {
    let s = raw.trim();
    if s.chars().count() > max {
        return Err(CoreError::invalid(
            field,
            format!("{label}不能超过 {max} 个字"),
        ));
    }
    if s.chars().any(|c| c.is_control() && c != '\n' && c != '\r') {
        return Err(CoreError::invalid(
            field,
            format!("{label}中含有不可见的控制字符"),
        ));
    }
    Ok(s.to_owned())
}

fn required_text(field: &str, label: &str, raw: &str, max: usize) -> Result<String, CoreError> {
    let s = short_text(field, label, raw, max)?;
    if s.is_empty() {
        return Err(CoreError::invalid(field, format!("请填写{label}")));
    }
    Ok(s)
}

/// A count of employees: a whole number from 0 to 1,000,000.
fn parse_count(field: &str, label: &str, raw: &str) -> Result<i64, CoreError> {
    let s: String = raw.trim().chars().map(fold_full_width).collect();
    match s.parse::<i64>() {
        Ok(n) if (0..=1_000_000).contains(&n) => Ok(n),
        _ => Err(CoreError::invalid(
            field,
            format!("{label}应为 0 至 1000000 之间的整数"),
        )),
    }
}

// ---------------------------------------------------------------------------------------------
// Enterprise draft
// ---------------------------------------------------------------------------------------------

/// The raw fields of an enterprise, as typed into a form or an API body.
#[derive(Debug, Clone, Default)]
pub struct EnterpriseInput<'a> {
    pub name: &'a str,
    /// `enterprise` or `individual` (or their Chinese labels).
    pub kind: &'a str,
    pub credit_code: Option<&'a str>,
    pub address: Option<&'a str>,
    pub employees: Option<&'a str>,
    pub contact_name: Option<&'a str>,
    pub contact_phone: Option<&'a str>,
}

/// An enterprise's fields, every one parsed. Built by [`EnterpriseDraft::parse`].
#[derive(Debug, Clone)]
pub struct EnterpriseDraft {
    pub name: String,
    pub kind: EnterpriseKind,
    /// Required of enterprises; optional for individual businesses (a market stall registered
    /// with the community may have none on hand, while a shop's licence carries one).
    pub credit_code: Option<CreditCode>,
    pub address: Option<String>,
    pub employees: Option<i64>,
    pub contact_name: Option<String>,
    pub contact_phone: Option<crate::Phone>,
}

impl EnterpriseDraft {
    /// Parses every field, reporting all errors at once.
    pub fn parse(input: &EnterpriseInput<'_>) -> Result<EnterpriseDraft, Vec<CoreError>> {
        let mut errors = Vec::new();
        let name = keep(&mut errors, required_text("name", "名称", input.name, 100));
        let kind = keep(&mut errors, input.kind.parse::<EnterpriseKind>());
        let credit_code =
            blank(input.credit_code).and_then(|c| keep(&mut errors, CreditCode::parse(c)));
        if blank(input.credit_code).is_none() && kind == Some(EnterpriseKind::Enterprise) {
            errors.push(CoreError::invalid(
                FIELD,
                "企业须填写统一社会信用代码（个体工商户可不填）",
            ));
        }
        let address = blank(input.address)
            .and_then(|a| keep(&mut errors, short_text("address", "地址", a, 200)));
        let employees = blank(input.employees)
            .and_then(|e| keep(&mut errors, parse_count("employees", "员工人数", e)));
        let contact_name = blank(input.contact_name)
            .and_then(|c| keep(&mut errors, short_text("contact_name", "联系人", c, 50)));
        let contact_phone = blank(input.contact_phone).and_then(|p| {
            keep(
                &mut errors,
                crate::Phone::parse(p).map_err(|e| CoreError::invalid("contact_phone", e.message)),
            )
        });
        match (name, kind, errors.is_empty()) {
            (Some(name), Some(kind), true) => Ok(EnterpriseDraft {
                name,
                kind,
                credit_code,
                address,
                employees,
                contact_name,
                contact_phone,
            }),
            _ => Err(errors),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Reopening application
// ---------------------------------------------------------------------------------------------

/// The raw fields of a reopening application.
#[derive(Debug, Clone, Default)]
pub struct ReopeningInput<'a> {
    /// The standard items ticked, by code or Chinese label.
    pub checked: &'a [String],
    /// Other conditions the business lists itself (one per entry; blanks ignored).
    pub extra_items: &'a [String],
    pub employees_back: Option<&'a str>,
    pub planned_on: Option<&'a str>,
    pub note: Option<&'a str>,
}

/// A reopening application, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReopeningDraft {
    /// The standard items ticked, in the standard order, without repeats.
    pub checked: Vec<ChecklistItem>,
    pub extra_items: Vec<String>,
    pub employees_back: Option<i64>,
    pub planned_on: Option<time::Date>,
    pub note: Option<String>,
}

impl ReopeningDraft {
    pub const MAX_EXTRA_ITEMS: usize = 10;

    pub fn parse(input: &ReopeningInput<'_>) -> Result<ReopeningDraft, Vec<CoreError>> {
        let mut errors = Vec::new();
        let mut ticked = Vec::new();
        for c in input.checked.iter().filter(|c| !c.trim().is_empty()) {
            if let Some(item) = keep(&mut errors, c.parse::<ChecklistItem>()) {
                ticked.push(item);
            }
        }
        let checked: Vec<ChecklistItem> = ChecklistItem::ALL
            .iter()
            .copied()
            .filter(|i| ticked.contains(i))
            .collect();
        let mut extra_items: Vec<String> = Vec::new();
        for e in input.extra_items {
            match short_text("extra_items", "其他措施", e, 100) {
                Ok(s) if s.is_empty() => {}
                Ok(s) => {
                    if !extra_items.contains(&s) {
                        extra_items.push(s);
                    }
                }
                Err(e) => errors.push(e),
            }
        }
        if extra_items.len() > Self::MAX_EXTRA_ITEMS {
            errors.push(CoreError::invalid(
                "extra_items",
                format!("其他措施最多 {} 条", Self::MAX_EXTRA_ITEMS),
            ));
        }
        let employees_back = blank(input.employees_back)
            .and_then(|e| keep(&mut errors, parse_count("employees_back", "返岗人数", e)));
        let planned_on = blank(input.planned_on).and_then(|d| {
            keep(
                &mut errors,
                crate::kernel::clock::parse_date("planned_on", d),
            )
        });
        let note =
            blank(input.note).and_then(|n| keep(&mut errors, short_text("note", "说明", n, 500)));
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(ReopeningDraft {
            checked,
            extra_items,
            employees_back,
            planned_on,
            note,
        })
    }

    /// The standard items not ticked: an application may be submitted with some missing (the
    /// community sees what is lacking), but it cannot be approved until none is.
    pub fn missing(&self) -> Vec<ChecklistItem> {
        missing_items(&self.checked)
    }
}

/// The standard items not among `checked`.
pub fn missing_items(checked: &[ChecklistItem]) -> Vec<ChecklistItem> {
    ChecklistItem::ALL
        .iter()
        .copied()
        .filter(|i| !checked.contains(i))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Decision
// ---------------------------------------------------------------------------------------------

/// The community's decision on a reopening application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReopeningDecision {
    /// Approved, with an optional remark.
    Approve { note: Option<String> },
    /// Rejected: the reason is required, since the business must know what to fix.
    Reject { reason: String },
}

impl ReopeningDecision {
    /// `decision` is `approve` / `reject` (or 同意 / 不同意); `reason` is the remark or the
    /// reason for rejecting.
    pub fn parse(
        decision: &str,
        reason: Option<&str>,
    ) -> Result<ReopeningDecision, Vec<CoreError>> {
        let mut errors = Vec::new();
        let reason =
            blank(reason).and_then(|r| keep(&mut errors, short_text("reason", "理由", r, 500)));
        let d = decision.trim();
        let out = match d {
            "approve" | "同意" | "同意复工" => Some(ReopeningDecision::Approve {
                note: reason.clone(),
            }),
            "reject" | "不同意" | "驳回" => match reason.clone() {
                Some(reason) => Some(ReopeningDecision::Reject { reason }),
                None => {
                    errors.push(CoreError::invalid("reason", "不同意复工时须写明理由"));
                    None
                }
            },
            _ => {
                errors.push(CoreError::invalid(
                    "decision",
                    "应为 approve（同意复工）或 reject（不同意）",
                ));
                None
            }
        };
        match out {
            Some(o) if errors.is_empty() => Ok(o),
            _ => Err(errors),
        }
    }

    pub fn status(&self) -> ReopeningStatus {
        match self {
            ReopeningDecision::Approve { .. } => ReopeningStatus::Approved,
            ReopeningDecision::Reject { .. } => ReopeningStatus::Rejected,
        }
    }

    pub fn reason(&self) -> Option<&str> {
        match self {
            ReopeningDecision::Approve { note } => note.as_deref(),
            ReopeningDecision::Reject { reason } => Some(reason),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Inspection
// ---------------------------------------------------------------------------------------------

/// The raw fields of an inspection after reopening.
#[derive(Debug, Clone, Default)]
pub struct InspectionInput<'a> {
    pub inspected_on: &'a str,
    pub inspector: &'a str,
    pub findings: Option<&'a str>,
    /// `true`/`false`, `1`/`0`, `on` (a ticked checkbox), 合格 / 不合格.
    pub passed: Option<&'a str>,
}

/// An inspection, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InspectionDraft {
    pub inspected_on: time::Date,
    pub inspector: String,
    pub findings: Option<String>,
    pub passed: bool,
}

impl InspectionDraft {
    pub fn parse(
        input: &InspectionInput<'_>,
        today: time::Date,
    ) -> Result<InspectionDraft, Vec<CoreError>> {
        let mut errors = Vec::new();
        let inspected_on = keep(
            &mut errors,
            crate::kernel::clock::parse_date("inspected_on", input.inspected_on),
        );
        if inspected_on.is_some_and(|d| d > today) {
            errors.push(CoreError::invalid("inspected_on", "检查日期不能晚于今天"));
        }
        let inspector = keep(
            &mut errors,
            required_text("inspector", "检查人", input.inspector, 50),
        );
        let findings = blank(input.findings)
            .and_then(|f| keep(&mut errors, short_text("findings", "检查情况", f, 1000)));
        let passed = match blank(input.passed) {
            None => Some(false),
            Some("true" | "1" | "on" | "yes" | "合格" | "通过") => Some(true),
            Some("false" | "0" | "off" | "no" | "不合格" | "未通过") => Some(false),
            Some(other) => {
                errors.push(CoreError::invalid(
                    "passed",
                    format!("「{other}」不是有效的检查结论，应为 合格 或 不合格"),
                ));
                None
            }
        };
        match (inspected_on, inspector, passed, errors.is_empty()) {
            (Some(inspected_on), Some(inspector), Some(passed), true) => Ok(InspectionDraft {
                inspected_on,
                inspector,
                findings,
                passed,
            }),
            _ => Err(errors),
        }
    }
}

/// Why a business has not reopened: a reason, with a note required for 其他.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotReopened {
    pub reason: NotReopenedReason,
    pub note: Option<String>,
}

impl NotReopened {
    pub fn parse(reason: &str, note: Option<&str>) -> Result<NotReopened, Vec<CoreError>> {
        let mut errors = Vec::new();
        let reason = keep(&mut errors, reason.parse::<NotReopenedReason>());
        let note = blank(note).and_then(|n| keep(&mut errors, short_text("note", "说明", n, 200)));
        if reason == Some(NotReopenedReason::Other) && note.is_none() {
            errors.push(CoreError::invalid("note", "选择「其他」时请写明原因"));
        }
        match reason {
            Some(reason) if errors.is_empty() => Ok(NotReopened { reason, note }),
            _ => Err(errors),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use time::macros::date;

    /// A code with its correct check character appended.
    fn code(body: &str) -> String {
        format!("{body}{}", credit_check_char(body.as_bytes()).unwrap())
    }

    #[test]
    fn the_weights_are_those_of_the_standard() {
        // GB 32100-2015, table of weighting factors for positions 1–17.
        assert_eq!(
            WEIGHTS,
            [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]
        );
    }

    #[test]
    fn a_published_code_is_accepted() {
        // The worked example used in GB 32100 explanations (a Fuzhou registration).
        CreditCode::parse("91350100M000100Y43").unwrap();
        assert_eq!(credit_check_char(b"91350100M000100Y4"), Some('3'));
    }

    #[test]
    fn a_sum_that_is_a_multiple_of_31_checks_with_zero() {
        // Find a body whose weighted sum is ≡ 0 (mod 31): its check character is 0, not 31.
        let body = (0..31u8)
            .map(|d| format!("9153010{}MA0000000", ALPHABET[d as usize] as char))
            .find(|b| {
                let s: u32 = b
                    .bytes()
                    .zip(WEIGHTS)
                    .map(|(c, w)| value_of(c).unwrap() * w)
                    .sum();
                s.is_multiple_of(31)
            })
            .unwrap();
        assert_eq!(credit_check_char(body.as_bytes()), Some('0'));
    }

    #[test]
    fn input_is_normalised_before_checking() {
        let c = code("91530100MA6K12345");
        let lower = c.to_lowercase();
        let full: String = c
            .chars()
            .map(|ch| char::from_u32(u32::from(ch) + 0xFEE0).unwrap())
            .collect();
        for raw in [
            format!("  {lower} "),
            full,
            format!("{} {}", &c[..9], &c[9..]),
        ] {
            assert_eq!(CreditCode::parse(&raw).unwrap().as_str(), c, "{raw}");
        }
        assert_eq!(CreditCode::parse(&c).unwrap().division(), "530100");
    }

    #[test]
    fn bad_codes_name_the_field_and_do_not_reveal_the_check_character() {
        let c = code("91530100MA6K12345");
        let last = c.chars().last().unwrap();
        let wrong = ALPHABET
            .iter()
            .map(|&b| b as char)
            .find(|&x| x != last)
            .unwrap();
        let bad = format!("{}{wrong}", &c[..17]);
        let e = CreditCode::parse(&bad).unwrap_err();
        assert_eq!(e.field, "credit_code");
        assert!(e.message.contains("校验位"));
        assert!(!e.message.contains(last), "{}", e.message);
        assert!(CreditCode::parse("").is_err());
        assert!(CreditCode::parse("91530100MA6K1234")
            .unwrap_err()
            .message
            .contains("18"));
        // I, O, Z, S, V are not in the alphabet.
        let e = CreditCode::parse("91530100MA6KI2345X").unwrap_err();
        assert!(e.message.contains("第 13 位"), "{}", e.message);
        // Positions 3–8 are a division code.
        assert!(CreditCode::parse(&code("9153A100MA6K12345")).is_err());
    }

    fn body() -> impl Strategy<Value = String> {
        let ch = || prop::sample::select(ALPHABET.to_vec()).prop_map(|b| b as char);
        (
            prop::collection::vec(ch(), 2),
            "[0-9]{6}",
            prop::collection::vec(ch(), 9),
        )
            .prop_map(|(a, d, b)| {
                let mut s: String = a.into_iter().collect();
                s.push_str(&d);
                s.extend(b);
                s
            })
    }

    proptest! {
        #[test]
        fn every_computed_code_is_accepted(b in body()) {
            let c = code(&b);
            let parsed = CreditCode::parse(&c).unwrap();
            prop_assert_eq!(parsed.as_str(), c.as_str());
        }

        /// Any one character changed (to another character of the alphabet) is refused: the
        /// weights are distinct non-zero residues mod the prime 31, so a single substitution
        /// always changes the sum.
        #[test]
        fn one_changed_character_is_refused(b in body(), pos in 0usize..18, delta in 1usize..31) {
            let c = code(&b);
            let mut bytes = c.clone().into_bytes();
            let v = value_of(bytes[pos]).unwrap() as usize;
            bytes[pos] = ALPHABET[(v + delta) % 31];
            let changed = String::from_utf8(bytes).unwrap();
            prop_assert!(CreditCode::parse(&changed).is_err(), "{} accepted", changed);
        }
    }

    #[test]
    fn an_enterprise_needs_a_code_an_individual_business_may_not() {
        let e = EnterpriseDraft::parse(&EnterpriseInput {
            name: "香格里拉市某某商贸有限公司",
            kind: "enterprise",
            ..Default::default()
        })
        .unwrap_err();
        assert_eq!(e[0].field, "credit_code");
        let d = EnterpriseDraft::parse(&EnterpriseInput {
            name: "扎西便利店",
            kind: "个体工商户",
            contact_phone: Some("136 1234 8609"),
            employees: Some("３"),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(d.kind, EnterpriseKind::Individual);
        assert_eq!(d.employees, Some(3));
        assert_eq!(d.contact_phone.unwrap().masked(), "136****8609");
    }

    #[test]
    fn every_bad_enterprise_field_is_reported() {
        let e = EnterpriseDraft::parse(&EnterpriseInput {
            name: " ",
            kind: "company",
            credit_code: Some("123"),
            employees: Some("-1"),
            contact_phone: Some("12345"),
            ..Default::default()
        })
        .unwrap_err();
        let fields: Vec<_> = e.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            ["name", "kind", "credit_code", "employees", "contact_phone"]
        );
    }

    #[test]
    fn the_checklist_is_ordered_and_missing_items_are_known() {
        let checked = vec![
            "masks".to_owned(),
            "配备体温计".to_owned(),
            "masks".to_owned(),
        ];
        let extra = vec!["  ".to_owned(), "设置隔离观察室".to_owned()];
        let d = ReopeningDraft::parse(&ReopeningInput {
            checked: &checked,
            extra_items: &extra,
            ..Default::default()
        })
        .unwrap();
        assert_eq!(
            d.checked,
            [ChecklistItem::Thermometers, ChecklistItem::Masks]
        );
        assert_eq!(d.extra_items, ["设置隔离观察室"]);
        assert_eq!(
            d.missing(),
            [
                ChecklistItem::Disinfection,
                ChecklistItem::StaffRegistration
            ]
        );
        let bad = vec!["gloves".to_owned()];
        let e = ReopeningDraft::parse(&ReopeningInput {
            checked: &bad,
            planned_on: Some("2020-02-30"),
            ..Default::default()
        })
        .unwrap_err();
        let fields: Vec<_> = e.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["checklist", "planned_on"]);
    }

    #[test]
    fn a_rejection_needs_a_reason() {
        assert_eq!(
            ReopeningDecision::parse("approve", None).unwrap(),
            ReopeningDecision::Approve { note: None }
        );
        let e = ReopeningDecision::parse("reject", Some(" ")).unwrap_err();
        assert_eq!(e[0].field, "reason");
        let r = ReopeningDecision::parse("不同意", Some("未配备体温计")).unwrap();
        assert_eq!(r.status(), ReopeningStatus::Rejected);
        assert_eq!(r.reason(), Some("未配备体温计"));
        assert_eq!(
            ReopeningDecision::parse("maybe", None).unwrap_err()[0].field,
            "decision"
        );
    }

    #[test]
    fn inspections_and_reasons_parse() {
        let today = date!(2020 - 02 - 20);
        let i = InspectionDraft::parse(
            &InspectionInput {
                inspected_on: "2020-02-19",
                inspector: "李四",
                passed: Some("on"),
                ..Default::default()
            },
            today,
        )
        .unwrap();
        assert!(i.passed);
        let e = InspectionDraft::parse(
            &InspectionInput {
                inspected_on: "2020-02-21",
                inspector: "",
                passed: Some("maybe"),
                ..Default::default()
            },
            today,
        )
        .unwrap_err();
        let fields: Vec<_> = e.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["inspected_on", "inspector", "passed"]);
        assert!(NotReopened::parse("other", None).is_err());
        assert_eq!(
            NotReopened::parse("员工未返岗", None).unwrap().reason,
            NotReopenedReason::WorkersShort
        );
    }
}
