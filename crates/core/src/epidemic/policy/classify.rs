//! Classifying one arrival or contact under a policy, with the explanation a grid worker reads
//! to the resident; and the what-if of a draft policy over the records under observation.

use std::cmp::Reverse;

use serde::{Deserialize, Serialize};
use time::{Date, Duration};

use super::{
    iso_date, Condition, ContactKind, DivisionCode, Measure, PolicyVersion, RiskArea, Rule, Stage,
    Temperature,
};
use crate::kernel::clock::format_date;
use crate::kernel::labels::Labelled;
use crate::labelled;
use crate::CoreError;

/// What screeners type for "no symptom"; such entries are not symptoms.
const NO_SYMPTOM: [&str; 9] = ["无", "无症状", "没有", "否", "正常", "none", "no", "-", "—"];

/// A person's link to a case, with the day of the last contact (quarantine counts from it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContactFact {
    pub kind: ContactKind,
    #[serde(with = "iso_date")]
    pub last_contact_on: Date,
}

/// What is known of an arrival or a contact when it is classified.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Facts {
    /// Where the person came from (for a local contact: the community's own code).
    pub origin_code: DivisionCode,
    /// The day of arrival, or of screening for a person already here.
    #[serde(with = "iso_date")]
    pub arrived_on: Date,
    #[serde(default)]
    pub symptoms: Vec<String>,
    #[serde(default)]
    pub temperature: Option<Temperature>,
    #[serde(default)]
    pub contact: Option<ContactFact>,
}

impl Facts {
    /// The date whose policy applies: the last contact for a contact, else the arrival.
    pub fn policy_date(&self) -> Date {
        self.contact
            .as_ref()
            .map_or(self.arrived_on, |c| c.last_contact_on)
    }

    /// The symptoms reported, without blanks and "none" entries (「无」).
    pub fn symptoms_present(&self) -> Vec<&str> {
        self.symptoms
            .iter()
            .map(|s| s.trim())
            .filter(|s| {
                !s.is_empty() && !NO_SYMPTOM.iter().any(|none| none.eq_ignore_ascii_case(s))
            })
            .collect()
    }

    /// A temperature of 37.3 °C or more, or any symptom.
    pub fn fever_or_symptoms(&self) -> bool {
        self.temperature.is_some_and(Temperature::is_fever) || !self.symptoms_present().is_empty()
    }
}

/// One stage with its dates, both inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StagePlan {
    pub measure: Measure,
    pub days: u16,
    #[serde(with = "iso_date")]
    pub start: Date,
    #[serde(with = "iso_date")]
    pub until: Date,
}

/// The outcome of classifying facts under a policy version. Stored with the record, so it
/// keeps the version that decided it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Classification {
    pub policy_key: String,
    pub policy_version: u32,
    /// The deciding rule, 0-based (the explanation says 第 `rule_index + 1` 条); absent when no
    /// rule matched.
    pub rule_index: Option<usize>,
    pub measure: Measure,
    pub stages: Vec<StagePlan>,
    pub days_total: u16,
    /// Day 1: the arrival, or the last contact for a contact rule.
    #[serde(with = "iso_date")]
    pub start: Date,
    /// The last day, inclusive: `start + days_total − 1` (the day before `start` for no measure).
    #[serde(with = "iso_date")]
    pub until: Date,
    pub check_ins_per_day: u8,
    /// A fever alert is raised: a fever or a symptom at screening (whatever the policy says),
    /// or a matching rule that asks for one.
    pub fever_alert: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    pub explanation: String,
    /// What the screening adds beside the measure (absent in classifications stored before).
    #[serde(default)]
    pub alerts: Vec<ScreeningAlert>,
}

/// The kind of an alert a screening raises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    Fever,
}

impl AlertKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertKind::Fever => "fever",
        }
    }
}

/// Where the person is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Referral {
    /// 发热门诊
    FeverClinic,
}

impl Referral {
    pub fn label_zh(self) -> &'static str {
        match self {
            Referral::FeverClinic => "发热门诊",
        }
    }
}

/// An alert a screening raises beside (never instead of) its measure, with the referral.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScreeningAlert {
    pub kind: AlertKind,
    pub referral: Referral,
    /// The reading that raised it, when it was a fever.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<Temperature>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub symptoms: Vec<String>,
    /// For the worker: 「体温 37.6 ℃ 已发出发热预警，请立即送发热门诊」.
    pub message: String,
}

