//! Volunteers (志愿者), their teams (志愿服务队), service activities (服务活动) and the hours
//! served: the rules a domain expert would check, with no I/O.
//!
//! - **Skills** are short words from a configured list ([`SKILLS`]) or free words, normalised
//!   (spaces and full-width forms folded, duplicates dropped) so one skill has one spelling.
//! - **Needs**: an activity asks for people by skill and number; the sum of the counts is its
//!   capacity, and a sign-up beyond it is refused ([`check_room`]).
//! - **Hours** are counted in half hours, more than none and at most the activity's length
//!   ([`Hours::parse`]). Self-reported hours wait for the organiser ([`HoursStatus::apply`]).

use time::Date;

use crate::kernel::clock::format_date;
use crate::kernel::labels::Labelled;
use crate::labelled;
use crate::CoreError;

/// The skills offered in forms; other words are allowed (normalised by [`parse_skill`]).
pub const SKILLS: [&str; 7] = ["医疗", "心理", "驾驶", "外语", "电工", "跑腿代购", "文书"];

/// At most this many skills per volunteer or needs per activity.
pub const MAX_SKILLS: usize = 10;

/// The longest skill word, in characters.
const MAX_SKILL_CHARS: usize = 12;

/// Folds a full-width ASCII form to its ASCII twin.
fn fold(c: char) -> char {
    match c {
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
        '\u{3000}' => ' ',
        c => c,
    }
}

/// One skill word as typed, normalised: full-width forms folded, spaces removed, Latin letters
/// in lower case. Empty, too long or with punctuation is refused on `field`.
pub fn parse_skill(field: &str, raw: &str) -> Result<String, CoreError> {
    let s: String = raw
        .chars()
        .map(fold)
        .filter(|c| !c.is_whitespace())
        .map(|c| c.to_ascii_lowercase())
        .collect();
    if s.is_empty() {
        return Err(CoreError::invalid(field, "技能不能为空"));
    }
    if s.chars().count() > MAX_SKILL_CHARS {
        return Err(CoreError::invalid(
            field,
            format!("技能「{s}」过长（最多 {MAX_SKILL_CHARS} 个字）"),
        ));
    }
    if s.chars().any(|c| !c.is_alphanumeric()) {
        return Err(CoreError::invalid(
            field,
            format!("技能「{s}」只能由文字和数字组成，多个技能请分开填写"),
        ));
    }
    Ok(s)
}

/// A list of skills: each normalised, duplicates dropped (first spelling kept), at most
/// [`MAX_SKILLS`].
pub fn parse_skills<S: AsRef<str>>(raw: &[S]) -> Result<Vec<String>, CoreError> {
    let mut out: Vec<String> = Vec::new();
    for r in raw {
        let s = parse_skill("skills", r.as_ref())?;
        if !out.contains(&s) {
            out.push(s);
        }
    }
    if out.len() > MAX_SKILLS {
        return Err(CoreError::invalid(
            "skills",
            format!("技能最多 {MAX_SKILLS} 项"),
        ));
    }
    Ok(out)
}

/// The words of a text field that lists skills (`医疗、驾驶, 外语`): split on the usual
/// separators, blanks dropped.
pub fn split_words(text: &str) -> Vec<String> {
    text.split(|c: char| {
        matches!(c, '、' | ',' | '，' | ';' | '；' | '/' | '\n') || c.is_whitespace()
    })
    .map(str::trim)
    .filter(|w| !w.is_empty())
    .map(str::to_owned)
    .collect()
}

/// The weekdays a volunteer is usually free, as ISO numbers (1 = Monday … 7 = Sunday), sorted
/// and without repeats. Accepts digits or 一…日/天.
pub fn parse_weekdays<S: AsRef<str>>(raw: &[S]) -> Result<Vec<u8>, CoreError> {
    let mut out = Vec::new();
    for r in raw {
        let r = r.as_ref().trim();
        let r = r.trim_start_matches("周").trim_start_matches("星期");
        let d = match r {
            "1" | "一" => 1,
            "2" | "二" => 2,
            "3" | "三" => 3,
            "4" | "四" => 4,
            "5" | "五" => 5,
            "6" | "六" => 6,
            "7" | "日" | "天" => 7,
            _ => {
                return Err(CoreError::invalid(
                    "weekdays",
                    format!("「{r}」不是星期几（填 1–7 或 一…日）"),
                ))
            }
        };
        if !out.contains(&d) {
            out.push(d);
        }
    }
    out.sort_unstable();
    Ok(out)
}

