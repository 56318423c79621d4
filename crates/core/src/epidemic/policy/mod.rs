//! Quarantine policy as versioned data, evaluated by pure functions.
//!
//! Policies change by decree (the 2020 practice, the 9th edition, the "20 measures", Class B
//! management), so they are data: a [`PolicyVersion`] is a dated list of [`Rule`]s, each mapping
//! conditions on the facts of an arrival or a contact ([`Facts`]) to a sequence of [`Stage`]s.
//! Officials edit a [`PolicyDraft`] (plain JSON) and publish it once it validates; the store
//! keeps every version, and a record keeps the version that classified it.
//!
//! Conventions fixed here (the policies themselves do not say):
//! - **Division codes** ([`DivisionCode`]): 6 (GB/T 2260), 9 (street) or 12 (community)
//!   digits. A code's *significant prefix* drops trailing all-zero levels (`420000` → `42`,
//!   `420100` → `4201`, `420111001000` → `420111001`). An area covers every code whose
//!   significant prefix starts with the area's: Hubei `420000` covers Wuhan `420100` and every
//!   street in it. A coarser origin is *not* covered by a finer area: "from Hubei" does not
//!   prove a stay in district `420111`, so workers should enter the finest origin they know.
//! - **Days**: the start day is day 1; `until` is the last day inclusive, so 7 days from
//!   2022-07-02 run until 2022-07-08 and `until = start + days − 1`. A classification with no
//!   measure has 0 days and `until = start − 1` (an empty period).
//! - **Start**: a rule with a contact condition counts from the last contact date; any other
//!   rule from the arrival date.
//! - **Severity** (which of several matching rules wins): the strongest measure among a rule's
//!   stages (centralised > home quarantine > health monitoring > none), then the later `until`,
//!   then more days, then the earlier rule. A fever alert raised by any matching rule is kept
//!   even when another rule decides the measure, so a fever from Hubei still triggers the alert.
//! - **Risk on a date**: a risk area is in force from `from` to `to`, both inclusive (`to`
//!   absent = still in force). "Stayed in a high-risk area within the last 7 days" matches when
//!   an area covering the origin had that exact level on any day of `[arrival − 7, arrival]`.
//!   Levels match exactly, so a policy without a medium rule ignores medium areas.

mod classify;
mod presets;
#[cfg(test)]
mod tests;

use std::fmt;
use std::str::FromStr;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use time::Date;

use crate::epidemic::trips::TripKind;
use crate::kernel::clock::{format_date, parse_date};
use crate::kernel::division::{self, PROVINCE_PREFIXES};
use crate::kernel::labels::Labelled;
use crate::labelled;
use crate::CoreError;

pub use classify::{
    classify, division_names, no_names, what_if, ActiveRecord, AlertKind, Change, ChangeKind,
    Classification, ContactFact, Facts, Referral, ScreeningAlert, StagePlan,
};
pub use presets::{preset_drafts, presets};

/// Bounds officials' edits are checked against.
pub const MAX_STAGE_DAYS: u16 = 60;
pub const MAX_STAGES: usize = 4;
pub const MAX_CHECK_INS_PER_DAY: u8 = 6;
pub const MAX_LOOK_BACK_DAYS: u16 = 30;
pub const MAX_RULES: usize = 50;
pub const MAX_CONDITIONS: usize = 6;

labelled! {
    /// The level a risk area is declared at.
    #[derive(Hash, Deserialize, strum::Display)]
    pub enum RiskLevel: "level", FromStr {
        #[strum(serialize = "high", props(zh = "高风险", aliases = "高"))]
        High,
        #[strum(serialize = "medium", props(zh = "中风险", aliases = "中"))]
        Medium,
        #[strum(serialize = "low", props(zh = "低风险", aliases = "低"))]
        Low,
    }
}

