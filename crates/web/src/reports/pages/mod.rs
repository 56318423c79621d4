//! Report pages (报表): a node's daily report for a date with its values (computed from the
//! records), the submit form (manual fields and the 零报告 button), approval, completeness with
//! the missing list and a 提醒 button per missing node, a print view, and a server-rendered SVG
//! line chart of one computed indicator over a date range (no JavaScript). A refused form comes
//! back filled in, with the reason.

pub mod mappings;
pub mod templates;

use linli_core::kernel::clock::now_ms;
use linli_core::kernel::labels::Labelled;
use std::collections::HashMap;

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use linli_core::kernel::clock::{display, format_date, parse_date, today};
use linli_core::reports::{ManualKind, ManualValue, NodeRole, Status, Timeliness, EPIDEMIC_DAILY};
use linli_core::Role;
use linli_store::accounts::Principal;
use linli_store::reports::{self, Completeness, Report, SubmitInput};
use linli_store::{epidemic::dashboard, StoreError};
use serde::Deserialize;

use crate::auth::{CsrfForm, PageUser};
use crate::ui::{error_page, store_error_page, Shell};
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/reports", get(report_page))
        .route("/reports/submit", post(submit))
        .route("/reports/approve", post(approve))
        .route("/reports/return", post(return_report))
        .route("/reports/remind", post(remind))
        .route("/reports/print", get(print_page))
        .route("/reports/print/mapped", get(mapped_print_page))
        .route("/reports/trend", get(trend_page))
        .route("/static/reports.css", get(stylesheet))
        .merge(crate::reports::pages::templates::router())
}