impl ScreeningAlert {
    /// The fever alert for `facts`, worded for the worker.
    pub fn fever(facts: &Facts) -> ScreeningAlert {
        let temperature = facts.temperature.filter(|t| t.is_fever());
        let symptoms: Vec<String> = facts
            .symptoms_present()
            .into_iter()
            .map(str::to_owned)
            .collect();
        let referral = Referral::FeverClinic;
        let reason = reason_zh(temperature, &symptoms);
        let message = format!("{reason}已发出发热预警，请立即送{}", referral.label_zh());
        ScreeningAlert {
            kind: AlertKind::Fever,
            referral,
            temperature,
            symptoms,
            message,
        }
    }

    /// Worded for the resident, whose declaration no worker has seen yet: 「体温 37.6 ℃，请立即
    /// 前往发热门诊就诊…」.
    pub fn advice_zh(&self) -> String {
        let reason = reason_zh(self.temperature, &self.symptoms);
        let reason = reason.trim_end();
        let lead = if reason.is_empty() {
            String::new()
        } else {
            format!("{reason}，")
        };
        format!(
            "{lead}请立即前往{}就诊（途中戴好口罩，不乘公共交通），工作人员会联系您",
            self.referral.label_zh()
        )
    }
}

/// 「体温 37.6 ℃ 」, 「有症状（咳嗽）」, both joined by 「、」; empty when neither.
fn reason_zh(temperature: Option<Temperature>, symptoms: &[String]) -> String {
    let mut parts = Vec::new();
    if let Some(t) = temperature {
        parts.push(format!("体温 {:.1} ℃", t.celsius()));
    }
    if !symptoms.is_empty() {
        parts.push(format!("有症状（{}）", symptoms.join("、")));
    }
    match parts.as_slice() {
        [] => String::new(),
        // A bare 「℃」 needs a space before the Chinese that follows.
        [one] if one.ends_with('℃') => format!("{one} "),
        _ => parts.join("、"),
    }
}

impl Classification {
    /// The measure in a few words: 「居家隔离 14 天」, 「集中隔离 7 天，再健康监测 3 天」, 「无需管控」.
    pub fn measure_zh(&self) -> String {
        if self.measure == Measure::None || self.stages.is_empty() {
            return self.measure.label_zh().to_owned();
        }
        self.stages
            .iter()
            .map(|s| format!("{} {} 天", s.measure.label_zh(), s.days))
            .collect::<Vec<_>>()
            .join("，再")
    }

    /// What the worker reads first: the measure and every alert beside it, 「居家隔离 14 天；
    /// 体温 37.6 ℃ 已发出发热预警，请立即送发热门诊」.
    pub fn headline(&self) -> String {
        let mut s = self.measure_zh();
        for a in &self.alerts {
            s.push('；');
            s.push_str(&a.message);
        }
        s
    }

    /// The same for the resident's receipt (the alert is raised when a worker confirms).
    pub fn headline_for_resident(&self) -> String {
        let mut s = self.measure_zh();
        for a in &self.alerts {
            s.push('；');
            s.push_str(&a.advice_zh());
        }
        s
    }
}

impl Classification {
    /// Nothing more to do on `today`: no measure, or the last day has passed.
    pub fn is_released_on(&self, today: Date) -> bool {
        self.measure == Measure::None || self.until < today
    }
}

/// Use when no division names are at hand: explanations then show codes only.
pub fn no_names(_code: &str) -> Option<String> {
    None
}

/// The names explanations use: the GB/T 2260 table shipped with Linli (「云南省昆明市」), current
/// and retired codes; longer codes are named by [`classify`] from their county.
pub fn division_names(code: &str) -> Option<String> {
    crate::kernel::division::full_name(code)
}

/// Why a condition held, kept to explain it.
enum Evidence<'a> {
    Area {
        area: &'a RiskArea,
        within_days: u16,
    },
    Within(&'a DivisionCode),
    OtherProvince,
    SameProvinceOtherCity,
    Contact(&'a ContactFact),
    FeverOrSymptoms,
}

impl Evidence<'_> {
    fn about_origin(&self) -> bool {
        !matches!(self, Evidence::Contact(_) | Evidence::FeverOrSymptoms)
    }
}

