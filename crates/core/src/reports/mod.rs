//! Daily reports (日报告): templates as data, the indicators they hold, the submission status
//! machine, the zero-report rule, on-time/late from the deadline, and the roll-up arithmetic.
//!
//! A report is a view of the records a community already keeps (computed indicators, counted
//! by the store over the node's subtree on the report date) plus the few numbers and notes no
//! record holds (manual indicators, typed once by the reporting node and summed up the tree).
//! Everything here is pure; `store::reports` does the counting.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use time::{Date, PrimitiveDateTime, Time};

use crate::kernel::clock::CST;
use crate::kernel::labels::Labelled;
use crate::labelled;
use crate::tree::NodeKind;
use crate::CoreError;

/// The key of the preset epidemic daily report.
pub const EPIDEMIC_DAILY: &str = "epidemic-daily";

/// The largest manual number accepted: far above any real count, far below overflow when summed.
pub const MAX_MANUAL_NUMBER: i64 = 1_000_000_000;

/// The longest manual text, in characters.
pub const MAX_MANUAL_TEXT: usize = 500;

pub mod mapping;

labelled! {
    /// A named, scoped aggregate over the records on the report date, counted by the store over the
    /// node's whole subtree. Each is additive: a parent's value is the sum of its children's plus the
    /// records placed on the parent itself. Its label is the usual one; a template may label its
    /// indicator otherwise.
    #[derive(Hash, PartialOrd, Ord, Deserialize, strum::Display)]
    pub enum Aggregate: "aggregate" {
        /// Arrival screenings whose arrival date is the report date.
        #[strum(serialize = "arrivals_new", props(zh = "当日新增来返人员"))]
        ArrivalsNew,
        /// Observations under centralised quarantine on the date (started, not yet released).
        #[strum(serialize = "under_centralized_quarantine", props(zh = "集中隔离人数"))]
        UnderCentralizedQuarantine,
        /// Observations under home quarantine on the date.
        #[strum(serialize = "under_home_quarantine", props(zh = "居家隔离人数"))]
        UnderHomeQuarantine,
        /// Observations under health monitoring on the date.
        #[strum(serialize = "health_monitoring", props(zh = "健康监测人数"))]
        HealthMonitoring,
        /// Fever alerts raised by the end of the date and not handled by then.
        #[strum(serialize = "fevers_open", props(zh = "发热未处置"))]
        FeversOpen,
        /// Observations released on the date.
        #[strum(serialize = "releases", props(zh = "当日解除隔离"))]
        Releases,
        /// Overdue check-in alerts raised on the date.
        #[strum(serialize = "checkins_missed", props(zh = "当日漏报打卡"))]
        CheckinsMissed,
        /// Reopening applications approved on the date.
        #[strum(serialize = "enterprises_reopened", props(zh = "当日批准复工企业"))]
        EnterprisesReopened,
    }
}

impl FromStr for Aggregate {
    type Err = CoreError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Aggregate::from_code(s)
            .ok_or_else(|| CoreError::invalid("aggregate", format!("「{s}」不是系统能计算的指标")))
    }
}

/// What a person types for a manual indicator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ManualKind {
    /// A whole number from 0 to [`MAX_MANUAL_NUMBER`]; summed up the tree.
    Number,
    /// A short text (at most [`MAX_MANUAL_TEXT`] characters); not rolled up.
    Text,
}

impl ManualKind {
    /// Its name in the API and the template editor's drafts.
    pub fn as_str(self) -> &'static str {
        match self {
            ManualKind::Number => "number",
            ManualKind::Text => "text",
        }
    }
}

/// How an indicator gets its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum IndicatorKind {
    /// Counted from the records.
    Computed { aggregate: Aggregate },
    /// Typed by the reporting node.
    Manual { value: ManualKind },
}

impl IndicatorKind {
    /// Its name in the API and the template editor's drafts: `computed` or `manual`.
    pub fn as_str(self) -> &'static str {
        match self {
            IndicatorKind::Computed { .. } => "computed",
            IndicatorKind::Manual { .. } => "manual",
        }
    }
}

/// One line of a report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Indicator {
    /// English code name, `[a-z0-9_]`, unique in the template; the key of the API's `values`.
    pub key: String,
    /// The Chinese label printed on the form.
    pub label: String,
    /// The unit printed beside the number (人, 次, 家); empty for text.
    pub unit: String,
    #[serde(flatten)]
    pub kind: IndicatorKind,
}

impl Indicator {
    pub fn computed(key: &str, label: &str, unit: &str, aggregate: Aggregate) -> Indicator {
        Indicator {
            key: key.to_owned(),
            label: label.to_owned(),
            unit: unit.to_owned(),
            kind: IndicatorKind::Computed { aggregate },
        }
    }

    pub fn manual(key: &str, label: &str, unit: &str, value: ManualKind) -> Indicator {
        Indicator {
            key: key.to_owned(),
            label: label.to_owned(),
            unit: unit.to_owned(),
            kind: IndicatorKind::Manual { value },
        }
    }

    pub fn aggregate(&self) -> Option<Aggregate> {
        match self.kind {
            IndicatorKind::Computed { aggregate } => Some(aggregate),
            IndicatorKind::Manual { .. } => None,
        }
    }

