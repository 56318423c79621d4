//! Checkpoints (卡点) at compound gates: vehicle plates, pass codes, scans and their verdicts,
//! and who the epidemic records keep in. Pure rules; the store keeps the records. Trips are in
//! [`crate::epidemic::trips`].

use std::fmt;

use serde::Serialize;
use time::Date;

use crate::epidemic::contact::CaseKind;
use crate::epidemic::policy::{Measure, Temperature};
use crate::kernel::clock::format_date;
use crate::kernel::labels::Labelled;
use crate::labelled;
use crate::CoreError;

/// The one-character abbreviations of the 31 mainland provincial divisions that open a plate
/// (GA 36-2018, 《中华人民共和国机动车号牌》).
const PROVINCES: &str = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼";

/// Plate letters: I and O are never used (they read as 1 and 0).
fn plate_char(c: char) -> bool {
    (c.is_ascii_uppercase() && c != 'I' && c != 'O') || c.is_ascii_digit()
}

/// A mainland vehicle plate, normalised: `云P·12345` and `云p 12345` are `云P12345`.
/// Regular plates have 5 characters after the issuing authority's letter (the last may be a
/// class mark: 挂 学 警 港 澳 领 使), new-energy plates 6.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct VehiclePlate(String);

impl VehiclePlate {
    pub fn parse(raw: &str) -> Result<VehiclePlate, CoreError> {
        Self::parse_field("plate", raw)
    }