labelled! {
    /// What a policy asks of a person for some days.
    #[derive(Hash, Deserialize, strum::Display)]
    pub enum Measure: "measure", FromStr {
        #[strum(serialize = "centralized_quarantine", props(zh = "集中隔离"))]
        CentralizedQuarantine,
        #[strum(serialize = "home_quarantine", props(zh = "居家隔离"))]
        HomeQuarantine,
        #[strum(serialize = "health_monitoring", props(zh = "健康监测"))]
        HealthMonitoring,
        /// Nothing to do. (Never glob-import this enum: the variant shadows `Option::None`.)
        #[strum(serialize = "none", props(zh = "无需管控"))]
        None,
    }
}

labelled! {
    /// How a person is linked to a case.
    #[derive(Hash, Deserialize, strum::Display)]
    pub enum ContactKind: "kind", FromStr {
        #[strum(
            serialize = "close_contact",
            props(zh = "密切接触者", aliases = "密接")
        )]
        CloseContact,
        #[strum(
            serialize = "secondary_contact",
            props(zh = "次密接", aliases = "密接的密接")
        )]
        SecondaryContact,
    }
}

impl Measure {
    /// Higher is stricter; decides which of several matching rules wins.
    pub fn severity(self) -> u8 {
        match self {
            Measure::CentralizedQuarantine => 3,
            Measure::HomeQuarantine => 2,
            Measure::HealthMonitoring => 1,
            Measure::None => 0,
        }
    }
}

/// Dates in JSON as `YYYY-MM-DD` (the `time` crate's serde support is not enabled here).
pub(crate) mod iso_date {
    use super::*;

    pub fn serialize<S: Serializer>(d: &Date, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format_date(*d))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Date, D::Error> {
        let raw = String::deserialize(d)?;
        parse_date("date", &raw).map_err(de::Error::custom)
    }

    pub mod option {
        use super::*;

        pub fn serialize<S: Serializer>(d: &Option<Date>, s: S) -> Result<S::Ok, S::Error> {
            match d {
                Some(d) => s.serialize_str(&format_date(*d)),
                None => s.serialize_none(),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Date>, D::Error> {
            match Option::<String>::deserialize(d)? {
                Some(raw) if !raw.trim().is_empty() => parse_date("date", &raw)
                    .map(Some)
                    .map_err(de::Error::custom),
                _ => Ok(None),
            }
        }
    }
}

/// Where a level of a division code ends: province 2, city 4, county 6, street 9, community 12.
const LEVEL_ENDS: [usize; 5] = [2, 4, 6, 9, 12];

/// A GB/T 2260 division code at any level: 6 digits (province `420000`, city `420100`, county
/// `420111`), or the statistical 9-digit street or 12-digit community code. See the module
/// documentation for how codes cover each other.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DivisionCode(String);

impl DivisionCode {
    /// Parses a code as the field `division_code`.
    pub fn parse(raw: &str) -> Result<DivisionCode, CoreError> {
        DivisionCode::parse_field("division_code", raw)
    }

    /// Parses a code; errors name `field` (`origin_code`, `community_code`, …).
    pub fn parse_field(field: &str, raw: &str) -> Result<DivisionCode, CoreError> {
        let code = raw.trim();
        if !matches!(code.len(), 6 | 9 | 12) || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(CoreError::invalid(
                field,
                format!(
                    "「{code}」不是行政区划代码：应为 6 位（省、市、县）、9 位（街道）或 12 位（社区/村）数字"
                ),
            ));
        }
        let province = code.get(..2).and_then(|p| p.parse::<u8>().ok());
        if !province.is_some_and(|p| PROVINCE_PREFIXES.contains(&p)) {
            return Err(CoreError::invalid(
                field,
                format!("「{code}」的前两位不是省级行政区划代码（GB/T 2260），请核对"),
            ));
        }
        Ok(DivisionCode(code.to_owned()))
    }

    /// Reads what a person typed for a place: a code (6, 9 or 12 digits, as [`parse_field`]
    /// takes), or a name, full name, pinyin or initials that the GB/T 2260 table resolves to
    /// one division (「昆明」, 「kunming」, 「km」, 「云南省昆明市（530100）」). An ambiguous name is
    /// refused with its candidates named; errors name `field`.
    ///
    /// [`parse_field`]: DivisionCode::parse_field
    pub fn resolve_field(field: &str, typed: &str) -> Result<DivisionCode, CoreError> {
        let t = typed.trim();
        if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
            return DivisionCode::parse_field(field, t);
        }
        match division::resolve(t) {
            Ok(d) => DivisionCode::parse_field(field, d.code),
            Err(e) => Err(CoreError::invalid(field, e.message_zh(t))),
        }
    }