    pub fn manual_kind(&self) -> Option<ManualKind> {
        match self.kind {
            IndicatorKind::Manual { value } => Some(value),
            IndicatorKind::Computed { .. } => None,
        }
    }

    /// A number (computed, or a manual number), as opposed to a text.
    pub fn is_number(&self) -> bool {
        self.manual_kind() != Some(ManualKind::Text)
    }
}

labelled! {
    /// How often a template is reported. Only daily reports exist so far.
    #[derive(Hash, Deserialize)]
    pub enum Period: "period" {
        #[strum(serialize = "daily", props(zh = "每日"))]
        Daily,
    }
}

/// The time of day (China Standard Time) by which the report of a date is due, `16:00`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Deadline {
    minutes: u16,
}

impl Deadline {
    /// Parses `HH:MM` (24-hour clock, `0:00` to `23:59`).
    pub fn parse(raw: &str) -> Result<Deadline, CoreError> {
        let bad = || {
            CoreError::invalid(
                "deadline",
                format!("「{}」不是有效的截止时间，格式应如 16:00", raw.trim()),
            )
        };
        let (h, m) = raw.trim().split_once([':', '：']).ok_or_else(bad)?;
        let digits =
            |s: &str| !s.is_empty() && s.len() <= 2 && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(h) || m.len() != 2 || !digits(m) {
            return Err(bad());
        }
        let (h, m): (u16, u16) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
        if h > 23 || m > 59 {
            return Err(bad());
        }
        Ok(Deadline {
            minutes: h * 60 + m,
        })
    }

    pub fn hour(self) -> u8 {
        (self.minutes / 60) as u8
    }

    pub fn minute(self) -> u8 {
        (self.minutes % 60) as u8
    }

    /// The instant (Unix milliseconds) the report of `date` is due: the deadline's time on that
    /// calendar date in China.
    pub fn instant_on(self, date: Date) -> i64 {
        let t = Time::from_hms(self.hour(), self.minute(), 0).unwrap_or(Time::MIDNIGHT);
        let at = PrimitiveDateTime::new(date, t).assume_offset(CST);
        (at.unix_timestamp_nanos() / 1_000_000) as i64
    }
}

impl fmt::Display for Deadline {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}", self.hour(), self.minute())
    }
}

impl Serialize for Deadline {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Deadline {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        Deadline::parse(&raw).map_err(|e| serde::de::Error::custom(e.message))
    }
}

labelled! {
    /// Whether a submission came in by the deadline.
    #[derive(Hash, Deserialize)]
    pub enum Timeliness: "timeliness" {
        #[strum(serialize = "on_time", props(zh = "按时"))]
        OnTime,
        #[strum(serialize = "late", props(zh = "迟报"))]
        Late,
    }
}

impl Timeliness {
    /// On time when submitted at or before the deadline on the report date (China time).
    pub fn of(deadline: Deadline, date: Date, submitted_at: i64) -> Timeliness {
        if submitted_at <= deadline.instant_on(date) {
            Timeliness::OnTime
        } else {
            Timeliness::Late
        }
    }
}

labelled! {
    /// Where a submission stands: draft (nothing submitted yet) → submitted (by staff of the node
    /// or above) → approved (by the parent level; locked).
    #[derive(Hash, Deserialize)]
    pub enum Status: "status" {
        #[strum(serialize = "draft", props(zh = "未报送"))]
        Draft,
        #[strum(serialize = "submitted", props(zh = "已报送"))]
        Submitted,
        #[strum(serialize = "approved", props(zh = "已审核"))]
        Approved,
        /// Sent back by the approver with a reason; the node corrects and submits again.
        #[strum(serialize = "returned", props(zh = "已退回"))]
        Returned,
    }
}

/// The longest reason an approver may give for returning a report.
pub const MAX_RETURN_REASON: usize = 200;

impl Status {
    /// Submitting (or correcting a submission) is allowed until it is approved.
    pub fn check_submit(self) -> Result<Status, CoreError> {
        match self {
            Status::Draft | Status::Submitted | Status::Returned => Ok(Status::Submitted),
            Status::Approved => Err(CoreError::invalid(
                "status",
                "该报告已审核，数据已锁定，不能再修改",
            )),
        }
    }

    /// Only a submitted report can be approved.
    pub fn check_approve(self) -> Result<Status, CoreError> {
        match self {
            Status::Submitted => Ok(Status::Approved),
            Status::Draft => Err(CoreError::invalid("status", "该报告尚未报送，不能审核")),
            Status::Approved => Err(CoreError::invalid("status", "该报告已审核")),
            Status::Returned => Err(CoreError::invalid(
                "status",
                "该报告已退回，待重新报送后再审核",
            )),
        }
    }

    /// Only a submitted report can be returned (退回), with a reason of one to
    /// [`MAX_RETURN_REASON`] characters; the reason comes back trimmed.
    pub fn check_return(self, reason: &str) -> Result<(Status, String), Vec<CoreError>> {
        let mut errors = Vec::new();
        match self {
            Status::Submitted => {}
            Status::Draft => errors.push(CoreError::invalid("status", "该报告尚未报送，不能退回")),
            Status::Approved => errors.push(CoreError::invalid("status", "该报告已审核，不能退回")),
            Status::Returned => errors.push(CoreError::invalid("status", "该报告已退回")),
        }
        let reason = reason.trim();
        if reason.is_empty() {
            errors.push(CoreError::invalid("reason", "请写明退回原因"));
        } else if reason.chars().count() > MAX_RETURN_REASON {
            errors.push(CoreError::invalid(
                "reason",
                format!("退回原因不能超过 {MAX_RETURN_REASON} 个字"),
            ));
        }
        if errors.is_empty() {
            Ok((Status::Returned, reason.to_owned()))
        } else {
            Err(errors)
        }
    }