/// The report pages' styles (the CSP allows no inline styles).
async fn stylesheet() -> Response {
    (
        [
            (axum::http::header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (axum::http::header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../../../static/reports.css"),
    )
        .into_response()
}

/// The longest range the trend chart draws, in days.
const MAX_TREND_DAYS: i64 = 92;

#[derive(Deserialize, Default)]
struct ReportQuery {
    template: Option<String>,
    node_id: Option<i64>,
    date: Option<String>,
    notice: Option<String>,
}

/// The template, node and date a page is about, with the defaults filled in (the preset, the
/// caller's first node, today in China).
struct Target {
    template: String,
    node_id: i64,
    date: time::Date,
}

async fn target(
    state: &AppState,
    user: &Principal,
    template: Option<String>,
    node_id: Option<i64>,
    date: Option<&str>,
) -> Result<Option<Target>, StoreError> {
    let node_id = match node_id {
        Some(id) => id,
        None => match dashboard::default_node(&state.db, &user.scope).await? {
            Some(id) => id,
            None => return Ok(None),
        },
    };
    let date = match date.map(str::trim).filter(|d| !d.is_empty()) {
        Some(d) => parse_date("date", d)?,
        None => today(),
    };
    Ok(Some(Target {
        template: template
            .filter(|t| !t.trim().is_empty())
            .unwrap_or_else(|| EPIDEMIC_DAILY.to_owned()),
        node_id,
        date,
    }))
}

fn href(template: &str, node_id: i64, date: &str) -> String {
    format!("/reports?template={template}&node_id={node_id}&date={date}")
}

// ---------------------------------------------------------------------------------------------
// The report page

/// One line of the values table.
struct ValueRow {
    label: String,
    value: String,
    unit: String,
    computed: bool,
    hot: bool,
}

/// A manual field of the submit form, as typed.
struct Field {
    key: String,
    label: String,
    unit: String,
    number: bool,
    value: String,
}

struct ChildRow {
    node_id: i64,
    name: String,
    closed: bool,
    status: &'static str,
    status_class: &'static str,
    extra: String,
    cells: Vec<String>,
}

struct MissingRow {
    node_id: i64,
    name: String,
    reminders: i64,
    can_remind: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "reports/reports.html")]
struct ReportPage {
    shell: Shell,
    template: String,
    template_name: String,
    node_id: i64,
    node_name: String,
    kind_label: &'static str,
    parent: Option<(i64, String)>,
    date: String,
    prev_date: String,
    next_date: String,
    status: &'static str,
    status_class: &'static str,
    zero: bool,
    timeliness: String,
    submitted: String,
    approved: String,
    /// Why the approver sent it back, and who and when; empty unless returned.
    returned: String,
    due: String,
    reminders: Vec<String>,
    values: Vec<ValueRow>,
    heads: Vec<String>,
    children: Vec<ChildRow>,
    completeness: Option<Completeness>,
    missing: Vec<MissingRow>,
    level_label: &'static str,
    can_submit: bool,
    rollup: bool,
    fields: Vec<Field>,
    can_approve: bool,
    errors: Vec<String>,
    notice: &'static str,
    xlsx: String,
    /// The report in other offices' layouts (collect once, fill many): (xlsx, print view,
    /// office).
    mapped: Vec<(String, String, String)>,
    print: String,
    trend: String,
}

impl ReportPage {
    fn show_completeness(&self) -> bool {
        self.rollup && self.completeness.as_ref().is_some_and(|c| c.expected > 0)
    }
}

fn value_text(v: Option<&ManualValue>) -> String {
    match v {
        Some(ManualValue::Number(n)) => n.to_string(),
        Some(ManualValue::Text(t)) => t.clone(),
        None => "—".to_owned(),
    }
}

fn status_class(s: Status) -> &'static str {
    match s {
        Status::Draft => "draft",
        Status::Submitted => "submitted",
        Status::Approved => "approved",
        Status::Returned => "returned",
    }
}

fn when(by: &Option<String>, at: Option<i64>) -> String {
    match (by, at) {
        (Some(by), Some(at)) => format!("{by} · {}", display(at)),
        _ => String::new(),
    }
}

async fn report_page(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Query(q): Query<ReportQuery>,
) -> Response {
    let notice = match q.notice.as_deref() {
        Some("submitted") => "已报送。",
        Some("zero") => "已报送零报告。",
        Some("approved") => "已审核，数据已锁定。",
        Some("returned") => "已退回，待其更正后重新报送。",
        Some("reminded") => "已发送提醒。",
        _ => "",
    };
    render(&state, &user, q, StatusCode::OK, Vec::new(), notice, None).await
}

async fn render(
    state: &AppState,
    user: &Principal,
    q: ReportQuery,
    status: StatusCode,
    errors: Vec<String>,
    notice: &'static str,
    typed: Option<&HashMap<String, String>>,
) -> Response {
    let result = async {
        let Some(t) = target(state, user, q.template, q.node_id, q.date.as_deref()).await? else {
            return Ok(None);
        };
        let mut report =
            reports::report(&state.db, &user.scope, &t.template, t.node_id, t.date).await?;
        named(state, &mut report).await?;
        let completeness =
            reports::completeness(&state.db, &user.scope, &t.template, t.node_id, t.date).await?;
        let parent = match report.node.parent_id {
            Some(pid) => linli_store::tree::get(&state.db, &user.scope, pid)
                .await
                .ok()
                .map(|p| (p.id, p.name)),
            None => None,
        };
        let maps = linli_store::reports::mappings::mappings(&state.db, &user.scope).await?;
        Ok::<_, StoreError>(Some((t, report, completeness, parent, maps)))
    }
    .await;
    let (t, report, completeness, parent, maps) = match result {
        Ok(Some(r)) => r,
        Ok(None) => return error_page(StatusCode::NOT_FOUND, "您的账号没有绑定辖区，看不到报表。"),
        Err(e) => return store_error_page(e),
    };
    let mapped = maps
        .iter()
        .filter(|m| m.mapping.source == t.template)
        .map(|m| {
            let (key, node, date) = (&m.mapping.key, report.node.id, format_date(t.date));
            (
                format!("/api/v1/reports/{key}/{node}/{date}.xlsx"),
                format!("/reports/print/mapped?mapping={key}&node_id={node}&date={date}"),
                m.mapping.office.clone(),
            )
        })
        .collect();
    let mut page = page_of(
        user,
        &t,
        report,
        completeness,
        parent,
        errors,
        notice,
        typed,
    );
    page.mapped = mapped;
    (status, page).into_response()
}

/// The report with the people who submitted, approved, returned and reminded named by their
/// display names (the records keep login names).
async fn named(state: &AppState, r: &mut Report) -> Result<(), StoreError> {
    let actors = r
        .submitted_by
        .iter_mut()
        .chain(r.approved_by.iter_mut())
        .chain(r.returned.iter_mut().map(|x| &mut x.by))
        .chain(r.reminders.iter_mut().map(|m| &mut m.created_by));
    crate::auth::names::name_actors(&state.db, actors.collect()).await
}

#[allow(clippy::too_many_arguments)]
fn page_of(
    user: &Principal,
    t: &Target,
    r: Report,
    c: Completeness,
    parent: Option<(i64, String)>,
    errors: Vec<String>,
    notice: &'static str,
    typed: Option<&HashMap<String, String>>,
) -> ReportPage {
    let tpl = &r.template.template;
    let date = format_date(t.date);
    let values = tpl
        .indicators
        .iter()
        .map(|i| {
            let v = r.values.get(&i.key).and_then(Option::as_ref);
            ValueRow {
                label: i.label.clone(),
                value: value_text(v),
                unit: i.unit.clone(),
                computed: i.aggregate().is_some(),
                hot: i.aggregate().is_some() && matches!(v, Some(ManualValue::Number(n)) if *n > 0),
            }
        })
        .collect();
    let numbers: Vec<&linli_core::reports::Indicator> =
        tpl.indicators.iter().filter(|i| i.is_number()).collect();
    let children = r
        .children
        .iter()
        .map(|ch| {
            let mut extra = Vec::new();
            if ch.zero {
                extra.push("零报告");
            }
            if ch.timeliness == Some(Timeliness::Late) {
                extra.push("迟报");
            }
            ChildRow {
                node_id: ch.node_id,
                name: ch.name.clone(),
                closed: ch.closed,
                status: if ch.role == NodeRole::Below {
                    ""
                } else {
                    ch.status.label_zh()
                },
                status_class: status_class(ch.status),
                extra: extra.join(" · "),
                cells: numbers
                    .iter()
                    .map(|i| value_text(ch.values.get(&i.key).and_then(Option::as_ref)))
                    .collect(),
            }
        })
        .collect();
    let bound: Vec<i64> = user.user.nodes.iter().map(|n| n.id).collect();
    let missing = c
        .missing
        .iter()
        .map(|m| MissingRow {
            node_id: m.node_id,
            name: m.name.clone(),
            reminders: m.reminders,
            can_remind: user.scope.role() != Role::GridWorker
                && (user.scope.is_admin() || !bound.contains(&m.node_id)),
        })
        .collect();
    let own = |key: &str| match r.values.get(key).and_then(Option::as_ref) {
        Some(ManualValue::Number(n)) if r.status != Status::Draft => n.to_string(),
        Some(ManualValue::Text(s)) => s.clone(),
        _ => String::new(),
    };
    let fields = tpl
        .manual()
        .map(|i| Field {
            key: i.key.clone(),
            label: i.label.clone(),
            unit: i.unit.clone(),
            number: i.manual_kind() == Some(ManualKind::Number),
            value: typed
                .and_then(|m| m.get(&format!("m.{}", i.key)).cloned())
                .unwrap_or_else(|| own(&i.key)),
        })
        .collect();
    let api = format!("/api/v1/reports/{}/{}/{date}", t.template, r.node.id);
    let to_date = |d: Option<time::Date>| d.map(format_date).unwrap_or_else(|| date.clone());
    ReportPage {
        shell: Shell::of(user, "reports"),
        template: t.template.clone(),
        template_name: tpl.name.clone(),
        node_id: r.node.id,
        node_name: r.node.name.clone(),
        kind_label: r.node.kind.label_zh(),
        parent,
        prev_date: to_date(t.date.previous_day()),
        next_date: to_date(t.date.next_day().filter(|d| *d <= today())),
        status: if r.submits() {
            r.status.label_zh()
        } else {
            reports::TOP_STATUS_ZH
        },
        status_class: if r.submits() {
            status_class(r.status)
        } else {
            "top"
        },
        zero: r.zero,
        timeliness: r
            .timeliness
            .map(|x| x.label_zh().to_owned())
            .unwrap_or_default(),
        submitted: when(&r.submitted_by, r.submitted_at),
        approved: when(&r.approved_by, r.approved_at),
        returned: r
            .returned
            .as_ref()
            .filter(|_| r.status == Status::Returned)
            .map(|x| format!("{}（{} · {}）", x.reason, x.by, display(x.at)))
            .unwrap_or_default(),
        due: display(r.due_at),
        reminders: r
            .reminders
            .iter()
            .map(|m| format!("{} 于 {} 提醒报送", m.created_by, display(m.created_at)))
            .collect(),
        values,
        heads: numbers.iter().map(|i| i.label.clone()).collect(),
        children,
        level_label: c.level.label_zh(),
        missing,
        completeness: Some(c),
        can_submit: r.submittable_by(&user.scope),
        rollup: r.role == NodeRole::Rollup,
        fields,
        can_approve: r.approvable_by(&user.scope),
        errors,
        notice,
        xlsx: format!("{api}.xlsx"),
        mapped: Vec::new(),
        print: format!(
            "/reports/print?template={}&node_id={}&date={date}",
            t.template, r.node.id
        ),
        trend: format!(
            "/reports/trend?template={}&node_id={}&to={date}",
            t.template, r.node.id
        ),
        date,
    }
}

// ---------------------------------------------------------------------------------------------
// Forms

/// The posted forms (here, and the template and layout editors'): every field as text (manual
/// values are `m.<key>`).
type FormFields = HashMap<String, String>;

fn field<'a>(f: &'a FormFields, name: &str) -> &'a str {
    f.get(name).map(String::as_str).unwrap_or_default()
}

