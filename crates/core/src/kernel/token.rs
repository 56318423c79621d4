//! Short codes a person can read off paper and type: pass codes, self check-in links.
//!
//! The alphabet leaves out the look-alikes 0/O and 1/I/L, so a code printed on a card or a
//! poster survives being read aloud or typed on a phone; what a person types is normalised
//! (case, spaces, dashes, full-width forms) before it is compared. The random bytes come from
//! the caller (the store asks the OS): the core does no I/O.

use crate::CoreError;

/// The characters of every short code: 31 of them, no 0/O, 1/I/L.
pub const ALPHABET: &[u8] = b"23456789ABCDEFGHJKMNPQRSTUVWXYZ";

/// A kind of short code: its field name (for errors), its length and what it is called.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodeKind {
    pub field: &'static str,
    pub len: usize,
    pub what: &'static str,
}

impl CodeKind {
    /// A kind of code: the input field a refusal names, its length, and what people call it.
    pub const fn new(field: &'static str, len: usize, what: &'static str) -> CodeKind {
        CodeKind { field, len, what }
    }
}

/// The code on a pass card, typed at the gate: 31^8 ≈ 8.5 × 10^11.
pub const PASS_CODE: CodeKind = CodeKind::new("pass_code", 8, "通行证编码");

/// A resident's self check-in link (`/o/{code}`): 31^10 ≈ 8.2 × 10^14 (49 bits). At the public
/// pages' rate limit (30 tries a minute from one address) and a million live links, one
/// address would need about 50,000 years for an even chance of hitting any of them.
pub const SELF_CHECKIN: CodeKind = CodeKind::new("token", 10, "打卡码");

/// A compound's declaration link (`/d/{code}`), printed on a poster with a short link a person
/// can type: the same strength as a self check-in code, behind the public form's limit of 60
/// views per address in 10 minutes.
pub const DECLARATION: CodeKind = CodeKind::new("token", 10, "申报码");

/// A business's reopening link (`/e/{code}`): it lets its holder apply for that business, so
/// two characters more (12: 59 bits), still short enough to read out on the phone.
pub const ENTERPRISE: CodeKind = CodeKind::new("token", 12, "企业申报码");

/// A service activity's sign-up link (`/v/{code}`), printed on its poster: like a declaration
/// link (10 characters) behind the public form's rate limit; it grants a sign-up and an hours
/// report for that activity only.
pub const ACTIVITY: CodeKind = CodeKind::new("token", 10, "活动码");
/// A community's public page (`/c/{code}`): it shows only what the community publishes, so a
/// guess gains nothing private; 10 characters like a declaration code, behind the public pages'
/// rate limit, keep pages from being found by trying codes.
pub const COMMUNITY_PAGE: CodeKind = CodeKind::new("code", 10, "社区公开码");

/// Random bytes each code character may be drawn from: enough that rejection sampling
/// (dropping bytes ≥ 248, the largest multiple of 31 below 256) almost never runs short.
pub const fn random_bytes_for(kind: CodeKind) -> usize {
    kind.len * 2 + 8
}

/// A new code of `kind` from `random` (at least [`random_bytes_for`] bytes from a secure
/// source), without the modulo bias: bytes at or above 248 are skipped. `None` only if the
/// bytes ran out (fewer than `len` usable bytes: ask again).
pub fn code_from_random(kind: CodeKind, random: &[u8]) -> Option<String> {
    let limit = (256 / ALPHABET.len() * ALPHABET.len()) as u8;
    let code: String = random
        .iter()
        .filter(|b| **b < limit)
        .take(kind.len)
        .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
        .collect();
    (code.len() == kind.len).then_some(code)
}

/// A code of `kind` as typed or scanned, normalised: upper case, no spaces or dashes,
/// full-width letters and digits folded to ASCII. A code of the wrong length or with a
/// character outside the alphabet is refused with what a code looks like.
pub fn parse_code(kind: CodeKind, raw: &str) -> Result<String, CoreError> {
    let s: String = raw
        .chars()
        .filter(|c| !c.is_whitespace() && !matches!(c, '-' | '－' | '—'))
        .map(|c| {
            let c = match c {
                // Full-width forms (a Chinese input method's digits and letters).
                '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
                c => c,
            };
            c.to_ascii_uppercase()
        })
        .collect();
    if s.chars().count() != kind.len || !s.bytes().all(|b| ALPHABET.contains(&b)) {
        return Err(CoreError::invalid(
            kind.field,
            format!(
                "{}应为 {} 位字母或数字（不含 0、O、1、I、L）",
                kind.what, kind.len
            ),
        ));
    }
    Ok(s)
}

/// A code split into groups of four for print ("7K2M-9P4X-QR"): easier to read aloud and to
/// type back; [`parse_code`] drops the dashes again.
pub fn grouped(code: &str) -> String {
    let chars: Vec<char> = code.chars().collect();
    chars
        .chunks(4)
        .map(|c| c.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join("-")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_use_only_the_alphabet_and_have_the_kind_length() {
        let random: Vec<u8> = (0..=255).collect();
        let code = code_from_random(SELF_CHECKIN, &random).unwrap();
        assert_eq!(code.len(), 10);
        assert!(code.bytes().all(|b| ALPHABET.contains(&b)));
        assert_eq!(code, "23456789AB");
    }

    #[test]
    fn biased_bytes_are_skipped_not_folded() {
        // 248..=255 would map onto the first eight characters a second time.
        let mut random = vec![255u8, 248, 250];
        random.extend([30u8; 10]);
        assert_eq!(
            code_from_random(SELF_CHECKIN, &random).unwrap(),
            "ZZZZZZZZZZ"
        );
        assert_eq!(code_from_random(SELF_CHECKIN, &[255u8; 40]), None);
    }

    #[test]
    fn typed_codes_are_normalised() {
        for (raw, want) in [
            ("7k2m-9p4x-qr", "7K2M9P4XQR"),
            (" 7K2M 9P4X QR ", "7K2M9P4XQR"),
            ("７Ｋ２Ｍ９Ｐ４ＸＱＲ", "7K2M9P4XQR"),
        ] {
            assert_eq!(parse_code(SELF_CHECKIN, raw).unwrap(), want, "{raw}");
        }
    }

    #[test]
    fn look_alikes_and_wrong_lengths_are_refused_with_the_field() {
        for raw in [
            "7K2M9P4XQ",
            "7K2M9P4XQRS",
            "7K2M9P4XQ0",
            "7K2M9P4XQI",
            "",
            "7K2M9P4XQ?",
        ] {
            let e = parse_code(SELF_CHECKIN, raw).unwrap_err();
            assert!(e.to_string().contains("打卡码应为 10 位"), "{raw}: {e}");
        }
        assert!(parse_code(PASS_CODE, "ABCDEFG0").is_err());
        assert_eq!(parse_code(PASS_CODE, "abcd-efgh").unwrap(), "ABCDEFGH");
    }

    #[test]
    fn grouped_codes_parse_back() {
        assert_eq!(grouped("7K2M9P4XQR"), "7K2M-9P4X-QR");
        assert_eq!(
            parse_code(SELF_CHECKIN, &grouped("7K2M9P4XQR")).unwrap(),
            "7K2M9P4XQR"
        );
    }
}
