//! Accounts (admins) and the audit log through the API.

use crate::auth::{self, ApiUser, ClientIp};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::ui::NodeOut;
use crate::ui::{list_of, List, PageQuery};
use crate::AppState;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use linli_core::kernel::clock::now_ms;
use linli_core::kernel::clock::rfc3339;
use linli_core::kernel::labels::Labelled;
use linli_store::accounts::{self, LoginError, NewUser, User};
use linli_store::infra::audit::{self, AuditFilter, AuditRecord};
use linli_store::tree::{self};
use linli_store::Page;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(login, logout))
        .routes(routes!(me))
        .routes(routes!(list_users, create_user))
        .routes(routes!(get_user, update_user))
        .routes(routes!(set_user_password))
        .routes(routes!(list_audit))
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
        now_ms(),
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
        now_ms(),
    )
    .await?;
    Ok(Json(updated.into()))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct PasswordBody {
    pub password: String,
    /// The caller's current password: required to change one's own, ignored when an admin
    /// resets another account's.
    pub current_password: Option<String>,
}

/// Set a password: admins reset anyone else's; everyone changes their own with the current
/// one (a wrong one counts as a failed login). Ends the account's sessions.
#[utoipa::path(put, path = "/api/v1/users/{id}/password", tag = "users", request_body = PasswordBody, params(("id" = i64, Path, description = "user id")),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn set_user_password(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    ClientIp(ip): ClientIp,
    Path(id): Path<i64>,
    Json(body): Json<PasswordBody>,
) -> ApiResult<StatusCode> {
    if user.scope.user_id() != Some(id) {
        accounts::set_password(&state.db, &user.scope, id, &body.password, now_ms()).await?;
        return Ok(StatusCode::NO_CONTENT);
    }
    let Some(current) = body.current_password.as_deref() else {
        return Err(ApiError::invalid(
            "current_password",
            "修改自己的密码需要输入当前密码",
        ));
    };
    match accounts::change_own_password(
        &state.db,
        &user.scope,
        current,
        &body.password,
        &ip,
        now_ms(),
    )
    .await
    {
        Ok(()) => Ok(StatusCode::NO_CONTENT),
        Err(LoginError::BadCredentials) => {
            Err(ApiError::invalid("current_password", "当前密码不正确"))
        }
        Err(e) => Err(e.into()),
    }
}

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
        ..AuditFilter::default()
    };
    let rows = audit::list(&state.db, &user.scope, &filter, page).await?;
    Ok(Json(list_of(
        rows.into_iter().map(AuditOut::from).collect(),
        page,
        |a| a.id,
    )))
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
    let (session, cookie) =
        auth::sign_in(&state, &ip, &headers, &body.username, &body.password).await?;
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
    let clear = auth::sign_out(&state, &ip, &headers).await?;
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
