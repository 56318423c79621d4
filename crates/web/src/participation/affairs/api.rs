//! The 居务公开 JSON API. Entries are JSON; attachments are added through the web form only
//! (`POST /affairs/{id}/attachments`, multipart), as the API has no file upload yet.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use linli_core::kernel::clock::{now_ms, rfc3339};
use linli_core::kernel::labels::Labelled;
use linli_core::participation::affairs::{Category, EntryInput, EntryStatus};
use linli_store::participation::affairs::{self, Entry, EntryFilter};
use linli_store::Page;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::ApiUser;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_affairs, create_affair))
        .routes(routes!(publish_affair))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct AffairBody {
    /// The community (a 社区/村 node) the entry belongs to.
    pub node_id: i64,
    /// finance (财务收支), decision (重大事项决定), policy (惠民政策落实) or service (服务事项);
    /// the Chinese name is accepted too.
    pub category: String,
    pub title: String,
    /// Plain text; blank lines separate paragraphs.
    pub body: String,
    /// First day of the period covered, `YYYY-MM-DD`.
    pub period_from: String,
    /// Last day of the period; absent: the one day `period_from`.
    pub period_until: Option<String>,
    /// The published entry of the same community this one corrects.
    pub corrects_id: Option<i64>,
    /// Publish at once (default: keep as a draft, to add attachments through the web form).
    #[serde(default)]
    pub publish: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AttachmentOut {
    pub id: i64,
    pub name: String,
    /// application/pdf, image/png or image/jpeg (from the file's bytes)
    pub content_type: String,
    pub size: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AffairOut {
    pub id: i64,
    pub node_id: i64,
    pub node_name: String,
    /// finance, decision, policy or service
    pub category: String,
    pub category_label: String,
    pub title: String,
    pub body: String,
    pub period_from: String,
    pub period_until: String,
    /// draft or published
    pub status: String,
    pub corrects_id: Option<i64>,
    /// The latest published entry that corrects this one.
    pub corrected_by_id: Option<i64>,
    pub created_at: String,
    /// Names of people.
    pub created_by: String,
    pub published_at: Option<String>,
    pub published_by: Option<String>,
    pub attachments: Vec<AttachmentOut>,
}

impl From<Entry> for AffairOut {
    fn from(e: Entry) -> Self {
        AffairOut {
            id: e.id,
            node_id: e.node_id,
            node_name: e.node_name,
            category: e.category.as_str().to_owned(),
            category_label: e.category.label_zh().to_owned(),
            title: e.title,
            body: e.body,
            period_from: e.period_from,
            period_until: e.period_until,
            status: e.status.as_str().to_owned(),
            corrects_id: e.corrects_id,
            corrected_by_id: e.corrected_by_id,
            created_at: rfc3339(e.created_at),
            created_by: e.created_by,
            published_at: e.published_at.map(rfc3339),
            published_by: e.published_by,
            attachments: e
                .attachments
                .into_iter()
                .map(|a| AttachmentOut {
                    id: a.id,
                    name: a.name,
                    content_type: a.content_type,
                    size: a.size,
                })
                .collect(),
        }
    }
}

/// Write a 居务公开 entry of a community, as a draft or published at once (`publish`). A
/// published entry is never changed or deleted: correct it with a new entry whose
/// `corrects_id` names it. Attachments: web form only. A broken field is a 422 naming it.
/// Audited.
#[utoipa::path(post, path = "/api/v1/affairs", tag = "participation", request_body = AffairBody,
    responses((status = 201, body = AffairOut), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_affair(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Json(b): Json<AffairBody>,
) -> ApiResult<(StatusCode, Json<AffairOut>)> {
    let now = now_ms();
    let mut e = affairs::create(
        &state.db,
        &user.scope,
        b.node_id,
        EntryInput {
            category: &b.category,
            title: &b.title,
            body: &b.body,
            period_from: &b.period_from,
            period_until: b.period_until.as_deref().unwrap_or(""),
        },
        b.corrects_id,
        now,
    )
    .await?;
    if b.publish {
        e = affairs::publish(&state.db, &user.scope, e.id, now).await?;
    }
    Ok((StatusCode::CREATED, Json(e.into())))
}

/// Publish a draft entry, for good. A published entry is a 422 on `status`. Audited.
#[utoipa::path(post, path = "/api/v1/affairs/{id}/publish", tag = "participation",
    params(("id" = i64, Path, description = "The entry")),
    responses((status = 200, body = AffairOut), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn publish_affair(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(id): Path<i64>,
) -> ApiResult<Json<AffairOut>> {
    Ok(Json(
        affairs::publish(&state.db, &user.scope, id, now_ms())
            .await?
            .into(),
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct AffairQuery {
    /// Entries of this community (or of the communities under this node).
    pub node_id: Option<i64>,
    /// finance, decision, policy or service
    pub category: Option<String>,
    /// draft or published
    pub status: Option<String>,
    /// Words in the title or body.
    pub q: Option<String>,
    /// At most this many (1–500, default 100).
    pub limit: Option<i64>,
    /// Skip this many (newest first).
    pub offset: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AffairsOut {
    pub total: i64,
    pub affairs: Vec<AffairOut>,
}

fn code_of<T: Labelled>(field: &str, raw: Option<&str>) -> ApiResult<Option<T>> {
    match raw.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => T::from_code(s)
            .map(Some)
            .ok_or_else(|| ApiError::invalid(field, format!("应为以下之一：{}", T::choices()))),
    }
}

/// The 居务公开 entries the caller sees (drafts included), newest first.
#[utoipa::path(get, path = "/api/v1/affairs", tag = "participation", params(AffairQuery),
    responses((status = 200, body = AffairsOut), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
async fn list_affairs(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Query(q): Query<AffairQuery>,
) -> ApiResult<Json<AffairsOut>> {
    let filter = EntryFilter {
        q: q.q,
        node_id: q.node_id,
        category: code_of::<Category>("category", q.category.as_deref())?,
        status: code_of::<EntryStatus>("status", q.status.as_deref())?,
        from: None,
        until: None,
    };
    let page = Page::new(q.limit, None);
    let list = affairs::list(
        &state.db,
        &user.scope,
        &filter,
        (page.limit, q.offset.unwrap_or(0).max(0)),
    )
    .await?;
    Ok(Json(AffairsOut {
        total: list.total,
        affairs: list.items.into_iter().map(Into::into).collect(),
    }))
}