    /// Counted as reported (in completeness and in the parent's manual sums): submitted or
    /// approved; a returned report counts again once submitted again.
    pub fn is_reported(self) -> bool {
        matches!(self, Status::Submitted | Status::Approved)
    }
}

impl FromStr for Status {
    type Err = CoreError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Status::from_code(s)
            .ok_or_else(|| CoreError::invalid("status", format!("「{s}」不是报告状态")))
    }
}

/// A manual value as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ManualValue {
    Number(i64),
    Text(String),
}

/// Manual values by indicator key.
pub type ManualValues = BTreeMap<String, ManualValue>;

/// A node's part in a template, by its kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeRole {
    /// The reporting level: types the manual values and submits.
    Reporting,
    /// Above it: its manual numbers are the sum of the reporting nodes below; it submits (with
    /// no manual values of its own) once every reporting node below is approved.
    Rollup,
    /// Below it: the values can be read, nothing is submitted.
    Below,
}

/// A report template: a named, versioned set of indicators reported by nodes of one level.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Template {
    pub key: String,
    pub name: String,
    /// The level that reports (community).
    pub level: NodeKind,
    pub period: Period,
    pub deadline: Deadline,
    /// Counts from 1; a changed template is a new version, never an edit of an old one.
    pub version: i64,
    pub indicators: Vec<Indicator>,
}

impl Template {
    /// The preset epidemic daily report of the source reports (疫情防控日报表), reported by
    /// communities by 16:00.
    pub fn epidemic_daily() -> Template {
        use Aggregate::*;
        let c = Indicator::computed;
        Template {
            key: EPIDEMIC_DAILY.to_owned(),
            name: "疫情防控日报表".to_owned(),
            level: NodeKind::Community,
            period: Period::Daily,
            deadline: Deadline { minutes: 16 * 60 },
            version: 1,
            indicators: vec![
                c("arrivals_new", "当日新增来返人员", "人", ArrivalsNew),
                c(
                    "under_centralized_quarantine",
                    "集中隔离人数",
                    "人",
                    UnderCentralizedQuarantine,
                ),
                c(
                    "under_home_quarantine",
                    "居家隔离人数",
                    "人",
                    UnderHomeQuarantine,
                ),
                c("health_monitoring", "健康监测人数", "人", HealthMonitoring),
                c("fevers_open", "发热未处置", "人", FeversOpen),
                c("releases", "当日解除隔离", "人", Releases),
                c("checkins_missed", "当日漏报打卡", "次", CheckinsMissed),
                c(
                    "enterprises_reopened",
                    "当日批准复工企业",
                    "家",
                    EnterprisesReopened,
                ),
                Indicator::manual(
                    "disinfection_rounds",
                    "公共区域消杀",
                    "次",
                    ManualKind::Number,
                ),
                Indicator::manual("notes", "其他需报告事项", "", ManualKind::Text),
            ],
        }
    }