    /// The place as a person reads it: 「云南省昆明市」, 「湖北省武汉市洪山区（街道 420111001）」,
    /// the bare code when the table does not know it.
    pub fn describe(&self) -> String {
        division::describe(&self.0)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The code without its trailing all-zero levels: `420000` → `42`, `420100` → `4201`,
    /// `420111001000` → `420111001`. The province level is always kept.
    pub fn significant(&self) -> &str {
        let mut end = self.0.len();
        // Walk down the level boundaries from the code's length, dropping zero levels.
        for window in LEVEL_ENDS.windows(2).rev() {
            let (start, stop) = (window[0], window[1]);
            if stop != end {
                continue;
            }
            match self.0.get(start..stop) {
                Some(level) if level.bytes().all(|b| b == b'0') => end = start,
                _ => break,
            }
        }
        self.0.get(..end).unwrap_or(&self.0)
    }

    /// True when `other` lies within this code's division (or is it).
    pub fn covers(&self, other: &DivisionCode) -> bool {
        other.significant().starts_with(self.significant())
    }

    /// The two-digit province prefix.
    pub fn province(&self) -> &str {
        self.0.get(..2).unwrap_or(&self.0)
    }

    /// The four-digit prefecture (city) prefix. For the municipalities (11, 12, 31, 50) this is
    /// the municipal district or county part (`1101`), so all of Beijing is one "city" only when
    /// its codes share those digits — the rules treat such codes as written.
    pub fn city(&self) -> &str {
        self.0.get(..4).unwrap_or(&self.0)
    }
}

impl fmt::Display for DivisionCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for DivisionCode {
    type Err = CoreError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        DivisionCode::parse(s)
    }
}

impl Serialize for DivisionCode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for DivisionCode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        DivisionCode::parse(&raw).map_err(de::Error::custom)
    }
}

/// A body temperature in tenths of a degree Celsius (37.3 °C is 373), 34.0 to 43.0 °C.
/// Integers avoid the float comparisons a fever threshold would otherwise depend on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Temperature(u16);

impl Temperature {
    pub const MIN: Temperature = Temperature(340);
    pub const MAX: Temperature = Temperature(430);
    /// 37.3 °C and above is a fever.
    pub const FEVER: Temperature = Temperature(373);

    pub fn from_tenths(tenths: i64) -> Result<Temperature, CoreError> {
        if !(i64::from(Self::MIN.0)..=i64::from(Self::MAX.0)).contains(&tenths) {
            return Err(CoreError::invalid(
                "temperature",
                format!(
                    "体温 {:.1}℃ 不在 34.0 至 43.0℃ 之间，请重新测量",
                    tenths as f64 / 10.0
                ),
            ));
        }
        u16::try_from(tenths)
            .map(Temperature)
            .map_err(|_| CoreError::invalid("temperature", "体温超出范围"))
    }

    /// From degrees Celsius with at most one decimal (a thermometer's reading).
    pub fn from_celsius(celsius: f64) -> Result<Temperature, CoreError> {
        if !celsius.is_finite() {
            return Err(CoreError::invalid("temperature", "体温应为数字，如 36.5"));
        }
        let tenths = (celsius * 10.0).round();
        // Tolerate binary float noise (37.3_f32 is 37.29999…), not a second decimal.
        if (celsius * 10.0 - tenths).abs() > 1e-3 {
            return Err(CoreError::invalid(
                "temperature",
                format!("体温「{celsius}」最多保留一位小数，如 37.3"),
            ));
        }
        // Bounded by the range check that follows; the cast cannot wrap for finite readings.
        Temperature::from_tenths(tenths.clamp(-1e6, 1e6) as i64)
    }

