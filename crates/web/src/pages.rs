//! The zh-CN HTML app: login, home, the tree, accounts, the audit log. Markup lives in
//! `templates/`; handlers build view models and render. Forms work without JavaScript, and every
//! form post goes through `CsrfForm`.

use std::sync::Arc;

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use linli_core::kernel::clock::{display, format_date, parse_date};
use linli_core::{NewNode, NodeInput, NodeKind, Role};
use linli_store::accounts::{self, LoginError, NewUser, Principal};
use linli_store::infra::audit::{self, AuditFilter};
use linli_store::tree::{self, Crumb, NodeCounts, NodePatch, NodeSummary};
use linli_store::{infra::secret, Page, StoreError};
use serde::Deserialize;

use crate::auth::{self, ClientIp, CsrfForm, PageUser};
use crate::error::ApiError;
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/login", get(login_form).post(login_submit))
        .route("/logout", post(logout))
        .route("/nodes/{id}", get(node_page))
        .route("/nodes/{id}/children", post(node_add_child))
        .route("/nodes/{id}/edit", post(node_edit))
        .route("/nodes/{id}/move", post(node_move))
        .route("/nodes/{id}/close", post(node_close))
        .route("/users", get(users_page).post(users_create))
        .route("/users/{id}/password", post(user_reset_password))
        .route("/users/{id}/status", post(user_set_status))
        .route("/tags", post(tags_create))
        .route("/account", get(account_page))
        .route("/account/password", post(account_password))
        .route("/audit", get(audit_page))
        .route("/static/app.css", get(stylesheet))
        // Browsers ask for it on every page; an empty answer keeps their consoles quiet.
        .route("/favicon.ico", get(|| async { StatusCode::NO_CONTENT }))
}

/// Percent-encodes a string for a query parameter.
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

// ---------------------------------------------------------------------------------------------
// Layout

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
    pub(crate) fn of(p: &Principal, active: &'static str) -> Shell {
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

#[derive(Template, WebTemplate)]
#[template(path = "error.html")]
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

/// Unknown paths: JSON under `/api/`, a page elsewhere.
pub async fn not_found(uri: Uri) -> Response {
    if uri.path().starts_with("/api/") {
        ApiError::not_found().into_response()
    } else {
        error_page(StatusCode::NOT_FOUND, "页面不存在，或不在您的辖区内。")
    }
}

/// A store error shown as a page.
pub(crate) fn store_error_page(e: StoreError) -> Response {
    let api = ApiError::from(e);
    let msg = match api.status {
        StatusCode::NOT_FOUND => "未找到，或不在您的辖区内。".to_owned(),
        StatusCode::FORBIDDEN => format!("无权执行此操作：{}。", api.message),
        StatusCode::INTERNAL_SERVER_ERROR => "系统内部错误，请稍后重试。".to_owned(),
        _ => api.message,
    };
    error_page(api.status, &msg)
}

async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../static/app.css"),
    )
        .into_response()
}

/// A refused form's messages, one per field, shown under the field each belongs to.
#[derive(Default)]
pub(crate) struct FieldErrors(pub(crate) Vec<(String, String)>);

impl FieldErrors {
    pub(crate) fn from_core(errors: &[linli_core::CoreError]) -> FieldErrors {
        FieldErrors(
            errors
                .iter()
                .map(|e| (e.field.clone(), e.message.clone()))
                .collect(),
        )
    }

    /// The messages of one field, joined.
    pub(crate) fn of(&self, field: &str) -> String {
        self.0
            .iter()
            .filter(|(f, _)| f == field)
            .map(|(_, m)| m.as_str())
            .collect::<Vec<_>>()
            .join("；")
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }

    /// Messages of fields the form has no place for, each with its field's name in Chinese.
    pub(crate) fn others(&self, shown: &[&str], label: impl Fn(&str) -> &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(f, _)| !shown.contains(&f.as_str()))
            .map(|(f, m)| format!("{}：{m}", label(f)))
            .collect()
    }
}

