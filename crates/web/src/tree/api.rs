//! The jurisdiction tree through the API.

use crate::auth::ApiUser;
use crate::error::{ApiResult, ErrorBody};
use crate::ui::{list_of, List, NodeOut, PageQuery};
use crate::AppState;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use linli_core::kernel::clock::now_ms;
use linli_core::kernel::clock::parse_date;
use linli_core::{NewNode, NodeInput};
use linli_store::tree::{self, NodePatch};
use linli_store::StoreError;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_roots, create_node))
        .routes(routes!(get_node, update_node))
        .routes(routes!(node_children))
        .routes(routes!(move_node))
        .routes(routes!(close_node))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NodeBody {
    /// The parent; omit for a root (admins only).
    pub parent_id: Option<i64>,
    /// province, city, district, street, community, compound, grid, building or unit
    pub kind: String,
    pub name: String,
    /// 6 digits for a district, 9 for a street, 12 for a community; free below.
    pub code: Option<String>,
    pub household_estimate: Option<i64>,
    /// `YYYY-MM-DD`, today when omitted.
    pub opened_on: Option<String>,
}

/// The top of the caller's jurisdiction, with counts.
#[utoipa::path(get, path = "/api/v1/nodes", tag = "nodes",
    responses((status = 200, body = Vec<NodeOut>), (status = 401, body = ErrorBody)))]
async fn list_roots(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
) -> ApiResult<Json<Vec<NodeOut>>> {
    let roots = tree::visible_roots(&state.db, &user.scope).await?;
    Ok(Json(roots.into_iter().map(NodeOut::from_summary).collect()))
}

/// Create a node.
#[utoipa::path(post, path = "/api/v1/nodes", tag = "nodes", request_body = NodeBody,
    responses((status = 201, body = NodeOut), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_node(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Json(body): Json<NodeBody>,
) -> ApiResult<(StatusCode, Json<NodeOut>)> {
    let new = NewNode::parse(NodeInput {
        parent_id: body.parent_id,
        kind: &body.kind,
        name: &body.name,
        code: body.code.as_deref(),
        household_estimate: body.household_estimate,
        opened_on: body.opened_on.as_deref(),
    })
    .map_err(StoreError::Invalid)?;
    let node = tree::create(&state.db, &user.scope, new, now_ms()).await?;
    Ok((StatusCode::CREATED, Json(NodeOut::from_node(node))))
}

/// One node, with counts.
#[utoipa::path(get, path = "/api/v1/nodes/{id}", tag = "nodes", params(("id" = i64, Path, description = "node id")),
    responses((status = 200, body = NodeOut), (status = 404, body = ErrorBody)))]
async fn get_node(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(id): Path<i64>,
) -> ApiResult<Json<NodeOut>> {
    let s = tree::summary(&state.db, &user.scope, id).await?;
    Ok(Json(NodeOut::from_summary(s)))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NodePatchBody {
    pub name: Option<String>,
    /// An empty string clears a local code.
    pub code: Option<String>,
    /// Households of a grid; `null` leaves it, a negative number is refused.
    pub household_estimate: Option<i64>,
    /// Set to true to clear the household estimate.
    #[serde(default)]
    pub clear_household_estimate: bool,
}

/// Rename a node, change its code or household estimate.
#[utoipa::path(patch, path = "/api/v1/nodes/{id}", tag = "nodes", request_body = NodePatchBody, params(("id" = i64, Path, description = "node id")),
    responses((status = 200, body = NodeOut), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update_node(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(id): Path<i64>,
    Json(body): Json<NodePatchBody>,
) -> ApiResult<Json<NodeOut>> {
    let household_estimate = if body.clear_household_estimate {
        Some(None)
    } else {
        body.household_estimate.map(Some)
    };
    let patch = NodePatch {
        name: body.name.as_deref(),
        code: body.code.as_deref(),
        household_estimate,
    };
    let node = tree::update(&state.db, &user.scope, id, patch, now_ms()).await?;
    Ok(Json(NodeOut::from_node(node)))
}

/// The children of a node, with counts, in id order.
#[utoipa::path(get, path = "/api/v1/nodes/{id}/children", tag = "nodes", params(("id" = i64, Path, description = "node id"), PageQuery),
    responses((status = 200, body = List<NodeOut>), (status = 404, body = ErrorBody)))]
async fn node_children(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(id): Path<i64>,
    Query(q): Query<PageQuery>,
) -> ApiResult<Json<List<NodeOut>>> {
    let page = q.page();
    let kids = tree::children(
        &state.db,
        &user.scope,
        id,
        q.include_closed.unwrap_or(false),
        page,
    )
    .await?;
    let items: Vec<NodeOut> = kids.into_iter().map(NodeOut::from_summary).collect();
    Ok(Json(list_of(items, page, |n| n.id)))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct MoveBody {
    pub new_parent_id: i64,
}

/// Move a node and its subtree under another parent.
#[utoipa::path(post, path = "/api/v1/nodes/{id}/move", tag = "nodes", request_body = MoveBody, params(("id" = i64, Path, description = "node id")),
    responses((status = 200, body = NodeOut), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn move_node(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(id): Path<i64>,
    Json(body): Json<MoveBody>,
) -> ApiResult<Json<NodeOut>> {
    let node = tree::move_subtree(&state.db, &user.scope, id, body.new_parent_id, now_ms()).await?;
    Ok(Json(NodeOut::from_node(node)))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NodeCloseBody {
    /// `YYYY-MM-DD`, today when omitted.
    pub closed_on: Option<String>,
}

/// Close a node and its subtree (they stay in history).
#[utoipa::path(post, path = "/api/v1/nodes/{id}/close", tag = "nodes", request_body = NodeCloseBody, params(("id" = i64, Path, description = "node id")),
    responses((status = 200, body = NodeOut), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn close_node(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(id): Path<i64>,
    Json(body): Json<NodeCloseBody>,
) -> ApiResult<Json<NodeOut>> {
    let on = body
        .closed_on
        .as_deref()
        .map(|d| parse_date("closed_on", d))
        .transpose()
        .map_err(StoreError::from)?;
    let node = tree::close(&state.db, &user.scope, id, on, now_ms()).await?;
    Ok(Json(NodeOut::from_node(node)))
}
