//! Request categories and departments pages (诉求类别与时限, 部门). Categories are versioned
//! data: saving one adds its next version, retiring one (停用) adds a version with
//! `active = false`; requests already received keep the deadlines they got at intake. Every
//! signed-in role reads these pages; only admins save categories, admins and officials add
//! departments (the store checks again). Forms are CSRF-checked; a refused form comes back
//! with the user's input and the broken field named.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use linli_core::kernel::clock::{display, now_ms};
use linli_core::kernel::labels::Labelled;
use linli_core::requests::{CategoryRule, Escalation};
use linli_core::{CoreError, Role};
use linli_store::accounts::Principal;
use linli_store::requests::{self, Category, Department};
use linli_store::StoreError;
use serde::Deserialize;

use crate::auth::{CsrfForm, PageUser};
use crate::ui::form_status;
use crate::ui::Choice;
use crate::ui::{
    error_page, field_errors, field_label, store_error_page, url_encode, FieldErrors, Shell,
};
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/requests/categories", get(list_page).post(save))
        .route("/requests/categories/{code}", get(category_page))
        .route(
            "/requests/categories/{code}/retire",
            get(retire_confirm).post(retire),
        )
        .route("/requests/departments", post(add_department))
}

const NOT_ADMIN: &str = "只有系统管理员可以修改诉求类别和时限";

fn can_edit_categories(user: &Principal) -> bool {
    user.scope.is_admin()
}

fn can_add_departments(user: &Principal) -> bool {
    matches!(user.scope.role(), Role::Admin | Role::Official)
}

// ---------------------------------------------------------------------------------------------
// Shared bits

fn label(field: &str) -> &str {
    match field {
        "code" => "类别代码",
        "name" => "名称",
        "description" => "说明",
        "respond_hours" => "响应时限",
        "resolve_days" => "办结时限",
        "escalation" => "升级规则",
        "version" => "版本",
        other => field_label(other),
    }
}

const CATEGORY_FIELDS: [&str; 6] = [
    "code",
    "name",
    "description",
    "respond_hours",
    "resolve_days",
    "escalation",
];

/// A category form as typed (kept as text so a refused value comes back as it was).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct CategoryFields {
    code: String,
    name: String,
    description: String,
    respond_hours: String,
    resolve_days: String,
    escalation: String,
    /// The version the edit form was opened on; empty on the add form.
    version: String,
}

impl CategoryFields {
    fn of(c: &Category) -> CategoryFields {
        CategoryFields {
            code: c.rule.code.clone(),
            name: c.rule.name.clone(),
            description: c.rule.description.clone(),
            respond_hours: c.rule.respond_hours.to_string(),
            resolve_days: c.rule.resolve_days.to_string(),
            escalation: c.rule.escalation.as_str().to_owned(),
            version: c.version.to_string(),
        }
    }

    fn blank() -> CategoryFields {
        CategoryFields {
            escalation: Escalation::OnLateResolution.as_str().to_owned(),
            ..CategoryFields::default()
        }
    }

    fn escalations(&self) -> Vec<Choice> {
        Escalation::ALL
            .iter()
            .map(|e| Choice {
                value: e.as_str().to_owned(),
                label: e.label_zh().to_owned(),
                selected: e.as_str() == self.escalation,
            })
            .collect()
    }

    /// The rule, or every broken field. A number that is not a number is told as such,
    /// not as out of range.
    fn parse(&self) -> Result<CategoryRule, Vec<CoreError>> {
        let mut errors = Vec::new();
        let hours = whole_number(&self.respond_hours).unwrap_or_else(|| {
            errors.push(CoreError::invalid(
                "respond_hours",
                "响应时限应填整数小时，如 24",
            ));
            24
        });
        let days = whole_number(&self.resolve_days).unwrap_or_else(|| {
            errors.push(CoreError::invalid(
                "resolve_days",
                "办结时限应填整数天数，如 7",
            ));
            // Long enough that the placeholder never makes the hours look too long.
            365
        });
        let parsed = CategoryRule::parse(
            &self.code,
            &self.name,
            &self.description,
            hours,
            days,
            &self.escalation,
        );
        match parsed {
            Ok(rule) if errors.is_empty() => Ok(rule),
            Ok(_) => Err(errors),
            Err(more) => {
                let mut all = errors;
                let told: Vec<String> = all.iter().map(|e| e.field.clone()).collect();
                all.extend(more.into_iter().filter(|e| !told.contains(&e.field)));
                Err(all)
            }
        }
    }
}