fn check<'a>(
    cond: &'a Condition,
    facts: &'a Facts,
    areas: &'a [RiskArea],
    community: &DivisionCode,
) -> Option<Evidence<'a>> {
    let origin = &facts.origin_code;
    match cond {
        Condition::OriginRisk { level, within_days } => {
            let first = facts
                .arrived_on
                .checked_sub(Duration::days(i64::from(*within_days)))
                .unwrap_or(Date::MIN);
            areas
                .iter()
                .filter(|a| {
                    a.level() == *level
                        && a.division_code().covers(origin)
                        && a.in_force_between(first, facts.arrived_on)
                })
                // Several areas may match (a district and a street in it, or successive
                // periods): cite the one in force latest, then the most specific.
                .max_by_key(|a| {
                    (
                        a.to()
                            .map_or(facts.arrived_on, |to| to.min(facts.arrived_on)),
                        a.division_code().significant().len(),
                        a.from(),
                    )
                })
                .map(|area| Evidence::Area {
                    area,
                    within_days: *within_days,
                })
        }
        Condition::OriginWithin { division_code } => division_code
            .covers(origin)
            .then_some(Evidence::Within(division_code)),
        Condition::OriginOtherProvince => {
            (origin.province() != community.province()).then_some(Evidence::OtherProvince)
        }
        Condition::OriginSameProvinceOtherCity => (origin.province() == community.province()
            && origin.city() != community.city())
        .then_some(Evidence::SameProvinceOtherCity),
        Condition::Contact { kind } => facts
            .contact
            .as_ref()
            .filter(|c| c.kind == *kind)
            .map(Evidence::Contact),
        Condition::FeverOrSymptoms => facts
            .fever_or_symptoms()
            .then_some(Evidence::FeverOrSymptoms),
    }
}

fn add_days(d: Date, n: i64) -> Result<Date, CoreError> {
    d.checked_add(Duration::days(n))
        .ok_or_else(|| CoreError::invalid("arrived_on", "日期超出可计算的范围"))
}

/// Lays the stages end to end from `start` (day 1); returns them and the last day.
fn lay_out(start: Date, stages: &[Stage]) -> Result<(Vec<StagePlan>, Date), CoreError> {
    let mut next = start;
    let mut plans = Vec::with_capacity(stages.len());
    for stage in stages {
        let until = add_days(next, i64::from(stage.days) - 1)?;
        plans.push(StagePlan {
            measure: stage.measure,
            days: stage.days,
            start: next,
            until,
        });
        next = add_days(until, 1)?;
    }
    Ok((plans, add_days(next, -1)?))
}

/// A rule whose conditions all hold, laid out in dates.
struct Candidate<'a> {
    index: usize,
    rule: &'a Rule,
    evidence: Vec<Evidence<'a>>,
    start: Date,
    stages: Vec<StagePlan>,
    until: Date,
}

