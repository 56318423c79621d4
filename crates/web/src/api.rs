//! The JSON API under `/api/v1`. Handlers are thin: parse, call the store with the caller's
//! scope, shape the answer. Every route is declared with `#[utoipa::path]`, so the OpenAPI
//! document is generated from this code (and the scope test walks it).

use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use linli_core::kernel::clock::{parse_date, rfc3339};
use linli_core::{NewNode, NodeInput};
use linli_store::accounts::{self, NewUser, User};
use linli_store::infra::audit::{self, AuditFilter, AuditRecord};
use linli_store::tree::{self, Node, NodePatch, NodeSummary};
use linli_store::{Page, StoreError};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::{self, ApiUser, ClientIp};
use crate::error::{ApiResult, ErrorBody};
use crate::AppState;

#[derive(OpenApi)]
#[openapi(
    info(title = "Linli API", description = "邻里 — community governance and epidemic response. \
        Authenticate with `POST /api/v1/session` (cookie) or `Authorization: Bearer TOKEN` \
        (`linli user token NAME`). Errors are `{\"error\":{\"code\",\"message\",\"fields\"}}`."),
    tags(
        (name = "session", description = "Sign in and out"),
        (name = "nodes", description = "The jurisdiction tree"),
        (name = "users", description = "Accounts (admins)"),
        (name = "audit", description = "The audit log"),
        (name = "registry", description = "Persons, households and key-group tags"),
        (name = "epidemic", description = "Risk areas, policies (editor and what-if), arrival \
            screening, check-ins, alerts, releases, cases and close contacts, the dashboard"),
        (name = "checkpoints", description = "Gates, passes, scans and outgoing trips"),
        (name = "reports", description = "Daily reports computed from the records, approval, \
            completeness, other offices' layouts"),
        (name = "requests", description = "Residents' requests (接诉即办), whistles, the three \
            rates; Open311 GeoReport v2 is served under /open311/v2"),
        (name = "supplies", description = "Emergency supplies: items, sites, ledger, transfers, \
            requests, allocation"),
        (name = "enterprises", description = "Enterprises and their reopening"),
    )
)]
struct ApiDoc;

/// The API routes and their OpenAPI document.
pub fn router() -> (axum::Router<AppState>, utoipa::openapi::OpenApi) {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(login, logout))
        .routes(routes!(me))
        .routes(routes!(list_roots, create_node))
        .routes(routes!(get_node, update_node))
        .routes(routes!(node_children))
        .routes(routes!(move_node))
        .routes(routes!(close_node))
        .routes(routes!(list_users, create_user))
        .routes(routes!(get_user, update_user))
        .routes(routes!(set_user_password))
        .routes(routes!(list_audit))
        .merge(crate::api_registry::routes())
        .merge(crate::api_epidemic::routes())
        .merge(crate::api_checkpoints::routes())
        .merge(crate::api_contacts::routes())
        .merge(crate::api_enterprises::routes())
        .merge(crate::api_supplies::routes())
        .merge(crate::api_reports::routes())
        .merge(crate::api_requests::routes())
        .split_for_parts()
}

// ---------------------------------------------------------------------------------------------
// Shapes

#[derive(Debug, Serialize, ToSchema)]
pub struct NodeOut {
    pub id: i64,
    pub parent_id: Option<i64>,
    /// district, street, community, compound, grid or building
    pub kind: String,
    /// The kind in Chinese, as shown in the UI.
    pub kind_label: String,
    pub name: String,
    pub code: Option<String>,
    /// Materialised path of ids, `/1/7/42/`.
    pub path: String,
    pub depth: i64,
    /// Households of a grid (the grid worker's workload).
    pub household_estimate: Option<i64>,
    pub opened_on: String,
    pub closed_on: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    /// What lies below (open nodes), when listed with counts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub counts: Option<CountsOut>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CountsOut {
    /// Open descendants by kind.
    pub by_kind: BTreeMap<String, i64>,
    /// Households of the grids below.
    pub households: Option<i64>,
}