/// The faults by field, for the editors to show each beside its input.
fn faults_by_field(errors: &[linli_core::CoreError]) -> HashMap<String, Vec<String>> {
    let mut by_field: HashMap<String, Vec<String>> = HashMap::new();
    for e in errors {
        by_field
            .entry(e.field.clone())
            .or_default()
            .push(e.message.clone());
    }
    by_field
}

fn form_target(f: &FormFields) -> Result<(String, i64, time::Date), StoreError> {
    let node_id = field(f, "node_id")
        .trim()
        .parse::<i64>()
        .map_err(|_| StoreError::NotFound)?;
    let date = parse_date("date", field(f, "date"))?;
    let template = match field(f, "template").trim() {
        "" => EPIDEMIC_DAILY.to_owned(),
        t => t.to_owned(),
    };
    Ok((template, node_id, date))
}

fn label(template_field: &str, r: Option<&linli_core::reports::Template>) -> String {
    if let Some(key) = template_field.strip_prefix("manual.") {
        if let Some(i) = r.and_then(|t| t.indicator(key)) {
            return i.label.clone();
        }
    }
    match template_field {
        "zero" => "零报告".to_owned(),
        "status" => "状态".to_owned(),
        "date" => "日期".to_owned(),
        "node_id" => "报送单位".to_owned(),
        "reason" => "退回原因".to_owned(),
        other => other.to_owned(),
    }
}

