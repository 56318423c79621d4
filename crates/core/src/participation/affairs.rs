//! The public affairs ledger (居务公开): a community's dated entries by category, published
//! once and never changed. A mistake is corrected by a new entry that points to the old one.

use std::str::FromStr;

use time::Date;

use super::notices::{date_range, title_and_body};
use crate::kernel::labels::Labelled;
use crate::labelled;
use crate::CoreError;

labelled! {
    /// What an entry is about: the categories the community must publish.
    #[derive(Hash)]
    pub enum Category: "category", FromStr {
        #[strum(serialize = "finance", props(zh = "财务收支"))]
        Finance,
        #[strum(serialize = "decision", props(zh = "重大事项决定"))]
        Decision,
        #[strum(serialize = "policy", props(zh = "惠民政策落实"))]
        Policy,
        #[strum(serialize = "service", props(zh = "服务事项"))]
        Service,
    }
}

labelled! {
    /// Where an entry is in its one-way life.
    #[derive(Hash)]
    pub enum EntryStatus: "status", FromStr {
        /// Being written: its author may still add attachments; not public.
        #[strum(serialize = "draft", props(zh = "草稿"))]
        Draft,
        /// On the public page, for good: nothing about it changes again.
        #[strum(serialize = "published", props(zh = "已公开"))]
        Published,
    }
}

labelled! {
    /// What may be done to an entry.
    pub enum EntryAction: "action" {
        #[strum(serialize = "attach", props(zh = "添加附件"))]
        Attach,
        #[strum(serialize = "publish", props(zh = "公开"))]
        Publish,
        #[strum(serialize = "correct", props(zh = "更正"))]
        Correct,
    }
}

impl EntryStatus {
    /// The state after `action`, or the refusal naming both: a draft takes attachments and is
    /// published; only a published entry is corrected (by a new entry, so its state stays).
    pub fn apply(self, action: EntryAction) -> Result<EntryStatus, CoreError> {
        use EntryAction as A;
        use EntryStatus as S;
        match (action, self) {
            (A::Attach, S::Draft) => Ok(S::Draft),
            (A::Publish, S::Draft) => Ok(S::Published),
            (A::Correct, S::Published) => Ok(S::Published),
            (action, state) => Err(CoreError::invalid(
                "status",
                format!(
                    "「{}」的条目不能{}{}",
                    state.label_zh(),
                    action.label_zh(),
                    if state == S::Published {
                        "：已公开的条目不能修改或删除，如有错误请发布更正"
                    } else {
                        "：草稿尚未公开"
                    }
                ),
            )),
        }
    }

    /// The actions a page offers for an entry in this state.
    pub fn actions(self) -> Vec<EntryAction> {
        EntryAction::ALL
            .iter()
            .copied()
            .filter(|a| self.apply(*a).is_ok())
            .collect()
    }
}

/// An entry as typed into the form or sent to the API.
#[derive(Debug, Clone, Default)]
pub struct EntryInput<'a> {
    pub category: &'a str,
    pub title: &'a str,
    pub body: &'a str,
    /// The first day of the period the entry covers (`YYYY-MM-DD`).
    pub period_from: &'a str,
    /// The last day of that period; empty for a single day.
    pub period_until: &'a str,
}

/// An entry that passed every rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryDraft {
    pub category: Category,
    pub title: String,
    pub body: String,
    pub period_from: Date,
    pub period_until: Date,
}

impl EntryDraft {
    pub fn parse(input: EntryInput<'_>) -> Result<EntryDraft, Vec<CoreError>> {
        let mut errors = Vec::new();
        let category = Category::from_str(input.category)
            .map_err(|e| errors.push(e))
            .ok();
        let (title, body) = title_and_body(input.title, input.body, &mut errors);
        let (from, until) = date_range(
            ("period_from", input.period_from),
            ("period_until", input.period_until),
            &mut errors,
        );
        match (category, from) {
            (Some(category), Some(from)) if errors.is_empty() => Ok(EntryDraft {
                category,
                title,
                body,
                period_from: from,
                period_until: until.unwrap_or(from),
            }),
            _ => Err(errors),
        }
    }
}

/// The largest attachment: 5 MB.
pub const MAX_ATTACHMENT_BYTES: usize = 5 * 1024 * 1024;
/// Attachments one entry may carry.
pub const MAX_ATTACHMENTS: usize = 5;
/// The longest attachment name kept, in characters.
pub const MAX_ATTACHMENT_NAME: usize = 100;