impl NodeOut {
    fn from_node(n: Node) -> NodeOut {
        NodeOut {
            id: n.id,
            parent_id: n.parent_id,
            kind: n.kind.as_str().to_owned(),
            kind_label: n.kind.label_zh().to_owned(),
            name: n.name,
            code: n.code,
            path: n.path.as_str().to_owned(),
            depth: n.depth,
            household_estimate: n.household_estimate,
            opened_on: n.opened_on,
            closed_on: n.closed_on,
            created_at: rfc3339(n.created_at),
            updated_at: rfc3339(n.updated_at),
            counts: None,
        }
    }

    fn from_summary(s: NodeSummary) -> NodeOut {
        let counts = CountsOut {
            by_kind: s
                .counts
                .by_kind
                .iter()
                .map(|(k, v)| (k.as_str().to_owned(), *v))
                .collect(),
            households: s.counts.households,
        };
        NodeOut {
            counts: Some(counts),
            ..NodeOut::from_node(s.node)
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BoundNodeOut {
    pub id: i64,
    pub name: String,
    pub kind: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserOut {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    /// admin, official, staff or grid_worker
    pub role: String,
    pub role_label: String,
    pub disabled: bool,
    pub nodes: Vec<BoundNodeOut>,
    pub created_at: String,
}

impl From<User> for UserOut {
    fn from(u: User) -> UserOut {
        UserOut {
            id: u.id,
            username: u.username,
            display_name: u.display_name,
            role: u.role.as_str().to_owned(),
            role_label: u.role.label_zh().to_owned(),
            disabled: u.disabled,
            nodes: u
                .nodes
                .into_iter()
                .map(|n| BoundNodeOut {
                    id: n.id,
                    name: n.name,
                    kind: n.kind.as_str().to_owned(),
                })
                .collect(),
            created_at: rfc3339(u.created_at),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditOut {
    pub id: i64,
    pub at: String,
    pub actor_id: Option<i64>,
    pub actor: String,
    pub action: String,
    pub entity: String,
    pub entity_id: Option<i64>,
    pub node_path: Option<String>,
    pub ip: Option<String>,
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
}

impl From<AuditRecord> for AuditOut {
    fn from(a: AuditRecord) -> AuditOut {
        AuditOut {
            id: a.id,
            at: rfc3339(a.at),
            actor_id: a.actor_id,
            actor: a.actor,
            action: a.action,
            entity: a.entity,
            entity_id: a.entity_id,
            node_path: a.node_path,
            ip: a.ip,
            detail: a.detail,
        }
    }
}

/// A page of results; `next_after` is the cursor for the next page, absent on the last.
#[derive(Debug, Serialize, ToSchema)]
pub struct List<T> {
    pub items: Vec<T>,
    pub next_after: Option<i64>,
}

fn list_of<T>(items: Vec<T>, page: Page, id: impl Fn(&T) -> i64) -> List<T> {
    let next_after = if items.len() as i64 == page.limit {
        items.last().map(&id)
    } else {
        None
    };
    List { items, next_after }
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct PageQuery {
    /// At most this many (1–500, default 100).
    pub limit: Option<i64>,
    /// The cursor: the last id of the previous page.
    pub after: Option<i64>,
    /// Include closed nodes (children listings).
    pub include_closed: Option<bool>,
}

impl PageQuery {
    fn page(&self) -> Page {
        Page::new(self.limit, self.after)
    }
}

// ---------------------------------------------------------------------------------------------
// Session

#[derive(Debug, Deserialize, ToSchema)]
pub struct LoginBody {
    pub username: String,
    pub password: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MeOut {
    pub user: UserOut,
    /// Where the caller works: their nodes (all roots for an admin), with counts.
    pub nodes: Vec<NodeOut>,
}

/// Sign in; sets the session cookie.
#[utoipa::path(post, path = "/api/v1/session", tag = "session", request_body = LoginBody,
    responses((status = 200, body = UserOut), (status = 401, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Json(body): Json<LoginBody>,
) -> ApiResult<Response> {
    let ua = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok());
    let session = accounts::login(&state.db, &body.username, &body.password, &ip, ua).await?;
    let cookie = auth::set_cookie(
        auth::SESSION_COOKIE,
        &session.token,
        Some(accounts::SESSION_MAX_MS / 1000),
        "Lax",
        state.config.secure_cookies,
    );
    Ok((
        [(header::SET_COOKIE, cookie)],
        Json(UserOut::from(session.user)),
    )
        .into_response())
}

/// Sign out; ends the session of the cookie sent.
#[utoipa::path(delete, path = "/api/v1/session", tag = "session",
    responses((status = 204), (status = 401, body = ErrorBody)))]
async fn logout(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiUser(_user): ApiUser,
    headers: HeaderMap,
) -> ApiResult<Response> {
    if let Some(token) = auth::cookie(&headers, auth::SESSION_COOKIE) {
        accounts::logout(&state.db, token, &ip).await?;
    }
    let clear = auth::set_cookie(
        auth::SESSION_COOKIE,
        "",
        Some(0),
        "Lax",
        state.config.secure_cookies,
    );
    Ok((StatusCode::NO_CONTENT, [(header::SET_COOKIE, clear)]).into_response())
}

/// The caller's account and the top of their jurisdiction.
#[utoipa::path(get, path = "/api/v1/me", tag = "session",
    responses((status = 200, body = MeOut), (status = 401, body = ErrorBody)))]
async fn me(State(state): State<AppState>, ApiUser(user): ApiUser) -> ApiResult<Json<MeOut>> {
    let nodes = tree::visible_roots(&state.db, &user.scope).await?;
    Ok(Json(MeOut {
        user: UserOut::from(user.user.clone()),
        nodes: nodes.into_iter().map(NodeOut::from_summary).collect(),
    }))
}

// ---------------------------------------------------------------------------------------------
// Nodes

#[derive(Debug, Deserialize, ToSchema)]
pub struct NodeBody {
    /// The parent; omit for a root (admins only).
    pub parent_id: Option<i64>,
    /// district, street, community, compound, grid or building
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
    let node = tree::create(&state.db, &user.scope, new).await?;
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
    let node = tree::update(&state.db, &user.scope, id, patch).await?;
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
    let node = tree::move_subtree(&state.db, &user.scope, id, body.new_parent_id).await?;
    Ok(Json(NodeOut::from_node(node)))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct CloseBody {
    /// `YYYY-MM-DD`, today when omitted.
    pub closed_on: Option<String>,
}

/// Close a node and its subtree (they stay in history).
#[utoipa::path(post, path = "/api/v1/nodes/{id}/close", tag = "nodes", request_body = CloseBody, params(("id" = i64, Path, description = "node id")),
    responses((status = 200, body = NodeOut), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn close_node(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(id): Path<i64>,
    Json(body): Json<CloseBody>,
) -> ApiResult<Json<NodeOut>> {
    let on = body
        .closed_on
        .as_deref()
        .map(|d| parse_date("closed_on", d))
        .transpose()
        .map_err(StoreError::from)?;
    let node = tree::close(&state.db, &user.scope, id, on).await?;
    Ok(Json(NodeOut::from_node(node)))
}

// ---------------------------------------------------------------------------------------------
// Users

#[derive(Debug, Deserialize, ToSchema)]
pub struct UserBody {
    pub username: String,
    pub password: String,
    /// admin, official, staff or grid_worker
    pub role: String,
    #[serde(default)]
    pub node_ids: Vec<i64>,
    pub display_name: Option<String>,
}

/// All accounts (admins only).
#[utoipa::path(get, path = "/api/v1/users", tag = "users", params(PageQuery),
    responses((status = 200, body = List<UserOut>), (status = 403, body = ErrorBody)))]
async fn list_users(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Query(q): Query<PageQuery>,
) -> ApiResult<Json<List<UserOut>>> {
    let page = q.page();
    let list = accounts::list(&state.db, &user.scope, page).await?;
    Ok(Json(list_of(
        list.into_iter().map(UserOut::from).collect(),
        page,
        |u| u.id,
    )))
}

/// Create an account (admins only).
#[utoipa::path(post, path = "/api/v1/users", tag = "users", request_body = UserBody,
    responses((status = 201, body = UserOut), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_user(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Json(body): Json<UserBody>,
) -> ApiResult<(StatusCode, Json<UserOut>)> {
    let created = accounts::create(
        &state.db,
        &user.scope,
        NewUser {
            username: &body.username,
            display_name: body.display_name.as_deref(),
            password: &body.password,
            role: &body.role,
            node_ids: &body.node_ids,
        },
    )
    .await?;
    Ok((StatusCode::CREATED, Json(UserOut::from(created))))
}

/// One account (admins only).
#[utoipa::path(get, path = "/api/v1/users/{id}", tag = "users", params(("id" = i64, Path, description = "user id")),
    responses((status = 200, body = UserOut), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn get_user(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(id): Path<i64>,
) -> ApiResult<Json<UserOut>> {
    Ok(Json(
        accounts::get(&state.db, &user.scope, id).await?.into(),
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct UserPatchBody {
    pub role: Option<String>,
    pub node_ids: Option<Vec<i64>>,
    pub disabled: Option<bool>,
}

/// Change an account's role, nodes or disabled flag (admins only).
#[utoipa::path(patch, path = "/api/v1/users/{id}", tag = "users", request_body = UserPatchBody, params(("id" = i64, Path, description = "user id")),
    responses((status = 200, body = UserOut), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update_user(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(id): Path<i64>,
    Json(body): Json<UserPatchBody>,
) -> ApiResult<Json<UserOut>> {
    let updated = accounts::update(
        &state.db,
        &user.scope,
        id,
        body.role.as_deref(),
        body.node_ids.as_deref(),
        body.disabled,
    )
    .await?;
    Ok(Json(updated.into()))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct PasswordBody {
    pub password: String,
}

/// Set a password: admins for anyone, everyone for themselves. Ends the account's sessions.
#[utoipa::path(put, path = "/api/v1/users/{id}/password", tag = "users", request_body = PasswordBody, params(("id" = i64, Path, description = "user id")),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn set_user_password(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(id): Path<i64>,
    Json(body): Json<PasswordBody>,
) -> ApiResult<StatusCode> {
    accounts::set_password(&state.db, &user.scope, id, &body.password).await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---------------------------------------------------------------------------------------------
// Audit

#[derive(Debug, Deserialize, IntoParams)]
pub struct AuditQuery {
    pub limit: Option<i64>,
    /// The cursor: the last (smallest) id of the previous page.
    pub after: Option<i64>,
    /// Actions starting with this, e.g. `login` or `node.`.
    pub action: Option<String>,
    pub actor: Option<String>,
    /// Entries about one kind of record: `node`, `user`, `session`, `api_token`.
    pub entity: Option<String>,
    /// With `entity`: entries about one record.
    pub entity_id: Option<i64>,
}

/// The audit log, newest first (admins; officials for their jurisdiction).
#[utoipa::path(get, path = "/api/v1/audit", tag = "audit", params(AuditQuery),
    responses((status = 200, body = List<AuditOut>), (status = 403, body = ErrorBody)))]
async fn list_audit(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Query(q): Query<AuditQuery>,
) -> ApiResult<Json<List<AuditOut>>> {
    let page = Page::new(q.limit, q.after);
    let filter = AuditFilter {
        action_prefix: q.action.clone(),
        actor: q.actor.clone(),
        entity: q.entity.clone(),
        entity_id: q.entity_id,
    };
    let rows = audit::list(&state.db, &user.scope, &filter, page).await?;
    Ok(Json(list_of(
        rows.into_iter().map(AuditOut::from).collect(),
        page,
        |a| a.id,
    )))
}