async fn submit(State(state): State<AppState>, form: CsrfForm<FormFields>) -> Response {
    let CsrfForm { user, form: f } = form;
    let (template, node_id, date) = match form_target(&f) {
        Ok(t) => t,
        Err(e) => return store_error_page(e),
    };
    let zero = field(&f, "zero") == "1";
    let manual: Vec<(String, String)> = f
        .iter()
        .filter_map(|(k, v)| k.strip_prefix("m.").map(|k| (k.to_owned(), v.clone())))
        .collect();
    let input = SubmitInput { manual, zero };
    match reports::submit(
        &state.db,
        &user.scope,
        &template,
        node_id,
        date,
        &input,
        now_ms(),
    )
    .await
    {
        Ok(r) => Redirect::to(&format!(
            "{}&notice={}",
            href(&template, r.node.id, &r.date),
            if zero { "zero" } else { "submitted" }
        ))
        .into_response(),
        Err(StoreError::Invalid(errs)) => {
            let t = reports::template_on(&state.db, &template, date).await.ok();
            let messages = errs
                .iter()
                .map(|e| {
                    format!(
                        "{}：{}",
                        label(&e.field, t.as_ref().map(|t| &t.template)),
                        e.message
                    )
                })
                .collect();
            let q = ReportQuery {
                template: Some(template),
                node_id: Some(node_id),
                date: Some(format_date(date)),
                notice: None,
            };
            render(
                &state,
                &user,
                q,
                StatusCode::UNPROCESSABLE_ENTITY,
                messages,
                "",
                Some(&f),
            )
            .await
        }
        Err(e) => store_error_page(e),
    }
}

