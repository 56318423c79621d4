//! Identity documents: the GB 11643 citizen ID number (居民身份证号码) and the other documents a
//! resident may be registered under (passports, permits for Hong Kong, Macao and Taiwan).
//!
//! ID numbers arrive typed by hand, pasted from chat apps and imported from spreadsheets, so
//! parsing first folds away what those channels add (spaces, full-width digits, a lowercase
//! `x`) and recognises the one loss that cannot be repaired: a column Excel stored as a number.
//!
//! The number is personal information. Neither type implements `Display`, and their `Debug`
//! shows the masked form, so a stray `{:?}` in a log line cannot leak a full number; code that
//! really needs the digits asks for them with `as_str()`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize, Serializer};
use time::macros::date;
use time::{Date, Month};

use crate::kernel::labels::Labelled;
use crate::labelled;
use crate::CoreError;

const FIELD: &str = "id_number";

/// The leading two digits an ID number may carry: the GB/T 2260 provinces, plus 83, which the
/// residence permits of Taiwan residents use (830000…; Hong Kong and Macao use 81 and 82).
const PROVINCE_PREFIXES: [u8; 35] = {
    let mut all = [83u8; 35];
    let mut i = 0;
    while i < crate::kernel::division::PROVINCE_PREFIXES.len() {
        all[i] = crate::kernel::division::PROVINCE_PREFIXES[i];
        i += 1;
    }
    all
};

/// ISO 7064 MOD 11-2 weights: 2^(17-i) mod 11 for the i-th of the first 17 digits.
const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];

/// The check character for each remainder of the weighted sum.
const CHECK_CHARS: &[u8; 11] = b"10X98765432";

/// No ID number carries a birth date before this: anything earlier is a typo in the year.
const EARLIEST_BIRTH: Date = date!(1880 - 01 - 01);

const EXCEL_MESSAGE: &str =
    "号码被 Excel 存成了数字，末尾几位已丢失——请把该列设为「文本」格式后重新录入";

const SHAPE_MESSAGE: &str = "身份证号码应为 18 位（旧版为 15 位）";

labelled! {
    /// Gender as an ID number records it.
    #[derive(Hash, Deserialize, strum::Display)]
    pub enum Gender: "gender" {
        #[strum(serialize = "male", props(zh = "男"))]
        Male,
        #[strum(serialize = "female", props(zh = "女"))]
        Female,
    }
}

impl FromStr for Gender {
    type Err = CoreError;
    /// Accepts the code names and the Chinese labels, since spreadsheets use the latter.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        Gender::ALL
            .iter()
            .copied()
            .find(|g| g.as_str() == s || g.label_zh() == s)
            .ok_or_else(|| {
                CoreError::invalid(
                    "gender",
                    format!("「{s}」不是有效的性别，应为男（male）或女（female）"),
                )
            })
    }
}

/// The check character of an ID number whose first 17 characters are `first17`, by ISO 7064
/// MOD 11-2. `first17` is expected to hold 17 ASCII digits; other input gives a meaningless
/// character rather than a panic, because import code calls this on untrusted rows.
pub fn check_char(first17: &[u8]) -> char {
    let sum: u32 = first17
        .iter()
        .zip(WEIGHTS)
        .map(|(b, w)| u32::from(b.wrapping_sub(b'0')) * w)
        .sum();
    char::from(CHECK_CHARS[(sum % 11) as usize])
}