/// The field errors of a refused form; any other error is passed back for an error page.
pub(crate) fn field_errors(e: StoreError) -> Result<FieldErrors, StoreError> {
    match e {
        StoreError::Invalid(errs) => Ok(FieldErrors::from_core(&errs)),
        StoreError::Conflict { field, message } => Ok(FieldErrors(vec![(field, message)])),
        other => Err(other),
    }
}

/// Field names in Chinese, for error messages.
pub(crate) fn field_label(field: &str) -> &str {
    match field {
        "name" => "名称",
        "code" => "代码",
        "kind" => "类型",
        "parent_id" => "上级",
        "new_parent_id" => "新上级",
        "household_estimate" => "户数",
        "opened_on" => "设立日期",
        "closed_on" => "撤销日期",
        "username" => "登录名",
        "password" => "密码",
        "role" => "角色",
        "node_ids" => "所属辖区",
        "display_name" => "姓名",
        "label" => "标签",
        "id_number" => "证件号码",
        "id_kind" => "证件类型",
        "phone" => "电话",
        "gender" => "性别",
        "birth_date" => "出生日期",
        "ethnic_group" => "民族",
        "hukou_address" => "户籍地址",
        "category" => "人口类别",
        "relation" => "与户主关系",
        "address" => "住址",
        "room" => "房号",
        "tags" => "重点人群",
        "state" => "状态",
        "moved_out_on" => "迁出日期",
        "moved_to" => "迁往",
        "deceased_on" => "死亡日期",
        "household_id" => "户",
        "node_id" => "所属辖区",
        "credit_code" => "统一社会信用代码",
        "employees" => "员工人数",
        "contact_name" => "联系人",
        "contact_phone" => "联系电话",
        "checklist" => "复工条件",
        "extra_items" => "其他措施",
        "employees_back" => "返岗人数",
        "planned_on" => "计划复工日期",
        "decision" => "审批意见",
        "reason" => "原因",
        "inspected_on" => "检查日期",
        "inspector" => "检查人",
        "findings" => "检查情况",
        "passed" => "检查结论",
        "enterprise_id" => "企业",
        other => other,
    }
}

/// Messages for a failed form, one per field.
pub(crate) fn form_errors(e: StoreError) -> Result<Vec<String>, StoreError> {
    match e {
        StoreError::Invalid(errs) => Ok(errs
            .iter()
            .map(|e| format!("{}：{}", field_label(&e.field), e.message))
            .collect()),
        StoreError::Conflict { field, message } => {
            Ok(vec![format!("{}：{}", field_label(&field), message)])
        }
        other => Err(other),
    }
}

// ---------------------------------------------------------------------------------------------
// Login and logout

#[derive(Template, WebTemplate)]
#[template(path = "login.html")]
struct LoginPage {
    csrf: String,
    next: String,
    username: String,
    error: Option<String>,
}

#[derive(Deserialize)]
struct NextQuery {
    next: Option<String>,
}

/// Only same-site paths are followed after login.
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => n.to_owned(),
        _ => "/".to_owned(),
    }
}

fn login_page(
    state: &AppState,
    status: StatusCode,
    next: String,
    username: String,
    error: Option<String>,
) -> Response {
    // Login CSRF: a random value in a SameSite=Strict cookie and in the form must agree.
    let csrf = secret::random_token(16);
    let cookie = auth::set_cookie(
        auth::LOGIN_CSRF_COOKIE,
        &csrf,
        Some(3600),
        "Strict",
        state.config.secure_cookies,
    );
    let page = LoginPage {
        csrf,
        next,
        username,
        error,
    };
    (status, [(header::SET_COOKIE, cookie)], page).into_response()
}

async fn login_form(State(state): State<AppState>, Query(q): Query<NextQuery>) -> Response {
    login_page(
        &state,
        StatusCode::OK,
        safe_next(q.next.as_deref()),
        String::new(),
        None,
    )
}

#[derive(Deserialize)]
struct LoginForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    csrf: String,
    next: Option<String>,
}