    /// Parses a reading as typed: `37.3`, `37`, `37.3℃`, `37.3°C`, full-width `３７．３`.
    pub fn parse(raw: &str) -> Result<Temperature, CoreError> {
        let folded: String = raw
            .trim()
            .chars()
            .map(|c| match c {
                '０'..='９' => char::from_u32(c as u32 - '０' as u32 + '0' as u32).unwrap_or(c),
                '．' | '。' => '.',
                _ => c,
            })
            .collect();
        let s = ["℃", "°C", "°c", "度", "°"]
            .iter()
            .find_map(|suffix| folded.strip_suffix(suffix))
            .unwrap_or(&folded)
            .trim();
        let bad = || {
            CoreError::invalid(
                "temperature",
                format!("「{raw}」不是有效的体温，应如 36.5（摄氏度，最多一位小数）"),
            )
        };
        let (whole, fraction) = s.split_once('.').unwrap_or((s, ""));
        if whole.is_empty()
            || whole.len() > 3
            || !whole.bytes().all(|b| b.is_ascii_digit())
            || !fraction.bytes().all(|b| b.is_ascii_digit())
            || (s.contains('.') && fraction.is_empty())
        {
            return Err(bad());
        }
        // 37.30 is fine, 37.25 is not: a second decimal is noise, not precision we keep.
        if fraction.bytes().skip(1).any(|b| b != b'0') {
            return Err(CoreError::invalid(
                "temperature",
                format!("体温「{raw}」最多保留一位小数，如 37.3"),
            ));
        }
        let whole: i64 = whole.parse().map_err(|_| bad())?;
        let tenth = fraction.bytes().next().map_or(0, |b| i64::from(b - b'0'));
        Temperature::from_tenths(whole * 10 + tenth)
    }

    pub fn tenths(self) -> u16 {
        self.0
    }

    pub fn celsius(self) -> f64 {
        f64::from(self.0) / 10.0
    }

    pub fn is_fever(self) -> bool {
        self >= Temperature::FEVER
    }
}

/// `37.3℃`.
impl fmt::Display for Temperature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}℃", self.0 / 10, self.0 % 10)
    }
}

impl FromStr for Temperature {
    type Err = CoreError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Temperature::parse(s)
    }
}

/// In JSON a number of degrees (`37.3`); a string (`"37.3"`) is accepted too.
impl Serialize for Temperature {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(self.celsius())
    }
}

impl<'de> Deserialize<'de> for Temperature {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Reading;
        impl Visitor<'_> for Reading {
            type Value = Temperature;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a temperature in °C such as 36.5")
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Temperature, E> {
                Temperature::from_celsius(v).map_err(E::custom)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Temperature, E> {
                Temperature::from_tenths(v.saturating_mul(10)).map_err(E::custom)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Temperature, E> {
                let v = i64::try_from(v).unwrap_or(i64::MAX);
                Temperature::from_tenths(v.saturating_mul(10)).map_err(E::custom)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Temperature, E> {
                Temperature::parse(v).map_err(E::custom)
            }
        }
        d.deserialize_any(Reading)
    }
}

/// A division declared at a risk level for a period, `from` to `to` inclusive (`to` absent:
/// still in force). The name is optional: core has no gazetteer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RiskAreaInput")]
pub struct RiskArea {
    division_code: DivisionCode,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    level: RiskLevel,
    #[serde(with = "iso_date")]
    from: Date,
    #[serde(with = "iso_date::option")]
    to: Option<Date>,
}

/// The unchecked shape of a [`RiskArea`], as it arrives in JSON.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RiskAreaInput {
    division_code: DivisionCode,
    #[serde(default)]
    name: Option<String>,
    level: RiskLevel,
    #[serde(with = "iso_date")]
    from: Date,
    #[serde(default, with = "iso_date::option")]
    to: Option<Date>,
}

impl TryFrom<RiskAreaInput> for RiskArea {
    type Error = CoreError;
    fn try_from(i: RiskAreaInput) -> Result<RiskArea, CoreError> {
        RiskArea::new(i.division_code, i.name.as_deref(), i.level, i.from, i.to)
    }
}