/// Classifies `facts` under `policy`: every rule whose conditions hold is a candidate and the
/// most severe wins (see the module documentation of `policy` for the order). `community` is
/// the community's division code (its province and city decide "other province" and "other
/// city"); `names` turns a division code into a name for the explanation, if it knows one.
pub fn classify(
    policy: &PolicyVersion,
    facts: &Facts,
    areas: &[RiskArea],
    community: &DivisionCode,
    names: &dyn Fn(&str) -> Option<String>,
) -> Result<Classification, CoreError> {
    let mut candidates = Vec::new();
    for (index, rule) in policy.rules().iter().enumerate() {
        let evidence: Option<Vec<Evidence>> = rule
            .when
            .iter()
            .map(|c| check(c, facts, areas, community))
            .collect();
        let Some(evidence) = evidence else { continue };
        let start = match (&facts.contact, rule.counts_from_contact()) {
            (Some(contact), true) => contact.last_contact_on,
            _ => facts.arrived_on,
        };
        let (stages, until) = lay_out(start, &rule.stages)?;
        candidates.push(Candidate {
            index,
            rule,
            evidence,
            start,
            stages,
            until,
        });
    }
    // Measures combine, they do not replace: a fever rule never decides the measure (it adds
    // its alert below), so a fever cannot shorten or swap what the origin or a contact asks.
    let winner = candidates
        .iter()
        .filter(|c| !c.rule.is_fever_rule())
        .max_by_key(|c| {
            (
                c.rule.strictest().severity(),
                c.until,
                c.rule.days_total(),
                Reverse(c.index),
            )
        });
    // The alert is not lost when a stricter or longer rule decides the measure.
    let alerting = winner
        .filter(|w| w.rule.fever_alert)
        .or_else(|| candidates.iter().find(|c| c.rule.fever_alert));
    // A fever or a symptom at the door is referred to a clinic whatever the policy of the day
    // says (the later presets have no fever row), so the alert is raised either way.
    let fever_alert = alerting.is_some() || facts.fever_or_symptoms();
    let alerts = if fever_alert {
        vec![ScreeningAlert::fever(facts)]
    } else {
        Vec::new()
    };

    let mut out = match winner {
        Some(w) => Classification {
            policy_key: policy.key().to_owned(),
            policy_version: policy.version(),
            rule_index: Some(w.index),
            measure: w.rule.measure,
            stages: w.stages.clone(),
            days_total: w.rule.days_total(),
            start: w.start,
            until: w.until,
            check_ins_per_day: w.rule.check_ins_per_day,
            fever_alert,
            note: w.rule.note.clone(),
            explanation: String::new(),
            alerts,
        },
        None => Classification {
            policy_key: policy.key().to_owned(),
            policy_version: policy.version(),
            rule_index: None,
            measure: Measure::None,
            stages: Vec::new(),
            days_total: 0,
            start: facts.arrived_on,
            until: add_days(facts.arrived_on, -1)?,
            check_ins_per_day: 0,
            fever_alert,
            note: None,
            explanation: String::new(),
            alerts,
        },
    };
    // A contact no rule of this version is about (a 次密接 under the 20 measures): said so.
    let contact_unruled = facts.contact.as_ref().filter(|_| {
        !candidates
            .iter()
            .any(|c| c.evidence.iter().any(|e| matches!(e, Evidence::Contact(_))))
    });
    out.explanation = explain(
        policy,
        facts,
        names,
        winner,
        alerting,
        contact_unruled,
        &out,
    );
    Ok(out)
}