    /// Checks a template (as an admin would edit it): every broken rule at once.
    pub fn validate(&self) -> Result<(), Vec<CoreError>> {
        let mut errors = Vec::new();
        if !key_ok(&self.key) {
            errors.push(CoreError::invalid(
                "key",
                "模板代码应为 1 至 40 位小写英文字母、数字、「_」或「-」，并以字母开头",
            ));
        }
        if self.name.trim().is_empty() || self.name.chars().count() > 100 {
            errors.push(CoreError::invalid(
                "name",
                "请填写模板名称（不超过 100 个字）",
            ));
        }
        if self.version < 1 {
            errors.push(CoreError::invalid("version", "版本号从 1 开始"));
        }
        if self.indicators.is_empty() {
            errors.push(CoreError::invalid("indicators", "模板至少要有一项指标"));
        }
        let mut seen = std::collections::BTreeSet::new();
        for (i, ind) in self.indicators.iter().enumerate() {
            let field = format!("indicators[{i}]");
            if !key_ok(&ind.key) || ind.key.contains('-') {
                errors.push(CoreError::invalid(
                    format!("{field}.key"),
                    format!(
                        "指标代码「{}」应为小写英文字母、数字或「_」，并以字母开头",
                        ind.key
                    ),
                ));
            }
            if !seen.insert(ind.key.as_str()) {
                errors.push(CoreError::invalid(
                    format!("{field}.key"),
                    format!("指标代码「{}」重复", ind.key),
                ));
            }
            if ind.label.trim().is_empty() || ind.label.chars().count() > 50 {
                errors.push(CoreError::invalid(
                    format!("{field}.label"),
                    "请填写指标名称（不超过 50 个字）",
                ));
            }
            if ind.unit.chars().count() > 10 {
                errors.push(CoreError::invalid(
                    format!("{field}.unit"),
                    "单位不能超过 10 个字",
                ));
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }

    pub fn indicator(&self, key: &str) -> Option<&Indicator> {
        self.indicators.iter().find(|i| i.key == key)
    }

    pub fn computed(&self) -> impl Iterator<Item = &Indicator> {
        self.indicators.iter().filter(|i| i.aggregate().is_some())
    }

    pub fn manual(&self) -> impl Iterator<Item = &Indicator> {
        self.indicators.iter().filter(|i| i.manual_kind().is_some())
    }

    /// The aggregates the store must count for this template (each once).
    pub fn aggregates(&self) -> Vec<Aggregate> {
        let mut out: Vec<Aggregate> = self.computed().filter_map(Indicator::aggregate).collect();
        out.sort();
        out.dedup();
        out
    }

    /// Whether a node of `kind` submits its report to the level above: the reporting level and
    /// the roll-up levels do, except the top of the tree (`has_parent` false), which has no one
    /// to submit to — its page shows the sums and no 未报送.
    pub fn submits(&self, kind: NodeKind, has_parent: bool) -> bool {
        has_parent && self.role_of(kind) != NodeRole::Below
    }

    /// What a node of `kind` does with this template.
    pub fn role_of(&self, kind: NodeKind) -> NodeRole {
        match kind.cmp(&self.level) {
            std::cmp::Ordering::Equal => NodeRole::Reporting,
            std::cmp::Ordering::Less => NodeRole::Rollup,
            std::cmp::Ordering::Greater => NodeRole::Below,
        }
    }

    /// Parses the manual values of a submission, given as text (a form field, or a JSON scalar
    /// written as text by the API; an empty text is "not given"). Every broken field is
    /// reported, named `manual.<key>`. Numbers are required on an ordinary report (没有则填 0)
    /// and must be absent or 0 on a zero report; texts are optional.
    pub fn parse_manual(
        &self,
        raw: &[(String, String)],
        zero: bool,
    ) -> Result<ManualValues, Vec<CoreError>> {
        let mut errors = Vec::new();
        let mut out = ManualValues::new();
        for (key, text) in raw {
            let field = format!("manual.{key}");
            let Some(ind) = self.indicator(key) else {
                errors.push(CoreError::invalid(
                    field,
                    format!("「{}」没有「{key}」这项指标", self.name),
                ));
                continue;
            };
            let kind = match ind.kind {
                IndicatorKind::Computed { .. } => {
                    errors.push(CoreError::invalid(
                        field,
                        format!("「{}」由系统根据记录计算，不能手工填写", ind.label),
                    ));
                    continue;
                }
                IndicatorKind::Manual { value } => value,
            };
            if out.contains_key(key) {
                errors.push(CoreError::invalid(
                    field,
                    format!("「{}」填写了两次", ind.label),
                ));
                continue;
            }
            match kind {
                ManualKind::Number => match parse_manual_number(&ind.label, text) {
                    Ok(None) => {}
                    Ok(Some(n)) => {
                        out.insert(key.clone(), ManualValue::Number(n));
                    }
                    Err(message) => errors.push(CoreError::invalid(field, message)),
                },
                ManualKind::Text => {
                    let t = text.trim();
                    if t.chars().count() > MAX_MANUAL_TEXT {
                        errors.push(CoreError::invalid(
                            field,
                            format!("「{}」不能超过 {MAX_MANUAL_TEXT} 个字", ind.label),
                        ));
                    } else if t.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
                        errors.push(CoreError::invalid(
                            field,
                            format!("「{}」中不能含有不可见的控制字符", ind.label),
                        ));
                    } else if !t.is_empty() {
                        out.insert(key.clone(), ManualValue::Text(t.replace("\r\n", "\n")));
                    }
                }
            }
        }
        for ind in self.manual() {
            let field = format!("manual.{}", ind.key);
            match (ind.manual_kind(), out.get(&ind.key), zero) {
                (Some(ManualKind::Number), None, false)
                    if !errors.iter().any(|e| e.field == field) =>
                {
                    errors.push(CoreError::invalid(
                        field,
                        format!("请填写「{}」（没有则填 0）", ind.label),
                    ));
                }
                (Some(ManualKind::Number), Some(ManualValue::Number(n)), true) if *n != 0 => {
                    errors.push(CoreError::invalid(
                        field,
                        format!(
                            "零报告不能填写数字：「{}」为 {n}{}；请改为普通报送",
                            ind.label, ind.unit
                        ),
                    ));
                }
                _ => {}
            }
        }
        if errors.is_empty() {
            Ok(out)
        } else {
            Err(errors)
        }
    }

    /// The zero-report rule: a zero report says "nothing to report", so it is refused when the
    /// records of the day show anything — every computed indicator must be 0. The message names
    /// each non-zero indicator with its value.
    pub fn check_zero(&self, computed: &BTreeMap<String, i64>) -> Result<(), CoreError> {
        let found: Vec<String> = self
            .computed()
            .filter_map(|ind| {
                let n = computed.get(&ind.key).copied().unwrap_or(0);
                (n != 0).then(|| format!("{} {n}{}", ind.label, ind.unit))
            })
            .collect();
        if found.is_empty() {
            Ok(())
        } else {
            Err(CoreError::invalid(
                "zero",
                format!(
                    "当日记录显示有情况，不能报零报告：{}。请核对后按实际情况报送",
                    found.join("、")
                ),
            ))
        }
    }

    /// The roll-up of manual numbers: each number indicator summed over the given submissions
    /// (absent counts as 0). Texts are not summed.
    pub fn sum_manual<'a>(
        &self,
        submissions: impl IntoIterator<Item = &'a ManualValues>,
    ) -> BTreeMap<String, i64> {
        let mut out: BTreeMap<String, i64> = self
            .manual()
            .filter(|i| i.manual_kind() == Some(ManualKind::Number))
            .map(|i| (i.key.clone(), 0))
            .collect();
        for values in submissions {
            for (key, sum) in out.iter_mut() {
                if let Some(ManualValue::Number(n)) = values.get(key) {
                    *sum += n;
                }
            }
        }
        out
    }
}

