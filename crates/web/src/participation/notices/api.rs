//! The notices' JSON API.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::Json;
use linli_core::kernel::clock::{now_ms, rfc3339};
use linli_core::participation::notices::NoticeInput;
use linli_store::participation::notices::{self, NewNotice, Notice, NoticeFilter, NoticeState};
use linli_store::Page;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::ApiUser;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_notices, create_notice))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NoticeBody {
    /// Where the notice is written: a node the caller may write records in.
    pub node_id: i64,
    pub title: String,
    /// Plain text; blank lines separate paragraphs.
    pub body: String,
    /// First day shown, `YYYY-MM-DD`.
    pub valid_from: String,
    /// Last day shown, `YYYY-MM-DD`; absent: until withdrawn.
    pub valid_until: Option<String>,
    /// Also on the community's public page (`/c/{code}`); default false (staff only).
    #[serde(default)]
    pub public: bool,
    /// Narrows the audience to a building below `node_id`.
    pub building_id: Option<i64>,
    /// Narrows the audience to a key group (a tag's name, e.g. 独居老人).
    pub tag: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NoticeOut {
    pub id: i64,
    pub node_id: i64,
    pub node_name: String,
    pub audience_node_id: i64,
    pub audience_name: String,
    pub tag: Option<String>,
    pub title: String,
    pub body: String,
    pub valid_from: String,
    pub valid_until: Option<String>,
    pub public: bool,
    /// current, upcoming, expired or withdrawn
    pub state: String,
    pub created_at: String,
    /// The author's name.
    pub author: String,
    pub withdrawn_at: Option<String>,
    /// Staff in the audience who have opened it (lists only).
    pub read: Option<i64>,
}

impl NoticeOut {
    fn of(n: Notice, read: Option<i64>) -> NoticeOut {
        NoticeOut {
            state: NoticeState::of(&n).as_str().to_owned(),
            id: n.id,
            node_id: n.node_id,
            node_name: n.node_name,
            audience_node_id: n.audience_node_id,
            audience_name: n.audience_name,
            tag: n.tag,
            title: n.title,
            body: n.body,
            valid_from: n.valid_from,
            valid_until: n.valid_until,
            public: n.public,
            created_at: rfc3339(n.created_at),
            author: n.author,
            withdrawn_at: n.withdrawn_at.map(rfc3339),
            read,
        }
    }
}

/// Publish a notice to a node's subtree (or a building below it, or a key group). A broken
/// field is a 422 naming it; a node outside the caller's jurisdiction is a 404. Audited.
#[utoipa::path(post, path = "/api/v1/notices", tag = "participation", request_body = NoticeBody,
    responses((status = 201, body = NoticeOut), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_notice(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Json(b): Json<NoticeBody>,
) -> ApiResult<(StatusCode, Json<NoticeOut>)> {
    let n = notices::create(
        &state.db,
        &user.scope,
        NewNotice {
            node_id: b.node_id,
            building_id: b.building_id,
            tag: b.tag.as_deref(),
            input: NoticeInput {
                title: &b.title,
                body: &b.body,
                valid_from: &b.valid_from,
                valid_until: b.valid_until.as_deref().unwrap_or(""),
                public: b.public,
            },
        },
        now_ms(),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(NoticeOut::of(n, None))))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct NoticeListQuery {
    /// Notices written at this node or below.
    pub node_id: Option<i64>,
    /// Words in the title or body.
    pub q: Option<String>,
    /// current, upcoming, expired or withdrawn
    pub state: Option<String>,
    /// At most this many (1–500, default 100).
    pub limit: Option<i64>,
    /// Skip this many (newest first).
    pub offset: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NoticesOut {
    pub total: i64,
    pub notices: Vec<NoticeOut>,
}

/// The notices the caller sees: written in their jurisdiction, or addressed to staff there.
/// Newest first.
#[utoipa::path(get, path = "/api/v1/notices", tag = "participation", params(NoticeListQuery),
    responses((status = 200, body = NoticesOut), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
async fn list_notices(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Query(q): Query<NoticeListQuery>,
) -> ApiResult<Json<NoticesOut>> {
    let state_filter = match q.state.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => Some(NoticeState::parse(s).ok_or_else(|| {
            ApiError::invalid("state", "应为 current、upcoming、expired 或 withdrawn")
        })?),
    };
    let page = Page::new(q.limit, None);
    let list = notices::list(
        &state.db,
        &user.scope,
        &NoticeFilter {
            q: q.q,
            node_id: q.node_id,
            state: state_filter,
            public: None,
        },
        (page.limit, q.offset.unwrap_or(0).max(0)),
    )
    .await?;
    Ok(Json(NoticesOut {
        total: list.total,
        notices: list
            .items
            .into_iter()
            .map(|r| NoticeOut::of(r.notice, Some(r.read)))
            .collect(),
    }))
}