fn whole_number(raw: &str) -> Option<i64> {
    raw.trim().parse().ok()
}

/// One category as the table shows it.
struct CategoryRow {
    code: String,
    link: String,
    name: String,
    description: String,
    respond_hours: i64,
    resolve_days: i64,
    escalation: &'static str,
    version: i64,
    active: bool,
    changed_by: String,
    changed_at: String,
}

impl CategoryRow {
    fn of(c: &Category) -> CategoryRow {
        CategoryRow {
            code: c.rule.code.clone(),
            link: format!("/requests/categories/{}", url_encode(&c.rule.code)),
            name: c.rule.name.clone(),
            description: c.rule.description.clone(),
            respond_hours: c.rule.respond_hours,
            resolve_days: c.rule.resolve_days,
            escalation: c.rule.escalation.label_zh(),
            version: c.version,
            active: c.active,
            // The defaults were seeded by the migration, at time 0.
            changed_by: if c.created_at <= 0 {
                "系统预置".to_owned()
            } else {
                c.created_by.clone()
            },
            changed_at: if c.created_at <= 0 {
                String::new()
            } else {
                display(c.created_at)
            },
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The list: categories in force, the add form, departments

#[derive(Template, WebTemplate)]
#[template(path = "requests/request_categories.html")]
struct ListPage {
    shell: Shell,
    rows: Vec<CategoryRow>,
    can_edit: bool,
    can_add_departments: bool,
    notice: String,
    f: CategoryFields,
    escalations: Vec<Choice>,
    errors: FieldErrors,
    others: Vec<String>,
    departments: Vec<Department>,
    department_name: String,
    department_error: String,
}

#[derive(Debug, Default, Deserialize)]
struct NoticeQuery {
    notice: Option<String>,
    code: Option<String>,
}

fn notice_text(q: &NoticeQuery) -> String {
    let code = q.code.as_deref().unwrap_or_default();
    match q.notice.as_deref() {
        Some("saved") => format!("已保存类别「{code}」的新版本。此后收到的诉求按新时限计算。"),
        Some("retired") => format!("已停用类别「{code}」：居民和工作人员不能再选它。"),
        Some("department") => "已添加部门。".to_owned(),
        _ => String::new(),
    }
}

struct ListForms {
    f: CategoryFields,
    errors: FieldErrors,
    department_name: String,
    department_error: String,
    status: StatusCode,
}

async fn render_list(
    state: &AppState,
    user: &Principal,
    notice: String,
    forms: ListForms,
) -> Response {
    let loaded = async {
        let mut cats = requests::categories(&state.db).await?;
        let deps = requests::departments(&state.db).await?;
        let actors = cats.iter_mut().map(|c| &mut c.created_by).collect();
        crate::auth::names::name_actors(&state.db, actors).await?;
        Ok::<_, StoreError>((cats, deps))
    }
    .await;
    let (cats, departments) = match loaded {
        Ok(r) => r,
        Err(e) => return store_error_page(e),
    };
    let page = ListPage {
        shell: Shell::of(user, "requests"),
        rows: cats.iter().map(CategoryRow::of).collect(),
        can_edit: can_edit_categories(user),
        can_add_departments: can_add_departments(user),
        notice,
        escalations: forms.f.escalations(),
        others: forms.errors.others(&CATEGORY_FIELDS, label),
        f: forms.f,
        errors: forms.errors,
        departments,
        department_name: forms.department_name,
        department_error: forms.department_error,
    };
    (forms.status, page).into_response()
}

async fn list_page(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Query(q): Query<NoticeQuery>,
) -> Response {
    let forms = ListForms {
        f: CategoryFields::blank(),
        errors: FieldErrors::default(),
        department_name: String::new(),
        department_error: String::new(),
        status: StatusCode::OK,
    };
    render_list(&state, &user, notice_text(&q), forms).await
}

// ---------------------------------------------------------------------------------------------
// One category: the edit form and its versions

#[derive(Template, WebTemplate)]
#[template(path = "requests/request_category.html")]
struct CategoryPage {
    shell: Shell,
    code: String,
    current: CategoryRow,
    versions: Vec<CategoryRow>,
    can_edit: bool,
    f: CategoryFields,
    escalations: Vec<Choice>,
    errors: FieldErrors,
    others: Vec<String>,
}

async fn render_category(
    state: &AppState,
    user: &Principal,
    code: &str,
    f: Option<CategoryFields>,
    errors: FieldErrors,
) -> Response {
    let versions = match async {
        let mut v = requests::category_versions(&state.db, code).await?;
        let actors = v.iter_mut().map(|c| &mut c.created_by).collect();
        crate::auth::names::name_actors(&state.db, actors).await?;
        Ok::<_, StoreError>(v)
    }
    .await
    {
        Ok(v) => v,
        Err(e) => return store_error_page(e),
    };
    let Some(latest) = versions.first() else {
        return error_page(
            StatusCode::NOT_FOUND,
            &format!("没有「{code}」这个诉求类别。"),
        );
    };
    let status = form_status(!errors.is_empty());
    let f = f.unwrap_or_else(|| CategoryFields::of(latest));
    let page = CategoryPage {
        shell: Shell::of(user, "requests"),
        code: latest.rule.code.clone(),
        current: CategoryRow::of(latest),
        versions: versions.iter().map(CategoryRow::of).collect(),
        can_edit: can_edit_categories(user),
        escalations: f.escalations(),
        others: errors.others(&CATEGORY_FIELDS, label),
        f,
        errors,
    };
    (status, page).into_response()
}

async fn category_page(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Path(code): Path<String>,
) -> Response {
    render_category(&state, &user, &code, None, FieldErrors::default()).await
}

// ---------------------------------------------------------------------------------------------
// Saving (add and edit share one handler: the edit form carries the version it was opened on)

async fn save(
    State(state): State<AppState>,
    CsrfForm { user, form: f }: CsrfForm<CategoryFields>,
) -> Response {
    if !can_edit_categories(&user) {
        return error_page(
            StatusCode::FORBIDDEN,
            &format!("无权执行此操作：{NOT_ADMIN}。"),
        );
    }
    let editing = !f.version.trim().is_empty();
    let refused = |f: CategoryFields, errors: FieldErrors| {
        let state = state.clone();
        let user = user.clone();
        async move {
            if editing {
                let code = f.code.trim().to_owned();
                render_category(&state, &user, &code, Some(f), errors).await
            } else {
                let forms = ListForms {
                    f,
                    errors,
                    department_name: String::new(),
                    department_error: String::new(),
                    status: StatusCode::UNPROCESSABLE_ENTITY,
                };
                render_list(&state, &user, String::new(), forms).await
            }
        }
    };
    let rule = match f.parse() {
        Ok(r) => r,
        Err(errors) => return refused(f, FieldErrors::from_core(&errors)).await,
    };
    // Two admins editing at once, or an add form reusing a code in force, would otherwise
    // silently overwrite the other's deadlines.
    let latest = match requests::category_versions(&state.db, &rule.code).await {
        Ok(v) => v.into_iter().next(),
        Err(e) => return store_error_page(e),
    };
    let stale = match (&latest, editing) {
        (Some(c), false) if c.active => Some(format!(
            "已有代码为「{}」的类别（{}），请在列表中点它修改",
            c.rule.code, c.rule.name
        )),
        (Some(c), true) if f.version.trim() != c.version.to_string() => Some(format!(
            "该类别已被 {} 于 {} 改为第 {} 版，请刷新后再改",
            c.created_by,
            display(c.created_at),
            c.version
        )),
        (None, true) => Some("没有这个类别，请从列表中选择".to_owned()),
        _ => None,
    };
    if let Some(message) = stale {
        let errors = FieldErrors(vec![("code".to_owned(), message)]);
        return refused(f, errors).await;
    }
    match requests::save_category(&state.db, &user.scope, &rule, true, now_ms()).await {
        Ok(c) => Redirect::to(&format!(
            "/requests/categories?notice=saved&code={}",
            url_encode(&c.rule.code)
        ))
        .into_response(),
        Err(e) => match field_errors(e) {
            Ok(errors) => refused(f, errors).await,
            Err(other) => store_error_page(other),
        },
    }
}

// ---------------------------------------------------------------------------------------------
// Retiring (停用), with a confirmation step

#[derive(Template, WebTemplate)]
#[template(path = "requests/request_category_retire.html")]
struct RetirePage {
    shell: Shell,
    current: CategoryRow,
}

async fn retire_confirm(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Path(code): Path<String>,
) -> Response {
    if !can_edit_categories(&user) {
        return error_page(
            StatusCode::FORBIDDEN,
            &format!("无权执行此操作：{NOT_ADMIN}。"),
        );
    }
    match requests::category(&state.db, &code, "code").await {
        Ok(c) => RetirePage {
            shell: Shell::of(&user, "requests"),
            current: CategoryRow::of(&c),
        }
        .into_response(),
        Err(StoreError::Invalid(_)) => error_page(
            StatusCode::NOT_FOUND,
            &format!("没有在用的「{code}」类别，可能已停用。"),
        ),
        Err(e) => store_error_page(e),
    }
}

#[derive(Debug, Default, Deserialize)]
struct RetireFields {
    #[serde(default)]
    confirm: String,
}

async fn retire(
    State(state): State<AppState>,
    Path(code): Path<String>,
    CsrfForm { user, form }: CsrfForm<RetireFields>,
) -> Response {
    if !can_edit_categories(&user) {
        return error_page(
            StatusCode::FORBIDDEN,
            &format!("无权执行此操作：{NOT_ADMIN}。"),
        );
    }
    // Only the confirmation page sends this; a stray post does nothing.
    if form.confirm != "yes" {
        return Redirect::to(&format!(
            "/requests/categories/{}/retire",
            url_encode(&code)
        ))
        .into_response();
    }
    let current = match requests::category(&state.db, &code, "code").await {
        Ok(c) => c,
        Err(StoreError::Invalid(_)) => {
            return error_page(
                StatusCode::NOT_FOUND,
                &format!("没有在用的「{code}」类别，可能已停用。"),
            )
        }
        Err(e) => return store_error_page(e),
    };
    match requests::save_category(&state.db, &user.scope, &current.rule, false, now_ms()).await {
        Ok(c) => Redirect::to(&format!(
            "/requests/categories?notice=retired&code={}",
            url_encode(&c.rule.code)
        ))
        .into_response(),
        Err(e) => store_error_page(e),
    }
}

// ---------------------------------------------------------------------------------------------
// Departments

#[derive(Debug, Default, Deserialize)]
struct DepartmentFields {
    #[serde(default)]
    name: String,
}

async fn add_department(
    State(state): State<AppState>,
    CsrfForm { user, form }: CsrfForm<DepartmentFields>,
) -> Response {
    match requests::create_department(&state.db, &user.scope, &form.name, now_ms()).await {
        Ok(_) => Redirect::to("/requests/categories?notice=department#departments").into_response(),
        Err(e) => match field_errors(e) {
            Ok(errors) => {
                let forms = ListForms {
                    f: CategoryFields::blank(),
                    department_error: errors.of("name"),
                    errors: FieldErrors::default(),
                    department_name: form.name,
                    status: StatusCode::UNPROCESSABLE_ENTITY,
                };
                render_list(&state, &user, String::new(), forms).await
            }
            Err(other) => store_error_page(other),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(hours: &str, days: &str) -> CategoryFields {
        CategoryFields {
            code: "general".into(),
            name: "一般诉求".into(),
            respond_hours: hours.into(),
            resolve_days: days.into(),
            escalation: "never".into(),
            ..CategoryFields::default()
        }
    }

    #[test]
    fn text_in_a_number_is_told_once_by_its_field() {
        let errors = fields("二十四", "7").parse().unwrap_err();
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].field, "respond_hours");
        let errors = fields("24", "x").parse().unwrap_err();
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].field, "resolve_days");
    }

    #[test]
    fn range_errors_come_from_the_core_rule() {
        let errors = fields("0", "7").parse().unwrap_err();
        assert_eq!(errors[0].field, "respond_hours");
        fields(" 24 ", "7").parse().unwrap();
    }
}
