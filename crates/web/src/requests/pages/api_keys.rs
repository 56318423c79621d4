//! Open311 API keys (接口密钥), for admins: who may file and read requests through the API,
//! into which node. A key is shown once, when made; the list shows its node, creator and use,
//! and a revoked key is refused from the next call on.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use linli_core::kernel::clock::{display, now_ms};
use linli_store::accounts::Principal;
use linli_store::{requests, tree, StoreError};
use serde::Deserialize;

use crate::auth::{CsrfForm, PageUser};
use crate::ui::{
    error_page, node_options, store_error_page, Empty, NoticeQuery, ParentOption, Shell,
};
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/requests/api-keys", get(list_page).post(create))
        .route("/requests/api-keys/{id}/revoke", post(revoke))
}

const NOT_ADMIN: &str = "只有系统管理员可以管理接口密钥";

struct KeyRow {
    id: i64,
    name: String,
    node: String,
    created: String,
    created_by: String,
    requests: i64,
    last_request: String,
    revoked: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "requests/api_keys.html")]
struct KeysPage {
    shell: Shell,
    rows: Vec<KeyRow>,
    nodes: Vec<ParentOption>,
    /// The key just made, shown this once.
    new_key: Option<(String, String)>,
    errors: Vec<String>,
    name: String,
    notice: &'static str,
}

async fn render(
    state: &AppState,
    user: &Principal,
    status: StatusCode,
    new_key: Option<(String, String)>,
    errors: Vec<String>,
    name: String,
    notice: &'static str,
) -> Response {
    let result = async {
        let mut keys = requests::list_api_keys(&state.db, &user.scope).await?;
        let actors = keys.iter_mut().map(|k| &mut k.created_by).collect();
        crate::auth::names::name_actors(&state.db, actors).await?;
        let nodes = tree::subtree(&state.db, &user.scope, None).await?;
        Ok::<_, StoreError>((keys, nodes))
    }
    .await;
    let (keys, nodes) = match result {
        Ok(r) => r,
        Err(e) => return store_error_page(e),
    };
    let page = KeysPage {
        shell: Shell::of(user, "requests"),
        rows: keys
            .into_iter()
            .map(|k| KeyRow {
                id: k.id,
                name: k.name,
                node: k.node_name,
                created: display(k.created_at),
                created_by: k.created_by,
                requests: k.requests,
                last_request: k.last_request_at.map(display).unwrap_or_default(),
                revoked: k.revoked_at.map(display).unwrap_or_default(),
            })
            .collect(),
        nodes: node_options(nodes),
        new_key,
        errors,
        name,
        notice,
    };
    (status, page).into_response()
}

async fn list_page(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Query(q): Query<NoticeQuery>,
) -> Response {
    if !user.scope.is_admin() {
        return error_page(StatusCode::FORBIDDEN, NOT_ADMIN);
    }
    let notice = match q.notice.as_deref() {
        Some("revoked") => "已吊销该密钥：使用它的下一次调用即被拒绝。",
        _ => "",
    };
    render(
        &state,
        &user,
        StatusCode::OK,
        None,
        Vec::new(),
        String::new(),
        notice,
    )
    .await
}

#[derive(Deserialize)]
struct KeyForm {
    name: String,
    node_id: String,
}

async fn create(State(state): State<AppState>, f: CsrfForm<KeyForm>) -> Response {
    let Ok(node_id) = f.form.node_id.trim().parse::<i64>() else {
        let errors = vec!["所属节点：请选择节点".to_owned()];
        let status = StatusCode::UNPROCESSABLE_ENTITY;
        return render(&state, &f.user, status, None, errors, f.form.name, "").await;
    };
    match requests::create_api_key(&state.db, &f.user.scope, &f.form.name, node_id, now_ms()).await
    {
        Ok((k, key)) => {
            let shown = Some((k.name, key));
            render(
                &state,
                &f.user,
                StatusCode::OK,
                shown,
                Vec::new(),
                String::new(),
                "",
            )
            .await
        }
        Err(StoreError::Invalid(errs)) => {
            let errors = errs
                .iter()
                .map(|e| match e.field.as_str() {
                    "name" => format!("密钥名称：{}", e.message),
                    _ => format!("所属节点：{}", e.message),
                })
                .collect();
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            render(&state, &f.user, status, None, errors, f.form.name, "").await
        }
        Err(e) => store_error_page(e),
    }
}

async fn revoke(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    f: CsrfForm<Empty>,
) -> Response {
    let _ = &f.form;
    match requests::revoke_api_key(&state.db, &f.user.scope, id, now_ms()).await {
        Ok(()) => Redirect::to("/requests/api-keys?notice=revoked").into_response(),
        Err(e) => store_error_page(e),
    }
}