    pub fn parse_field(field: &str, raw: &str) -> Result<VehiclePlate, CoreError> {
        let s: String = raw
            .chars()
            .filter(|c| !c.is_whitespace() && !matches!(c, '·' | '.' | '-' | '•' | '・'))
            .map(|c| c.to_ascii_uppercase())
            // Full-width letters and digits, as phones type them.
            .map(|c| match c {
                'Ａ'..='Ｚ' | '０'..='９' => {
                    char::from_u32(c as u32 - 0xFEE0).map_or(c, |c| c.to_ascii_uppercase())
                }
                'ａ'..='ｚ' => char::from_u32(c as u32 - 0xFEE0 - 32).unwrap_or(c),
                _ => c,
            })
            .collect();
        if s.is_empty() {
            return Err(CoreError::invalid(field, "请填写车牌号"));
        }
        let chars: Vec<char> = s.chars().collect();
        if !PROVINCES.contains(chars[0]) {
            return Err(CoreError::invalid(
                field,
                format!("车牌「{s}」应以省份简称开头，如 云P12345"),
            ));
        }
        if chars.len() < 2 || !chars[1].is_ascii_uppercase() {
            return Err(CoreError::invalid(
                field,
                format!("车牌「{s}」第二位应为发牌机关字母"),
            ));
        }
        let rest = &chars[2..];
        let ok = match rest.len() {
            // Regular: 5 letters/digits, or 4 and a class mark (京A1234学).
            5 => {
                rest.iter().all(|c| plate_char(*c))
                    || (rest[..4].iter().all(|c| plate_char(*c))
                        && "挂学警港澳领使".contains(rest[4]))
            }
            // New energy: 6 letters/digits.
            6 => rest.iter().all(|c| plate_char(*c)),
            _ => false,
        };
        if !ok {
            return Err(CoreError::invalid(
                field,
                format!("车牌「{s}」格式不对：省份简称、字母后应为 5 位（新能源 6 位）字母或数字，不含 I、O"),
            ));
        }
        Ok(VehiclePlate(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for VehiclePlate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The letters of a pass code: no 0/O, 1/I/L, so a guard can read it off a card.
pub const PASS_CODE_ALPHABET: &[u8] = crate::kernel::token::ALPHABET;
pub const PASS_CODE_LEN: usize = crate::kernel::token::PASS_CODE.len;

/// A pass code as typed at the gate, normalised (upper case, no spaces or dashes).
pub fn parse_pass_code(raw: &str) -> Result<String, CoreError> {
    crate::kernel::token::parse_code(crate::kernel::token::PASS_CODE, raw)
}

labelled! {
    /// In or out through the gate.
    pub enum Direction: "direction" {
        #[strum(serialize = "in", props(zh = "进"))]
        In,
        #[strum(serialize = "out", props(zh = "出"))]
        Out,
    }
}

impl Direction {
    pub fn parse(raw: &str) -> Result<Direction, CoreError> {
        match raw.trim() {
            "in" | "进" | "入" => Ok(Direction::In),
            "out" | "出" => Ok(Direction::Out),
            _ => Err(CoreError::invalid("direction", "请选择进或出")),
        }
    }
}

labelled! {
    /// What the gate does with a scan.
    pub enum ScanOutcome: "outcome" {
        /// A valid pass (in), or leaving.
        #[strum(serialize = "allowed", props(zh = "放行"))]
        Allowed,
        /// Coming in without a valid pass here: register the person first.
        #[strum(serialize = "no_pass", props(zh = "无有效通行证"))]
        NoPass,
        /// 37.3 °C or more: not let through, sent to the fever clinic, whatever the pass.
        #[strum(serialize = "fever", props(zh = "体温异常，引导至发热门诊"))]
        Fever,
        /// Going out while under quarantine, a case or an active close contact.
        #[strum(serialize = "under_quarantine", props(zh = "隔离管控中，不得外出"))]
        UnderQuarantine,
    }
}

impl ScanOutcome {
    pub fn from_str_opt(s: &str) -> Option<ScanOutcome> {
        match s {
            "allowed" => Some(ScanOutcome::Allowed),
            "no_pass" => Some(ScanOutcome::NoPass),
            "fever" => Some(ScanOutcome::Fever),
            "under_quarantine" => Some(ScanOutcome::UnderQuarantine),
            _ => None,
        }
    }
}

/// Why the epidemic records keep a person in, on the day of a scan, a pass or a trip.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Restriction {
    /// An open observation whose stage that day is centralised or home quarantine.
    Quarantine {
        measure: Measure,
        #[serde(with = "crate::epidemic::policy::iso_date")]
        until: Date,
    },
    /// Marked 确诊 or 无症状 (a case has no end date in the records).
    Case {
        case: CaseKind,
        #[serde(with = "crate::epidemic::policy::iso_date")]
        since: Date,
    },
    /// A close contact whose plan has not ended.
    CloseContact {
        #[serde(with = "crate::epidemic::policy::iso_date")]
        until: Date,
    },
}

impl Restriction {
    /// Only quarantine keeps a person in: health monitoring lets them go about.
    pub fn of_observation(measure: Measure, until: Date) -> Option<Restriction> {
        matches!(
            measure,
            Measure::CentralizedQuarantine | Measure::HomeQuarantine
        )
        .then_some(Restriction::Quarantine { measure, until })
    }

    /// 「居家隔离（至 2022-07-14）」, 「确诊病例（2022-03-01 起）」, 「密切接触者（管控至 2022-07-10）」.
    pub fn label_zh(&self) -> String {
        match self {
            Restriction::Quarantine { measure, until } => {
                format!("{}（至 {}）", measure.label_zh(), format_date(*until))
            }
            Restriction::Case { case, since } => {
                format!("{}（{} 起）", case.label_zh(), format_date(*since))
            }
            Restriction::CloseContact { until } => {
                format!("密切接触者（管控至 {}）", format_date(*until))
            }
        }
    }

    /// The one a guard or a worker is told of when several hold: the quarantine (its measure
    /// and last day are what they act on), then a case, then a contact.
    pub fn first(all: &[Restriction]) -> Option<&Restriction> {
        all.iter().min_by_key(|r| match r {
            Restriction::Quarantine { .. } => 0,
            Restriction::Case { .. } => 1,
            Restriction::CloseContact { .. } => 2,
        })
    }
}

/// What the gate does and what it tells the guard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScanVerdict {
    pub outcome: ScanOutcome,
    /// A fever was read: an alert goes to the gate's node, whatever the outcome.
    pub fever_alert: bool,
    /// Why not, in Chinese; `None` when let through.
    pub message: Option<String>,
}

/// The gate's verdict, from what the records say of the person on the day of the scan:
///
/// | direction | restricted | fever | valid pass | outcome |
/// |---|---|---|---|---|
/// | out | yes | any | any | under_quarantine |
/// | any | no (or in) | yes | any | fever |
/// | in | any | no | yes | allowed |
/// | in | any | no | no | no_pass |
/// | out | no | no | any | allowed |
///
/// A person under quarantine may come home (a pass still counts inward); a fever stops anyone
/// and raises an alert even when the person is refused for quarantine.
pub fn judge_scan(
    direction: Direction,
    temperature: Option<Temperature>,
    valid_pass: bool,
    restrictions: &[Restriction],
) -> ScanVerdict {
    let fever = temperature.filter(|t| t.is_fever());
    let restricted = Restriction::first(restrictions);
    let (outcome, message) = match (direction, restricted, fever) {
        (Direction::Out, Some(r), _) => (
            ScanOutcome::UnderQuarantine,
            Some(format!("不予放行：{}，不得外出", r.label_zh())),
        ),
        (_, _, Some(t)) => (
            ScanOutcome::Fever,
            Some(format!(
                "体温 {:.1} ℃，不予放行：已发出发热预警，请引导至发热门诊",
                t.celsius()
            )),
        ),
        (Direction::In, _, None) if valid_pass => (ScanOutcome::Allowed, None),
        (Direction::In, _, None) => (ScanOutcome::NoPass, None),
        (Direction::Out, None, None) => (ScanOutcome::Allowed, None),
    };
    ScanVerdict {
        outcome,
        fever_alert: fever.is_some(),
        message,
    }
}

/// A pass or a trip for someone the records keep in is refused, naming why (field
/// `person_id`).
pub fn refuse_if_restricted(what: &str, restrictions: &[Restriction]) -> Result<(), CoreError> {
    match Restriction::first(restrictions) {
        None => Ok(()),
        Some(r) => Err(CoreError::invalid(
            "person_id",
            format!("此人为{}，不能{what}", r.label_zh()),
        )),
    }
}

/// The validity of a pass, both days inclusive, checked when it is issued.
pub fn check_validity(from: Date, to: Date) -> Result<(), CoreError> {
    if to < from {
        return Err(CoreError::invalid("valid_to", "有效期结束日期早于开始日期"));
    }
    if (to - from).whole_days() > 366 {
        return Err(CoreError::invalid("valid_to", "通行证有效期不能超过一年"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use time::macros::date;

    #[test]
    fn codes_and_labels_stay_as_stored_and_shown() {
        use crate::kernel::labels::assert_table;
        assert_table(&[(Direction::In, "in", "进"), (Direction::Out, "out", "出")]);
        assert_table(&[
            (ScanOutcome::Allowed, "allowed", "放行"),
            (ScanOutcome::NoPass, "no_pass", "无有效通行证"),
            (ScanOutcome::Fever, "fever", "体温异常，引导至发热门诊"),
            (
                ScanOutcome::UnderQuarantine,
                "under_quarantine",
                "隔离管控中，不得外出",
            ),
        ]);
    }

    #[test]
    fn plates_are_normalised_and_checked() {
        for (raw, want) in [
            ("云P12345", "云P12345"),
            ("云p·12345", "云P12345"),
            (" 京A 1234学 ", "京A1234学"),
            ("粤BD12345", "粤BD12345"),
            ("沪Ａ１２３４５", "沪A12345"),
        ] {
            assert_eq!(VehiclePlate::parse(raw).unwrap().as_str(), want, "{raw}");
        }
        for bad in [
            "",
            "P12345",
            "云12345",
            "云P1234",
            "云P1234567",
            "云PO1234",
            "港A12345",
        ] {
            let e = VehiclePlate::parse(bad).unwrap_err();
            assert_eq!(e.field, "plate", "{bad}");
        }
    }

    #[test]
    fn pass_codes_are_read_as_typed_at_a_gate() {
        assert_eq!(parse_pass_code("abcd-efgh").unwrap(), "ABCDEFGH");
        assert_eq!(parse_pass_code(" 2345 6789 ").unwrap(), "23456789");
        assert!(parse_pass_code("ABCDEFG").is_err());
        assert!(
            parse_pass_code("ABCDEFG0").is_err(),
            "0 is not in the alphabet"
        );
        assert!(
            parse_pass_code("ABCDEFGI").is_err(),
            "I is not in the alphabet"
        );
    }

    /// direction, temperature, valid pass, restrictions → outcome, fever alert, message says.
    type Row = (
        Direction,
        Option<Temperature>,
        bool,
        Vec<Restriction>,
        ScanOutcome,
        bool,
        Option<&'static str>,
    );

    #[test]
    fn the_gate_verdict_over_direction_status_fever_and_pass() {
        use Direction::{In, Out};
        use ScanOutcome::*;
        let t = |s: &str| Some(Temperature::parse(s).unwrap());
        let home = Restriction::Quarantine {
            measure: Measure::HomeQuarantine,
            until: date!(2022 - 07 - 14),
        };
        let centralised = Restriction::Quarantine {
            measure: Measure::CentralizedQuarantine,
            until: date!(2022 - 07 - 08),
        };
        let case = Restriction::Case {
            case: CaseKind::Confirmed,
            since: date!(2022 - 07 - 01),
        };
        let contact = Restriction::CloseContact {
            until: date!(2022 - 07 - 10),
        };
        let none: &[Restriction] = &[];
        #[rustfmt::skip]
        let table: Vec<Row> = vec![
            // Free people: a fever stops anyone; in needs a pass; out is allowed.
            (In, t("36.5"), true, none.to_vec(), Allowed, false, None),
            (In, None, false, none.to_vec(), NoPass, false, None),
            (In, t("37.3"), true, none.to_vec(), Fever, true, Some("体温 37.3 ℃，不予放行：已发出发热预警")),
            (In, t("37.2"), false, none.to_vec(), NoPass, false, None),
            (Out, t("36.5"), false, none.to_vec(), Allowed, false, None),
            (Out, t("38.0"), true, none.to_vec(), Fever, true, Some("体温 38.0 ℃")),
            // Under quarantine, a case, an active close contact: not out, with measure and date.
            (Out, t("36.5"), true, vec![home.clone()], UnderQuarantine, false, Some("不予放行：居家隔离（至 2022-07-14），不得外出")),
            (Out, None, true, vec![centralised.clone()], UnderQuarantine, false, Some("集中隔离（至 2022-07-08）")),
            (Out, None, true, vec![case.clone()], UnderQuarantine, false, Some("确诊病例（2022-07-01 起）")),
            (Out, None, true, vec![contact.clone()], UnderQuarantine, false, Some("密切接触者（管控至 2022-07-10）")),
            // Several: the quarantine is named.
            (Out, None, true, vec![contact.clone(), case.clone(), centralised.clone()], UnderQuarantine, false, Some("集中隔离（至 2022-07-08）")),
            // A fever on the way out while under quarantine: refused for the quarantine, alert raised.
            (Out, t("38.5"), true, vec![home.clone()], UnderQuarantine, true, Some("居家隔离")),
            // Coming home is not refused for quarantine; a fever still is.
            (In, t("36.5"), true, vec![home.clone()], Allowed, false, None),
            (In, t("37.5"), true, vec![case.clone()], Fever, true, Some("发热门诊")),
        ];
        for (direction, temp, pass, restrictions, outcome, alert, says) in table {
            let v = judge_scan(direction, temp, pass, &restrictions);
            let ctx = format!("{direction:?} {temp:?} pass={pass} {restrictions:?}: {v:?}");
            assert_eq!(v.outcome, outcome, "{ctx}");
            assert_eq!(v.fever_alert, alert, "{ctx}");
            match says {
                Some(s) => assert!(
                    v.message.as_deref().unwrap_or_default().contains(s),
                    "{ctx}"
                ),
                None => assert_eq!(v.message, None, "{ctx}"),
            }
        }
    }

    #[test]
    fn passes_and_trips_are_refused_naming_the_measure() {
        assert!(refuse_if_restricted("发放通行证", &[]).is_ok());
        // Health monitoring keeps nobody in.
        assert_eq!(
            Restriction::of_observation(Measure::HealthMonitoring, date!(2022 - 07 - 04)),
            None
        );
        let home =
            Restriction::of_observation(Measure::HomeQuarantine, date!(2022 - 07 - 14)).unwrap();
        let e = refuse_if_restricted("发放通行证", &[home]).unwrap_err();
        assert_eq!(e.field, "person_id");
        assert_eq!(e.message, "此人为居家隔离（至 2022-07-14），不能发放通行证");
        for s in [ScanOutcome::UnderQuarantine, ScanOutcome::Fever] {
            assert_eq!(ScanOutcome::from_str_opt(s.as_str()), Some(s));
        }
    }

    #[test]
    fn a_pass_is_valid_for_at_most_a_year() {
        check_validity(date!(2022 - 03 - 01), date!(2022 - 03 - 01)).unwrap();
        assert_eq!(
            check_validity(date!(2022 - 03 - 02), date!(2022 - 03 - 01))
                .unwrap_err()
                .field,
            "valid_to"
        );
        assert!(check_validity(date!(2022 - 01 - 01), date!(2023 - 06 - 01)).is_err());
    }
}