/// Folds what hands, chat apps and spreadsheets put into a document number: whitespace of any
/// width (and the invisible zero-width space and byte-order mark that pasted text carries),
/// full-width letters and digits, lowercase letters (`x` as the check character).
fn normalise(raw: &str) -> String {
    raw.chars()
        .filter(|c| !c.is_whitespace() && !matches!(c, '\u{200B}' | '\u{FEFF}'))
        .map(fold_full_width)
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// Full-width ASCII (U+FF01..U+FF5E), which Chinese input methods produce, to ASCII.
fn fold_full_width(c: char) -> char {
    match c {
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(u32::from(c) - 0xFEE0).unwrap_or(c),
        _ => c,
    }
}

/// True for what Excel shows after storing an 18-digit number as a float: `5.33401E+17`.
/// Only 15 significant digits survive, so the number cannot be recovered from it.
fn looks_like_scientific(s: &str) -> bool {
    if s.contains("E+") {
        return true;
    }
    let Some((mantissa, exponent)) = s.split_once('E') else {
        return false;
    };
    let mantissa_ok = mantissa.bytes().any(|b| b.is_ascii_digit())
        && mantissa.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        && mantissa.bytes().filter(|&b| b == b'.').count() <= 1;
    let exponent_ok = !exponent.is_empty() && exponent.bytes().all(|b| b.is_ascii_digit());
    mantissa_ok && exponent_ok
}

/// The value of a run of ASCII digits (the caller has checked they are digits).
fn digits_value(digits: &[u8]) -> u32 {
    digits
        .iter()
        .fold(0, |n, b| n * 10 + u32::from(b.wrapping_sub(b'0')))
}

/// An 18-character GB 11643 citizen ID number (居民身份证号码): six digits of division code,
/// eight of birth date, three of sequence (odd for men) and the MOD 11-2 check character.
/// Once constructed it is valid: known province, real birth date, matching check character.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ResidentId {
    number: String,
    birth_date: Date,
}

impl ResidentId {
    /// Parses an ID number as typed or imported. Old 15-digit numbers (issued before 1999,
    /// with a two-digit year and no check character) are converted to their 18-digit form, so
    /// one person has one number whichever card they show. `today` bounds the birth date.
    pub fn parse(raw: &str, today: Date) -> Result<ResidentId, CoreError> {
        let s = normalise(raw);
        if s.is_empty() {
            return Err(CoreError::invalid(FIELD, "请填写身份证号码"));
        }
        if looks_like_scientific(&s) {
            return Err(CoreError::invalid(FIELD, EXCEL_MESSAGE));
        }
        let number = to_eighteen(&s)?;
        let bytes = number.as_bytes();

        let province = digits_value(&bytes[..2]);
        if !PROVINCE_PREFIXES.iter().any(|&p| u32::from(p) == province) {
            return Err(CoreError::invalid(
                FIELD,
                format!(
                    "前两位「{}」不是省级行政区划代码：身份证号码应以省级代码开头，请核对",
                    &number[..2]
                ),
            ));
        }

        let birth_date = birth_date_of(bytes, today)?;

        let expected = check_char(&bytes[..17]);
        let got = char::from(bytes[17]);
        if got != expected {
            // The expected character is not shown: the typo may be anywhere in the 18, and a
            // worker told the "right" last character would change it and save a wrong number.
            return Err(CoreError::invalid(
                FIELD,
                "校验码不符：18 位中有字符录入错误，请逐位核对",
            ));
        }
        Ok(ResidentId { number, birth_date })
    }

    pub fn as_str(&self) -> &str {
        &self.number
    }

    pub fn birth_date(&self) -> Date {
        self.birth_date
    }

    /// The 17th character, the last of the sequence number: odd for men, even for women.
    pub fn gender(&self) -> Gender {
        if digits_value(&self.number.as_bytes()[16..17]) % 2 == 1 {
            Gender::Male
        } else {
            Gender::Female
        }
    }

    /// The six-digit division code where the number was first issued (birth or first hukou
    /// registration). It never changes when the person moves, and codes are renumbered when
    /// counties merge, so it must NEVER be used as the current residence, the hukou address or
    /// to decide which jurisdiction a person belongs to: that is the registered dwelling.
    pub fn region_code(&self) -> &str {
        &self.number[..6]
    }

    /// The last four characters, which staff read back to a resident to confirm a record.
    pub fn last4(&self) -> &str {
        &self.number[14..]
    }

    /// The number for display: division code and last four kept, the birth date and the rest
    /// of the sequence hidden, e.g. `533401********2186`.
    pub fn masked(&self) -> String {
        format!("{}********{}", &self.number[..6], self.last4())
    }

    /// Compares a birth date and gender entered alongside the number with what the number
    /// says, one warning per disagreement. The caller shows these as warnings and lets the
    /// worker decide: people's papers do disagree, so nothing is silently overwritten.
    pub fn conflicts(&self, birth_date: Option<Date>, gender: Option<Gender>) -> Vec<CoreError> {
        let mut warnings = Vec::new();
        if let Some(entered) = birth_date.filter(|d| *d != self.birth_date) {
            warnings.push(CoreError::invalid(
                "birth_date",
                format!(
                    "身份证号码中的出生日期为 {}，与填写的「{}」不一致",
                    crate::kernel::clock::format_date(self.birth_date),
                    crate::kernel::clock::format_date(entered)
                ),
            ));
        }
        if let Some(entered) = gender.filter(|g| *g != self.gender()) {
            warnings.push(CoreError::invalid(
                "gender",
                format!(
                    "身份证号码中的性别为{}，与填写的「{}」不一致",
                    self.gender().label_zh(),
                    entered.label_zh()
                ),
            ));
        }
        warnings
    }
}

