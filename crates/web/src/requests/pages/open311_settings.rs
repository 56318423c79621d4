//! Open311 public reading (公开查询设置): whether standard Open311 clients read a node's
//! requests without a key (a redacted view: no name, phone or photo, the address at building
//! level) and whether that view carries the descriptions. Everyone signed in sees the settings
//! of their jurisdiction; admins and community staff change them, each change audited.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use linli_core::kernel::clock::{display, now_ms};
use linli_core::Role;
use linli_store::accounts::Principal;
use linli_store::{requests, tree, StoreError};
use serde::Deserialize;

use crate::auth::{CsrfForm, PageUser};
use crate::ui::{node_options, store_error_page, NoticeQuery, ParentOption, Shell};
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/requests/open311", get(page).post(save))
}

struct SettingRow {
    node: String,
    public_read: bool,
    publish_descriptions: bool,
    updated: String,
    updated_by: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "requests/open311_settings.html")]
struct SettingsPage {
    shell: Shell,
    rows: Vec<SettingRow>,
    nodes: Vec<ParentOption>,
    can_edit: bool,
    errors: Vec<String>,
    notice: &'static str,
}

fn can_edit(user: &Principal) -> bool {
    matches!(user.scope.role(), Role::Admin | Role::Staff)
}

async fn render(
    state: &AppState,
    user: &Principal,
    status: StatusCode,
    errors: Vec<String>,
    notice: &'static str,
) -> Response {
    let result = async {
        let settings = requests::open311_settings(&state.db, &user.scope).await?;
        let nodes = tree::subtree(&state.db, &user.scope, None).await?;
        Ok::<_, StoreError>((settings, nodes))
    }
    .await;
    let (settings, nodes) = match result {
        Ok(r) => r,
        Err(e) => return store_error_page(e),
    };
    let page = SettingsPage {
        shell: Shell::of(user, "requests"),
        rows: settings
            .into_iter()
            .map(|s| SettingRow {
                node: s.node_name,
                public_read: s.public_read,
                publish_descriptions: s.publish_descriptions,
                updated: display(s.updated_at),
                updated_by: s.updated_by,
            })
            .collect(),
        nodes: node_options(nodes),
        can_edit: can_edit(user),
        errors,
        notice,
    };
    (status, page).into_response()
}

async fn page(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Query(q): Query<NoticeQuery>,
) -> Response {
    let notice = match q.notice.as_deref() {
        Some("saved") => "已保存：外部系统下一次查询即按新设置返回。",
        _ => "",
    };
    render(&state, &user, StatusCode::OK, Vec::new(), notice).await
}

/// The form: a node and two checkboxes (absent when unticked).
#[derive(Deserialize)]
struct SettingForm {
    node_id: String,
    #[serde(default)]
    public_read: Option<String>,
    #[serde(default)]
    publish_descriptions: Option<String>,
}

async fn save(State(state): State<AppState>, f: CsrfForm<SettingForm>) -> Response {
    let refuse = |message: &str| vec![message.to_owned()];
    let Ok(node_id) = f.form.node_id.trim().parse::<i64>() else {
        let errors = refuse("节点：请选择节点");
        return render(
            &state,
            &f.user,
            StatusCode::UNPROCESSABLE_ENTITY,
            errors,
            "",
        )
        .await;
    };
    let result = requests::set_open311_setting(
        &state.db,
        &f.user.scope,
        node_id,
        f.form.public_read.is_some(),
        f.form.publish_descriptions.is_some(),
        now_ms(),
    )
    .await;
    match result {
        Ok(_) => Redirect::to("/requests/open311?notice=saved").into_response(),
        Err(StoreError::NotFound) => {
            let errors = refuse("节点：没有这个节点，或不在您的管辖范围内");
            render(
                &state,
                &f.user,
                StatusCode::UNPROCESSABLE_ENTITY,
                errors,
                "",
            )
            .await
        }
        Err(StoreError::Forbidden(m)) => {
            render(&state, &f.user, StatusCode::FORBIDDEN, vec![m], "").await
        }
        Err(e) => store_error_page(e),
    }
}