/// Weekdays for people: `周一、周三`.
pub fn weekdays_zh(days: &[u8]) -> String {
    const NAMES: [&str; 7] = ["一", "二", "三", "四", "五", "六", "日"];
    days.iter()
        .filter_map(|d| NAMES.get(usize::from(*d).wrapping_sub(1)))
        .map(|n| format!("周{n}"))
        .collect::<Vec<_>>()
        .join("、")
}

labelled! {
    /// Where a volunteer stands.
    pub enum VolunteerState: "state", FromStr {
        /// Signed up through a public link with a phone no volunteer had: staff confirm first.
        #[strum(serialize = "pending", props(zh = "待确认"))]
        Pending,
        #[strum(serialize = "active", props(zh = "在册"))]
        Active,
        /// Left the service (with the date).
        #[strum(serialize = "left", props(zh = "已退出"))]
        Left,
    }
}

/// A person's or team's name: trimmed, 1–50 characters.
pub fn parse_name(field: &str, raw: &str, what: &str) -> Result<String, CoreError> {
    let s = raw.trim();
    if s.is_empty() {
        return Err(CoreError::invalid(field, format!("请填写{what}")));
    }
    if s.chars().count() > 50 {
        return Err(CoreError::invalid(field, format!("{what}最多 50 个字")));
    }
    Ok(s.to_owned())
}

/// Optional free text, trimmed (blank is none), at most `max` characters.
pub fn parse_text(field: &str, raw: Option<&str>, max: usize) -> Result<Option<String>, CoreError> {
    let Some(s) = raw.map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    if s.chars().count() > max {
        return Err(CoreError::invalid(field, format!("最多 {max} 个字")));
    }
    Ok(Some(s.to_owned()))
}

// ---------------------------------------------------------------------------------------------
// Activities

/// People an activity asks for: `count` with `skill` (`None`: anyone).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Need {
    pub skill: Option<String>,
    pub count: i64,
}

/// The most people one need asks for.
pub const MAX_NEED: i64 = 500;

/// Parses needs: each count 1..=[`MAX_NEED`], each skill normalised and named once, at least
/// one need and at most [`MAX_SKILLS`].
pub fn parse_needs(raw: &[(Option<&str>, i64)]) -> Result<Vec<Need>, CoreError> {
    if raw.is_empty() {
        return Err(CoreError::invalid(
            "needs",
            "请至少填写一项需求（技能和人数）",
        ));
    }
    if raw.len() > MAX_SKILLS {
        return Err(CoreError::invalid(
            "needs",
            format!("需求最多 {MAX_SKILLS} 项"),
        ));
    }
    let mut out: Vec<Need> = Vec::new();
    for (skill, count) in raw {
        let skill = skill
            .map(str::trim)
            .filter(|s| !s.is_empty() && *s != "不限")
            .map(|s| parse_skill("needs", s))
            .transpose()?;
        if !(1..=MAX_NEED).contains(count) {
            return Err(CoreError::invalid(
                "needs",
                format!("需求人数应为 1–{MAX_NEED}，不能是 {count}"),
            ));
        }
        if out.iter().any(|n| n.skill == skill) {
            return Err(CoreError::invalid(
                "needs",
                format!("技能「{}」重复填写", skill.as_deref().unwrap_or("不限")),
            ));
        }
        out.push(Need {
            skill,
            count: *count,
        });
    }
    Ok(out)
}

/// How many people the needs ask for in all.
pub fn capacity(needs: &[Need]) -> i64 {
    needs.iter().map(|n| n.count).sum()
}