async fn login_submit(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    let next = safe_next(form.next.as_deref());
    let cookie_csrf = auth::cookie(&headers, auth::LOGIN_CSRF_COOKIE).unwrap_or_default();
    if cookie_csrf.is_empty() || !secret::constant_time_eq(cookie_csrf, &form.csrf) {
        let msg = "登录表单已过期，请重新输入。".to_owned();
        return login_page(
            &state,
            StatusCode::FORBIDDEN,
            next,
            form.username,
            Some(msg),
        );
    }
    let ua = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok());
    match accounts::login(&state.db, &form.username, &form.password, &ip, ua).await {
        Ok(session) => {
            let cookie = auth::set_cookie(
                auth::SESSION_COOKIE,
                &session.token,
                Some(accounts::SESSION_MAX_MS / 1000),
                "Lax",
                state.config.secure_cookies,
            );
            let clear = auth::set_cookie(
                auth::LOGIN_CSRF_COOKIE,
                "",
                Some(0),
                "Strict",
                state.config.secure_cookies,
            );
            let mut resp = Redirect::to(&next).into_response();
            for c in [cookie, clear] {
                if let Ok(v) = c.parse() {
                    resp.headers_mut().append(header::SET_COOKIE, v);
                }
            }
            resp
        }
        Err(LoginError::BadCredentials) => login_page(
            &state,
            StatusCode::UNAUTHORIZED,
            next,
            form.username,
            Some("用户名或密码错误。".to_owned()),
        ),
        Err(LoginError::Throttled { retry_after_s }) => login_page(
            &state,
            StatusCode::TOO_MANY_REQUESTS,
            next,
            form.username,
            Some(format!(
                "登录失败次数过多，请 {} 分钟后再试。",
                (retry_after_s + 59) / 60
            )),
        ),
        Err(LoginError::Store(e)) => store_error_page(e),
    }
}

/// A form with no fields but its CSRF token.
#[derive(Deserialize)]
pub(crate) struct Empty {}

async fn logout(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    f: CsrfForm<Empty>,
) -> Response {
    let _ = f.form;
    if let Some(token) = auth::cookie(&headers, auth::SESSION_COOKIE) {
        if let Err(e) = accounts::logout(&state.db, token, &ip).await {
            return store_error_page(e);
        }
    }
    let clear = auth::set_cookie(
        auth::SESSION_COOKIE,
        "",
        Some(0),
        "Lax",
        state.config.secure_cookies,
    );
    ([(header::SET_COOKIE, clear)], Redirect::to("/login")).into_response()
}

// ---------------------------------------------------------------------------------------------
// Home and the tree

/// A node as a row of a list.
struct NodeRow {
    id: i64,
    name: String,
    kind_label: &'static str,
    code: String,
    counts: String,
    households: String,
    closed: bool,
}

fn counts_text(c: &NodeCounts) -> String {
    let parts: Vec<String> = NodeKind::ALL
        .iter()
        .filter(|k| c.of(**k) > 0)
        .map(|k| format!("{} {}", short_label(*k), c.of(*k)))
        .collect();
    if parts.is_empty() {
        "—".to_owned()
    } else {
        parts.join(" · ")
    }
}

pub(crate) fn short_label(k: NodeKind) -> &'static str {
    match k {
        NodeKind::District => "区县",
        NodeKind::Street => "街道",
        NodeKind::Community => "社区",
        NodeKind::Compound => "小区",
        NodeKind::Grid => "网格",
        NodeKind::Building => "楼栋",
    }
}

fn households_text(h: Option<i64>) -> String {
    h.map_or_else(|| "—".to_owned(), |n| format!("{n} 户"))
}

impl NodeRow {
    fn of(s: &NodeSummary) -> NodeRow {
        NodeRow {
            id: s.node.id,
            name: s.node.name.clone(),
            kind_label: s.node.kind.label_zh(),
            code: s.node.code.clone().unwrap_or_default(),
            counts: counts_text(&s.counts),
            households: households_text(s.counts.households),
            closed: !s.node.is_open(),
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "home.html")]
struct HomePage {
    shell: Shell,
    roots: Vec<NodeRow>,
    greeting: String,
}

async fn home(State(state): State<AppState>, PageUser(user): PageUser) -> Response {
    match tree::visible_roots(&state.db, &user.scope).await {
        Ok(roots) => HomePage {
            shell: Shell::of(&user, "home"),
            roots: roots.iter().map(NodeRow::of).collect(),
            greeting: format!(
                "{}（{}）",
                user.user.display_name,
                user.user.role.label_zh()
            ),
        }
        .into_response(),
        Err(e) => store_error_page(e),
    }
}

struct KindOption {
    value: &'static str,
    label: &'static str,
}

struct ParentOption {
    id: i64,
    label: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "node.html")]
