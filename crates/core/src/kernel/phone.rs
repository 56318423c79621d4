//! Mainland phone numbers, normalised so one phone has one spelling: a mobile as its 11 digits,
//! a landline as `AREA-NUMBER`. Residents give numbers in every format (`+86 136-1234-8609`,
//! `(0887)822 1234`, full-width digits from a Chinese input method); searching and
//! de-duplicating need them equal.
//!
//! A phone number is personal information: `Debug` shows the masked form and there is no
//! `Display`, so the full number only leaves through an explicit `as_str()`.

use std::fmt;

use serde::{Deserialize, Serialize, Serializer};

use crate::labelled;
use crate::CoreError;

const FIELD: &str = "phone";

const NOT_A_NUMBER: &str = "不是有效的手机或固定电话号码";

labelled! {
    /// Which kind of number a [`Phone`] is.
    #[derive(Hash, Deserialize, strum::Display)]
    pub enum PhoneKind: "phone_kind" {
        #[strum(serialize = "mobile", props(zh = "手机"))]
        Mobile,
        #[strum(serialize = "landline", props(zh = "固定电话"))]
        Landline,
    }
}

/// A normalised mainland phone number: a mobile (`13612348609`) or a landline with its area
/// code (`0887-8221234`).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Phone {
    number: String,
    kind: PhoneKind,
}

impl Phone {
    /// Parses a phone number as people write it. Spaces (also full-width), `-`, `(`, `)` and `.`
    /// are dropped and full-width digits folded. A country code (`+86`, `0086`, or a bare `86`
    /// before an 11-digit mobile) is removed; after an explicit `+86` or `0086` a landline may
    /// also be written without its leading 0, as international numbers are (`+86 887 8221234`).
    pub fn parse(raw: &str) -> Result<Phone, CoreError> {
        let s: String = raw
            .chars()
            .map(fold_full_width)
            .filter(|c| {
                !c.is_whitespace() && !matches!(c, '-' | '(' | ')' | '.' | '\u{200B}' | '\u{FEFF}')
            })
            .collect();
        if s.is_empty() {
            return Err(CoreError::invalid(FIELD, "请填写电话号码"));
        }
        let international = if let Some(rest) = s.strip_prefix('+') {
            match rest.strip_prefix("86") {
                Some(national) => Some(national),
                None => {
                    return Err(CoreError::invalid(
                        FIELD,
                        format!("{NOT_A_NUMBER}：仅支持中国大陆号码（国家代码 +86）"),
                    ))
                }
            }
        } else {
            s.strip_prefix("0086")
        };
        if let Some(national) = international {
            return if is_mobile_shape(national) || national.starts_with('0') {
                national_number(national)
            } else if national.starts_with(|c: char| c.is_ascii_digit() && c != '1')
                || national.starts_with("10")
            {
                // Dialled from abroad, the trunk 0 is left out: +86 10 is Beijing's 010.
                national_number(&format!("0{national}"))
            } else {
                national_number(national)
            };
        }
        match s.strip_prefix("86") {
            Some(national) if is_mobile_shape(national) => national_number(national),
            _ => national_number(&s),
        }
    }

    pub fn kind(&self) -> PhoneKind {
        self.kind
    }

    /// The normalised number: 11 digits for a mobile, `AREA-NUMBER` for a landline.
    pub fn as_str(&self) -> &str {
        &self.number
    }

    /// The last four digits, which staff read back to a resident to confirm a record.
    pub fn last4(&self) -> &str {
        &self.number[self.number.len() - 4..]
    }

    /// The number for display: a mobile keeps its first 3 and last 4 digits (`136****8609`),
    /// a landline its area code and last 4 (`0887-***1234`).
    pub fn masked(&self) -> String {
        match self.number.split_once('-') {
            Some((area, subscriber)) => {
                format!(
                    "{area}-{}{}",
                    "*".repeat(subscriber.len() - 4),
                    self.last4()
                )
            }
            None => format!("{}****{}", &self.number[..3], self.last4()),
        }
    }
}