impl RiskArea {
    pub fn new(
        division_code: DivisionCode,
        name: Option<&str>,
        level: RiskLevel,
        from: Date,
        to: Option<Date>,
    ) -> Result<RiskArea, CoreError> {
        if let Some(to) = to {
            if to < from {
                return Err(CoreError::invalid(
                    "to",
                    format!(
                        "结束日期 {} 早于开始日期 {}",
                        format_date(to),
                        format_date(from)
                    ),
                ));
            }
        }
        let name = match name.map(str::trim).filter(|n| !n.is_empty()) {
            Some(n) => Some(checked_text("name", n, 100)?),
            None => None,
        };
        Ok(RiskArea {
            division_code,
            name,
            level,
            from,
            to,
        })
    }

    pub fn division_code(&self) -> &DivisionCode {
        &self.division_code
    }

    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    pub fn level(&self) -> RiskLevel {
        self.level
    }

    pub fn from(&self) -> Date {
        self.from
    }

    pub fn to(&self) -> Option<Date> {
        self.to
    }

    /// True when the area is in force on some day of `[first, last]`.
    pub fn in_force_between(&self, first: Date, last: Date) -> bool {
        self.from <= last && self.to.is_none_or(|to| to >= first)
    }
}

/// One stage of a measure: e.g. 7 days of centralised quarantine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Stage {
    pub measure: Measure,
    pub days: u16,
}

/// A condition on the facts of an arrival or a contact. A rule's conditions must all hold.
/// In JSON the `fact` tag names the condition: `{"fact": "origin_risk", "level": "high",
/// "within_days": 7}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "fact", rename_all = "snake_case", deny_unknown_fields)]
pub enum Condition {
    /// An area covering the origin had `level` on some day of `[arrival − within_days,
    /// arrival]` (0: on the arrival date itself).
    OriginRisk {
        level: RiskLevel,
        #[serde(default)]
        within_days: u16,
    },
    /// The origin lies within a division, e.g. Hubei `420000`.
    OriginWithin { division_code: DivisionCode },
    /// The origin is in another province than the community.
    OriginOtherProvince,
    /// The origin is in the community's province but another city (prefecture).
    OriginSameProvinceOtherCity,
    /// The person is a contact of this kind.
    Contact { kind: ContactKind },
    /// Any symptom, or a temperature of 37.3 °C or more, at screening.
    FeverOrSymptoms,
}

impl Condition {
    fn tag(&self) -> &'static str {
        match self {
            Condition::OriginRisk { .. } => "origin_risk",
            Condition::OriginWithin { .. } => "origin_within",
            Condition::OriginOtherProvince => "origin_other_province",
            Condition::OriginSameProvinceOtherCity => "origin_same_province_other_city",
            Condition::Contact { .. } => "contact",
            Condition::FeverOrSymptoms => "fever_or_symptoms",
        }
    }

    fn label_zh(&self) -> &'static str {
        match self {
            Condition::OriginRisk { .. } => "来源地风险等级",
            Condition::OriginWithin { .. } => "来源地所在区划",
            Condition::OriginOtherProvince => "来自外省",
            Condition::OriginSameProvinceOtherCity => "来自本省其他城市",
            Condition::Contact { .. } => "接触者类型",
            Condition::FeverOrSymptoms => "发热或有症状",
        }
    }
}

