//! Accounts (admins), one's own account and key-group tags.

use crate::auth::{ClientIp, CsrfForm, PageUser};
use crate::ui::form_status;
use crate::ui::{form_errors, store_error_page, NoticeQuery, Shell};
use crate::ui::{node_options, optional_number, ParentOption};
use crate::AppState;
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use linli_core::kernel::clock::display;
use linli_core::kernel::clock::now_ms;
use linli_core::kernel::labels::Labelled;
use linli_core::Role;
use linli_store::accounts::{self, LoginError, NewUser, Principal};
use linli_store::tree::{self};
use linli_store::{Page, StoreError};
use serde::Deserialize;
use std::sync::Arc;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/users", get(users_page).post(users_create))
        .route("/users/{id}/password", post(user_reset_password))
        .route("/users/{id}/status", post(user_set_status))
        .route("/tags", post(tags_create))
        .route("/account", get(account_page))
        .route("/account/password", post(account_password))
}

struct UserRow {
    id: i64,
    username: String,
    display_name: String,
    role_label: &'static str,
    nodes: String,
    disabled: bool,
    created: String,
}

struct RoleOption {
    value: &'static str,
    label: &'static str,
}

#[derive(Template, WebTemplate)]
#[template(path = "accounts/users.html")]
struct UsersPage {
    shell: Shell,
    tags: Vec<String>,
    users: Vec<UserRow>,
    roles: Vec<RoleOption>,
    nodes: Vec<ParentOption>,
    errors: Vec<String>,
    notice: Option<String>,
}

async fn render_users(
    state: &AppState,
    user: &Arc<Principal>,
    errors: Vec<String>,
    notice: Option<String>,
) -> Response {
    let result = async {
        let list = accounts::list(
            &state.db,
            &user.scope,
            Page::new(Some(Page::MAX_LIMIT), None),
        )
        .await?;
        let tree = tree::subtree(&state.db, &user.scope, None).await?;
        let tags = linli_store::registry::tags(&state.db).await?;
        Ok::<_, StoreError>((list, tree, tags))
    }
    .await;
    let (list, tree, tags) = match result {
        Ok(r) => r,
        Err(e) => return store_error_page(e),
    };
    let status = form_status(!errors.is_empty());
    let page = UsersPage {
        shell: Shell::of(user, "users"),
        tags,
        users: list
            .into_iter()
            .map(|u| UserRow {
                id: u.id,
                username: u.username,
                display_name: u.display_name,
                role_label: u.role.label_zh(),
                nodes: if u.role == Role::Admin {
                    "全部".to_owned()
                } else {
                    u.nodes
                        .iter()
                        .map(|n| n.name.as_str())
                        .collect::<Vec<_>>()
                        .join("、")
                },
                disabled: u.disabled,
                created: display(u.created_at),
            })
            .collect(),
        roles: Role::ALL
            .iter()
            .map(|r| RoleOption {
                value: r.as_str(),
                label: r.label_zh(),
            })
            .collect(),
        nodes: node_options(tree),
        errors,
        notice,
    };
    (status, page).into_response()
}

async fn users_page(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Query(q): Query<NoticeQuery>,
) -> Response {
    let notice = q.notice.map(|n| match n.as_str() {
        "created" => "已创建账号。".to_owned(),
        "password" => "已重置密码，该账号需重新登录。".to_owned(),
        "tag" => "已新增标签。".to_owned(),
        _ => "已保存。".to_owned(),
    });
    render_users(&state, &user, Vec::new(), notice).await
}

#[derive(Deserialize)]
struct NewUserForm {
    username: String,
    #[serde(default)]
    display_name: String,
    password: String,
    role: String,
    #[serde(default)]
    node_id: String,
}

async fn users_create(State(state): State<AppState>, f: CsrfForm<NewUserForm>) -> Response {
    let form = &f.form;
    let result = async {
        let node_ids: Vec<i64> = optional_number("node_ids", &form.node_id)?
            .into_iter()
            .collect();
        accounts::create(
            &state.db,
            &f.user.scope,
            NewUser {
                username: &form.username,
                display_name: Some(&form.display_name),
                password: &form.password,
                role: &form.role,
                node_ids: &node_ids,
            },
            now_ms(),
        )
        .await
    }
    .await;
    match result {
        Ok(_) => Redirect::to("/users?notice=created").into_response(),
        Err(e) => match form_errors(e) {
            Ok(errors) => render_users(&state, &f.user, errors, None).await,
            Err(e) => store_error_page(e),
        },
    }
}