/// The need a new sign-up fills, given the skills of those already signed up (each counted
/// against the first open need they fit, in the needs' order) and the newcomer's skills:
/// the first open need with a skill the newcomer has, else the first open need without a
/// skill, else — while the activity has room — none in particular. A full activity
/// (as many sign-ups as its capacity) refuses.
pub fn check_room(
    needs: &[Need],
    taken: &[Option<String>],
    skills: &[String],
) -> Result<Option<String>, CoreError> {
    if taken.len() as i64 >= capacity(needs) {
        return Err(CoreError::invalid(
            "activity",
            format!(
                "活动已满员（需要 {} 人，已报名 {} 人）",
                capacity(needs),
                taken.len()
            ),
        ));
    }
    let open = |n: &Need| taken.iter().filter(|t| **t == n.skill).count() < n.count as usize;
    Ok(needs
        .iter()
        .filter(|n| open(n))
        .find(|n| n.skill.as_ref().is_some_and(|s| skills.contains(s)))
        .and_then(|n| n.skill.clone()))
}

/// The longest activity: a week.
const MAX_ACTIVITY_MS: i64 = 7 * 86_400_000;

/// A new activity as parsed.
#[derive(Debug, Clone)]
pub struct ActivityDraft {
    pub title: String,
    pub place: Option<String>,
    pub starts_at: i64,
    pub ends_at: i64,
    pub description: Option<String>,
    pub needs: Vec<Need>,
}

/// An activity as typed (times already read as instants by the caller, or refused there).
#[derive(Debug, Clone, Default)]
pub struct ActivityInput<'a> {
    pub title: &'a str,
    pub place: Option<&'a str>,
    pub starts_at: Option<i64>,
    pub ends_at: Option<i64>,
    pub description: Option<&'a str>,
    pub needs: Vec<(Option<&'a str>, i64)>,
}