/// A rule: who it is for (in Chinese, read to the resident), when it applies, and what follows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// Who the rule is for, e.g. 「密切接触者」.
    pub who: String,
    /// Conditions that must all hold; none at all means "everyone".
    #[serde(default)]
    pub when: Vec<Condition>,
    /// The headline measure: the first stage's, or `none` with no stages.
    pub measure: Measure,
    #[serde(default)]
    pub stages: Vec<Stage>,
    /// Temperature reports expected per day during the stages.
    #[serde(default)]
    pub check_ins_per_day: u8,
    /// Raise a fever alert (isolate on the spot, refer to a fever clinic).
    #[serde(default)]
    pub fever_alert: bool,
    /// Tests and other instructions read to the resident, e.g. 「3 天内 2 次核酸检测」.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl Rule {
    /// True when the rule counts from the last contact rather than the arrival.
    pub fn counts_from_contact(&self) -> bool {
        self.when
            .iter()
            .any(|c| matches!(c, Condition::Contact { .. }))
    }

    pub fn days_total(&self) -> u16 {
        self.stages.iter().map(|s| s.days).sum()
    }

    /// True when the rule is about a fever or a symptom. Such a rule adds a fever alert and a
    /// referral to whatever the other rules decide; it never sets a measure of its own (a fever
    /// must not turn 14 days of quarantine into 1).
    pub fn is_fever_rule(&self) -> bool {
        self.when
            .iter()
            .any(|c| matches!(c, Condition::FeverOrSymptoms))
    }

    /// The strictest measure among the stages.
    pub fn strictest(&self) -> Measure {
        self.stages
            .iter()
            .map(|s| s.measure)
            .max_by_key(|m| m.severity())
            .unwrap_or(self.measure)
    }
}

/// A policy as officials edit it, before validation: every field public, nothing checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyDraft {
    /// Stable identifier, e.g. `ninth-edition`: lowercase letters, digits, `-` and `_`.
    pub key: String,
    /// Chinese name, e.g. 「新型冠状病毒肺炎防控方案（第九版）」.
    pub name: String,
    #[serde(with = "iso_date")]
    pub effective_from: Date,
    /// 1 for the first publication; an edit published for the same date needs a higher number.
    pub version: u32,
    pub rules: Vec<Rule>,
    /// Kinds of trip this policy stops while in force (the early 2020 measures stopped visits
    /// to relatives); never medical visits. Absent in versions published before trips had kinds.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub suspended_trips: Vec<TripKind>,
}

/// A validated, publishable policy. Built only through [`PolicyDraft::validate`] (also when
/// deserialised), so every rule in it is well-formed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "PolicyDraft")]
pub struct PolicyVersion {
    key: String,
    name: String,
    #[serde(with = "iso_date")]
    effective_from: Date,
    version: u32,
    rules: Vec<Rule>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    suspended_trips: Vec<TripKind>,
}

/// All the problems found in a draft, each with its field path (`rules[2].stages[0].days`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidPolicy(pub Vec<CoreError>);

impl fmt::Display for InvalidPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let all: Vec<String> = self.0.iter().map(ToString::to_string).collect();
        f.write_str(&all.join("；"))
    }
}

impl std::error::Error for InvalidPolicy {}

/// Stored versions are read through this: the 2020 preset as first shipped gave its fever row
/// 1 day of centralised quarantine, which `validate` now refuses. Such a row is read as what it
/// always meant (an alert and a referral), so databases published before still load.
impl TryFrom<PolicyDraft> for PolicyVersion {
    type Error = InvalidPolicy;
    fn try_from(mut draft: PolicyDraft) -> Result<PolicyVersion, InvalidPolicy> {
        for rule in draft.rules.iter_mut().filter(|r| r.is_fever_rule()) {
            rule.measure = Measure::None;
            rule.stages.clear();
            rule.check_ins_per_day = 0;
        }
        draft.validate()
    }
}

/// Trims `raw` and checks it is 1..=`max` characters without control characters.
fn checked_text(field: &str, raw: &str, max: usize) -> Result<String, CoreError> {
    let s = raw.trim();
    let chars = s.chars().count();
    if chars == 0 {
        return Err(CoreError::invalid(field, "请填写此项"));
    }
    if chars > max {
        return Err(CoreError::invalid(
            field,
            format!("不能超过 {max} 个字（现有 {chars} 个）"),
        ));
    }
    if s.chars().any(char::is_control) {
        return Err(CoreError::invalid(field, "不能含有不可见的控制字符"));
    }
    Ok(s.to_owned())
}