struct NodePageView {
    shell: Shell,
    crumbs: Vec<Crumb>,
    id: i64,
    name: String,
    kind_label: &'static str,
    code: String,
    opened_on: String,
    closed_on: Option<String>,
    is_grid: bool,
    household_estimate: String,
    counts: String,
    households: String,
    children: Vec<NodeRow>,
    show_closed: bool,
    can_add: bool,
    can_edit: bool,
    can_unmask: bool,
    can_import: bool,
    child_kinds: Vec<KindOption>,
    parents: Vec<ParentOption>,
    errors: Vec<String>,
    notice: Option<String>,
    today: String,
}

#[derive(Deserialize, Default)]
struct NodePageQuery {
    closed: Option<String>,
    notice: Option<String>,
}

async fn render_node(
    state: &AppState,
    user: &Arc<Principal>,
    id: i64,
    show_closed: bool,
    errors: Vec<String>,
    notice: Option<String>,
) -> Response {
    let scope = &user.scope;
    let summary = match tree::summary(&state.db, scope, id).await {
        Ok(s) => s,
        Err(e) => return store_error_page(e),
    };
    let result = async {
        let crumbs = tree::ancestors(&state.db, scope, &summary.node).await?;
        let kids = tree::children(
            &state.db,
            scope,
            id,
            show_closed,
            Page::new(Some(Page::MAX_LIMIT), None),
        )
        .await?;
        let node = &summary.node;
        let can_edit = scope.can_edit_node(&node.path) && node.is_open();
        // Where this node could move: open nodes in scope that may contain it, outside its subtree.
        let parents = if can_edit {
            tree::subtree(&state.db, scope, None)
                .await?
                .into_iter()
                .filter(|p| {
                    p.is_open()
                        && p.kind.may_contain(node.kind)
                        && !p.path.is_within(&node.path)
                        && Some(p.id) != node.parent_id
                })
                .take(500)
                .map(|p| ParentOption {
                    id: p.id,
                    label: format!("{} · {}", p.kind.label_zh(), p.name),
                })
                .collect()
        } else {
            Vec::new()
        };
        Ok::<_, StoreError>((crumbs, kids, parents))
    }
    .await;
    let (crumbs, kids, parents) = match result {
        Ok(r) => r,
        Err(e) => return store_error_page(e),
    };
    let node = &summary.node;
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let view = NodePageView {
        shell: Shell::of(user, "tree"),
        crumbs,
        id: node.id,
        name: node.name.clone(),
        kind_label: node.kind.label_zh(),
        code: node.code.clone().unwrap_or_default(),
        opened_on: node.opened_on.clone(),
        closed_on: node.closed_on.clone(),
        is_grid: node.kind == NodeKind::Grid,
        household_estimate: node
            .household_estimate
            .map(|h| h.to_string())
            .unwrap_or_default(),
        counts: counts_text(&summary.counts),
        households: households_text(summary.counts.households),
        children: kids.iter().map(NodeRow::of).collect(),
        show_closed,
        can_add: scope.can_add_under(&node.path) && node.is_open(),
        can_edit: scope.can_edit_node(&node.path) && node.is_open(),
        can_unmask: scope.can_unmask(&node.path),
        can_import: scope.can_write_records(&node.path)
            && node.is_open()
            && !matches!(node.kind, NodeKind::District | NodeKind::Street),
        child_kinds: NodeKind::ALL
            .iter()
            .filter(|k| node.kind.may_contain(**k))
            .map(|k| KindOption {
                value: k.as_str(),
                label: k.label_zh(),
            })
            .collect(),
        parents,
        errors,
        notice,
        today: format_date(linli_core::kernel::clock::today()),
    };
    (status, view).into_response()
}

