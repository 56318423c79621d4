//! 预警: the alerts under a node — open ones to handle (fever: referral and outcome; overdue:
//! contact), handled ones with their outcome — searched by name, filtered by kind and state,
//! paged, and exported (audited).

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, RawQuery, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use linli_core::kernel::clock::{display, format_date, now_ms, today};
use linli_core::kernel::labels::Labelled;
use linli_core::Role;
use linli_store::accounts::Principal;
use linli_store::epidemic::alerts::{
    self, AlertFilter, AlertOutcome, AlertPage, AlertState, ListedAlert, MAX_ALERT_PAGE,
};
use linli_store::StoreError;
use serde::Deserialize;

use super::observations::node_and_choices;
use crate::auth::{CsrfForm, PageUser};
use crate::ui::{form_status, store_error_page, url_encode, Choice, Pager, Shell};
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/epidemic/alerts", get(alerts_page))
        .route("/epidemic/alerts.xlsx", get(export))
        .route("/epidemic/alerts/{id}/handle", post(handle_alert))
}

/// Alerts a page.
const PER_PAGE: i64 = 50;

/// The states a list can show, as the filter offers them.
const STATES: &[(&str, &str)] = &[("open", "待处理"), ("handled", "已处理"), ("all", "全部")];

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct AlertsQuery {
    node_id: Option<i64>,
    kind: String,
    state: String,
    q: String,
    page: Option<i64>,
    /// Whose alert was just handled (the notice).
    handled: Option<String>,
}

impl AlertsQuery {
    fn filter(&self) -> AlertFilter {
        AlertFilter {
            kind: Some(self.kind.clone()).filter(|k| k == "fever" || k == "overdue"),
            state: match self.state.as_str() {
                "handled" => AlertState::Handled,
                "all" => AlertState::All,
                _ => AlertState::Open,
            },
            q: Some(self.q.trim().to_owned()).filter(|q| !q.is_empty()),
        }
    }

    /// The list's filters as a query string (for the pager, the export and coming back).
    fn query_string(&self, node_id: i64) -> String {
        crate::ui::query_string(&[
            ("node_id", &node_id.to_string()),
            ("kind", &self.kind),
            ("state", &self.state),
            ("q", &self.q),
        ])
    }
}

struct AlertRow {
    id: i64,
    kind: String,
    kind_class: String,
    person_id: i64,
    person_name: String,
    detail: String,
    raised_at: String,
    /// 「转诊（县医院发热门诊）· 李秀英 · 2020-02-10 16:00」, empty while open.
    handled: String,
    /// The outcomes a worker may close it with (empty when handled or for read-only roles).
    outcomes: Vec<Choice>,
}

#[derive(Template, WebTemplate)]
#[template(path = "epidemic/epidemic_alerts.html")]
struct AlertsPage {
    shell: Shell,
    node_id: i64,
    nodes: Vec<Choice>,
    kinds: Vec<Choice>,
    states: Vec<Choice>,
    kind: String,
    state: String,
    q: String,
    total: i64,
    rows: Vec<AlertRow>,
    export: String,
    pager: Pager,
    notice: String,
    error: String,
}

fn outcome_text(a: &ListedAlert) -> String {
    let Some(outcome) = a.outcome else {
        return String::new();
    };
    let mut s = outcome.label_zh().to_owned();
    if let Some(note) = a.outcome_note.as_deref().filter(|n| !n.is_empty()) {
        s.push_str(&format!("（{note}）"));
    }
    if let Some(by) = &a.handled_by {
        s.push_str(&format!(" · {by}"));
    }
    if let Some(at) = a.handled_at {
        s.push_str(&format!(" · {}", display(at)));
    }
    s
}

fn row_of(a: ListedAlert, can_handle: bool) -> AlertRow {
    let handled = outcome_text(&a);
    let outcomes = if can_handle && a.handled_at.is_none() {
        AlertOutcome::for_kind(&a.alert.kind)
            .iter()
            .map(|o| Choice {
                value: o.as_str().to_owned(),
                label: o.label_zh().to_owned(),
                selected: false,
            })
            .collect()
    } else {
        Vec::new()
    };
    AlertRow {
        id: a.alert.id,
        kind: alerts::kind_zh(&a.alert.kind).to_owned(),
        kind_class: a.alert.kind.clone(),
        person_id: a.alert.person_id,
        person_name: a.alert.person_name.clone(),
        detail: a.alert.detail.clone(),
        raised_at: display(a.alert.raised_at),
        handled,
        outcomes,
    }
}

/// The page under the node asked for (or the caller's first), `limit` rows from `offset`.
async fn load(
    state: &AppState,
    user: &Principal,
    q: &AlertsQuery,
    limit: i64,
    offset: i64,
) -> Result<(i64, String, Vec<Choice>, AlertPage), StoreError> {
    let (node_id, node_name, nodes) = node_and_choices(state, user, q.node_id).await?;
    let mut page =
        alerts::alerts(&state.db, &user.scope, node_id, &q.filter(), limit, offset).await?;
    // Who handled it, by name rather than login.
    let handlers = page.items.iter_mut().filter_map(|a| a.handled_by.as_mut());
    crate::auth::names::name_actors(&state.db, handlers.collect()).await?;
    Ok((node_id, node_name, nodes, page))
}