async fn approve(State(state): State<AppState>, form: CsrfForm<FormFields>) -> Response {
    let CsrfForm { user, form: f } = form;
    let (template, node_id, date) = match form_target(&f) {
        Ok(t) => t,
        Err(e) => return store_error_page(e),
    };
    match reports::approve(&state.db, &user.scope, &template, node_id, date, now_ms()).await {
        Ok(r) => Redirect::to(&format!(
            "{}&notice=approved",
            href(&template, r.node.id, &r.date)
        ))
        .into_response(),
        Err(StoreError::Invalid(errs)) => {
            refused(&state, &user, template, node_id, date, &errs).await
        }
        Err(e) => store_error_page(e),
    }
}

/// Sends the report back with the reason typed (退回).
async fn return_report(State(state): State<AppState>, form: CsrfForm<FormFields>) -> Response {
    let CsrfForm { user, form: f } = form;
    let (template, node_id, date) = match form_target(&f) {
        Ok(t) => t,
        Err(e) => return store_error_page(e),
    };
    let reason = field(&f, "reason");
    match reports::return_report(
        &state.db,
        &user.scope,
        &template,
        node_id,
        date,
        reason,
        now_ms(),
    )
    .await
    {
        Ok(r) => Redirect::to(&format!(
            "{}&notice=returned",
            href(&template, r.node.id, &r.date)
        ))
        .into_response(),
        Err(StoreError::Invalid(errs)) => {
            refused(&state, &user, template, node_id, date, &errs).await
        }
        Err(e) => store_error_page(e),
    }
}

/// The viewer's report again, with the messages of a refused approval or reminder.
async fn refused(
    state: &AppState,
    user: &Principal,
    template: String,
    node_id: i64,
    date: time::Date,
    errs: &[linli_core::CoreError],
) -> Response {
    let q = ReportQuery {
        template: Some(template),
        node_id: Some(node_id),
        date: Some(format_date(date)),
        notice: None,
    };
    let messages = errs.iter().map(|e| e.message.clone()).collect();
    render(
        state,
        user,
        q,
        StatusCode::UNPROCESSABLE_ENTITY,
        messages,
        "",
        None,
    )
    .await
}

/// Reminds `target_id`, then returns to the viewer's report (`node_id`).
async fn remind(State(state): State<AppState>, form: CsrfForm<FormFields>) -> Response {
    let CsrfForm { user, form: f } = form;
    let (template, node_id, date) = match form_target(&f) {
        Ok(t) => t,
        Err(e) => return store_error_page(e),
    };
    let Ok(target_id) = field(&f, "target_id").trim().parse::<i64>() else {
        return store_error_page(StoreError::NotFound);
    };
    match reports::remind(&state.db, &user.scope, &template, target_id, date, now_ms()).await {
        Ok(_) => Redirect::to(&format!(
            "{}&notice=reminded#completeness",
            href(&template, node_id, &format_date(date))
        ))
        .into_response(),
        Err(StoreError::Invalid(errs)) => {
            refused(&state, &user, template, node_id, date, &errs).await
        }
        Err(e) => store_error_page(e),
    }
}

// ---------------------------------------------------------------------------------------------
// Print view

#[derive(Template, WebTemplate)]
#[template(path = "reports/report_print.html")]
struct PrintPage {
    title: String,
    date: String,
    deadline: String,
    state: String,
    heads: Vec<(String, String)>,
    rows: Vec<(String, Vec<String>, String)>,
    total: Vec<String>,
    node_name: String,
    printed: String,
    back: String,
}

