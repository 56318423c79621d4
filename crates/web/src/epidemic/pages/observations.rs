//! 正在观察: everyone under a measure within a node, phone first, grouped by where they live —
//! measure, day N of M, today's check-ins done and due, last temperature, open alerts — with
//! filters (measure, not yet reported today, ending today, a name), pages and an xlsx export.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use linli_core::epidemic::policy::Measure;
use linli_core::kernel::clock::{format_date, today};
use linli_core::kernel::labels::Labelled;
use linli_store::accounts::Principal;
use linli_store::epidemic::observations::{
    self, ObservationFilter, ObservationPage, UnderObservation, MAX_PAGE,
};
use linli_store::{tree, StoreError};
use serde::Deserialize;

use super::root_ids;
use crate::auth::PageUser;
use crate::ui::{store_error_page, Choice, Pager, Shell};
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/epidemic/observations", get(list_page))
        .route("/epidemic/observations.xlsx", get(export))
}

/// Rows per page on a phone.
const PER_PAGE: i64 = 100;

/// The measures a person can be under (`none` is no observation).
const MEASURES: [Measure; 3] = [
    Measure::CentralizedQuarantine,
    Measure::HomeQuarantine,
    Measure::HealthMonitoring,
];

#[derive(Debug, Default, Deserialize)]
struct ListQuery {
    node_id: Option<i64>,
    #[serde(default)]
    measure: String,
    #[serde(default)]
    pending: String,
    #[serde(default)]
    ending: String,
    #[serde(default)]
    q: String,
    page: Option<i64>,
}

impl ListQuery {
    /// The people under observation below `node_id` whom the filters pick: `limit` of them,
    /// from `offset`, and how many in all.
    async fn matches(
        &self,
        state: &AppState,
        user: &Principal,
        node_id: i64,
        limit: i64,
        offset: i64,
    ) -> Result<ObservationPage, StoreError> {
        let filter = self.filter();
        observations::under_observation(
            &state.db,
            &user.scope,
            node_id,
            &filter,
            today(),
            limit,
            offset,
        )
        .await
    }

    fn filter(&self) -> ObservationFilter {
        ObservationFilter {
            measure: self.measure.parse().ok().filter(|m| *m != Measure::None),
            pending: !self.pending.is_empty(),
            ending: !self.ending.is_empty(),
            q: Some(self.q.trim().to_owned()).filter(|q| !q.is_empty()),
        }
    }

    /// The query string of these filters for `node_id` (for the export and the page links).
    fn query_string(&self, node_id: i64) -> String {
        crate::ui::query_string(&[
            ("node_id", &node_id.to_string()),
            ("measure", &self.measure),
            ("pending", &self.pending),
            ("ending", &self.ending),
            ("q", &self.q),
        ])
    }
}

struct Row {
    id: i64,
    /// Under centralised quarantine: the row links to its room.
    centralized: bool,
    person_id: i64,
    name: String,
    measure: &'static str,
    measure_class: &'static str,
    day: String,
    until: String,
    checkins: String,
    owes: bool,
    temperature: String,
    fever: bool,
    open_alerts: i64,
    place: String,
}

struct Group {
    place: String,
    rows: Vec<Row>,
}

#[derive(Template, WebTemplate)]
#[template(path = "epidemic/observations.html")]
struct ListPage {
    shell: Shell,
    node_name: String,
    today: String,
    nodes: Vec<Choice>,
    measures: Vec<Choice>,
    pending: bool,
    ending: bool,
    q: String,
    total: i64,
    groups: Vec<Group>,
    export: String,
    round: String,
    pager: Pager,
}

fn place_of(o: &UnderObservation) -> String {
    match &o.parent_name {
        Some(parent) if o.node_kind == Some(linli_core::NodeKind::Building) => {
            format!("{parent} › {}", o.node_name)
        }
        _ => o.node_name.clone(),
    }
}

fn row_of(o: UnderObservation) -> Row {
    let place = o.place.clone().unwrap_or_default();
    Row {
        owes: o.owes_checkins(),
        id: o.id,
        centralized: o.measure == Measure::CentralizedQuarantine,
        person_id: o.person_id,
        measure: o.measure.label_zh(),
        measure_class: match o.measure {
            Measure::CentralizedQuarantine => "high",
            Measure::HomeQuarantine => "medium",
            _ => "low",
        },
        day: format!("第 {} / {} 天", o.day, o.days),
        until: format_date(o.until),
        checkins: format!("{}/{}", o.checkins_done, o.checkins_due),
        fever: o.last_temperature.is_some_and(|t| t.is_fever()),
        temperature: o
            .last_temperature
            .map(|t| t.to_string())
            .unwrap_or_else(|| "—".to_owned()),
        open_alerts: o.open_alerts,
        name: o.person_name,
        place,
    }
}