async fn render(state: &AppState, user: &Principal, q: AlertsQuery, error: String) -> Response {
    let page_no = Pager::asked(q.page);
    let (node_id, _, nodes, page) =
        match load(state, user, &q, PER_PAGE, Pager::offset(page_no, PER_PAGE)).await {
            Ok(r) => r,
            Err(e) => return store_error_page(e),
        };
    let can_handle = user.scope.role() != Role::Official;
    let qs = q.query_string(node_id);
    let state_code = if q.state.is_empty() {
        "open"
    } else {
        q.state.as_str()
    };
    let page = AlertsPage {
        shell: Shell::of(user, "epidemic"),
        node_id,
        nodes,
        kinds: crate::ui::choices(
            [("", "全部"), ("fever", "发热"), ("overdue", "逾期未打卡")].into_iter(),
            &q.kind,
        ),
        states: crate::ui::choices(STATES.iter().copied(), state_code),
        kind: q.kind.clone(),
        state: state_code.to_owned(),
        q: q.q.clone(),
        total: page.total,
        rows: page
            .items
            .into_iter()
            .map(|a| row_of(a, can_handle))
            .collect(),
        export: format!("/epidemic/alerts.xlsx?{qs}"),
        pager: Pager::new(page_no, page.total, PER_PAGE, |n| {
            format!("/epidemic/alerts?{qs}&page={n}")
        }),
        notice: q
            .handled
            .as_deref()
            .map(|name| format!("已记录{name}的预警处理结果。"))
            .unwrap_or_default(),
        error,
    };
    (form_status(!page.error.is_empty()), page).into_response()
}

async fn alerts_page(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Query(q): Query<AlertsQuery>,
) -> Response {
    render(&state, &user, q, String::new()).await
}

/// The list as filtered, every page, as xlsx (audited: it names people).
async fn export(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Query(q): Query<AlertsQuery>,
    RawQuery(raw): RawQuery,
) -> Response {
    let (node_id, node_name, _, page) = match load(&state, &user, &q, MAX_ALERT_PAGE, 0).await {
        Ok(r) => r,
        Err(e) => return store_error_page(e),
    };
    if let Err(refused) = crate::ui::xlsx::audit_export(
        &state,
        &user,
        "alert",
        node_id,
        raw.as_deref(),
        page.items.len(),
    )
    .await
    {
        return refused;
    }
    let day = format_date(today());
    let title = format!("{node_name} 预警（{day} 导出，共 {} 条）", page.total);
    let rows = page.items.into_iter().map(|a| {
        let handled = outcome_text(&a);
        vec![
            a.alert.person_name,
            alerts::kind_zh(&a.alert.kind).to_owned(),
            a.alert.detail,
            display(a.alert.raised_at),
            if a.handled_at.is_some() {
                "已处理"
            } else {
                "待处理"
            }
            .to_owned(),
            handled,
        ]
    });
    crate::ui::xlsx_table(
        "alerts",
        &format!("预警-{node_id}-{day}.xlsx"),
        "预警",
        title,
        &["姓名", "类别", "详情", "发出时间", "状态", "处理结果"],
        rows,
    )
    .await
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct HandleForm {
    outcome: String,
    note: String,
    /// The list's filters, to come back to.
    node_id: Option<i64>,
    kind: String,
    state: String,
    q: String,
}

/// Closes one alert with its outcome; the list comes back with a notice or the reason why not.
async fn handle_alert(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    f: CsrfForm<HandleForm>,
) -> Response {
    let CsrfForm { user, form } = f;
    let back = AlertsQuery {
        node_id: form.node_id,
        kind: form.kind.clone(),
        state: form.state.clone(),
        q: form.q.clone(),
        ..AlertsQuery::default()
    };
    // Whose alert it is, for the notice: looked up in the open list the worker was reading.
    let name = match load(&state, &user, &back, MAX_ALERT_PAGE, 0).await {
        Ok((_, _, _, page)) => page
            .items
            .into_iter()
            .find(|a| a.alert.id == id)
            .map(|a| a.alert.person_name)
            .unwrap_or_default(),
        Err(_) => String::new(),
    };
    match alerts::handle(
        &state.db,
        &user.scope,
        id,
        &form.outcome,
        Some(&form.note),
        now_ms(),
    )
    .await
    {
        Ok(_) => {
            let node_id = back.node_id.unwrap_or_default();
            let mut to = format!("/epidemic/alerts?handled={}", url_encode(&name));
            if node_id > 0 {
                to.push_str(&format!("&{}", back.query_string(node_id)));
            }
            Redirect::to(&to).into_response()
        }
        Err(StoreError::Invalid(errors)) => {
            let message = crate::ui::forms::messages(&errors);
            render(&state, &user, back, message).await
        }
        Err(StoreError::Conflict { message, .. }) => render(&state, &user, back, message).await,
        Err(e) => store_error_page(e),
    }
}