/// A template as typed in the editor or posted to the API: every field as text, parsed at once
/// by [`TemplateDraft::parse`] with every fault named by its field.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct TemplateDraft {
    pub key: String,
    pub name: String,
    /// A node kind (`community`).
    pub level: String,
    /// `HH:MM`.
    pub deadline: String,
    pub indicators: Vec<IndicatorDraft>,
}

/// One indicator as typed: `kind` is `computed` (with `aggregate`) or `manual` (with `value`
/// `number` or `text`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct IndicatorDraft {
    pub key: String,
    pub label: String,
    pub unit: String,
    pub kind: String,
    pub aggregate: Option<String>,
    pub value: Option<String>,
}

impl TemplateDraft {
    /// The template it describes (version 1: the store numbers versions), or every fault at
    /// once, ordered as the form reads (key, name, level, deadline, then indicator by indicator).
    pub fn parse(&self) -> Result<Template, Vec<CoreError>> {
        let mut errors = Vec::new();
        let level = match self.level.trim().parse::<NodeKind>() {
            Ok(k) => k,
            Err(_) => {
                errors.push(CoreError::invalid(
                    "level",
                    format!("「{}」不是辖区层级", self.level.trim()),
                ));
                NodeKind::Community
            }
        };
        let deadline = match Deadline::parse(&self.deadline) {
            Ok(d) => d,
            Err(e) => {
                errors.push(e);
                Deadline { minutes: 16 * 60 }
            }
        };
        let mut indicators = Vec::with_capacity(self.indicators.len());
        for (i, d) in self.indicators.iter().enumerate() {
            let field = format!("indicators[{i}].kind");
            let kind = match (
                d.kind.trim(),
                d.aggregate.as_deref().map(str::trim),
                d.value.as_deref().map(str::trim),
            ) {
                ("computed", Some(a), _) => match a.parse::<Aggregate>() {
                    Ok(aggregate) => IndicatorKind::Computed { aggregate },
                    Err(e) => {
                        errors.push(CoreError::invalid(field, e.message));
                        continue;
                    }
                },
                ("computed", None, _) => {
                    errors.push(CoreError::invalid(field, "请选择由系统计算的指标"));
                    continue;
                }
                ("manual", _, Some("number")) => IndicatorKind::Manual {
                    value: ManualKind::Number,
                },
                ("manual", _, Some("text")) => IndicatorKind::Manual {
                    value: ManualKind::Text,
                },
                ("manual", _, _) => {
                    errors.push(CoreError::invalid(field, "填报指标应为数字或文字"));
                    continue;
                }
                (other, _, _) => {
                    errors.push(CoreError::invalid(
                        field,
                        format!(
                            "「{other}」不是指标类型：应为系统计算（computed）或填报（manual）"
                        ),
                    ));
                    continue;
                }
            };
            indicators.push((
                i,
                Indicator {
                    key: d.key.trim().to_owned(),
                    label: d.label.trim().to_owned(),
                    unit: d.unit.trim().to_owned(),
                    kind,
                },
            ));
        }
        let template = Template {
            key: self.key.trim().to_owned(),
            name: self.name.trim().to_owned(),
            level,
            period: Period::Daily,
            deadline,
            version: 1,
            indicators: indicators.iter().map(|(_, ind)| ind.clone()).collect(),
        };
        if let Err(more) = template.validate() {
            // Validation numbers the indicators it kept; name them as they were typed.
            for mut e in more {
                if let Some(rest) = e.field.strip_prefix("indicators[") {
                    if let Some((n, tail)) = rest.split_once(']') {
                        if let Some((typed, _)) =
                            n.parse::<usize>().ok().and_then(|n| indicators.get(n))
                        {
                            e.field = format!("indicators[{typed}]{tail}");
                        }
                    }
                }
                errors.push(e);
            }
        }
        if errors.is_empty() {
            return Ok(template);
        }
        let rank = |field: &str| -> (usize, usize) {
            match field {
                "key" => (0, 0),
                "name" => (1, 0),
                "level" => (2, 0),
                "deadline" => (3, 0),
                "indicators" => (4, 0),
                f => {
                    let n = f
                        .strip_prefix("indicators[")
                        .and_then(|r| r.split_once(']'))
                        .and_then(|(n, _)| n.parse::<usize>().ok());
                    match n {
                        Some(n) => (5, n),
                        None => (6, 0),
                    }
                }
            }
        };
        errors.sort_by_key(|e| rank(&e.field));
        Err(errors)
    }
}

