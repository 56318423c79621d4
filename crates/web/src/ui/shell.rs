//! The layout every page shares, error pages, and small helpers for links.

use crate::error::ApiError;
use crate::AppState;
use askama::Template;
use askama_web::WebTemplate;
use axum::http::{header, StatusCode, Uri};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use linli_core::kernel::clock;
use linli_core::kernel::labels::Labelled;
use linli_core::NodeKind;
use linli_store::accounts::Principal;
use linli_store::StoreError;
use serde::Deserialize;

/// The stylesheet and the favicon: served to every page.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/static/app.css", get(stylesheet))
        .route("/static/shell.js", get(shell_script))
        // Browsers ask for it on every page; an empty answer keeps their consoles quiet.
        .route("/favicon.ico", get(|| async { StatusCode::NO_CONTENT }))
}

/// Percent-encodes a string for a query parameter.
/// A list's filters as a query string for its pager and export links: each filled-in value
/// (trimmed) encoded, empty ones left out.
pub fn query_string(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .filter(|(_, v)| !v.trim().is_empty())
        .map(|(k, v)| format!("{k}={}", url_encode(v.trim())))
        .collect::<Vec<_>>()
        .join("&")
}

pub fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The `tel:` target of a phone number shown in the clear (`0887-822 1234` dials
/// `08878221234`): its digits, and a leading `+` for an international number. Separators are
/// dropped so that every phone's dialler reads it the same way.
pub fn tel_href(number: impl AsRef<str>) -> String {
    let number = number.as_ref().trim();
    let plus = if number.starts_with('+') { "+" } else { "" };
    let digits: String = number.chars().filter(char::is_ascii_digit).collect();
    format!("{plus}{digits}")
}

/// The banner every page shows while the server runs as of another day (`serve --as-of`, demo
/// databases only): the date the pages show, which moves on at midnight as the clock does.
pub fn as_of_banner() -> Option<String> {
    clock::as_of().map(|_| format!("演示数据 · 按 {} 显示", clock::format_date(clock::today())))
}

/// What the layout needs on every page: who is signed in, the CSRF token for the logout form,
/// and which navigation entries to show.
pub struct Shell {
    pub user_name: String,
    pub role_label: &'static str,
    pub csrf: String,
    pub is_admin: bool,
    pub can_audit: bool,
    pub active: &'static str,
}

impl Shell {
    pub fn of(p: &Principal, active: &'static str) -> Shell {
        Shell {
            user_name: p.user.display_name.clone(),
            role_label: p.user.role.label_zh(),
            csrf: p.csrf_token.clone().unwrap_or_default(),
            is_admin: p.scope.is_admin(),
            can_audit: p.scope.can_read_audit(),
            active,
        }
    }
}

/// The caller's jurisdiction in one line: 全部辖区 for an admin, else the bound nodes' names.
pub fn jurisdiction(p: &Principal) -> String {
    if p.scope.is_admin() {
        "全部辖区".to_owned()
    } else {
        p.user
            .nodes
            .iter()
            .map(|n| n.name.as_str())
            .collect::<Vec<_>>()
            .join("、")
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "ui/error.html")]
struct ErrorPage<'a> {
    status: u16,
    message: &'a str,
}

/// A small error page (used where no layout context is available).
pub fn error_page(status: StatusCode, message: &str) -> Response {
    let page = ErrorPage {
        status: status.as_u16(),
        message,
    };
    match page.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(_) => (status, message.to_owned()).into_response(),
    }
}

/// A message on a page a resident opens without signing in (a dead link, a refusal): `title`
/// and the message as an alert, under the name of the service (`service`), and a link onward
/// where there is one to offer.
#[derive(Template, WebTemplate)]
#[template(path = "ui/message.html")]
pub struct PublicMessage<'a> {
    pub service: &'a str,
    pub title: &'a str,
    pub message: &'a str,
    /// Where to go next, and the link's words.
    pub link: Option<(&'a str, &'a str)>,
}

/// Unknown paths: JSON under `/api/`, a page elsewhere.
pub async fn not_found(uri: Uri) -> Response {
    if uri.path().starts_with("/api/") {
        ApiError::not_found().into_response()
    } else {
        error_page(StatusCode::NOT_FOUND, "页面不存在，或不在您的辖区内。")
    }
}

/// A store error shown as a page.
pub fn store_error_page(e: StoreError) -> Response {
    let api = ApiError::from(e);
    let msg = match api.status {
        StatusCode::NOT_FOUND => "未找到，或不在您的辖区内。".to_owned(),
        StatusCode::FORBIDDEN => format!("无权执行此操作：{}。", api.message),
        StatusCode::INTERNAL_SERVER_ERROR => "系统内部错误，请稍后重试。".to_owned(),
        _ => api.message,
    };
    error_page(api.status, &msg)
}

/// A file of `static/` built into the binary, as the browser is sent it (cached for an hour).
pub fn static_file(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        body,
    )
        .into_response()
}

async fn stylesheet() -> Response {
    static_file(
        "text/css; charset=utf-8",
        include_str!("../../static/app.css"),
    )
}

/// The header's small script (see the file).
async fn shell_script() -> Response {
    static_file(
        "text/javascript; charset=utf-8",
        include_str!("../../static/shell.js"),
    )
}

pub fn short_label(k: NodeKind) -> &'static str {
    match k {
        NodeKind::Province => "省",
        NodeKind::City => "市",
        NodeKind::District => "区县",
        NodeKind::Street => "街道",
        NodeKind::Community => "社区",
        NodeKind::Compound => "小区",
        NodeKind::Grid => "网格",
        NodeKind::Building => "楼栋",
        NodeKind::Unit => "单元",
    }
}

#[derive(Deserialize)]
pub struct NoticeQuery {
    pub notice: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lists_query_string_keeps_the_filled_in_filters_encoded() {
        assert_eq!(
            query_string(&[
                ("node_id", "3"),
                ("kind", " "),
                ("q", " 张 三&"),
                ("to", "")
            ]),
            "node_id=3&q=%E5%BC%A0%20%E4%B8%89%26"
        );
        assert_eq!(query_string(&[("q", "")]), "");
    }

    #[test]
    fn query_values_are_percent_encoded() {
        assert_eq!(url_encode("/nodes/3?x=1&y"), "/nodes/3%3Fx%3D1%26y");
    }

    #[test]
    fn phone_numbers_dial_their_digits() {
        let table = [
            ("13800138000", "13800138000"),
            ("0887-8221234", "08878221234"),
            (" 0887 822 1234 ", "08878221234"),
            ("+86 138-0013-8000", "+8613800138000"),
            ("（0887）8221234", "08878221234"),
        ];
        for (shown, dialled) in table {
            assert_eq!(tel_href(shown), dialled, "{shown}");
        }
    }
}
