//! Notices (通知公告): what a notice must hold, and when it is current.

use time::Date;

use crate::kernel::clock::{format_date, parse_date};
use crate::CoreError;

/// The longest title, in characters.
pub const MAX_TITLE: usize = 100;
/// The longest body, in characters (a page of text; longer documents go in 居务公开 as PDF).
pub const MAX_BODY: usize = 5000;

/// A notice as typed into the form or sent to the API.
#[derive(Debug, Clone, Default)]
pub struct NoticeInput<'a> {
    pub title: &'a str,
    pub body: &'a str,
    /// `YYYY-MM-DD`, the first day it is shown.
    pub valid_from: &'a str,
    /// `YYYY-MM-DD`, the last day it is shown; empty: until withdrawn.
    pub valid_until: &'a str,
    /// Shown on the community's public page too (else staff only).
    pub public: bool,
}

/// A notice that passed every rule: the title trimmed, the body's line ends normalised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoticeDraft {
    pub title: String,
    pub body: String,
    pub valid_from: Date,
    pub valid_until: Option<Date>,
    pub public: bool,
}

/// Checks a title and a body (shared with the affairs ledger): both required, within limits.
pub(crate) fn title_and_body(
    title: &str,
    body: &str,
    errors: &mut Vec<CoreError>,
) -> (String, String) {
    let title = title.trim().to_owned();
    if title.is_empty() {
        errors.push(CoreError::invalid("title", "请填写标题"));
    } else if title.chars().count() > MAX_TITLE {
        errors.push(CoreError::invalid(
            "title",
            format!("标题最多 {MAX_TITLE} 个字"),
        ));
    }
    let body = body.replace("\r\n", "\n").trim().to_owned();
    if body.is_empty() {
        errors.push(CoreError::invalid("body", "请填写正文"));
    } else if body.chars().count() > MAX_BODY {
        errors.push(CoreError::invalid(
            "body",
            format!("正文最多 {MAX_BODY} 个字，更长的文件请作为附件公开"),
        ));
    }
    (title, body)
}

/// A date range `from`..=`until` (`until` optional): both parsed, the end not before the start.
pub(crate) fn date_range(
    (from_field, from): (&str, &str),
    (until_field, until): (&str, &str),
    errors: &mut Vec<CoreError>,
) -> (Option<Date>, Option<Date>) {
    let from = parse_date(from_field, from)
        .map_err(|e| errors.push(e))
        .ok();
    let until = if until.trim().is_empty() {
        None
    } else {
        parse_date(until_field, until)
            .map_err(|e| errors.push(e))
            .ok()
    };
    if let (Some(f), Some(u)) = (from, until) {
        if u < f {
            errors.push(CoreError::invalid(
                until_field,
                format!("截止日期不能早于开始日期 {}", format_date(f)),
            ));
        }
    }
    (from, until)
}

impl NoticeDraft {
    /// Every rule at once: each broken one is an error naming its field.
    pub fn parse(input: NoticeInput<'_>) -> Result<NoticeDraft, Vec<CoreError>> {
        let mut errors = Vec::new();
        let (title, body) = title_and_body(input.title, input.body, &mut errors);
        let (from, until) = date_range(
            ("valid_from", input.valid_from),
            ("valid_until", input.valid_until),
            &mut errors,
        );
        match from {
            Some(valid_from) if errors.is_empty() => Ok(NoticeDraft {
                title,
                body,
                valid_from,
                valid_until: until,
                public: input.public,
            }),
            _ => Err(errors),
        }
    }
}

/// Whether a notice is shown on `day`: not withdrawn, `from <= day <= until`.
pub fn is_current(withdrawn: bool, from: Date, until: Option<Date>, day: Date) -> bool {
    !withdrawn && from <= day && until.is_none_or(|u| day <= u)
}

/// The body's paragraphs as written (blank lines separate them; single line breaks stay inside
/// a paragraph), for pages that show plain text without markup.
pub fn paragraphs(body: &str) -> Vec<String> {
    body.replace("\r\n", "\n")
        .split("\n\n")
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fields_of;
    use time::macros::date;

    fn input<'a>(title: &'a str, from: &'a str, until: &'a str) -> NoticeInput<'a> {
        NoticeInput {
            title,
            body: "正文",
            valid_from: from,
            valid_until: until,
            public: true,
        }
    }

    #[test]
    fn a_notice_needs_a_title_a_body_and_an_ordered_range() {
        let ok = NoticeDraft::parse(input(" 停水通知 ", "2026-12-01", "")).unwrap();
        assert_eq!(ok.title, "停水通知");
        assert_eq!(ok.valid_until, None);
        let e = NoticeDraft::parse(NoticeInput {
            body: " ",
            ..input("", "2026-13-01", "")
        })
        .unwrap_err();
        assert_eq!(fields_of(e), ["title", "body", "valid_from"]);
        let e = NoticeDraft::parse(input("t", "2026-12-02", "2026-12-01")).unwrap_err();
        assert_eq!(fields_of(e), ["valid_until"]);
        let long = "长".repeat(MAX_TITLE + 1);
        let e = NoticeDraft::parse(input(&long, "2026-12-01", "")).unwrap_err();
        assert_eq!(fields_of(e), ["title"]);
    }

    #[test]
    fn current_between_its_days_unless_withdrawn() {
        let (from, until) = (date!(2026 - 12 - 01), Some(date!(2026 - 12 - 03)));
        assert!(!is_current(false, from, until, date!(2026 - 11 - 30)));
        assert!(is_current(false, from, until, date!(2026 - 12 - 01)));
        assert!(is_current(false, from, until, date!(2026 - 12 - 03)));
        assert!(!is_current(false, from, until, date!(2026 - 12 - 04)));
        assert!(is_current(false, from, None, date!(2030 - 01 - 01)));
        assert!(!is_current(true, from, None, date!(2026 - 12 - 02)));
    }

    #[test]
    fn paragraphs_split_on_blank_lines() {
        assert_eq!(
            paragraphs("第一段\r\n续行\r\n\r\n\n第二段\n"),
            ["第一段\n续行", "第二段"]
        );
    }
}