/// Full-width ASCII (U+FF01..U+FF5E), which Chinese input methods produce, to ASCII.
fn fold_full_width(c: char) -> char {
    match c {
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(u32::from(c) - 0xFEE0).unwrap_or(c),
        _ => c,
    }
}

/// Eleven digits beginning with 1: what a mobile looks like, before checking its prefix.
fn is_mobile_shape(s: &str) -> bool {
    s.len() == 11 && s.starts_with('1') && s.bytes().all(|b| b.is_ascii_digit())
}

/// Parses a number in national format (no country code, separators already removed).
fn national_number(d: &str) -> Result<Phone, CoreError> {
    if !d.bytes().all(|b| b.is_ascii_digit()) {
        return Err(CoreError::invalid(
            FIELD,
            format!("{NOT_A_NUMBER}：号码中只能有数字、空格和「-」「(」「)」「.」"),
        ));
    }
    let bytes = d.as_bytes();
    match bytes.first() {
        Some(b'1') => {
            if d.len() != 11 {
                return Err(CoreError::invalid(
                    FIELD,
                    format!("手机号码应为 11 位，当前为 {} 位", d.len()),
                ));
            }
            if !(b'3'..=b'9').contains(&bytes[1]) {
                return Err(CoreError::invalid(
                    FIELD,
                    format!("手机号码应以 13 至 19 开头，不能以「{}」开头", &d[..2]),
                ));
            }
            Ok(Phone {
                number: d.to_owned(),
                kind: PhoneKind::Mobile,
            })
        }
        Some(b'0') => landline(d),
        _ if (7..=8).contains(&d.len()) => Err(CoreError::invalid(
            FIELD,
            "固定电话号码需要加区号，例如 0887-8221234",
        )),
        _ => Err(CoreError::invalid(FIELD, NOT_A_NUMBER)),
    }
}

/// A landline: the area code (010 and 020-029 are three digits long, every other one four:
/// 0871 Kunming, 0887 Shangri-La) and a 7- or 8-digit subscriber number, which never begins
/// with 0 or 1 (those begin trunk and service codes).
fn landline(d: &str) -> Result<Phone, CoreError> {
    let area_len = if d.starts_with("010") || d.starts_with("02") {
        3
    } else if d.starts_with("00") || d.starts_with("01") {
        return Err(CoreError::invalid(
            FIELD,
            format!(
                "{NOT_A_NUMBER}：没有以「{}」开头的区号",
                &d[..d.len().min(3)]
            ),
        ));
    } else {
        4
    };
    let Some((area, subscriber)) = d.split_at_checked(area_len) else {
        return Err(CoreError::invalid(
            FIELD,
            format!(
                "固定电话号码应为区号加 7 或 8 位号码，当前共 {} 位",
                d.len()
            ),
        ));
    };
    if !(7..=8).contains(&subscriber.len()) {
        return Err(CoreError::invalid(
            FIELD,
            format!(
                "固定电话在区号 {area} 之后应为 7 或 8 位号码，当前为 {} 位",
                subscriber.len()
            ),
        ));
    }
    if subscriber.starts_with(['0', '1']) {
        return Err(CoreError::invalid(
            FIELD,
            format!("固定电话在区号 {area} 之后的号码不能以 0 或 1 开头"),
        ));
    }
    Ok(Phone {
        number: format!("{area}-{subscriber}"),
        kind: PhoneKind::Landline,
    })
}

impl fmt::Debug for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Phone({})", self.masked())
    }
}