impl PolicyDraft {
    /// Checks every field and returns the publishable policy, or every problem found.
    pub fn validate(self) -> Result<PolicyVersion, InvalidPolicy> {
        let mut errors = Vec::new();
        let mut keep = |r: Result<String, CoreError>| match r {
            Ok(s) => s,
            Err(e) => {
                errors.push(e);
                String::new()
            }
        };
        let key = keep(checked_text("key", &self.key, 64));
        let name = keep(checked_text("name", &self.name, 100));
        if !key.is_empty()
            && !key
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        {
            errors.push(CoreError::invalid(
                "key",
                format!("「{key}」只能由小写英文字母、数字、「-」和「_」组成"),
            ));
        }
        if self.version == 0 {
            errors.push(CoreError::invalid("version", "版本号从 1 开始"));
        }
        if self.rules.len() > MAX_RULES {
            errors.push(CoreError::invalid(
                "rules",
                format!(
                    "规则不能超过 {MAX_RULES} 条（现有 {} 条）",
                    self.rules.len()
                ),
            ));
        }
        let mut rules = Vec::with_capacity(self.rules.len());
        for (i, rule) in self.rules.into_iter().enumerate() {
            rules.push(validate_rule(&format!("rules[{i}]"), rule, &mut errors));
        }
        let mut suspended_trips: Vec<TripKind> = Vec::new();
        for (i, kind) in self.suspended_trips.into_iter().enumerate() {
            if !kind.may_be_suspended() {
                errors.push(CoreError::invalid(
                    format!("suspended_trips[{i}]"),
                    format!("{}不能暂停", kind.label_zh()),
                ));
            } else if !suspended_trips.contains(&kind) {
                suspended_trips.push(kind);
            }
        }
        if errors.is_empty() {
            Ok(PolicyVersion {
                key,
                name,
                effective_from: self.effective_from,
                version: self.version,
                rules,
                suspended_trips,
            })
        } else {
            Err(InvalidPolicy(errors))
        }
    }
}

/// Checks one rule, pushing its problems to `errors`; returns it normalised (trimmed texts).
fn validate_rule(at: &str, mut rule: Rule, errors: &mut Vec<CoreError>) -> Rule {
    match checked_text(&format!("{at}.who"), &rule.who, 100) {
        Ok(who) => rule.who = who,
        Err(e) => errors.push(e),
    }
    rule.note = match rule.note.as_deref().map(str::trim) {
        Some("") | None => None,
        Some(note) => match checked_text(&format!("{at}.note"), note, 200) {
            Ok(note) => Some(note),
            Err(e) => {
                errors.push(e);
                None
            }
        },
    };

    if rule.when.len() > MAX_CONDITIONS {
        errors.push(CoreError::invalid(
            format!("{at}.when"),
            format!("条件不能超过 {MAX_CONDITIONS} 个"),
        ));
    }
    for (j, cond) in rule.when.iter().enumerate() {
        let here = format!("{at}.when[{j}]");
        if rule.when[..j].iter().any(|c| c.tag() == cond.tag()) {
            errors.push(CoreError::invalid(
                &here,
                format!(
                    "条件「{}」（{}）重复：同一条规则中每类条件只能出现一次",
                    cond.label_zh(),
                    cond.tag()
                ),
            ));
        }
        if let Condition::OriginRisk { within_days, .. } = cond {
            if *within_days > MAX_LOOK_BACK_DAYS {
                errors.push(CoreError::invalid(
                    format!("{here}.within_days"),
                    format!("回溯天数应在 0 至 {MAX_LOOK_BACK_DAYS} 之间（现为 {within_days}）"),
                ));
            }
        }
    }
    let has = |tag: &str| rule.when.iter().any(|c| c.tag() == tag);
    if has("origin_other_province") && has("origin_same_province_other_city") {
        errors.push(CoreError::invalid(
            format!("{at}.when"),
            "「来自外省」与「来自本省其他城市」互相矛盾，规则永远不会适用",
        ));
    }

    if rule.check_ins_per_day > MAX_CHECK_INS_PER_DAY {
        errors.push(CoreError::invalid(
            format!("{at}.check_ins_per_day"),
            format!(
                "每天报告次数应在 0 至 {MAX_CHECK_INS_PER_DAY} 之间（现为 {}）",
                rule.check_ins_per_day
            ),
        ));
    }

    if rule.is_fever_rule() && (rule.measure != Measure::None || !rule.stages.is_empty()) {
        errors.push(CoreError::invalid(
            format!("{at}.stages"),
            "「发热或有症状」的条款只发出发热预警并转诊发热门诊，不设隔离措施：\
             隔离与否、隔离多少天由来源地、接触等其他条款决定（措施请设为「无需管控」）",
        ));
        return rule;
    }
    if rule.measure == Measure::None {
        if !rule.stages.is_empty() {
            errors.push(CoreError::invalid(
                format!("{at}.stages"),
                "措施为「无需管控」时不应设置阶段",
            ));
        }
        if rule.check_ins_per_day != 0 {
            errors.push(CoreError::invalid(
                format!("{at}.check_ins_per_day"),
                "措施为「无需管控」时每天报告次数应为 0",
            ));
        }
        return rule;
    }

    match rule.stages.first() {
        None => errors.push(CoreError::invalid(
            format!("{at}.stages"),
            format!(
                "措施为「{}」时至少要有一个阶段（措施和天数）",
                rule.measure.label_zh()
            ),
        )),
        Some(first) if first.measure != rule.measure => errors.push(CoreError::invalid(
            format!("{at}.stages[0].measure"),
            format!(
                "第一个阶段应为规则的措施「{}」，现为「{}」",
                rule.measure.label_zh(),
                first.measure.label_zh()
            ),
        )),
        Some(_) => {}
    }
    if rule.stages.len() > MAX_STAGES {
        errors.push(CoreError::invalid(
            format!("{at}.stages"),
            format!("阶段不能超过 {MAX_STAGES} 个"),
        ));
    }
    for (k, stage) in rule.stages.iter().enumerate() {
        if stage.measure == Measure::None {
            errors.push(CoreError::invalid(
                format!("{at}.stages[{k}].measure"),
                "阶段的措施不能是「无需管控」：不需要的阶段请删除",
            ));
        }
        if !(1..=MAX_STAGE_DAYS).contains(&stage.days) {
            errors.push(CoreError::invalid(
                format!("{at}.stages[{k}].days"),
                format!("天数应在 1 至 {MAX_STAGE_DAYS} 之间（现为 {}）", stage.days),
            ));
        }
    }
    rule
}