/// The content type of an attachment from its bytes' signature (never from its name or what
/// the uploader claimed): PDF, PNG or JPEG. Anything else, an empty file or one over
/// [`MAX_ATTACHMENT_BYTES`] is refused on field `attachment`.
pub fn attachment_type(bytes: &[u8]) -> Result<&'static str, CoreError> {
    if bytes.is_empty() {
        return Err(CoreError::invalid("attachment", "附件是空文件，请重新选择"));
    }
    if bytes.len() > MAX_ATTACHMENT_BYTES {
        return Err(CoreError::invalid(
            "attachment",
            format!(
                "附件太大（{:.1} MB），每个附件上限 5 MB",
                bytes.len() as f64 / 1024.0 / 1024.0
            ),
        ));
    }
    if bytes.starts_with(b"%PDF-") {
        Ok("application/pdf")
    } else if bytes.starts_with(&[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A]) {
        Ok("image/png")
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Ok("image/jpeg")
    } else {
        Err(CoreError::invalid(
            "attachment",
            "附件只能是 PDF、PNG 或 JPEG 文件（文件内容不是这几种格式）",
        ))
    }
}

/// An attachment's name as shown and offered for download: the last path component, trimmed,
/// without control characters or quotes, at most [`MAX_ATTACHMENT_NAME`] characters; a name
/// left empty becomes 「附件」.
pub fn attachment_name(raw: &str) -> String {
    let base = raw.rsplit(['/', '\\']).next().unwrap_or_default();
    let clean: String = base
        .chars()
        .filter(|c| !c.is_control() && !matches!(c, '"' | ';'))
        .take(MAX_ATTACHMENT_NAME)
        .collect();
    let clean = clean.trim();
    if clean.is_empty() {
        "附件".to_owned()
    } else {
        clean.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fields_of;
    use crate::kernel::labels::assert_table;

    #[test]
    fn categories_and_states_keep_their_codes_and_labels() {
        assert_table(&[
            (Category::Finance, "finance", "财务收支"),
            (Category::Decision, "decision", "重大事项决定"),
            (Category::Policy, "policy", "惠民政策落实"),
            (Category::Service, "service", "服务事项"),
        ]);
        assert_table(&[
            (EntryStatus::Draft, "draft", "草稿"),
            (EntryStatus::Published, "published", "已公开"),
        ]);
    }

    #[test]
    fn a_published_entry_never_changes() {
        use EntryAction as A;
        use EntryStatus as S;
        let table = [
            (S::Draft, A::Attach, Some(S::Draft)),
            (S::Draft, A::Publish, Some(S::Published)),
            (S::Draft, A::Correct, None),
            (S::Published, A::Attach, None),
            (S::Published, A::Publish, None),
            (S::Published, A::Correct, Some(S::Published)),
        ];
        for (state, action, after) in table {
            assert_eq!(state.apply(action).ok(), after, "{state:?} {action:?}");
        }
        let refusal = S::Published.apply(A::Attach).unwrap_err();
        assert!(refusal.message.contains("不能修改或删除"), "{refusal}");
        assert_eq!(S::Draft.actions(), [A::Attach, A::Publish]);
        assert_eq!(S::Published.actions(), [A::Correct]);
    }

    #[test]
    fn an_entry_needs_a_category_a_title_a_body_and_a_period() {
        let ok = EntryDraft::parse(EntryInput {
            category: "财务收支",
            title: "2026 年第三季度财务收支",
            body: "收入……",
            period_from: "2026-07-01",
            period_until: "2026-09-30",
        })
        .unwrap();
        assert_eq!(ok.category, Category::Finance);
        let one_day = EntryDraft::parse(EntryInput {
            category: "decision",
            title: "t",
            body: "b",
            period_from: "2026-12-01",
            period_until: "",
        })
        .unwrap();
        assert_eq!(one_day.period_until, one_day.period_from);
        let e = EntryDraft::parse(EntryInput {
            category: "其他",
            period_from: "2026-12-01",
            period_until: "2026-11-30",
            ..Default::default()
        })
        .unwrap_err();
        assert_eq!(fields_of(e), ["category", "title", "body", "period_until"]);
    }

    #[test]
    fn attachments_are_told_by_their_bytes() {
        assert_eq!(
            attachment_type(b"%PDF-1.7\n...").unwrap(),
            "application/pdf"
        );
        assert_eq!(
            attachment_type(b"\x89PNG\r\n\x1a\n..").unwrap(),
            "image/png"
        );
        assert_eq!(
            attachment_type(&[0xFF, 0xD8, 0xFF, 0xE0]).unwrap(),
            "image/jpeg"
        );
        for bad in [
            &b""[..],
            b"GIF89a",
            b"PK\x03\x04 docx",
            b"RIFF\0\0\0\0WEBPVP8 ",
        ] {
            assert_eq!(attachment_type(bad).unwrap_err().field, "attachment");
        }
        let mut big = b"%PDF-".to_vec();
        big.resize(MAX_ATTACHMENT_BYTES + 1, 0);
        assert!(attachment_type(&big).unwrap_err().message.contains("5 MB"));
    }

    #[test]
    fn attachment_names_lose_paths_and_quotes() {
        assert_eq!(
            attachment_name("C:\\docs\\三季度\"账\".pdf"),
            "三季度账.pdf"
        );
        assert_eq!(attachment_name("  "), "附件");
    }
}