async fn print_page(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Query(q): Query<ReportQuery>,
) -> Response {
    let result = async {
        let Some(t) = target(&state, &user, q.template, q.node_id, q.date.as_deref()).await? else {
            return Ok(None);
        };
        let r = reports::report(&state.db, &user.scope, &t.template, t.node_id, t.date).await?;
        Ok::<_, StoreError>(Some((t, r)))
    }
    .await;
    let (t, r) = match result {
        Ok(Some(x)) => x,
        Ok(None) => return error_page(StatusCode::NOT_FOUND, "您的账号没有绑定辖区，看不到报表。"),
        Err(e) => return store_error_page(e),
    };
    let tpl = &r.template.template;
    let cells = |v: &reports::Values| -> Vec<String> {
        tpl.indicators
            .iter()
            .map(|i| match v.get(&i.key).and_then(Option::as_ref) {
                Some(ManualValue::Number(n)) => n.to_string(),
                Some(ManualValue::Text(s)) => s.clone(),
                None => String::new(),
            })
            .collect()
    };
    let mut rows: Vec<(String, Vec<String>, String)> = r
        .children
        .iter()
        .map(|c| {
            let mut state = if c.role == NodeRole::Below {
                String::new()
            } else {
                c.status.label_zh().to_owned()
            };
            if c.zero {
                state.push_str("·零报告");
            }
            if c.timeliness == Some(Timeliness::Late) {
                state.push_str("·迟报");
            }
            (c.name.clone(), cells(&c.values), state)
        })
        .collect();
    if r.direct.values().any(|n| *n != 0) || rows.is_empty() || r.role == NodeRole::Reporting {
        let direct: reports::Values = tpl
            .indicators
            .iter()
            .map(|i| {
                let v = match r.direct.get(&i.key) {
                    Some(n) => Some(ManualValue::Number(*n)),
                    None if r.role == NodeRole::Reporting || r.children.is_empty() => {
                        r.values.get(&i.key).cloned().flatten()
                    }
                    None => None,
                };
                (i.key.clone(), v)
            })
            .collect();
        rows.push(("本级直属".to_owned(), cells(&direct), String::new()));
    }
    let state_line = r.status_line_zh();
    PrintPage {
        title: format!("{}{}", r.node.name, tpl.name),
        date: r.date.clone(),
        deadline: tpl.deadline.to_string(),
        state: if r.zero {
            format!("{state_line} 零报告")
        } else {
            state_line
        },
        heads: tpl
            .indicators
            .iter()
            .map(|i| {
                (
                    i.label.clone(),
                    if i.unit.is_empty() {
                        String::new()
                    } else {
                        format!("（{}）", i.unit)
                    },
                )
            })
            .collect(),
        rows,
        total: cells(&r.values),
        node_name: r.node.name.clone(),
        printed: display(linli_core::kernel::clock::now_ms()),
        back: href(&t.template, r.node.id, &r.date),
    }
    .into_response()
}

// ---------------------------------------------------------------------------------------------
// Print view in another office's layout

#[derive(Deserialize, Default)]
struct MappedQuery {
    mapping: Option<String>,
    node_id: Option<i64>,
    date: Option<String>,
}

struct MappedPrintRow {
    name: String,
    cells: Vec<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "reports/report_mapped_print.html")]
struct MappedPrintPage {
    title: String,
    office: String,
    node_name: String,
    date: String,
    state: String,
    unit_header: String,
    /// (header, unit) in the office's order.
    heads: Vec<(String, String)>,
    units: bool,
    rows: Vec<MappedPrintRow>,
    total: Vec<String>,
    source: String,
    printed: String,
    printed_by: String,
    back: String,
}