/// Checks the shape of a normalised number and returns its 18-character form.
fn to_eighteen(s: &str) -> Result<String, CoreError> {
    let len = s.chars().count();
    if len != 15 && len != 18 {
        return Err(CoreError::invalid(
            FIELD,
            format!("{SHAPE_MESSAGE}，当前为 {len} 位"),
        ));
    }
    let allowed = |i: usize, c: char| c.is_ascii_digit() || (len == 18 && i == 17 && c == 'X');
    if let Some((i, c)) = s.chars().enumerate().find(|&(i, c)| !allowed(i, c)) {
        let rule = if len == 15 {
            "旧版 15 位号码只能是数字"
        } else {
            "前 17 位为数字，最后一位为数字或 X"
        };
        return Err(CoreError::invalid(
            FIELD,
            format!("{SHAPE_MESSAGE}：{rule}；第 {} 位是「{c}」", i + 1),
        ));
    }
    if len == 18 {
        return Ok(s.to_owned());
    }
    // First-generation numbers have a two-digit year of the 1900s and no check character.
    let mut full = String::with_capacity(18);
    full.push_str(&s[..6]);
    full.push_str("19");
    full.push_str(&s[6..]);
    let check = check_char(full.as_bytes());
    full.push(check);
    Ok(full)
}

/// The birth date in characters 7 to 14, which must be a real day from 1880 up to `today`.
fn birth_date_of(bytes: &[u8], today: Date) -> Result<Date, CoreError> {
    let year = digits_value(&bytes[6..10]) as i32;
    let month = Month::try_from(digits_value(&bytes[10..12]) as u8).ok();
    let day = digits_value(&bytes[12..14]) as u8;
    let date = month.and_then(|m| Date::from_calendar_date(year, m, day).ok());
    let Some(date) = date else {
        return Err(CoreError::invalid(
            FIELD,
            format!(
                "第 7 至 14 位是出生日期，「{}」不是有效日期",
                String::from_utf8_lossy(&bytes[6..14])
            ),
        ));
    };
    if date < EARLIEST_BIRTH {
        return Err(CoreError::invalid(
            FIELD,
            format!(
                "出生日期 {} 早于 1880 年，年份录入有误",
                crate::kernel::clock::format_date(date)
            ),
        ));
    }
    if date > today {
        return Err(CoreError::invalid(
            FIELD,
            format!(
                "出生日期 {} 晚于今天，请核对",
                crate::kernel::clock::format_date(date)
            ),
        ));
    }
    Ok(date)
}

impl fmt::Debug for ResidentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ResidentId({})", self.masked())
    }
}

/// Serialises as the full number: serialisation is for storage and the API, where it is needed.
impl Serialize for ResidentId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.number)
    }
}

labelled! {
    /// The kinds of identity document a person may be registered under.
    #[derive(Hash, Deserialize, strum::Display)]
    pub enum DocumentKind: "document_kind" {
        #[strum(serialize = "resident_id", props(zh = "居民身份证"))]
        ResidentId,
        #[strum(serialize = "passport", props(zh = "护照"))]
        Passport,
        #[strum(serialize = "hk_macao_permit", props(zh = "港澳居民来往内地通行证"))]
        HkMacaoPermit,
        #[strum(serialize = "taiwan_permit", props(zh = "台湾居民来往大陆通行证"))]
        TaiwanPermit,
    }
}

impl FromStr for DocumentKind {
    type Err = CoreError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        DocumentKind::from_code(s).ok_or_else(|| {
            CoreError::invalid(
                "document_kind",
                format!(
                    "「{s}」不是有效的证件类型，应为以下之一：{}",
                    Self::choices()
                ),
            )
        })
    }
}

/// An identity document's kind and normalised number. A resident ID keeps its parsed form, so
/// the birth date and gender it encodes stay at hand.
#[derive(Clone, PartialEq, Eq, Hash, Serialize)]
pub struct IdDocument {
    kind: DocumentKind,
    number: String,
    #[serde(skip)]
    resident: Option<ResidentId>,
}