#[derive(Deserialize)]
struct TagForm {
    name: String,
}

async fn tags_create(State(state): State<AppState>, f: CsrfForm<TagForm>) -> Response {
    match linli_store::registry::add_tag(&state.db, &f.user.scope, &f.form.name, now_ms()).await {
        Ok(()) => Redirect::to("/users?notice=tag").into_response(),
        Err(e) => match form_errors(e) {
            Ok(errors) => render_users(&state, &f.user, errors, None).await,
            Err(e) => store_error_page(e),
        },
    }
}

#[derive(Deserialize)]
struct PasswordForm {
    password: String,
}

async fn user_reset_password(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    f: CsrfForm<PasswordForm>,
) -> Response {
    match accounts::set_password(&state.db, &f.user.scope, id, &f.form.password, now_ms()).await {
        Ok(()) => Redirect::to("/users?notice=password").into_response(),
        Err(e) => match form_errors(e) {
            Ok(errors) => render_users(&state, &f.user, errors, None).await,
            Err(e) => store_error_page(e),
        },
    }
}

#[derive(Deserialize)]
struct StatusForm {
    disabled: String,
}

async fn user_set_status(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    f: CsrfForm<StatusForm>,
) -> Response {
    let disabled = f.form.disabled == "1";
    match accounts::update(
        &state.db,
        &f.user.scope,
        id,
        None,
        None,
        Some(disabled),
        now_ms(),
    )
    .await
    {
        Ok(_) => Redirect::to("/users?notice=saved").into_response(),
        Err(e) => match form_errors(e) {
            Ok(errors) => render_users(&state, &f.user, errors, None).await,
            Err(e) => store_error_page(e),
        },
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "accounts/account.html")]
struct AccountPage {
    shell: Shell,
    username: String,
    display_name: String,
    role_label: &'static str,
    nodes: String,
    errors: Vec<String>,
    notice: Option<String>,
}

fn account_view(user: &Principal, errors: Vec<String>, notice: Option<String>) -> Response {
    let status = form_status(!errors.is_empty());
    let page = AccountPage {
        shell: Shell::of(user, "account"),
        username: user.user.username.clone(),
        display_name: user.user.display_name.clone(),
        role_label: user.user.role.label_zh(),
        nodes: crate::ui::jurisdiction(user),
        errors,
        notice,
    };
    (status, page).into_response()
}

async fn account_page(PageUser(user): PageUser) -> Response {
    account_view(&user, Vec::new(), None)
}

#[derive(Deserialize)]
struct OwnPasswordForm {
    current: String,
    password: String,
    confirm: String,
}

async fn account_password(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    f: CsrfForm<OwnPasswordForm>,
) -> Response {
    let user = &f.user;
    let form = &f.form;
    if form.password != form.confirm {
        return account_view(user, vec!["新密码：两次输入不一致".to_owned()], None);
    }
    // A wrong current password counts as a failed login, so guesses are throttled alike.
    match accounts::change_own_password(
        &state.db,
        &user.scope,
        &form.current,
        &form.password,
        &ip,
        now_ms(),
    )
    .await
    {
        // Changing the password ends every session, this one included.
        Ok(()) => Redirect::to("/login").into_response(),
        Err(LoginError::BadCredentials) => {
            account_view(user, vec!["当前密码：不正确".to_owned()], None)
        }
        Err(LoginError::Throttled { retry_after_s }) => account_view(
            user,
            vec![format!(
                "当前密码：错误次数过多，请 {retry_after_s} 秒后再试"
            )],
            None,
        ),
        Err(LoginError::Store(e)) => match form_errors(e) {
            Ok(errors) => account_view(user, errors, None),
            Err(e) => store_error_page(e),
        },
    }
}