/// The node asked for, or the caller's first (in scope): its id and name.
async fn chosen_node(
    state: &AppState,
    user: &Principal,
    asked: Option<i64>,
) -> Result<(i64, String, Vec<i64>), StoreError> {
    let roots = root_ids(state, user).await?;
    let node_id = asked
        .or_else(|| roots.first().copied())
        .ok_or(StoreError::NotFound)?;
    let node = tree::get(&state.db, &user.scope, node_id).await?;
    Ok((node_id, node.name, roots))
}

/// The node asked for, or the caller's first; and every node they may pick from.
pub(super) async fn node_and_choices(
    state: &AppState,
    user: &Principal,
    asked: Option<i64>,
) -> Result<(i64, String, Vec<Choice>), StoreError> {
    let (node_id, name, roots) = chosen_node(state, user, asked).await?;
    let mut choices = Vec::new();
    for root in roots {
        for n in tree::subtree(&state.db, &user.scope, Some(root)).await? {
            if n.is_open() {
                choices.push(Choice {
                    selected: n.id == node_id,
                    label: format!(
                        "{}{} · {}",
                        "　".repeat(n.depth.clamp(0, 6) as usize),
                        crate::ui::short_label(n.kind),
                        n.name
                    ),
                    value: n.id.to_string(),
                });
            }
        }
    }
    Ok((node_id, name, choices))
}

async fn list_page(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Query(q): Query<ListQuery>,
) -> Response {
    let page_no = Pager::asked(q.page);
    let result = async {
        let (node_id, node_name, nodes) = node_and_choices(&state, &user, q.node_id).await?;
        let page = q
            .matches(
                &state,
                &user,
                node_id,
                PER_PAGE,
                Pager::offset(page_no, PER_PAGE),
            )
            .await?;
        Ok::<_, StoreError>((node_id, node_name, nodes, page))
    }
    .await;
    let (node_id, node_name, nodes, page) = match result {
        Ok(r) => r,
        Err(e) => return store_error_page(e),
    };
    let mut groups: Vec<Group> = Vec::new();
    for o in page.items {
        let place = place_of(&o);
        match groups.last_mut() {
            Some(g) if g.place == place => g.rows.push(row_of(o)),
            _ => groups.push(Group {
                place,
                rows: vec![row_of(o)],
            }),
        }
    }
    let qs = q.query_string(node_id);
    let filter = q.filter();
    ListPage {
        shell: Shell::of(&user, "epidemic"),
        node_name,
        today: format_date(today()),
        nodes,
        measures: MEASURES
            .iter()
            .map(|m| Choice {
                value: m.as_str().to_owned(),
                label: m.label_zh().to_owned(),
                selected: filter.measure == Some(*m),
            })
            .collect(),
        pending: filter.pending,
        ending: filter.ending,
        q: q.q.clone(),
        pager: Pager::new(page_no, page.total, PER_PAGE, |n| {
            format!("/epidemic/observations?{qs}&page={n}")
        }),
        total: page.total,
        groups,
        export: format!("/epidemic/observations.xlsx?{qs}"),
        round: format!("/epidemic/rounds?node_id={node_id}"),
    }
    .into_response()
}

/// The same list as an xlsx (every match, up to the store's page limit).
async fn export(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Query(q): Query<ListQuery>,
    axum::extract::RawQuery(raw): axum::extract::RawQuery,
) -> Response {
    let result = async {
        // The export needs the node only, not the picker's walk of the whole tree.
        let (node_id, node_name, _) = chosen_node(&state, &user, q.node_id).await?;
        let page = q.matches(&state, &user, node_id, MAX_PAGE, 0).await?;
        Ok::<_, StoreError>((node_id, node_name, page))
    }
    .await;
    let (node_id, node_name, page) = match result {
        Ok(r) => r,
        Err(e) => return store_error_page(e),
    };
    if let Err(refused) = crate::ui::xlsx::audit_export(
        &state,
        &user,
        "observation",
        node_id,
        raw.as_deref(),
        page.items.len(),
    )
    .await
    {
        return refused;
    }
    let day = format_date(today());
    let title = format!("{node_name} 正在观察人员（{day}，共 {} 人）", page.total);
    let rows = page.items.into_iter().map(|o| {
        let place = place_of(&o);
        let r = row_of(o);
        vec![
            place,
            r.name,
            r.measure.to_owned(),
            r.day,
            r.until,
            r.checkins,
            r.temperature,
            r.open_alerts.to_string(),
            r.place,
        ]
    });
    crate::ui::xlsx_table(
        "observations",
        &format!("正在观察-{node_id}-{day}.xlsx"),
        "正在观察",
        title,
        &[
            "住址",
            "姓名",
            "管控措施",
            "第几天",
            "截止日期",
            "今日打卡",
            "最近体温",
            "待处理预警",
            "隔离地点",
        ],
        rows,
    )
    .await
}