/// A node's report of a date printed in another office's layout: its title and column headings,
/// one row per child node (and 本级直属), the total row. The numbers are the source report's
/// (`mappings::mapped_report`), so the scope is the report's: outside it is 404.
async fn mapped_print_page(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Query(q): Query<MappedQuery>,
) -> Response {
    let Some(key) = q.mapping.filter(|k| !k.trim().is_empty()) else {
        return error_page(StatusCode::NOT_FOUND, "请指定表样。");
    };
    let result = async {
        let Some(t) = target(&state, &user, None, q.node_id, q.date.as_deref()).await? else {
            return Ok(None);
        };
        let r =
            reports::mappings::mapped_report(&state.db, &user.scope, key.trim(), t.node_id, t.date)
                .await?;
        Ok::<_, StoreError>(Some(r))
    }
    .await;
    let r = match result {
        Ok(Some(x)) => x,
        Ok(None) => return error_page(StatusCode::NOT_FOUND, "您的账号没有绑定辖区，看不到报表。"),
        Err(e) => return store_error_page(e),
    };
    let m = &r.mapping.mapping;
    let s = &r.source;
    let cells = |v: &[Option<ManualValue>]| -> Vec<String> {
        v.iter()
            .map(|c| match c {
                Some(ManualValue::Number(n)) => n.to_string(),
                Some(ManualValue::Text(t)) => t.clone(),
                None => String::new(),
            })
            .collect()
    };
    let state_line = s.status_line_zh();
    MappedPrintPage {
        title: format!("{}{}", s.node.name, m.name),
        office: m.office.clone(),
        node_name: s.node.name.clone(),
        date: s.date.clone(),
        state: if s.zero {
            format!("{state_line} 零报告")
        } else {
            state_line
        },
        unit_header: m.unit_header.clone(),
        heads: m
            .columns
            .iter()
            .map(|c| {
                (
                    c.header.clone(),
                    if c.unit.is_empty() {
                        String::new()
                    } else {
                        format!("（{}）", c.unit)
                    },
                )
            })
            .collect(),
        units: m.columns.iter().any(|c| !c.unit.is_empty()),
        rows: r
            .rows
            .iter()
            .map(|row| MappedPrintRow {
                name: if row.closed {
                    format!("{}（已撤销）", row.name)
                } else {
                    row.name.clone()
                },
                cells: cells(&row.cells),
            })
            .collect(),
        total: cells(&r.total),
        source: format!(
            "{}（第 {} 版）· 表样第 {} 版",
            s.template.template.name, s.template.template.version, m.version
        ),
        printed: display(linli_core::kernel::clock::now_ms()),
        printed_by: user.user.display_name.clone(),
        back: href(&m.source, s.node.id, &s.date),
    }
    .into_response()
}

// ---------------------------------------------------------------------------------------------
// Trend chart

#[derive(Deserialize, Default)]
struct TrendQuery {
    template: Option<String>,
    node_id: Option<i64>,
    indicator: Option<String>,
    from: Option<String>,
    to: Option<String>,
}

struct Tick {
    y: f64,
    label: String,
}

struct XLabel {
    x: f64,
    label: String,
}

struct Dot {
    x: f64,
    y: f64,
    title: String,
}

struct Opt {
    value: String,
    label: String,
    selected: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "reports/report_trend.html")]
struct TrendPage {
    shell: Shell,
    template: String,
    node_id: i64,
    node_name: String,
    label: String,
    unit: String,
    options: Vec<Opt>,
    from: String,
    to: String,
    errors: Vec<String>,
    points: String,
    dots: Vec<Dot>,
    ticks: Vec<Tick>,
    xlabels: Vec<XLabel>,
    max: i64,
    total: i64,
    back: String,
}

/// Chart geometry: the plot area inside the SVG's 640 × 260 view box.
const LEFT: f64 = 44.0;
const RIGHT: f64 = 612.0;
const TOP: f64 = 24.0;
const BOTTOM: f64 = 226.0;