/// Writes the explanation: what we know (where from, the area's level since when, the
/// contact, the fever), which rule of which version applies, and what follows until when.
///
/// A contact is told of the last contact, not of an arrival, unless the origin decided
/// (an arrival who is also a contact); `contact_unruled` is the contact when no rule of the
/// version is about contacts of its kind, which the explanation then says.
fn explain(
    policy: &PolicyVersion,
    facts: &Facts,
    names: &dyn Fn(&str) -> Option<String>,
    winner: Option<&Candidate>,
    alerting: Option<&Candidate>,
    contact_unruled: Option<&ContactFact>,
    out: &Classification,
) -> String {
    // A place by its name (「云南省昆明市」); a street or community code by its county and the
    // code, or by the name the risk area was given; the bare code when nothing names it.
    let place = |code: &DivisionCode, given: Option<&str>| {
        let given = given.map(str::trim).filter(|n| !n.is_empty());
        if let Some(n) = names(code.as_str()).filter(|n| !n.trim().is_empty()) {
            return n;
        }
        match (given, code.as_str().get(..6).and_then(names)) {
            (Some(n), Some(county)) if n.starts_with(&county) => n.to_owned(),
            (Some(n), Some(county)) => format!("{county}{n}"),
            (Some(n), None) => format!("{n}（{code}）"),
            (None, Some(county)) => {
                let level = if code.as_str().len() == 9 {
                    "街道"
                } else {
                    "社区"
                };
                format!("{county}（{level} {code}）")
            }
            (None, None) => code.to_string(),
        }
    };
    let day = |d: Date| format_date(d);

    let evidence = winner.map_or(&[][..], |w| &w.evidence[..]);
    let mut clauses = Vec::new();
    let origin_said = evidence.iter().any(Evidence::about_origin);
    let contact_said = evidence.iter().any(|e| matches!(e, Evidence::Contact(_)));
    if let Some(c) = facts
        .contact
        .as_ref()
        .filter(|_| !origin_said && !contact_said)
    {
        clauses.push(format!(
            "您是{}，与{}最后接触于 {}",
            c.kind.label_zh(),
            match c.kind {
                ContactKind::CloseContact => "病例",
                ContactKind::SecondaryContact => "密切接触者",
            },
            day(c.last_contact_on)
        ));
    } else if evidence.is_empty() || origin_said {
        clauses.push(format!(
            "您于 {} 从{}抵达",
            day(facts.arrived_on),
            between(place(&facts.origin_code, None))
        ));
    }
    for e in evidence {
        clauses.push(match e {
            Evidence::Area { area, within_days } => {
                let whom = if area.division_code() == &facts.origin_code {
                    "该地".to_owned()
                } else {
                    spaced(place(area.division_code(), area.name()))
                };
                let level = area.level().label_zh();
                let mut s = match area.to() {
                    None => format!("{whom}自 {} 起为{level}地区", day(area.from())),
                    Some(to) => {
                        format!("{whom}于 {} 至 {} 为{level}地区", day(area.from()), day(to))
                    }
                };
                if area.to().is_some_and(|to| to < facts.arrived_on) {
                    s.push_str(&format!("，在您抵达前 {within_days} 天内"));
                }
                s
            }
            Evidence::Within(code) => format!("该地属于{}", between(place(code, None)).trim_end()),
            Evidence::OtherProvince => "该地属于外省".to_owned(),
            Evidence::SameProvinceOtherCity => "该地是本省的其他城市".to_owned(),
            Evidence::Contact(c) => format!(
                "您是{}，最后接触日期为 {}",
                c.kind.label_zh(),
                day(c.last_contact_on)
            ),
            Evidence::FeverOrSymptoms => fever_clause(facts),
        });
    }
    let mut text = clauses.join("；");
    text.push('。');

    let citation = format!(
        "按《{}》（{} 起施行）",
        policy.name(),
        day(policy.effective_from())
    );
    // 「按《…》（… 起施行）」, then for a contact no rule is about: 「，没有适用于次密接的条款」.
    let unruled = contact_unruled
        .map(|c| format!("，没有适用于{}的条款", c.kind.label_zh()))
        .unwrap_or_default();
    match winner {
        None => {
            let none = if !unruled.is_empty() {
                &unruled
            } else if alerting.is_some() {
                "，没有规定隔离的条款"
            } else {
                "，没有适用的条款"
            };
            text.push_str(&format!("{citation}{none}：无需管控。"));
        }
        Some(w) => {
            // After 「没有适用于…的条款」 the rule that decided is named on its own: 「；按第 3 条」.
            let rule = if unruled.is_empty() { "" } else { "；按" };
            text.push_str(&format!(
                "{citation}{unruled}{rule}第 {} 条（{}）：{}",
                w.index + 1,
                w.rule.who,
                outcome(w, out)
            ));
            text.push('。');
        }
    }

    if let Some(a) = alerting {
        if winner.is_some_and(|w| w.index == a.index) {
            text.push_str("已发出发热预警。");
        } else {
            text.push_str(&format!(
                "另：{}，按第 {} 条（{}）发出发热预警",
                fever_clause(facts),
                a.index + 1,
                a.rule.who
            ));
            if let Some(note) = &a.rule.note {
                text.push_str(&format!("：{note}"));
            }
            text.push('。');
        }
    } else if out.fever_alert {
        // No rule asks for it, the door does: said with the referral.
        text.push_str(&format!(
            "另：{}，已发出发热预警，请立即送{}。",
            fever_clause(facts),
            Referral::FeverClinic.label_zh()
        ));
    }
    text
}

/// A place inside a sentence: a code is set off by spaces (「从 530302 抵达」), a name is not
/// (「从云南省昆明市抵达」).
fn between(place: String) -> String {
    if place.starts_with(|c: char| c.is_ascii()) {
        format!(" {}", spaced(place))
    } else {
        spaced(place)
    }
}

/// A bare code needs a space before the Chinese that follows; a closing 「）」 does not.
fn spaced(place: String) -> String {
    if place.ends_with(|c: char| c.is_ascii()) {
        place + " "
    } else {
        place
    }
}

/// 「筛查时体温 37.8℃；有症状：咳嗽、乏力」
fn fever_clause(facts: &Facts) -> String {
    let mut parts = Vec::new();
    if let Some(t) = facts.temperature.filter(|t| t.is_fever()) {
        parts.push(format!("筛查时体温 {t}（37.3℃ 及以上为发热）"));
    }
    let symptoms = facts.symptoms_present();
    if !symptoms.is_empty() {
        parts.push(format!("有症状：{}", symptoms.join("、")));
    }
    parts.join("；")
}