async fn node_page(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Path(id): Path<i64>,
    Query(q): Query<NodePageQuery>,
) -> Response {
    let notice = q.notice.as_deref().map(|n| match n {
        "added" => "已添加下级。",
        "saved" => "已保存。",
        "moved" => "已迁移。",
        "closed" => "已撤销（历史记录保留）。",
        _ => "完成。",
    });
    render_node(
        &state,
        &user,
        id,
        q.closed.is_some(),
        Vec::new(),
        notice.map(str::to_owned),
    )
    .await
}

#[derive(Deserialize)]
struct AddChildForm {
    kind: String,
    name: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    household_estimate: String,
    #[serde(default)]
    opened_on: String,
}

/// An optional whole number from a form field; blank is `None`.
fn optional_number(field: &str, raw: &str) -> Result<Option<i64>, StoreError> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    raw.parse::<i64>()
        .map(Some)
        .map_err(|_| StoreError::invalid(field, format!("「{raw}」不是整数")))
}

async fn node_add_child(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    f: CsrfForm<AddChildForm>,
) -> Response {
    let form = f.form;
    let result = async {
        let estimate = optional_number("household_estimate", &form.household_estimate)?;
        let new = NewNode::parse(NodeInput {
            parent_id: Some(id),
            kind: &form.kind,
            name: &form.name,
            code: Some(&form.code),
            household_estimate: estimate,
            opened_on: Some(&form.opened_on),
        })
        .map_err(StoreError::Invalid)?;
        tree::create(&state.db, &f.user.scope, new).await
    }
    .await;
    after_node_form(&state, &f.user, id, result.map(|_| ()), "added").await
}

async fn after_node_form(
    state: &AppState,
    user: &Arc<Principal>,
    id: i64,
    result: Result<(), StoreError>,
    notice: &str,
) -> Response {
    match result {
        Ok(()) => Redirect::to(&format!("/nodes/{id}?notice={notice}")).into_response(),
        Err(e) => match form_errors(e) {
            Ok(errors) => render_node(state, user, id, false, errors, None).await,
            Err(e) => store_error_page(e),
        },
    }
}

#[derive(Deserialize)]
struct EditForm {
    name: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    household_estimate: Option<String>,
}

async fn node_edit(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    f: CsrfForm<EditForm>,
) -> Response {
    let form = f.form;
    let result = async {
        let estimate = match &form.household_estimate {
            Some(raw) => Some(optional_number("household_estimate", raw)?),
            None => None,
        };
        let patch = NodePatch {
            name: Some(&form.name),
            code: Some(&form.code),
            household_estimate: estimate,
        };
        tree::update(&state.db, &f.user.scope, id, patch)
            .await
            .map(|_| ())
    }
    .await;
    after_node_form(&state, &f.user, id, result, "saved").await
}

#[derive(Deserialize)]
struct MoveForm {
    new_parent_id: String,
}

async fn node_move(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    f: CsrfForm<MoveForm>,
) -> Response {
    let result = async {
        let target = optional_number("new_parent_id", &f.form.new_parent_id)?
            .ok_or_else(|| StoreError::invalid("new_parent_id", "请选择新的上级节点"))?;
        tree::move_subtree(&state.db, &f.user.scope, id, target)
            .await
            .map(|_| ())
    }
    .await;
    after_node_form(&state, &f.user, id, result, "moved").await
}

#[derive(Deserialize)]
struct CloseForm {
    #[serde(default)]
    closed_on: String,
}

async fn node_close(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    f: CsrfForm<CloseForm>,
) -> Response {
    let result = async {
        let on = match f.form.closed_on.trim() {
            "" => None,
            d => Some(parse_date("closed_on", d)?),
        };
        tree::close(&state.db, &f.user.scope, id, on)
            .await
            .map(|_| ())
    }
    .await;
    after_node_form(&state, &f.user, id, result, "closed").await
}