impl PolicyVersion {
    pub fn key(&self) -> &str {
        &self.key
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn effective_from(&self) -> Date {
        self.effective_from
    }

    pub fn version(&self) -> u32 {
        self.version
    }

    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// The editable form, to start a new version from this one.
    pub fn to_draft(&self) -> PolicyDraft {
        PolicyDraft {
            key: self.key.clone(),
            name: self.name.clone(),
            effective_from: self.effective_from,
            version: self.version,
            rules: self.rules.clone(),
            suspended_trips: self.suspended_trips.clone(),
        }
    }

    /// The kinds of trip this version stops while in force.
    pub fn suspended_trips(&self) -> &[TripKind] {
        &self.suspended_trips
    }

    pub fn suspends(&self, kind: TripKind) -> bool {
        self.suspended_trips.contains(&kind)
    }
}

impl PolicyDraft {
    /// Reads a draft as officials write it (JSON, the shape `GET /api/v1/policies` shows) and
    /// validates it: a JSON mistake is one error naming the line and column, a rule broken is
    /// one error per field path.
    pub fn from_json(text: &str) -> Result<PolicyVersion, InvalidPolicy> {
        let draft: PolicyDraft = serde_json::from_str(text).map_err(|e| {
            InvalidPolicy(vec![CoreError::invalid(
                "policy",
                format!("JSON 有误（第 {} 行第 {} 列）：{e}", e.line(), e.column()),
            )])
        })?;
        draft.validate()
    }
}

/// The policy in force on `date`: the latest `effective_from` on or before it; among versions
/// taking effect the same day, the highest version number (then the last in the slice).
pub fn policy_in_force(versions: &[PolicyVersion], date: Date) -> Option<&PolicyVersion> {
    versions
        .iter()
        .filter(|v| v.effective_from <= date)
        .max_by_key(|v| (v.effective_from, v.version))
}