/// 「集中隔离 7 天，再健康监测 3 天，共 10 天，自 2022-07-01（最后接触之日）起算，至
/// 2022-07-10；每天报告体温 2 次」
fn outcome(w: &Candidate, out: &Classification) -> String {
    if out.measure == Measure::None {
        return Measure::None.label_zh().to_owned();
    }
    let mut s = String::new();
    for (k, stage) in out.stages.iter().enumerate() {
        if k > 0 {
            s.push_str("，再");
        }
        s.push_str(&format!("{} {} 天", stage.measure.label_zh(), stage.days));
    }
    if out.stages.len() > 1 {
        s.push_str(&format!("，共 {} 天", out.days_total));
    }
    if w.rule.counts_from_contact() {
        s.push_str(&format!(
            "，自 {}（最后接触之日）起算",
            format_date(out.start)
        ));
    }
    s.push_str(&format!("，至 {}", format_date(out.until)));
    if out.check_ins_per_day > 0 {
        s.push_str(&format!("；每天报告体温 {} 次", out.check_ins_per_day));
    }
    if let Some(note) = &out.note {
        s.push_str(&format!("；{note}"));
    }
    s
}

/// A record under observation, with the classification it has now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActiveRecord {
    pub id: i64,
    pub facts: Facts,
    pub current: Classification,
}

labelled! {
    /// How a draft policy would change a record.
    #[derive(Hash, Deserialize)]
    pub enum ChangeKind: "change" {
        /// Under the draft there is no measure, or its last day has passed.
        #[strum(serialize = "released", props(zh = "解除"))]
        Released,
        /// Same measure, later last day.
        #[strum(serialize = "extended", props(zh = "延长"))]
        Extended,
        /// Same measure, earlier last day.
        #[strum(serialize = "shortened", props(zh = "缩短"))]
        Shortened,
        /// Another headline measure, or the same dates with other stages.
        #[strum(serialize = "measure_changed", props(zh = "措施改变"))]
        MeasureChanged,
        #[strum(serialize = "unchanged", props(zh = "不变"))]
        Unchanged,
    }
}

/// One record's fate under a draft.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    pub id: i64,
    pub kind: ChangeKind,
    /// Days the last day moves: negative when shortened.
    pub until_delta_days: i64,
    pub from: Classification,
    pub to: Classification,
}

/// Evaluates a draft against the records under observation before it is published: each
/// record's facts are classified under the draft (whatever its effective date: that is the
/// question asked) and compared with its current classification.
///
/// A record is `Released` when the draft releases it on `today` (no measure, or last day before
/// today) while its current classification does not; a record released either way is
/// `Unchanged`. Otherwise a different headline measure is `MeasureChanged`, a later or earlier
/// last day `Extended` or `Shortened`, and the same dates with other stages `MeasureChanged`.
pub fn what_if(
    active: &[ActiveRecord],
    draft: &PolicyVersion,
    areas: &[RiskArea],
    community: &DivisionCode,
    today: Date,
    names: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<Change>, CoreError> {
    active
        .iter()
        .map(|record| {
            let to = classify(draft, &record.facts, areas, community, names)?;
            let from = &record.current;
            let kind = match (from.is_released_on(today), to.is_released_on(today)) {
                (false, true) => ChangeKind::Released,
                (true, true) => ChangeKind::Unchanged,
                _ if to.measure != from.measure => ChangeKind::MeasureChanged,
                _ if to.until > from.until => ChangeKind::Extended,
                _ if to.until < from.until => ChangeKind::Shortened,
                _ if !same_stages(&from.stages, &to.stages) => ChangeKind::MeasureChanged,
                _ => ChangeKind::Unchanged,
            };
            Ok(Change {
                id: record.id,
                kind,
                until_delta_days: (to.until - from.until).whole_days(),
                from: from.clone(),
                to,
            })
        })
        .collect()
}

fn same_stages(a: &[StagePlan], b: &[StagePlan]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| x.measure == y.measure && x.days == y.days)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_labels_stay_as_stored_and_shown() {
        use crate::kernel::labels::assert_table;
        assert_table(&[
            (ChangeKind::Released, "released", "解除"),
            (ChangeKind::Extended, "extended", "延长"),
            (ChangeKind::Shortened, "shortened", "缩短"),
            (ChangeKind::MeasureChanged, "measure_changed", "措施改变"),
            (ChangeKind::Unchanged, "unchanged", "不变"),
        ]);
    }
}