// ---------------------------------------------------------------------------------------------
// Accounts

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
#[template(path = "users.html")]
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
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
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
        nodes: tree
            .into_iter()
            .filter(|n| n.is_open() && n.kind != NodeKind::Building)
            .map(|n| ParentOption {
                id: n.id,
                label: format!(
                    "{}{} · {}",
                    "　".repeat(n.depth.clamp(0, 6) as usize),
                    n.kind.label_zh(),
                    n.name
                ),
            })
            .collect(),
        errors,
        notice,
    };
    (status, page).into_response()
}

#[derive(Deserialize)]
pub(crate) struct NoticeQuery {
    pub(crate) notice: Option<String>,
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
    match linli_store::registry::add_tag(&state.db, &f.user.scope, &f.form.name).await {
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
    match accounts::set_password(&state.db, &f.user.scope, id, &f.form.password).await {
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
    match accounts::update(&state.db, &f.user.scope, id, None, None, Some(disabled)).await {
        Ok(_) => Redirect::to("/users?notice=saved").into_response(),
        Err(e) => match form_errors(e) {
            Ok(errors) => render_users(&state, &f.user, errors, None).await,
            Err(e) => store_error_page(e),
        },
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "account.html")]
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
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let page = AccountPage {
        shell: Shell::of(user, "account"),
        username: user.user.username.clone(),
        display_name: user.user.display_name.clone(),
        role_label: user.user.role.label_zh(),
        nodes: if user.scope.is_admin() {
            "全部辖区".to_owned()
        } else {
            user.user
                .nodes
                .iter()
                .map(|n| n.name.as_str())
                .collect::<Vec<_>>()
                .join("、")
        },
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
    // The current password is checked by a login, so wrong guesses are throttled like any other.
    match accounts::login(&state.db, &user.user.username, &form.current, &ip, None).await {
        Ok(s) => {
            let _ = accounts::logout(&state.db, &s.token, &ip).await;
        }
        Err(LoginError::Store(e)) => return store_error_page(e),
        Err(_) => return account_view(user, vec!["当前密码：不正确".to_owned()], None),
    }
    match accounts::set_password(&state.db, &user.scope, user.user.id, &form.password).await {
        // Changing the password ends every session, this one included.
        Ok(()) => Redirect::to("/login").into_response(),
        Err(e) => match form_errors(e) {
            Ok(errors) => account_view(user, errors, None),
            Err(e) => store_error_page(e),
        },
    }
}

// ---------------------------------------------------------------------------------------------
// Audit

struct AuditRow {
    at: String,
    actor: String,
    action: String,
    entity: String,
    ip: String,
    detail: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "audit.html")]
struct AuditPage {
    shell: Shell,
    rows: Vec<AuditRow>,
    action: String,
    actor: String,
    next_after: Option<i64>,
}

#[derive(Deserialize)]
struct AuditQuery {
    action: Option<String>,
    actor: Option<String>,
    after: Option<i64>,
}

fn action_label(a: &str) -> String {
    let zh = match a {
        "login" => "登录",
        "login.failed" => "登录失败",
        "login.throttled" => "登录被限制",
        "logout" => "退出",
        "node.create" => "新建辖区节点",
        "node.update" => "修改辖区节点",
        "node.move" => "迁移辖区节点",
        "node.close" => "撤销辖区节点",
        "user.create" => "新建账号",
        "user.update" => "修改账号",
        "user.password" => "设置密码",
        "token.issue" => "签发 API 令牌",
        "token.revoke" => "吊销 API 令牌",
        "person.create" => "登记居民",
        "person.bulk_create" => "批量登记居民",
        "person.update" => "修改居民信息",
        "person.unmask" => "查看完整证件号码",
        "person.import" => "导入花名册",
        "person.export" => "导出居民",
        "arrival.create" => "登记来返人员",
        "retention.anonymise" => "到期防疫记录匿名化",
        "risk_area.create" => "发布风险地区",
        "declaration.submit" => "居民扫码申报",
        "declaration.confirm" => "确认健康申报",
        "declaration.reject" => "不予确认健康申报",
        "declaration_link.create" => "生成申报链接",
        "declaration_link.rotate" => "重新生成申报链接",
        "declaration_link.revoke" => "停用申报链接",
        "alert.handle" => "处理预警",
        "alert.overdue" => "逾期未打卡检查",
        "tag.create" => "新增标签",
        "supply_item.create" => "新增物资品类",
        "supply_site.create" => "设立物资点",
        "supply.receipt" => "物资入库",
        "supply.issue" => "物资发放",
        "supply.adjustment" => "物资调整",
        "supply_transfer.send" => "发出物资调拨",
        "supply_transfer.receive" => "接收物资调拨",
        "supply_transfer.cancel" => "取消物资调拨",
        "supply_threshold.set" => "设置物资预警下限",
        "supply_request.create" => "新建物资申领",
        "supply_request.submit" => "提交物资申领",
        "supply_request.approve" => "审批物资申领",
        "enterprise.create" => "登记企业",
        "enterprise.not_reopened" => "填写未复工原因",
        "enterprise.link" => "生成企业申请链接",
        "enterprise.unmask" => "查看企业联系电话",
        "reopening.submit" => "提交复工申请",
        "reopening.approve" => "同意复工",
        "reopening.reject" => "不同意复工",
        "inspection.create" => "记录复工检查",
        _ => "",
    };
    if zh.is_empty() {
        a.to_owned()
    } else {
        format!("{zh}（{a}）")
    }
}

fn entity_label(e: &str) -> &str {
    match e {
        "session" => "会话",
        "user" => "账号",
        "node" => "辖区节点",
        "person" => "居民",
        "household" => "户",
        "dwelling" => "房屋",
        "api_token" => "API 令牌",
        "tag" => "标签",
        "supply_item" => "物资品类",
        "supply_site" => "物资点",
        "supply_ledger" => "物资台账",
        "supply_transfer" => "物资调拨",
        "supply_request" => "物资申领",
        "declaration" => "健康申报",
        "declaration_link" => "申报链接",
        "alert" => "预警",
        "enterprise" => "企业",
        "reopening" => "复工申请",
        "inspection" => "复工检查",
        other => other,
    }
}

async fn audit_page(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Query(q): Query<AuditQuery>,
) -> Response {
    let page = Page::new(Some(100), q.after);
    let filter = AuditFilter {
        action_prefix: q.action.clone(),
        actor: q.actor.clone(),
        ..AuditFilter::default()
    };
    let rows = match audit::list(&state.db, &user.scope, &filter, page).await {
        Ok(r) => r,
        Err(e) => return store_error_page(e),
    };
    let next_after = if rows.len() as i64 == page.limit {
        rows.last().map(|r| r.id)
    } else {
        None
    };
    AuditPage {
        shell: Shell::of(&user, "audit"),
        rows: rows
            .into_iter()
            .map(|r| AuditRow {
                at: display(r.at),
                actor: r.actor,
                action: action_label(&r.action),
                entity: {
                    let name = entity_label(&r.entity);
                    match r.entity_id {
                        Some(id) => format!("{name} #{id}"),
                        None => name.to_owned(),
                    }
                },
                ip: r.ip.unwrap_or_default(),
                detail: if r.detail.as_object().is_some_and(|o| o.is_empty()) {
                    String::new()
                } else {
                    r.detail.to_string()
                },
            })
            .collect(),
        action: q.action.unwrap_or_default(),
        actor: q.actor.unwrap_or_default(),
        next_after,
    }
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_are_followed_after_login() {
        assert_eq!(safe_next(Some("/nodes/3")), "/nodes/3");
        assert_eq!(safe_next(Some("//evil.example/")), "/");
        assert_eq!(safe_next(Some("https://evil.example/")), "/");
        assert_eq!(safe_next(Some("/\\evil.example")), "/");
        assert_eq!(safe_next(None), "/");
    }

    #[test]
    fn query_values_are_percent_encoded() {
        assert_eq!(url_encode("/nodes/3?x=1&y"), "/nodes/3%3Fx%3D1%26y");
    }
}