impl IdDocument {
    /// Parses `raw` as the number of a document of `kind`. Resident IDs are fully checked;
    /// other documents, whose numbering is not ours to verify, get a shape check after
    /// normalisation (spaces removed, full-width folded, uppercased).
    pub fn parse(kind: DocumentKind, raw: &str, today: Date) -> Result<IdDocument, CoreError> {
        if kind == DocumentKind::ResidentId {
            let id = ResidentId::parse(raw, today)?;
            return Ok(IdDocument {
                kind,
                number: id.as_str().to_owned(),
                resident: Some(id),
            });
        }
        let s = normalise(raw);
        if s.is_empty() {
            return Err(CoreError::invalid(
                FIELD,
                format!("请填写{}号码", kind.label_zh()),
            ));
        }
        let len = s.chars().count();
        let all_digits = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
        let ok = match kind {
            // Chinese passports are a letter (E, G, P, S, D) and 8 digits or EA and 7 digits;
            // foreign passports vary, so only the general shape is checked.
            DocumentKind::Passport => {
                (5..=17).contains(&len) && s.bytes().all(|b| b.is_ascii_alphanumeric())
            }
            // 回乡证: H (Hong Kong) or M (Macao) and 8 digits; older cards add a two-digit
            // issue count.
            DocumentKind::HkMacaoPermit => {
                s.starts_with(['H', 'M']) && matches!(len, 9 | 11) && all_digits(&s[1..])
            }
            // 台胞证: 8 digits; older cards add a two-digit issue count.
            DocumentKind::TaiwanPermit => matches!(len, 8 | 10) && all_digits(&s),
            DocumentKind::ResidentId => false,
        };
        if !ok {
            let rule = match kind {
                DocumentKind::Passport => "护照号码应为 5 至 17 位英文字母或数字",
                DocumentKind::HkMacaoPermit => {
                    "港澳居民来往内地通行证号码应为 H 或 M 加 8 位数字（旧证为 10 位数字）"
                }
                _ => "台湾居民来往大陆通行证号码应为 8 位数字（旧证为 10 位）",
            };
            return Err(CoreError::invalid(
                FIELD,
                format!("{rule}，当前为 {len} 位"),
            ));
        }
        Ok(IdDocument {
            kind,
            number: s,
            resident: None,
        })
    }

    pub fn kind(&self) -> DocumentKind {
        self.kind
    }

    pub fn as_str(&self) -> &str {
        &self.number
    }

    /// The parsed resident ID, when the document is one.
    pub fn resident(&self) -> Option<&ResidentId> {
        self.resident.as_ref()
    }

    /// The last four characters (every accepted number is at least five long).
    pub fn last4(&self) -> &str {
        &self.number[self.number.len().saturating_sub(4)..]
    }

    /// The number for display. Resident IDs mask as [`ResidentId::masked`]; other documents
    /// keep the first character and the last four with stars between, same length. Numbers
    /// shorter than 8 keep a shorter tail, so at least a third is always hidden.
    pub fn masked(&self) -> String {
        if let Some(id) = &self.resident {
            return id.masked();
        }
        let len = self.number.len();
        let tail = if len >= 8 { 4 } else { (len - 1) / 2 };
        let stars = len - 1 - tail;
        format!(
            "{}{}{}",
            &self.number[..1],
            "*".repeat(stars),
            &self.number[len - tail..]
        )
    }
}