impl ActivityDraft {
    /// Every broken field at once: a title, a start, an end after the start and at most a week
    /// later, needs.
    pub fn parse(input: &ActivityInput<'_>) -> Result<ActivityDraft, Vec<CoreError>> {
        let mut errors = Vec::new();
        let title = parse_name("title", input.title, "活动名称")
            .map_err(|e| errors.push(e))
            .ok();
        let place = parse_text("place", input.place, 100)
            .map_err(|e| errors.push(e))
            .ok()
            .flatten();
        let description = parse_text("description", input.description, 2000)
            .map_err(|e| errors.push(e))
            .ok()
            .flatten();
        if input.starts_at.is_none() {
            errors.push(CoreError::invalid("starts_at", "请填写开始时间"));
        }
        if input.ends_at.is_none() {
            errors.push(CoreError::invalid("ends_at", "请填写结束时间"));
        }
        if let (Some(s), Some(e)) = (input.starts_at, input.ends_at) {
            if e <= s {
                errors.push(CoreError::invalid("ends_at", "结束时间应晚于开始时间"));
            } else if e - s > MAX_ACTIVITY_MS {
                errors.push(CoreError::invalid("ends_at", "一次活动最长 7 天"));
            } else if e - s < HALF_HOUR_MS {
                errors.push(CoreError::invalid("ends_at", "活动至少半小时"));
            }
        }
        let needs = parse_needs(&input.needs).map_err(|e| errors.push(e)).ok();
        match (title, needs, input.starts_at, input.ends_at) {
            (Some(title), Some(needs), Some(starts_at), Some(ends_at)) if errors.is_empty() => {
                Ok(ActivityDraft {
                    title,
                    place,
                    starts_at,
                    ends_at,
                    description,
                    needs,
                })
            }
            _ => Err(errors),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Hours

const HALF_HOUR_MS: i64 = 1_800_000;

/// Hours served, in half hours (stored as the count of half hours).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Hours(i64);

impl Hours {
    /// Half hours in an activity from `starts_at` to `ends_at` (rounded down).
    pub fn activity_length(starts_at: i64, ends_at: i64) -> Hours {
        Hours(((ends_at - starts_at) / HALF_HOUR_MS).max(0))
    }

    /// Hours as typed (`2`, `2.5`, `１.５`, `2小时`): more than none, a whole number of half
    /// hours, and at most the activity's length (`max`).
    pub fn parse(raw: &str, max: Hours) -> Result<Hours, CoreError> {
        let s: String = raw
            .chars()
            .map(fold)
            .filter(|c| !c.is_whitespace())
            .collect();
        let s = s.trim_end_matches("小时").trim_end_matches('h');
        let value: f64 = s.parse().map_err(|_| {
            CoreError::invalid(
                "hours",
                format!("「{raw}」不是时长，请填小时数，如 2 或 2.5"),
            )
        })?;
        Hours::from_hours(value, max)
    }

    /// Hours given as a number (the API's JSON): the same rule as [`Hours::parse`].
    pub fn from_hours(value: f64, max: Hours) -> Result<Hours, CoreError> {
        if !value.is_finite() || value <= 0.0 {
            return Err(CoreError::invalid("hours", "服务时长应大于 0"));
        }
        let halves = value * 2.0;
        if (halves - halves.round()).abs() > 1e-9 {
            return Err(CoreError::invalid(
                "hours",
                format!("服务时长按半小时计，{value} 小时不是半小时的整数倍"),
            ));
        }
        let h = Hours(halves.round() as i64);
        if h > max {
            return Err(CoreError::invalid(
                "hours",
                format!("服务时长不能超过活动时长 {} 小时", max.display()),
            ));
        }
        Ok(h)
    }

    /// From a stored count of half hours.
    pub fn from_halves(halves: i64) -> Hours {
        Hours(halves)
    }

    pub fn halves(self) -> i64 {
        self.0
    }

    /// As a number of hours (`2.5`).
    pub fn as_f64(self) -> f64 {
        self.0 as f64 / 2.0
    }

    /// For people: `2` or `2.5`.
    pub fn display(self) -> String {
        if self.0 % 2 == 0 {
            (self.0 / 2).to_string()
        } else {
            format!("{}.5", self.0 / 2)
        }
    }
}

labelled! {
    /// Where a record of hours stands: only confirmed hours count.
    pub enum HoursStatus: "status", FromStr {
        /// Reported by the volunteer through the public link; the organiser decides.
        #[strum(serialize = "pending", props(zh = "待确认"))]
        Pending,
        #[strum(serialize = "confirmed", props(zh = "已确认"))]
        Confirmed,
        /// Refused by the organiser, with a reason; the volunteer may report again.
        #[strum(serialize = "rejected", props(zh = "已退回"))]
        Rejected,
    }
}

labelled! {
    /// What is done to a record of hours.
    pub enum HoursAction: "action", FromStr {
        /// The volunteer reports hours (a first report, or again after a refusal).
        #[strum(serialize = "report", props(zh = "申报"))]
        Report,
        /// The organiser confirms (their own entry, or a reported one).
        #[strum(serialize = "confirm", props(zh = "确认"))]
        Confirm,
        #[strum(serialize = "reject", props(zh = "退回"))]
        Reject,
    }
}

impl HoursStatus {
    /// The whole lifecycle: the status after `action` from `from` (`None`: no record yet), or a
    /// refusal naming both. Confirmed hours are final.
    pub fn apply(from: Option<HoursStatus>, action: HoursAction) -> Result<HoursStatus, CoreError> {
        use HoursAction as A;
        use HoursStatus as S;
        match (from, action) {
            (None | Some(S::Rejected), A::Report) => Ok(S::Pending),
            (None | Some(S::Pending), A::Confirm) => Ok(S::Confirmed),
            (Some(S::Pending), A::Reject) => Ok(S::Rejected),
            (from, action) => Err(CoreError::invalid(
                "hours",
                format!(
                    "服务时长{}，不能{}",
                    from.map(|s| s.label_zh()).unwrap_or("尚未申报"),
                    action.label_zh()
                ),
            )),
        }
    }
}

/// A reason to refuse reported hours: required, at most 200 characters.
pub fn parse_reason(raw: &str) -> Result<String, CoreError> {
    parse_text("reason", Some(raw), 200)?
        .ok_or_else(|| CoreError::invalid("reason", "退回时请写明原因"))
}

/// A certificate's number: the volunteer and the period, so the same certificate printed
/// again carries the same number (`ZY000042-20200101-20200229`).
pub fn certificate_number(volunteer_id: i64, from: Date, to: Date) -> String {
    format!(
        "ZY{volunteer_id:06}-{}-{}",
        format_date(from).replace('-', ""),
        format_date(to).replace('-', "")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skills_are_normalised_and_deduplicated() {
        assert_eq!(
            parse_skills(&[" 医 疗", "医疗", "ＥＮＧＬＩＳＨ", "驾驶"]).unwrap(),
            vec!["医疗", "english", "驾驶"]
        );
        assert_eq!(
            split_words("医疗、驾驶, 外语；文书"),
            vec!["医疗", "驾驶", "外语", "文书"]
        );
        assert_eq!(
            parse_skill("skills", "医疗/心理").unwrap_err().field,
            "skills"
        );
        assert!(parse_skill("skills", "").is_err());
    }

    #[test]
    fn weekdays_parse_in_both_spellings() {
        assert_eq!(
            parse_weekdays(&["周三", "1", "日", "3"]).unwrap(),
            vec![1, 3, 7]
        );
        assert_eq!(weekdays_zh(&[1, 7]), "周一、周日");
        assert_eq!(parse_weekdays(&["8"]).unwrap_err().field, "weekdays");
    }

    #[test]
    fn hours_are_half_hours_within_the_activity() {
        let max = Hours::activity_length(0, 3 * 3_600_000);
        assert_eq!(max.halves(), 6);
        for (raw, want) in [
            ("2", Some(4)),
            ("2.5", Some(5)),
            ("１.５", Some(3)),
            ("3小时", Some(6)),
            ("0.5", Some(1)),
            ("3.5", None),
            ("0", None),
            ("-1", None),
            ("1.2", None),
            ("x", None),
        ] {
            assert_eq!(
                Hours::parse(raw, max).ok().map(Hours::halves),
                want,
                "{raw}"
            );
        }
        assert_eq!(Hours::from_halves(5).display(), "2.5");
        assert_eq!(Hours::from_halves(4).display(), "2");
        assert_eq!(Hours::from_hours(f64::NAN, max).unwrap_err().field, "hours");
    }

    #[test]
    fn the_hours_lifecycle() {
        use HoursAction as A;
        use HoursStatus as S;
        let table = [
            (None, A::Report, Some(S::Pending)),
            (None, A::Confirm, Some(S::Confirmed)),
            (None, A::Reject, None),
            (Some(S::Pending), A::Confirm, Some(S::Confirmed)),
            (Some(S::Pending), A::Reject, Some(S::Rejected)),
            (Some(S::Pending), A::Report, None),
            (Some(S::Rejected), A::Report, Some(S::Pending)),
            (Some(S::Rejected), A::Confirm, None),
            (Some(S::Confirmed), A::Report, None),
            (Some(S::Confirmed), A::Confirm, None),
            (Some(S::Confirmed), A::Reject, None),
        ];
        for (from, action, want) in table {
            assert_eq!(
                HoursStatus::apply(from, action).ok(),
                want,
                "{from:?} {action:?}"
            );
        }
    }

    #[test]
    fn needs_fill_by_skill_and_a_full_activity_refuses() {
        let needs = parse_needs(&[(Some("医疗"), 1), (None, 1)]).unwrap();
        assert_eq!(capacity(&needs), 2);
        let med = vec!["医疗".to_owned()];
        assert_eq!(check_room(&needs, &[], &med).unwrap(), Some("医疗".into()));
        assert_eq!(
            check_room(&needs, &[Some("医疗".into())], &med).unwrap(),
            None
        );
        let e = check_room(&needs, &[Some("医疗".into()), None], &[]).unwrap_err();
        assert!(e.message.contains("已满员"), "{}", e.message);
        assert_eq!(parse_needs(&[]).unwrap_err().field, "needs");
        assert!(parse_needs(&[(Some("医疗"), 0)]).is_err());
        assert!(parse_needs(&[(Some("医疗"), 1), (Some(" 医疗"), 2)]).is_err());
    }

    #[test]
    fn an_activity_names_every_broken_field() {
        let errors = ActivityDraft::parse(&ActivityInput {
            title: " ",
            starts_at: Some(10),
            ends_at: Some(5),
            ..Default::default()
        })
        .unwrap_err();
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["title", "ends_at", "needs"]);
    }

    #[test]
    fn certificate_numbers_are_stable() {
        let d = |s| crate::kernel::clock::parse_date("d", s).unwrap();
        assert_eq!(
            certificate_number(42, d("2020-01-01"), d("2020-02-29")),
            "ZY000042-20200101-20200229"
        );
    }
}
