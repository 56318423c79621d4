//! The community's public page (`/c/{code}`): no login, rate-limited per address, a standalone
//! phone-sized page with the community's current public notices and its published 居务公开
//! entries (newest first, by category, paged), attachments to download, corrections linked.
//! Nothing personal: no names of staff or residents, only what the community published.
//!
//! `/c/` rather than the issue's `/p/`: `/p/{code}` already opens a pass card at the gate.

use std::sync::Arc;
use std::time::Duration;

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Router};
use linli_core::kernel::clock::format_date;
use linli_core::kernel::labels::Labelled;
use linli_core::participation::affairs::Category;
use linli_core::participation::notices::paragraphs;
use linli_store::participation::affairs::{self, Entry};
use linli_store::participation::notices;
use linli_store::StoreError;
use serde::Deserialize;

use super::{file_response, file_rows, period, FileRow};
use crate::auth::ClientIp;
use crate::ui::{self, Choice, Pager, RateLimiter};
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/c/{code}", get(public_page))
        .route("/c/{code}/files/{entry}/{file}", get(public_file))
        // Each app gets its own counters (tests run several apps in one process).
        .layer(Extension(Arc::new(Limits::default())))
}

/// Views (pages and files alike): 60 per address per 10 minutes, as the other public pages.
/// The code is 10 characters of 31, so trying codes at this rate finds nothing.
struct Limits {
    view_per_address: RateLimiter,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            view_per_address: RateLimiter::new(60, Duration::from_secs(600)),
        }
    }
}

const SERVICE: &str = "社区公开";

fn message(status: StatusCode, title: &'static str, message: String) -> Response {
    let page = ui::PublicMessage {
        service: SERVICE,
        title,
        message: &message,
        link: None,
    };
    (status, page).into_response()
}

fn too_many(retry: Duration) -> Response {
    ui::too_many(retry, |minutes| {
        message(
            StatusCode::TOO_MANY_REQUESTS,
            "访问过于频繁",
            format!("同一网络访问次数过多，请 {minutes} 分钟后再试。"),
        )
    })
}

fn gone() -> Response {
    message(
        StatusCode::NOT_FOUND,
        "页面无效",
        "该公开码无效或已更换，请扫描社区最新张贴的二维码。".to_owned(),
    )
}

struct NoticeView {
    title: String,
    days: String,
    paragraphs: Vec<String>,
}

struct EntryView {
    id: i64,
    category: &'static str,
    title: String,
    period: String,
    published_on: String,
    paragraphs: Vec<String>,
    files: Vec<FileRow>,
    corrects: Option<(i64, String)>,
    corrected_by: Option<(i64, String)>,
}

fn entry_view(e: Entry) -> EntryView {
    EntryView {
        id: e.id,
        category: e.category.label_zh(),
        period: period(&e),
        published_on: e
            .published_at
            .map(|t| format_date(linli_core::kernel::clock::date_of(t)))
            .unwrap_or_default(),
        paragraphs: paragraphs(&e.body),
        files: file_rows(&e),
        corrects: e.corrects_id.zip(e.corrects_title.clone()),
        corrected_by: e.corrected_by_id.zip(e.corrected_by_title.clone()),
        title: e.title,
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "participation/public.html")]
struct PublicPage {
    code: String,
    name: String,
    notices: Vec<NoticeView>,
    entries: Vec<EntryView>,
    categories: Vec<Choice>,
    /// One entry asked for (a correction's link): the page shows only it.
    single: bool,
    total: i64,
    pager: Pager,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct PublicQuery {
    category: String,
    entry: Option<i64>,
    page: Option<i64>,
}

const PER_PAGE: i64 = 10;

async fn public_page(
    State(state): State<AppState>,
    Extension(limits): Extension<Arc<Limits>>,
    ClientIp(ip): ClientIp,
    Path(code): Path<String>,
    Query(q): Query<PublicQuery>,
) -> Response {
    if let Err(retry) = limits.view_per_address.hit(&ip) {
        return too_many(retry);
    }
    let community = match affairs::community_for_code(&state.db, &code).await {
        Ok(c) => c,
        Err(StoreError::NotFound) => return gone(),
        Err(e) => return ui::store_error_page(e),
    };
    let page_no = Pager::asked(q.page);
    let category = Category::from_code(q.category.trim());
    let result = async {
        let notices = notices::public_current(&state.db, &community.path).await?;
        let (entries, total) = match q.entry {
            Some(id) => (
                vec![affairs::public_entry(&state.db, &community, id).await?],
                1,
            ),
            None => {
                let l = affairs::public_list(
                    &state.db,
                    &community,
                    category,
                    (PER_PAGE, Pager::offset(page_no, PER_PAGE)),
                )
                .await?;
                (l.items, l.total)
            }
        };
        Ok::<_, StoreError>((notices, entries, total))
    }
    .await;
    let (notices, entries, total) = match result {
        Ok(r) => r,
        Err(StoreError::NotFound) => {
            return message(
                StatusCode::NOT_FOUND,
                "未找到",
                "没有这条公开内容。".to_owned(),
            )
        }
        Err(e) => return ui::store_error_page(e),
    };
    let code = code.trim().to_owned();
    let link_code = code.clone();
    PublicPage {
        name: community.name,
        notices: notices
            .into_iter()
            .map(|n| NoticeView {
                days: match &n.valid_until {
                    Some(u) => format!("{} 至 {u}", n.valid_from),
                    None => format!("{} 起", n.valid_from),
                },
                paragraphs: paragraphs(&n.body),
                title: n.title,
            })
            .collect(),
        entries: entries.into_iter().map(entry_view).collect(),
        categories: Choice::filter_of::<Category>(&q.category),
        single: q.entry.is_some(),
        total,
        pager: Pager::new(page_no, total, PER_PAGE, |n| {
            let c = ui::query_string(&[("category", &q.category)]);
            format!("/c/{}?{c}&page={n}", ui::url_encode(&link_code))
        }),
        code,
    }
    .into_response()
}

async fn public_file(
    State(state): State<AppState>,
    Extension(limits): Extension<Arc<Limits>>,
    ClientIp(ip): ClientIp,
    Path((code, entry, file)): Path<(String, i64, i64)>,
) -> Response {
    if let Err(retry) = limits.view_per_address.hit(&ip) {
        return too_many(retry);
    }
    let result = async {
        let community = affairs::community_for_code(&state.db, &code).await?;
        affairs::public_attachment(&state.db, &community, entry, file).await
    }
    .await;
    match result {
        Ok(a) => file_response(a, "public, max-age=300"),
        Err(StoreError::NotFound) => gone(),
        Err(e) => ui::store_error_page(e),
    }
}