async fn trend_page(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Query(q): Query<TrendQuery>,
) -> Response {
    let mut errors = Vec::new();
    let to = match q.to.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        Some(s) => parse_date("to", s)
            .map_err(|e| errors.push(format!("截止日期：{}", e.message)))
            .unwrap_or_else(|_| today()),
        None => today(),
    };
    let default_from = to - time::Duration::days(13);
    let mut from = match q.from.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        Some(s) => parse_date("from", s)
            .map_err(|e| errors.push(format!("起始日期：{}", e.message)))
            .unwrap_or(default_from),
        None => default_from,
    };
    if from > to {
        errors.push("起始日期不能晚于截止日期".to_owned());
        from = default_from;
    }
    if (to - from).whole_days() >= MAX_TREND_DAYS {
        errors.push(format!(
            "最多显示 {MAX_TREND_DAYS} 天，已从截止日期往前截取"
        ));
        from = to - time::Duration::days(MAX_TREND_DAYS - 1);
    }
    let result = async {
        let Some(t) = target(&state, &user, q.template, q.node_id, Some(&format_date(to))).await?
        else {
            return Ok(None);
        };
        let node = linli_store::tree::get(&state.db, &user.scope, t.node_id).await?;
        let stored = reports::template_on(&state.db, &t.template, to).await?;
        let computed: Vec<_> = stored.template.computed().cloned().collect();
        let ind = q
            .indicator
            .as_deref()
            .and_then(|k| computed.iter().find(|i| i.key == k))
            .or_else(|| computed.first())
            .cloned()
            .ok_or(StoreError::NotFound)?;
        let mut series = Vec::new();
        let mut d = from;
        while d <= to {
            let v = match reports::computed(&state.db, &user.scope, &t.template, node.id, d).await {
                Ok(values) => values.get(&ind.key).copied().unwrap_or(0),
                // Before the template was in force: nothing to draw for that day.
                Err(StoreError::NotFound) => 0,
                Err(e) => return Err(e),
            };
            series.push((d, v));
            match d.next_day() {
                Some(n) => d = n,
                None => break,
            }
        }
        Ok::<_, StoreError>(Some((t, node, computed, ind, series)))
    }
    .await;
    let (t, node, computed, ind, series) = match result {
        Ok(Some(x)) => x,
        Ok(None) => return error_page(StatusCode::NOT_FOUND, "您的账号没有绑定辖区，看不到报表。"),
        Err(e) => return store_error_page(e),
    };
    let max = series.iter().map(|(_, v)| *v).max().unwrap_or(0);
    let top = nice_top(max);
    let n = series.len().max(1);
    let x_of = |i: usize| {
        if n == 1 {
            (LEFT + RIGHT) / 2.0
        } else {
            LEFT + (RIGHT - LEFT) * i as f64 / (n - 1) as f64
        }
    };
    let y_of = |v: i64| BOTTOM - (BOTTOM - TOP) * v as f64 / top as f64;
    let dots: Vec<Dot> = series
        .iter()
        .enumerate()
        .map(|(i, (d, v))| Dot {
            x: x_of(i),
            y: y_of(*v),
            title: format!("{}：{v}{}", format_date(*d), ind.unit),
        })
        .collect();
    let points = dots
        .iter()
        .map(|d| format!("{:.1},{:.1}", d.x, d.y))
        .collect::<Vec<_>>()
        .join(" ");
    let ticks = (0..=4)
        .map(|k| {
            let v = top * k / 4;
            Tick {
                y: y_of(v),
                label: v.to_string(),
            }
        })
        .collect();
    // At most 8 date labels, evenly spread, the last date always shown.
    let step = n.div_ceil(7).max(1);
    let mut at: Vec<usize> = (0..n).step_by(step).collect();
    if at.last() != Some(&(n - 1)) {
        if at.last().is_some_and(|l| n - 1 - l < step) {
            at.pop();
        }
        at.push(n - 1);
    }
    let xlabels = at
        .into_iter()
        .filter_map(|i| series.get(i).map(|(d, _)| (i, *d)))
        .map(|(i, d)| XLabel {
            x: x_of(i),
            label: format_date(d)[5..].to_owned(),
        })
        .collect();
    TrendPage {
        shell: Shell::of(&user, "reports"),
        template: t.template.clone(),
        node_id: node.id,
        node_name: node.name.clone(),
        label: ind.label.clone(),
        unit: ind.unit.clone(),
        options: computed
            .iter()
            .map(|i| Opt {
                value: i.key.clone(),
                label: i.label.clone(),
                selected: i.key == ind.key,
            })
            .collect(),
        from: format_date(from),
        to: format_date(to),
        errors,
        points,
        dots,
        ticks,
        xlabels,
        max,
        total: series.iter().map(|(_, v)| v).sum(),
        back: href(&t.template, node.id, &format_date(to)),
    }
    .into_response()
}

/// The top of the y axis: at least 4 (so the ticks are whole numbers), rounded up to a multiple
/// of 4 times 1, 2 or 5 × 10ⁿ.
fn nice_top(max: i64) -> i64 {
    let mut unit = 1i64;
    loop {
        for m in [1, 2, 5] {
            let top = 4 * m * unit;
            if top >= max {
                return top;
            }
        }
        unit = unit.saturating_mul(10);
        if unit > 1_000_000_000 {
            return max.max(4);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::nice_top;

    #[test]
    fn the_axis_top_is_round_and_above_the_data() {
        assert_eq!(nice_top(0), 4);
        assert_eq!(nice_top(3), 4);
        assert_eq!(nice_top(5), 8);
        assert_eq!(nice_top(9), 20);
        assert_eq!(nice_top(21), 40);
        assert_eq!(nice_top(1234), 2000);
    }
}