impl From<&Template> for TemplateDraft {
    fn from(t: &Template) -> TemplateDraft {
        TemplateDraft {
            key: t.key.clone(),
            name: t.name.clone(),
            level: t.level.as_str().to_owned(),
            deadline: t.deadline.to_string(),
            indicators: t
                .indicators
                .iter()
                .map(|i| IndicatorDraft {
                    key: i.key.clone(),
                    label: i.label.clone(),
                    unit: i.unit.clone(),
                    kind: i.kind.as_str().to_owned(),
                    aggregate: i.aggregate().map(|a| a.as_str().to_owned()),
                    value: i.manual_kind().map(|k| k.as_str().to_owned()),
                })
                .collect(),
        }
    }
}

/// A template, mapping or column key: 1 to 40 lowercase letters, digits, `_` or `-`, starting
/// with a letter.
pub(crate) fn key_ok(k: &str) -> bool {
    (1..=40).contains(&k.len())
        && k.bytes().next().is_some_and(|b| b.is_ascii_lowercase())
        && k.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

/// A manual number as typed: `12`, ` 1,200 `, full-width `１２`. Empty is `None` (not given).
fn parse_manual_number(label: &str, raw: &str) -> Result<Option<i64>, String> {
    let cleaned: String = raw
        .trim()
        .chars()
        .filter(|c| !matches!(c, ',' | '，' | ' '))
        .map(|c| match c {
            '０'..='９' => char::from_u32(c as u32 - '０' as u32 + '0' as u32).unwrap_or(c),
            '－' => '-',
            c => c,
        })
        .collect();
    if cleaned.is_empty() {
        return Ok(None);
    }
    if let Some(rest) = cleaned.strip_prefix('-') {
        if !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
            return Err(format!("「{label}」不能为负数，收到「{}」", raw.trim()));
        }
    }
    if cleaned.contains('.') && cleaned.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        // 3.0 from a JSON number is still a whole number.
        let (whole, frac) = cleaned.split_once('.').unwrap_or((&cleaned, ""));
        if !whole.is_empty() && frac.bytes().all(|b| b == b'0') {
            return parse_manual_number(label, whole);
        }
        return Err(format!("「{label}」应为整数，收到「{}」", raw.trim()));
    }
    if !cleaned.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "「{label}」应为不小于 0 的整数，收到「{}」",
            raw.trim()
        ));
    }
    match cleaned.parse::<i64>() {
        Ok(n) if n <= MAX_MANUAL_NUMBER => Ok(Some(n)),
        _ => Err(format!("「{label}」不能超过 {MAX_MANUAL_NUMBER}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::clock::{day_bounds, parse_date};

    #[test]
    fn codes_and_labels_stay_as_stored_and_shown() {
        use crate::kernel::labels::assert_table;
        assert_table(&[
            (Aggregate::ArrivalsNew, "arrivals_new", "当日新增来返人员"),
            (
                Aggregate::UnderCentralizedQuarantine,
                "under_centralized_quarantine",
                "集中隔离人数",
            ),
            (
                Aggregate::UnderHomeQuarantine,
                "under_home_quarantine",
                "居家隔离人数",
            ),
            (
                Aggregate::HealthMonitoring,
                "health_monitoring",
                "健康监测人数",
            ),
            (Aggregate::FeversOpen, "fevers_open", "发热未处置"),
            (Aggregate::Releases, "releases", "当日解除隔离"),
            (Aggregate::CheckinsMissed, "checkins_missed", "当日漏报打卡"),
            (
                Aggregate::EnterprisesReopened,
                "enterprises_reopened",
                "当日批准复工企业",
            ),
        ]);
        assert_table(&[(Period::Daily, "daily", "每日")]);
        assert_table(&[
            (Timeliness::OnTime, "on_time", "按时"),
            (Timeliness::Late, "late", "迟报"),
        ]);
        assert_table(&[
            (Status::Draft, "draft", "未报送"),
            (Status::Submitted, "submitted", "已报送"),
            (Status::Approved, "approved", "已审核"),
            (Status::Returned, "returned", "已退回"),
        ]);
    }

    fn raw(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn the_preset_is_valid_and_names_the_contract_indicators() {
        let t = Template::epidemic_daily();
        t.validate().unwrap();
        assert_eq!(t.key, "epidemic-daily");
        assert_eq!(t.level, NodeKind::Community);
        for key in [
            "arrivals_new",
            "under_centralized_quarantine",
            "under_home_quarantine",
            "fevers_open",
        ] {
            assert!(t.indicator(key).unwrap().aggregate().is_some(), "{key}");
        }
        assert_eq!(
            t.indicator("disinfection_rounds").unwrap().manual_kind(),
            Some(ManualKind::Number)
        );
        assert_eq!(t.aggregates().len(), Aggregate::ALL.len());
    }

    #[test]
    fn templates_round_trip_through_json() {
        let t = Template::epidemic_daily();
        let json = serde_json::to_string(&t).unwrap();
        assert!(json.contains(r#""deadline":"16:00""#), "{json}");
        assert!(
            json.contains(r#"{"key":"arrivals_new","label":"当日新增来返人员","unit":"人","kind":"computed","aggregate":"arrivals_new"}"#),
            "{json}"
        );
        let back: Template = serde_json::from_str(&json).unwrap();
        assert_eq!(back, t);
        let bad = json.replace("16:00", "25:00");
        assert!(serde_json::from_str::<Template>(&bad).is_err());
    }

    #[test]
    fn bad_templates_list_every_fault() {
        let mut t = Template::epidemic_daily();
        t.key = "Epidemic Daily".into();
        t.indicators[1].key = "arrivals_new".into();
        t.indicators[2].label = " ".into();
        let fields = crate::fields_of(t.validate().unwrap_err());
        assert_eq!(
            fields,
            vec!["key", "indicators[1].key", "indicators[2].label"]
        );
    }

    #[test]
    fn drafts_parse_into_templates_with_every_fault_named() {
        let t = Template::epidemic_daily();
        let draft = TemplateDraft::from(&t);
        assert_eq!(draft.parse().unwrap(), t);

        let mut d = draft.clone();
        d.deadline = "25:00".into();
        d.level = "town".into();
        d.indicators[0].aggregate = Some("masks".into());
        d.indicators[3].label = String::new();
        d.indicators[9].value = Some("date".into());
        d.indicators.push(IndicatorDraft {
            key: "Bad Key".into(),
            label: "志愿者".into(),
            kind: "manual".into(),
            value: Some("number".into()),
            ..Default::default()
        });
        let got: Vec<(String, String)> = d
            .parse()
            .unwrap_err()
            .into_iter()
            .map(|e| (e.field, e.message))
            .collect();
        let fields: Vec<&str> = got.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(
            fields,
            vec![
                "level",
                "deadline",
                "indicators[0].kind",
                "indicators[3].label",
                "indicators[9].kind",
                "indicators[10].key",
            ]
        );
        assert_eq!(got[0].1, "「town」不是辖区层级");
        assert_eq!(got[2].1, "「masks」不是系统能计算的指标");
    }

    #[test]
    fn deadlines_parse_and_fall_on_china_time() {
        let d = Deadline::parse("16:00").unwrap();
        assert_eq!(d.to_string(), "16:00");
        assert_eq!(Deadline::parse(" 9:30 ").unwrap().to_string(), "09:30");
        assert_eq!(Deadline::parse("16：00").unwrap(), d);
        for bad in ["", "16", "24:00", "16:60", "16:0", "a:00", "-1:00"] {
            assert_eq!(Deadline::parse(bad).unwrap_err().field, "deadline", "{bad}");
        }
        let date = parse_date("d", "2022-07-02").unwrap();
        // 16:00 in Beijing is 08:00 UTC.
        let due = d.instant_on(date);
        assert_eq!(
            crate::kernel::clock::rfc3339(due),
            "2022-07-02T16:00:00+08:00"
        );
        assert_eq!(Timeliness::of(d, date, due), Timeliness::OnTime);
        assert_eq!(Timeliness::of(d, date, due + 1), Timeliness::Late);
        // Submitted the day before: on time.
        assert_eq!(
            Timeliness::of(d, date, due - 86_400_000),
            Timeliness::OnTime
        );
        let (start, end) = day_bounds(date);
        assert_eq!(
            crate::kernel::clock::rfc3339(start),
            "2022-07-02T00:00:00+08:00"
        );
        assert_eq!(end - start, 86_400_000);
        assert_eq!(
            crate::kernel::clock::format_date(crate::kernel::clock::date_of(end - 1)),
            "2022-07-02"
        );
        assert_eq!(
            crate::kernel::clock::format_date(crate::kernel::clock::date_of(end)),
            "2022-07-03"
        );
    }

    #[test]
    fn the_status_machine_locks_after_approval() {
        assert_eq!(Status::Draft.check_submit().unwrap(), Status::Submitted);
        assert_eq!(Status::Submitted.check_submit().unwrap(), Status::Submitted);
        assert!(Status::Approved.check_submit().is_err());
        assert_eq!(Status::Submitted.check_approve().unwrap(), Status::Approved);
        assert!(Status::Draft.check_approve().is_err());
        assert!(Status::Approved.check_approve().is_err());
        for &s in Status::ALL {
            // Only what is submitted and not yet approved can be sent back; and only that counts
            // as reported together with the approved.
            let returned = s.check_return(" 人数与花名册不符，请核对 ");
            assert_eq!(returned.is_ok(), s == Status::Submitted, "{s:?}");
            assert_eq!(
                s.is_reported(),
                matches!(s, Status::Submitted | Status::Approved),
                "{s:?}"
            );
        }
        assert_eq!(
            Status::Submitted.check_return(" 人数不符 ").unwrap(),
            (Status::Returned, "人数不符".to_owned())
        );
        // A returned report is corrected and submitted again, not approved as it stands.
        assert_eq!(Status::Returned.check_submit().unwrap(), Status::Submitted);
        assert_eq!(
            Status::Returned.check_approve().unwrap_err().field,
            "status"
        );
        let fields = |r: Result<_, Vec<CoreError>>| -> Vec<String> {
            r.unwrap_err().into_iter().map(|e| e.field).collect()
        };
        assert_eq!(fields(Status::Submitted.check_return("  ")), ["reason"]);
        assert_eq!(
            fields(Status::Approved.check_return(&"长".repeat(MAX_RETURN_REASON + 1))),
            ["status", "reason"]
        );
        for &s in Status::ALL {
            assert_eq!(s.as_str().parse::<Status>().unwrap(), s);
        }
    }

    #[test]
    fn nodes_report_at_their_level_roll_up_above_and_read_below() {
        let t = Template::epidemic_daily();
        assert_eq!(t.role_of(NodeKind::Community), NodeRole::Reporting);
        assert_eq!(t.role_of(NodeKind::Street), NodeRole::Rollup);
        assert_eq!(t.role_of(NodeKind::District), NodeRole::Rollup);
        // Who submits: the reporting level and the roll-ups below the top of the tree.
        assert!(t.submits(NodeKind::Community, true));
        assert!(t.submits(NodeKind::Street, true));
        assert!(!t.submits(NodeKind::District, false));
        assert!(!t.submits(NodeKind::Grid, true));
        assert_eq!(t.role_of(NodeKind::Grid), NodeRole::Below);
    }

    #[test]
    fn manual_values_parse_with_precise_errors() {
        let t = Template::epidemic_daily();
        let ok = t
            .parse_manual(
                &raw(&[("disinfection_rounds", " １２ "), ("notes", " 无 ")]),
                false,
            )
            .unwrap();
        assert_eq!(ok["disinfection_rounds"], ManualValue::Number(12));
        assert_eq!(ok["notes"], ManualValue::Text("无".into()));
        assert_eq!(
            t.parse_manual(&raw(&[("disinfection_rounds", "3.0")]), false)
                .unwrap()["disinfection_rounds"],
            ManualValue::Number(3)
        );

        let errs = t
            .parse_manual(
                &raw(&[
                    ("disinfection_rounds", "-2"),
                    ("arrivals_new", "5"),
                    ("masks", "1"),
                ]),
                false,
            )
            .unwrap_err();
        let got: Vec<(&str, &str)> = errs
            .iter()
            .map(|e| (e.field.as_str(), e.message.as_str()))
            .collect();
        assert_eq!(
            got,
            vec![
                (
                    "manual.disinfection_rounds",
                    "「公共区域消杀」不能为负数，收到「-2」"
                ),
                (
                    "manual.arrivals_new",
                    "「当日新增来返人员」由系统根据记录计算，不能手工填写"
                ),
                ("manual.masks", "「疫情防控日报表」没有「masks」这项指标"),
            ]
        );
        for (bad, msg) in [
            ("2.5", "「公共区域消杀」应为整数，收到「2.5」"),
            ("三", "「公共区域消杀」应为不小于 0 的整数，收到「三」"),
            ("9999999999", "「公共区域消杀」不能超过 1000000000"),
        ] {
            let e = t
                .parse_manual(&raw(&[("disinfection_rounds", bad)]), false)
                .unwrap_err();
            assert_eq!(e[0].message, msg);
        }
        // Numbers are required on an ordinary report, texts are not.
        let e = t.parse_manual(&raw(&[("notes", "")]), false).unwrap_err();
        assert_eq!(e[0].field, "manual.disinfection_rounds");
        assert_eq!(e[0].message, "请填写「公共区域消杀」（没有则填 0）");
        let long = "字".repeat(MAX_MANUAL_TEXT + 1);
        let e = t
            .parse_manual(
                &raw(&[("disinfection_rounds", "0"), ("notes", &long)]),
                false,
            )
            .unwrap_err();
        assert_eq!(e[0].field, "manual.notes");
    }

    #[test]
    fn a_zero_report_carries_no_numbers_and_no_events() {
        let t = Template::epidemic_daily();
        assert!(t.parse_manual(&[], true).unwrap().is_empty());
        t.parse_manual(
            &raw(&[("disinfection_rounds", "0"), ("notes", "平安")]),
            true,
        )
        .unwrap();
        let e = t
            .parse_manual(&raw(&[("disinfection_rounds", "2")]), true)
            .unwrap_err();
        assert_eq!(
            e[0].message,
            "零报告不能填写数字：「公共区域消杀」为 2次；请改为普通报送"
        );

        let mut computed: BTreeMap<String, i64> =
            t.computed().map(|i| (i.key.clone(), 0)).collect();
        t.check_zero(&computed).unwrap();
        computed.insert("arrivals_new".into(), 2);
        computed.insert("fevers_open".into(), 1);
        let e = t.check_zero(&computed).unwrap_err();
        assert_eq!(e.field, "zero");
        assert_eq!(
            e.message,
            "当日记录显示有情况，不能报零报告：当日新增来返人员 2人、发热未处置 1人。请核对后按实际情况报送"
        );
    }

    #[test]
    fn manual_numbers_sum_and_texts_do_not() {
        let t = Template::epidemic_daily();
        let a = t
            .parse_manual(
                &raw(&[("disinfection_rounds", "3"), ("notes", "甲")]),
                false,
            )
            .unwrap();
        let b = t
            .parse_manual(&raw(&[("disinfection_rounds", "4")]), false)
            .unwrap();
        let zero = t.parse_manual(&[], true).unwrap();
        let sum = t.sum_manual([&a, &b, &zero]);
        assert_eq!(sum.len(), 1);
        assert_eq!(sum["disinfection_rounds"], 7);
        assert_eq!(t.sum_manual([])["disinfection_rounds"], 0);
    }
}