impl fmt::Debug for IdDocument {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IdDocument({}, {})", self.kind.as_str(), self.masked())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn codes_and_labels_stay_as_stored_and_shown() {
        use crate::kernel::labels::assert_table;
        assert_table(&[
            (Gender::Male, "male", "男"),
            (Gender::Female, "female", "女"),
        ]);
        assert_table(&[
            (DocumentKind::ResidentId, "resident_id", "居民身份证"),
            (DocumentKind::Passport, "passport", "护照"),
            (
                DocumentKind::HkMacaoPermit,
                "hk_macao_permit",
                "港澳居民来往内地通行证",
            ),
            (
                DocumentKind::TaiwanPermit,
                "taiwan_permit",
                "台湾居民来往大陆通行证",
            ),
        ]);
    }

    const TODAY: Date = date!(2026 - 06 - 01);

    /// A complete number from its first 17 digits.
    fn with_check(body: &str) -> String {
        format!("{body}{}", check_char(body.as_bytes()))
    }

    fn parse(raw: &str) -> Result<ResidentId, CoreError> {
        ResidentId::parse(raw, TODAY)
    }

    fn message(raw: &str) -> String {
        parse(raw).unwrap_err().message
    }

    /// A body with sequence digits chosen so its check character is X.
    fn body_checking_to_x() -> String {
        (0..1000)
            .map(|seq| format!("53340119900101{seq:03}"))
            .find(|b| check_char(b.as_bytes()) == 'X')
            .unwrap()
    }

    #[test]
    fn check_character_completes_the_iso_7064_sum_to_one() {
        // MOD 11-2's definition: with X as 10, sum of a_i * 2^(18-i) over all 18 characters
        // is 1 mod 11. Checked here independently of the weight table.
        for body in [
            "53340119900101218",
            "11010120000229001",
            "65010219451003777",
        ] {
            let c = check_char(body.as_bytes());
            let value = if c == 'X' {
                10
            } else {
                c.to_digit(10).unwrap()
            };
            let sum: u64 = body
                .bytes()
                .enumerate()
                .map(|(i, b)| u64::from(b - b'0') * (1u64 << (17 - i)))
                .sum::<u64>()
                + u64::from(value);
            assert_eq!(sum % 11, 1, "{body}{c}");
        }
    }

    #[test]
    fn a_valid_number_parses_and_exposes_its_parts() {
        let raw = with_check("53340119900101218");
        let id = parse(&raw).unwrap();
        assert_eq!(id.as_str(), raw);
        assert_eq!(id.birth_date(), date!(1990 - 01 - 01));
        assert_eq!(id.region_code(), "533401");
        assert_eq!(id.last4(), &raw[14..]);
        assert_eq!(id.masked(), format!("533401********{}", &raw[14..]));
    }

    #[test]
    fn the_seventeenth_digit_gives_the_gender() {
        assert_eq!(
            parse(&with_check("53340119900101211")).unwrap().gender(),
            Gender::Male
        );
        assert_eq!(
            parse(&with_check("53340119900101218")).unwrap().gender(),
            Gender::Female
        );
        assert_eq!(
            parse(&with_check("53340119900101210")).unwrap().gender(),
            Gender::Female
        );
    }

    #[test]
    fn spaces_full_width_digits_and_lowercase_x_are_folded() {
        let body = body_checking_to_x();
        let want = format!("{body}X");
        let full_width: String = body
            .chars()
            .map(|c| char::from_u32(u32::from(c) + 0xFEE0).unwrap())
            .collect();
        for raw in [
            format!("  {body}x "),
            format!("{} {} {}ｘ", &body[..6], &body[6..14], &body[14..]),
            format!("{}\u{3000}{}Ｘ", &body[..6], &body[6..]),
            format!("{full_width}x"),
            format!("\u{FEFF}{body}X\t"),
        ] {
            assert_eq!(parse(&raw).unwrap().as_str(), want, "{raw:?}");
        }
    }

    #[test]
    fn excel_scientific_notation_is_recognised() {
        for raw in [
            "5.33401E+17",
            "5.33401e17",
            "5.33401199001012E+17",
            " 5.33401E+17 ",
            "533401E+12",
        ] {
            assert_eq!(
                message(raw),
                "号码被 Excel 存成了数字，末尾几位已丢失——请把该列设为「文本」格式后重新录入",
                "{raw}"
            );
        }
    }

    #[test]
    fn an_old_fifteen_digit_number_converts_to_eighteen() {
        let id = parse("533401900101218").unwrap();
        assert_eq!(id.as_str(), with_check("53340119900101218"));
        assert_eq!(id.birth_date(), date!(1990 - 01 - 01));
        assert_eq!(id.gender(), Gender::Female);
    }

    #[test]
    fn wrong_lengths_and_characters_say_what_an_id_number_is() {
        let m = message("53340119900101");
        assert!(m.contains("身份证号码应为 18 位（旧版为 15 位）"), "{m}");
        assert!(m.contains("当前为 14 位"), "{m}");
        let m = message(&format!("{}1", with_check("53340119900101218")));
        assert!(m.contains("当前为 19 位"), "{m}");
        let m = message("53340119900101218A");
        assert!(m.contains("18 位"), "{m}");
        assert!(m.contains("第 18 位是「A」"), "{m}");
        // X is a check character only, and an old number has none.
        assert!(parse("5334011990010X2186").is_err());
        assert!(parse("53340190010121X").is_err());
        assert!(message("").contains("请填写身份证号码"));
    }

    /// The message is the same whichever character is wrong, so it cannot give away the
    /// expected one (the typo may be elsewhere in the 18).
    #[test]
    fn a_wrong_check_character_does_not_name_the_expected_one() {
        let good = with_check("53340119900101218");
        let expected = good.chars().last().unwrap();
        for wrong in ALPHABET
            .iter()
            .map(|&b| char::from(b))
            .filter(|&c| c != expected)
        {
            let m = message(&format!("{}{wrong}", &good[..17]));
            assert_eq!(
                m, "校验码不符：18 位中有字符录入错误，请逐位核对",
                "{wrong}"
            );
        }
    }

    #[test]
    /// 83 is no province, but Taiwan residents' residence permits carry it.
    fn the_first_two_digits_must_be_a_province() {
        for prefix in ["11", "46", "54", "65", "71", "81", "82", "83"] {
            assert!(
                parse(&with_check(&format!("{prefix}340119900101218"))).is_ok(),
                "{prefix}"
            );
        }
        for prefix in ["00", "10", "16", "24", "47", "55", "66", "72", "84", "99"] {
            let m = message(&with_check(&format!("{prefix}340119900101218")));
            assert!(m.contains("不是省级行政区划代码"), "{prefix}: {m}");
        }
    }

    #[test]
    fn the_birth_date_must_be_a_real_day_from_1880_to_today() {
        assert!(message(&with_check("53340119900230218")).contains("「19900230」不是有效日期"));
        assert!(message(&with_check("53340119901301218")).contains("不是有效日期"));
        assert!(message(&with_check("53340119900100218")).contains("不是有效日期"));
        assert!(message(&with_check("53340118791231218")).contains("早于 1880 年"));
        parse(&with_check("53340118800101218")).unwrap();
        parse(&with_check("53340120000229218")).unwrap();
        parse(&with_check("53340120260601218")).unwrap();
        assert!(message(&with_check("53340120260602218")).contains("晚于今天"));
    }

    #[test]
    fn entered_values_that_disagree_with_the_number_are_warned_about() {
        let id = parse(&with_check("53340119900101211")).unwrap();
        assert!(id
            .conflicts(Some(date!(1990 - 01 - 01)), Some(Gender::Male))
            .is_empty());
        assert!(id.conflicts(None, None).is_empty());
        let w = id.conflicts(Some(date!(1990 - 01 - 02)), Some(Gender::Female));
        assert_eq!(w.len(), 2);
        assert_eq!(w[0].field, "birth_date");
        assert!(w[0].message.contains("1990-01-01"), "{}", w[0].message);
        assert_eq!(w[1].field, "gender");
        assert!(w[1].message.contains('男'), "{}", w[1].message);
    }

    #[test]
    fn debug_output_does_not_leak_the_number() {
        let id = parse(&with_check("53340119900101218")).unwrap();
        let shown = format!("{id:?}");
        assert!(!shown.contains("19900101"), "{shown}");
        let doc = IdDocument::parse(DocumentKind::Passport, "E12345678", TODAY).unwrap();
        assert!(!format!("{doc:?}").contains("E12345678"));
    }

    #[test]
    fn errors_are_reported_on_the_id_number_field() {
        for raw in ["123", "5.3E+17", "99340119900101218X"] {
            assert_eq!(parse(raw).unwrap_err().field, "id_number");
        }
    }

    #[test]
    fn genders_parse_from_code_names_and_chinese() {
        for &g in Gender::ALL {
            assert_eq!(g.as_str().parse::<Gender>().unwrap(), g);
            assert_eq!(g.label_zh().parse::<Gender>().unwrap(), g);
        }
        assert!("M".parse::<Gender>().is_err());
    }

    #[test]
    fn document_kinds_parse_from_their_names_only() {
        for &k in DocumentKind::ALL {
            assert_eq!(k.as_str().parse::<DocumentKind>().unwrap(), k);
        }
        assert!("护照".parse::<DocumentKind>().is_err());
        assert!("Passport".parse::<DocumentKind>().is_err());
    }

    #[test]
    fn a_resident_id_document_keeps_the_parsed_number() {
        let raw = with_check("53340119900101211");
        let doc = IdDocument::parse(DocumentKind::ResidentId, &raw, TODAY).unwrap();
        assert_eq!(doc.kind(), DocumentKind::ResidentId);
        assert_eq!(doc.as_str(), raw);
        let id = doc.resident().unwrap();
        assert_eq!(id.gender(), Gender::Male);
        assert_eq!(doc.masked(), id.masked());
        assert!(IdDocument::parse(DocumentKind::ResidentId, "533401", TODAY).is_err());
    }

    #[test]
    fn other_documents_get_a_shape_check() {
        use DocumentKind::*;
        let ok = |k, raw: &str| IdDocument::parse(k, raw, TODAY).map(|d| d.as_str().to_owned());
        assert_eq!(ok(Passport, " e1234 5678 ").unwrap(), "E12345678");
        assert_eq!(ok(Passport, "EA1234567").unwrap(), "EA1234567");
        assert_eq!(ok(Passport, "Ｇ12345678").unwrap(), "G12345678");
        assert!(ok(Passport, "E123").is_err());
        assert!(ok(Passport, "E1234-5678").is_err());
        assert!(ok(Passport, &"A".repeat(18)).is_err());
        assert_eq!(ok(HkMacaoPermit, "h1234 5678").unwrap(), "H12345678");
        assert_eq!(ok(HkMacaoPermit, "M12345678").unwrap(), "M12345678");
        assert_eq!(ok(HkMacaoPermit, "H1234567801").unwrap(), "H1234567801");
        assert!(ok(HkMacaoPermit, "K12345678").is_err());
        assert!(ok(HkMacaoPermit, "H1234567").is_err());
        assert!(ok(HkMacaoPermit, "12345678").is_err());
        assert_eq!(ok(TaiwanPermit, "1234 5678").unwrap(), "12345678");
        assert_eq!(ok(TaiwanPermit, "1234567801").unwrap(), "1234567801");
        assert!(ok(TaiwanPermit, "1234567").is_err());
        assert!(ok(TaiwanPermit, "T1234567").is_err());
        assert!(ok(TaiwanPermit, "")
            .unwrap_err()
            .message
            .contains("请填写台湾居民来往大陆通行证号码"));
        assert!(IdDocument::parse(Passport, "E12", TODAY)
            .unwrap_err()
            .message
            .contains("当前为 3 位"));
    }

    #[test]
    fn other_documents_mask_all_but_the_first_and_last_four() {
        let masked = |k, raw: &str| IdDocument::parse(k, raw, TODAY).unwrap().masked();
        assert_eq!(masked(DocumentKind::Passport, "E12345678"), "E****5678");
        assert_eq!(masked(DocumentKind::TaiwanPermit, "12345678"), "1***5678");
        assert_eq!(
            masked(DocumentKind::HkMacaoPermit, "H1234567801"),
            "H******7801"
        );
        // Short passports keep a shorter tail rather than showing everything.
        assert_eq!(masked(DocumentKind::Passport, "AB123"), "A**23");
        let doc = IdDocument::parse(DocumentKind::Passport, "E12345678", TODAY).unwrap();
        assert_eq!(doc.last4(), "5678");
    }

    // --- properties ---

    const FIRST_DAY: Date = date!(1880 - 01 - 01);

    /// Valid first-17-digit bodies: any province, any county digits, a birth date from 1880
    /// to today, any sequence.
    fn body17() -> impl Strategy<Value = String> {
        let span = TODAY.to_julian_day() - FIRST_DAY.to_julian_day();
        (
            prop::sample::select(PROVINCE_PREFIXES.to_vec()),
            0u32..10_000,
            0..=span,
            0u32..1000,
        )
            .prop_map(|(province, county, day, seq)| {
                let d = Date::from_julian_day(FIRST_DAY.to_julian_day() + day).unwrap();
                format!(
                    "{province:02}{county:04}{:04}{:02}{:02}{seq:03}",
                    d.year(),
                    u8::from(d.month()),
                    d.day()
                )
            })
    }

    fn valid_id() -> impl Strategy<Value = String> {
        body17().prop_map(|b| with_check(&b))
    }

    const ALPHABET: &[u8; 11] = b"0123456789X";

    proptest! {
        #[test]
        fn every_valid_number_parses_and_round_trips(raw in valid_id()) {
            let id = parse(&raw).unwrap();
            prop_assert_eq!(id.as_str(), raw.as_str());
            let b = raw.as_bytes();
            let want_date = Date::from_calendar_date(
                digits_value(&b[6..10]) as i32,
                Month::try_from(digits_value(&b[10..12]) as u8).unwrap(),
                digits_value(&b[12..14]) as u8,
            ).unwrap();
            prop_assert_eq!(id.birth_date(), want_date);
            prop_assert_eq!(id.gender() == Gender::Male, (b[16] - b'0') % 2 == 1);
            prop_assert!(id.conflicts(Some(want_date), Some(id.gender())).is_empty());
        }

        /// MOD 11-2 catches every single-character substitution.
        #[test]
        fn any_single_changed_character_is_rejected(
            raw in valid_id(), pos in 0usize..18, shift in 1usize..11,
        ) {
            let mut bytes = raw.clone().into_bytes();
            let at = ALPHABET.iter().position(|&c| c == bytes[pos]).unwrap();
            bytes[pos] = ALPHABET[(at + shift) % 11];
            let mutated = String::from_utf8(bytes).unwrap();
            prop_assert!(parse(&mutated).is_err(), "{} accepted", mutated);
            let m = mutated.as_bytes();
            if m[..17].iter().all(u8::is_ascii_digit) {
                prop_assert_ne!(check_char(&m[..17]), char::from(m[17]));
            }
        }

        #[test]
        fn a_fifteen_digit_number_equals_its_eighteen_digit_form(
            province in prop::sample::select(PROVINCE_PREFIXES.to_vec()),
            county in 0u32..10_000,
            day in 0i32..36_524,
            seq in 0u32..1000,
        ) {
            let d = Date::from_julian_day(date!(1900 - 01 - 01).to_julian_day() + day).unwrap();
            let (m, dd) = (u8::from(d.month()), d.day());
            let old = format!("{province:02}{county:04}{:02}{m:02}{dd:02}{seq:03}", d.year() % 100);
            let new = with_check(&format!("{province:02}{county:04}{:04}{m:02}{dd:02}{seq:03}", d.year()));
            prop_assert_eq!(parse(&old).unwrap(), parse(&new).unwrap());
        }

        #[test]
        fn normalisation_ignores_spaces_full_width_digits_and_lowercase_x(
            raw in valid_id(),
            spaces in prop::collection::vec(0u8..4, 19),
            wide in prop::collection::vec(any::<bool>(), 18),
            x in prop::sample::select(vec!['X', 'x', 'ｘ', 'Ｘ']),
        ) {
            let mut noisy = String::new();
            for (i, c) in raw.chars().enumerate() {
                match spaces[i] {
                    1 => noisy.push(' '),
                    2 => noisy.push('\u{3000}'),
                    _ => {}
                }
                noisy.push(match c {
                    'X' => x,
                    d if wide[i] => char::from_u32(u32::from(d) + 0xFEE0).unwrap(),
                    d => d,
                });
            }
            if spaces[18] != 0 {
                noisy.push_str(" \u{3000}");
            }
            let id = parse(&noisy).unwrap();
            prop_assert_eq!(id.as_str(), raw.as_str());
        }

        #[test]
        fn masked_numbers_never_show_the_middle_digits(raw in valid_id()) {
            let masked = parse(&raw).unwrap().masked();
            prop_assert_eq!(masked.len(), 18);
            prop_assert_eq!(&masked[..6], &raw[..6]);
            prop_assert_eq!(&masked[6..14], "********");
            prop_assert_eq!(&masked[14..], &raw[14..]);
            prop_assert!(!masked.contains(&raw[6..14]));
        }

        #[test]
        fn other_documents_mask_to_the_same_length(raw in "[A-Z0-9]{5,17}") {
            let doc = IdDocument::parse(DocumentKind::Passport, &raw, TODAY).unwrap();
            let masked = doc.masked();
            prop_assert_eq!(masked.len(), raw.len());
            prop_assert_eq!(&masked[..1], &raw[..1]);
            let stars = masked.bytes().filter(|&b| b == b'*').count();
            prop_assert!(stars * 3 >= raw.len() - 1, "{}", masked);
        }
    }
}