/// Serialises as the normalised number: serialisation is for storage and the API.
impl Serialize for Phone {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.number)
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
            (PhoneKind::Mobile, "mobile", "手机"),
            (PhoneKind::Landline, "landline", "固定电话"),
        ]);
    }

    fn normal(raw: &str) -> String {
        Phone::parse(raw).unwrap().as_str().to_owned()
    }

    fn message(raw: &str) -> String {
        Phone::parse(raw).unwrap_err().message
    }

    #[test]
    fn mobiles_are_stored_as_eleven_digits() {
        for raw in [
            "13612348609",
            "136 1234 8609",
            "136-1234-8609",
            "136.1234.8609",
            "１３６１２３４８６０９",
            "136\u{3000}1234\u{3000}8609",
        ] {
            assert_eq!(normal(raw), "13612348609", "{raw}");
        }
        let p = Phone::parse("13612348609").unwrap();
        assert_eq!(p.kind(), PhoneKind::Mobile);
    }

    #[test]
    fn country_codes_are_stripped_before_a_mobile() {
        for raw in [
            "+86 136 1234 8609",
            "+8613612348609",
            "0086 13612348609",
            "8613612348609",
            "(+86)136-1234-8609",
            "＋８６ １３６１２３４８６０９",
        ] {
            assert_eq!(normal(raw), "13612348609", "{raw}");
        }
        assert!(message("+44 20 7946 0000").contains("仅支持中国大陆号码（国家代码 +86）"));
    }

    #[test]
    fn a_short_or_long_mobile_says_how_many_digits_it_has() {
        assert_eq!(message("1361234860"), "手机号码应为 11 位，当前为 10 位");
        assert_eq!(message("136123486091"), "手机号码应为 11 位，当前为 12 位");
        assert!(message("12612348609").contains("应以 13 至 19 开头，不能以「12」开头"));
        assert!(message("10612348609").contains("应以 13 至 19 开头，不能以「10」开头"));
    }

    #[test]
    fn landlines_are_stored_with_their_area_code() {
        assert_eq!(normal("0887-8221234"), "0887-8221234");
        assert_eq!(normal("(0887) 822 1234"), "0887-8221234");
        assert_eq!(normal("08878221234"), "0887-8221234");
        assert_eq!(normal("0871-65123456"), "0871-65123456");
        assert_eq!(normal("010 6512 3456"), "010-65123456");
        assert_eq!(normal("02087654321"), "020-87654321");
        assert_eq!(normal("029-8765432"), "029-8765432");
        assert_eq!(
            Phone::parse("0887-8221234").unwrap().kind(),
            PhoneKind::Landline
        );
    }

    #[test]
    fn international_landlines_regain_their_trunk_zero() {
        assert_eq!(normal("+86 887 8221234"), "0887-8221234");
        assert_eq!(normal("+86 10 6512 3456"), "010-65123456");
        assert_eq!(normal("0086 20 8765 4321"), "020-87654321");
        assert_eq!(normal("+86 (0887) 8221234"), "0887-8221234");
    }

    #[test]
    fn malformed_landlines_are_explained() {
        assert!(message("0887-0221234").contains("不能以 0 或 1 开头"));
        assert!(message("0887-1221234").contains("不能以 0 或 1 开头"));
        assert!(message("0887-822123").contains("7 或 8 位号码，当前为 6 位"));
        assert!(message("0887-822123456").contains("7 或 8 位号码，当前为 9 位"));
        assert!(message("8221234").contains("需要加区号"));
        assert!(message("65123456").contains("需要加区号"));
        assert!(message("0012345678").contains(NOT_A_NUMBER));
        assert!(message("0112345678").contains(NOT_A_NUMBER));
        assert!(message("02").contains("当前共 2 位"));
    }

    #[test]
    fn other_things_are_not_phone_numbers() {
        for raw in [
            "12345",
            "400-123-4567",
            "95588",
            "abc",
            "136 1234 8609 转 2",
        ] {
            let e = Phone::parse(raw).unwrap_err();
            assert_eq!(e.field, "phone");
            assert!(
                e.message.contains(NOT_A_NUMBER) || e.message.contains("应为 11 位"),
                "{raw}: {}",
                e.message
            );
        }
        assert_eq!(message("  "), "请填写电话号码");
    }

    #[test]
    fn masks_keep_the_prefix_and_last_four() {
        let p = Phone::parse("13612348609").unwrap();
        assert_eq!(p.masked(), "136****8609");
        assert_eq!(p.last4(), "8609");
        assert_eq!(
            Phone::parse("0887-8221234").unwrap().masked(),
            "0887-***1234"
        );
        let bj = Phone::parse("010-65123456").unwrap();
        assert_eq!(bj.masked(), "010-****3456");
        assert_eq!(bj.last4(), "3456");
        assert_eq!(format!("{p:?}"), "Phone(136****8609)");
    }

    // --- properties ---

    fn mobile() -> impl Strategy<Value = String> {
        "1[3-9][0-9]{9}"
    }

    fn landline_parts() -> impl Strategy<Value = (String, String)> {
        let area = prop_oneof![Just("010".to_owned()), "02[0-9]", "0[3-9][0-9]{2}",];
        (area, "[2-9][0-9]{6,7}")
    }

    /// Writes digits with random separators and, sometimes, full-width.
    fn decorate(digits: &str, seps: &[u8], wide: &[bool]) -> String {
        let mut out = String::new();
        for (i, c) in digits.chars().enumerate() {
            out.push(if wide[i % wide.len()] {
                char::from_u32(u32::from(c) + 0xFEE0).unwrap_or(c)
            } else {
                c
            });
            match seps[i % seps.len()] {
                1 => out.push(' '),
                2 => out.push('-'),
                3 => out.push('\u{3000}'),
                4 => out.push('.'),
                _ => {}
            }
        }
        out
    }

    proptest! {
        #[test]
        fn decorated_mobiles_parse_to_their_digits(
            number in mobile(),
            prefix in prop::sample::select(vec!["", "+86", "+86 ", "0086", "0086-", "86", "(+86)", "＋86"]),
            seps in prop::collection::vec(0u8..8, 11),
            wide in prop::collection::vec(any::<bool>(), 11),
        ) {
            let raw = format!(" {prefix}{} ", decorate(&number, &seps, &wide));
            let p = Phone::parse(&raw).unwrap();
            prop_assert_eq!(p.as_str(), number.as_str());
            prop_assert_eq!(p.kind(), PhoneKind::Mobile);
        }

        #[test]
        fn decorated_landlines_parse_to_area_dash_number(
            (area, subscriber) in landline_parts(),
            bracket in any::<bool>(),
            seps in prop::collection::vec(0u8..8, 8),
        ) {
            let area_written = if bracket { format!("({area})") } else { format!("{area}-") };
            let raw = format!("{area_written}{}", decorate(&subscriber, &seps, &[false]));
            let p = Phone::parse(&raw).unwrap();
            prop_assert_eq!(p.as_str(), format!("{area}-{subscriber}"));
            prop_assert_eq!(p.kind(), PhoneKind::Landline);
        }

        #[test]
        fn mobile_masks_keep_only_the_first_three_and_last_four(number in mobile()) {
            let masked = Phone::parse(&number).unwrap().masked();
            prop_assert_eq!(masked.len(), 11);
            prop_assert_eq!(&masked[..3], &number[..3]);
            prop_assert_eq!(&masked[3..7], "****");
            prop_assert_eq!(&masked[7..], &number[7..]);
        }

        #[test]
        fn landline_masks_keep_only_the_area_code_and_last_four(
            (area, subscriber) in landline_parts(),
        ) {
            let masked = Phone::parse(&format!("{area}{subscriber}")).unwrap().masked();
            let n = subscriber.len();
            prop_assert_eq!(masked, format!("{area}-{}{}", "*".repeat(n - 4), &subscriber[n - 4..]));
        }
    }
}
