//! 外出登记: trips of residents by kind — local and field work with a daily log and
//! temperature, work travel, visits to relatives (refused while the policy suspends them),
//! medical visits naming the clinic — and organised transport (集体出行) for a list of persons.
//! The list has filters (place, kind, state, a name), pages and an xlsx export; forms work
//! without JavaScript and a refused form comes back filled in.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use linli_core::epidemic::trips::{GroupTripDraft, TripDraft, TripKind};
use linli_core::kernel::clock::{format_date, now_ms, parse_date, today};
use linli_core::kernel::labels::Labelled;
use linli_core::CoreError;
use linli_store::accounts::Principal;
use linli_store::epidemic::trips::{self, Trip, TripFilter, TripState, MAX_PAGE};
use linli_store::registry::{self, PersonHit};
use linli_store::StoreError;
use serde::Deserialize;

use super::checkpoints::{
    can_write, label, officials_read_only, person_hits, selected_person, SelectedPerson,
};
use super::observations::node_and_choices;
use super::status_for;
use crate::auth::{CsrfForm, PageUser};
use crate::ui::{form_errors_with, store_error_page, Choice, Empty, HitRow, Pager, Shell};
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/trips", get(list_page).post(add_trip))
        .route("/trips.xlsx", get(export))
        .route("/trips/{id}", get(detail_page))
        .route("/trips/{id}/log", post(log_day))
        .route("/trips/{id}/returned", post(returned))
        .route("/trips/groups/new", get(group_page).post(add_group))
}

/// Rows per page on a phone.
const PER_PAGE: i64 = 50;

/// Messages for a refused form; a group's `person_ids[3]` is labelled as its list.
fn form_errors(e: StoreError) -> Result<Vec<String>, StoreError> {
    form_errors_with(e, |f| label(f.split('[').next().unwrap_or(f)))
}

fn kind_choices(current: &str) -> Vec<Choice> {
    TripKind::ALL
        .iter()
        .map(|k| Choice {
            value: k.as_str().to_owned(),
            label: k.label_zh().to_owned(),
            selected: k.as_str() == current,
        })
        .collect()
}

const STATES: [(&str, &str); 4] = [
    ("out", "未返回"),
    ("log_due", "今日待记录"),
    ("returned", "已返回"),
    ("all", "全部"),
];

#[derive(Debug, Default, Deserialize)]
struct ListQuery {
    node_id: Option<i64>,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    state: String,
    #[serde(default)]
    q: String,
    page: Option<i64>,
    #[serde(default)]
    person_id: String,
    /// The person search of the add form (a separate box from the list's name filter).
    #[serde(default)]
    find: String,
    #[serde(default)]
    notice: String,
}

impl ListQuery {
    fn filter(&self) -> TripFilter {
        TripFilter {
            kind: TripKind::from_code(&self.kind),
            state: match self.state.as_str() {
                "log_due" => TripState::LogDue,
                "returned" => TripState::Returned,
                "all" => TripState::All,
                _ => TripState::Out,
            },
            q: Some(self.q.trim().to_owned()).filter(|q| !q.is_empty()),
        }
    }

    /// The query string of these filters for `node_id` (for the export and the page links).
    fn query_string(&self, node_id: i64) -> String {
        crate::ui::query_string(&[
            ("node_id", &node_id.to_string()),
            ("kind", &self.kind),
            ("state", &self.state),
            ("q", &self.q),
        ])
    }
}

struct Row {
    id: i64,
    person_id: i64,
    person_name: String,
    kind: &'static str,
    daily: bool,
    group: bool,
    destination: String,
    leave_on: String,
    return_on: String,
    health_certificate: bool,
    returned_on: String,
    logs: i64,
    temperature: String,
    fever: bool,
    log_due: bool,
    can_return: bool,
}

fn row_of(t: Trip, on: time::Date) -> Row {
    Row {
        id: t.id,
        person_id: t.person_id,
        person_name: t.person_name,
        kind: t.kind.label_zh(),
        daily: t.kind.daily_log(),
        group: t.group_id.is_some(),
        destination: t.destination,
        leave_on: format_date(t.leave_on),
        return_on: t.return_on.map(format_date).unwrap_or_default(),
        health_certificate: t.health_certificate,
        returned_on: t.returned_on.map(format_date).unwrap_or_default(),
        logs: t.logs,
        fever: t.last_temperature.is_some_and(|x| x.is_fever()),
        temperature: t
            .last_temperature
            .map(|x| x.to_string())
            .unwrap_or_else(|| "—".to_owned()),
        log_due: t.log_due,
        can_return: t.returned_on.is_none() && t.leave_on <= on,
    }
}

/// What the add form holds.
#[derive(Default)]
struct Fields {
    person_id: String,
    kind: String,
    destination: String,
    leave_on: String,
    return_on: String,
    health_certificate: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "epidemic/trips.html")]
struct ListPage {
    shell: Shell,
    today: String,
    node_id: i64,
    node_name: String,
    nodes: Vec<Choice>,
    kinds: Vec<Choice>,
    states: Vec<Choice>,
    q: String,
    total: i64,
    rows: Vec<Row>,
    export: String,
    pager: Pager,
    can_add: bool,
    f: Fields,
    form_kinds: Vec<Choice>,
    person: Option<SelectedPerson>,
    find: String,
    searched: bool,
    hits: Vec<HitRow>,
    errors: Vec<String>,
    notice: String,
}

async fn render_list(
    state: &AppState,
    user: &Principal,
    q: ListQuery,
    mut f: Fields,
    errors: Vec<String>,
) -> Response {
    let page_no = Pager::asked(q.page);
    let on = today();
    let can_add = can_write(user);
    let result = async {
        let (node_id, node_name, nodes) = node_and_choices(state, user, q.node_id).await?;
        let page = trips::trips(
            &state.db,
            &user.scope,
            node_id,
            &q.filter(),
            on,
            PER_PAGE,
            Pager::offset(page_no, PER_PAGE),
        )
        .await?;
        let person = if can_add {
            selected_person(state, user, &f.person_id).await?
        } else {
            None
        };
        let searched = can_add && person.is_none() && !q.find.trim().is_empty();
        let hits = if searched {
            person_hits(state, user, &q.find).await?
        } else {
            Vec::new()
        };
        Ok::<_, StoreError>((node_id, node_name, nodes, page, person, searched, hits))
    }
    .await;
    let (node_id, node_name, nodes, page, person, searched, hits) = match result {
        Ok(r) => r,
        Err(e) => return store_error_page(e),
    };
    if f.leave_on.is_empty() {
        f.leave_on = format_date(on);
    }
    let qs = q.query_string(node_id);
    let notice = match q.notice.as_str() {
        "added" => "已登记外出。",
        "group" => "已登记集体出行。",
        "logged" => "已记录。",
        "returned" => "已登记返回。",
        _ => "",
    };
    let state_code = if q.state.is_empty() {
        "out"
    } else {
        q.state.as_str()
    };
    let page = ListPage {
        shell: Shell::of(user, "epidemic"),
        today: format_date(on),
        node_id,
        node_name,
        nodes,
        kinds: kind_choices(&q.kind),
        states: crate::ui::choices(STATES.iter().copied(), state_code),
        q: q.q.clone(),
        total: page.total,
        rows: page.items.into_iter().map(|t| row_of(t, on)).collect(),
        export: format!("/trips.xlsx?{qs}"),
        pager: Pager::new(page_no, page.total, PER_PAGE, |n| {
            format!("/trips?{qs}&page={n}")
        }),
        can_add,
        form_kinds: kind_choices(&f.kind),
        f,
        person,
        find: q.find.clone(),
        searched,
        hits,
        errors,
        notice: notice.to_owned(),
    };
    (status_for(&page.errors), page).into_response()
}

async fn list_page(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Query(q): Query<ListQuery>,
) -> Response {
    let f = Fields {
        person_id: q.person_id.clone(),
        ..Default::default()
    };
    render_list(&state, &user, q, f, Vec::new()).await
}

/// The same list as an xlsx (every match, up to the store's page limit).
async fn export(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Query(q): Query<ListQuery>,
    axum::extract::RawQuery(raw): axum::extract::RawQuery,
) -> Response {
    let on = today();
    let result = async {
        let (node_id, node_name, _) = node_and_choices(&state, &user, q.node_id).await?;
        let page = trips::trips(
            &state.db,
            &user.scope,
            node_id,
            &q.filter(),
            on,
            MAX_PAGE,
            0,
        )
        .await?;
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
        "trip",
        node_id,
        raw.as_deref(),
        page.items.len(),
    )
    .await
    {
        return refused;
    }
    let day = format_date(on);
    let title = format!("{node_name} 外出登记（{day}，共 {} 条）", page.total);
    let rows = page.items.into_iter().map(move |t| {
        let r = row_of(t, on);
        let daily = |v: String| if r.daily { v } else { String::new() };
        vec![
            r.person_name.clone(),
            r.kind.to_owned(),
            r.destination.clone(),
            r.leave_on.clone(),
            r.return_on.clone(),
            r.returned_on.clone(),
            if r.health_certificate { "有" } else { "" }.to_owned(),
            if r.group { "是" } else { "" }.to_owned(),
            daily(r.logs.to_string()),
            daily(r.temperature.clone()),
        ]
    });
    crate::ui::xlsx_table(
        "trips",
        &format!("外出登记-{node_id}-{day}.xlsx"),
        "外出登记",
        title,
        &[
            "姓名",
            "事由",
            "去向",
            "外出日期",
            "预计返回",
            "返回日期",
            "健康证明",
            "集体出行",
            "日志天数",
            "最近体温",
        ],
        rows,
    )
    .await
}

#[derive(Deserialize)]
struct TripForm {
    #[serde(default)]
    person_id: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    destination: String,
    #[serde(default)]
    leave_on: String,
    #[serde(default)]
    return_on: String,
    #[serde(default)]
    health_certificate: String,
}

impl TripForm {
    fn draft(&self) -> Result<TripDraft, Vec<CoreError>> {
        let return_on = match self.return_on.trim() {
            "" => None,
            r => Some(parse_date("return_on", r)),
        };
        TripDraft::parse(
            &self.kind,
            &self.destination,
            parse_date("leave_on", self.leave_on.trim()),
            return_on,
            !self.health_certificate.is_empty(),
        )
    }

    fn fields(self) -> Fields {
        Fields {
            health_certificate: !self.health_certificate.is_empty(),
            person_id: self.person_id,
            kind: self.kind,
            destination: self.destination,
            leave_on: self.leave_on,
            return_on: self.return_on,
        }
    }
}

async fn add_trip(State(state): State<AppState>, f: CsrfForm<TripForm>) -> Response {
    let user = &f.user;
    if !can_write(user) {
        return officials_read_only();
    }
    let form = f.form;
    let person_id = form.person_id.trim().parse::<i64>().ok();
    let result = match (person_id, form.draft()) {
        (Some(pid), Ok(draft)) => {
            trips::add_trip(&state.db, &user.scope, pid, &draft, now_ms()).await
        }
        (pid, draft) => {
            let mut errors = Vec::new();
            if pid.is_none() {
                errors.push(CoreError::invalid("person_id", "请先查找并选定外出的居民"));
            }
            errors.extend(draft.err().unwrap_or_default());
            Err(StoreError::Invalid(errors))
        }
    };
    match result {
        Ok(_) => Redirect::to("/trips?notice=added").into_response(),
        Err(e) => match form_errors(e) {
            Ok(errors) => {
                render_list(&state, user, ListQuery::default(), form.fields(), errors).await
            }
            Err(e) => store_error_page(e),
        },
    }
}

async fn returned(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    f: CsrfForm<Empty>,
) -> Response {
    match trips::trip_returned(&state.db, &f.user.scope, id, today()).await {
        Ok(()) => Redirect::to("/trips?notice=returned").into_response(),
        Err(e) => match form_errors(e) {
            Ok(errors) => {
                render_list(
                    &state,
                    &f.user,
                    ListQuery::default(),
                    Fields::default(),
                    errors,
                )
                .await
            }
            Err(e) => store_error_page(e),
        },
    }
}

// ---------------------------------------------------------------------------------------------
// One trip and its daily log

struct LogRow {
    on: String,
    temperature: String,
    fever: bool,
    note: String,
    alert: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "epidemic/trip.html")]
struct DetailPage {
    shell: Shell,
    r: Row,
    group: String,
    logs: Vec<LogRow>,
    can_log: bool,
    on: String,
    temperature: String,
    note: String,
    errors: Vec<String>,
    notice: String,
}

#[derive(Deserialize, Default)]
struct LogForm {
    #[serde(default)]
    on: String,
    #[serde(default)]
    temperature: String,
    #[serde(default)]
    note: String,
    /// Where to go back to after a log entered from the list.
    #[serde(default)]
    back: String,
}

#[derive(Deserialize)]
struct DetailQuery {
    #[serde(default)]
    notice: String,
}

async fn render_detail(
    state: &AppState,
    user: &Principal,
    id: i64,
    form: LogForm,
    errors: Vec<String>,
    notice: &str,
) -> Response {
    let on = today();
    let d = match trips::trip(&state.db, &user.scope, id, on).await {
        Ok(d) => d,
        Err(e) => return store_error_page(e),
    };
    let group = d
        .group
        .map(|g| {
            format!(
                "集体出行 · 带队人 {} · {} 人{}",
                g.organiser,
                g.persons,
                g.vehicle_plate
                    .map(|p| format!(" · 车牌 {p}"))
                    .unwrap_or_default()
            )
        })
        .unwrap_or_default();
    let can_log = can_write(user) && d.trip.kind.daily_log() && d.trip.returned_on.is_none();
    let page = DetailPage {
        shell: Shell::of(user, "epidemic"),
        group,
        logs: d
            .logs
            .into_iter()
            .map(|l| LogRow {
                on: format_date(l.on),
                fever: l.temperature.is_fever(),
                temperature: l.temperature.to_string(),
                note: l.note.unwrap_or_default(),
                alert: l.alert_id.is_some(),
            })
            .collect(),
        r: row_of(d.trip, on),
        can_log,
        on: if form.on.is_empty() {
            format_date(on)
        } else {
            form.on
        },
        temperature: form.temperature,
        note: form.note,
        errors,
        notice: notice.to_owned(),
    };
    (status_for(&page.errors), page).into_response()
}

async fn detail_page(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Path(id): Path<i64>,
    Query(q): Query<DetailQuery>,
) -> Response {
    let notice = match q.notice.as_str() {
        "logged" => "已记录。",
        "fever" => "已记录。体温异常，已发出发热预警，请联系本人并送发热门诊。",
        _ => "",
    };
    render_detail(&state, &user, id, LogForm::default(), Vec::new(), notice).await
}

async fn log_day(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    f: CsrfForm<LogForm>,
) -> Response {
    let user = &f.user;
    if !can_write(user) {
        return officials_read_only();
    }
    let form = f.form;
    let on = match form.on.trim() {
        "" => Ok(today()),
        raw => parse_date("on", raw),
    };
    match trips::log_day(
        &state.db,
        &user.scope,
        id,
        on,
        &form.temperature,
        &form.note,
        today(),
        now_ms(),
    )
    .await
    {
        Ok(done) => {
            let notice = if done.alert_id.is_some() {
                "fever"
            } else {
                "logged"
            };
            if form.back == "list" && done.alert_id.is_none() {
                Redirect::to("/trips?state=log_due&notice=logged").into_response()
            } else {
                Redirect::to(&format!("/trips/{id}?notice={notice}")).into_response()
            }
        }
        Err(e) => match form_errors(e) {
            Ok(errors) => render_detail(&state, user, id, form, errors, "").await,
            Err(e) => store_error_page(e),
        },
    }
}

// ---------------------------------------------------------------------------------------------
// Organised transport (集体出行)

struct Candidate {
    id: i64,
    name: String,
    place: String,
    checked: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "epidemic/trip_group.html")]
struct GroupPage {
    shell: Shell,
    node_id: i64,
    node_name: String,
    nodes: Vec<Choice>,
    find: String,
    candidates: Vec<Candidate>,
    more: bool,
    f: Fields,
    form_kinds: Vec<Choice>,
    organiser: String,
    vehicle_plate: String,
    errors: Vec<String>,
}

#[derive(Deserialize, Default)]
struct GroupQuery {
    node_id: Option<i64>,
    #[serde(default)]
    find: String,
}

/// The most persons a group page lists to tick (narrow by a name or a smaller place).
const MAX_CANDIDATES: usize = 200;

#[allow(clippy::too_many_arguments)]
async fn render_group(
    state: &AppState,
    user: &Principal,
    q: GroupQuery,
    mut f: Fields,
    checked: &[i64],
    organiser: String,
    vehicle_plate: String,
    errors: Vec<String>,
) -> Response {
    if !can_write(user) {
        return officials_read_only();
    }
    let result = async {
        let (node_id, node_name, nodes) = node_and_choices(state, user, q.node_id).await?;
        let hits = registry::residents(
            &state.db,
            &user.scope,
            node_id,
            &q.find,
            MAX_CANDIDATES as i64 + 1,
        )
        .await?;
        Ok::<_, StoreError>((node_id, node_name, nodes, hits))
    }
    .await;
    let (node_id, node_name, nodes, mut hits) = match result {
        Ok(r) => r,
        Err(e) => return store_error_page(e),
    };
    let more = hits.len() > MAX_CANDIDATES;
    hits.truncate(MAX_CANDIDATES);
    if f.leave_on.is_empty() {
        f.leave_on = format_date(today());
    }
    let candidates = hits
        .into_iter()
        .map(|h: PersonHit| Candidate {
            checked: checked.contains(&h.id),
            id: h.id,
            place: HitRow::from(h.clone()).place,
            name: h.name,
        })
        .collect();
    let page = GroupPage {
        shell: Shell::of(user, "epidemic"),
        node_id,
        node_name,
        nodes,
        find: q.find,
        candidates,
        more,
        form_kinds: kind_choices(&f.kind),
        f,
        organiser,
        vehicle_plate,
        errors,
    };
    (status_for(&page.errors), page).into_response()
}

async fn group_page(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Query(q): Query<GroupQuery>,
) -> Response {
    render_group(
        &state,
        &user,
        q,
        Fields::default(),
        &[],
        String::new(),
        String::new(),
        Vec::new(),
    )
    .await
}

/// The group form: repeated `person_id` boxes, so it is read as pairs, not a struct.
async fn add_group(State(state): State<AppState>, f: CsrfForm<Vec<(String, String)>>) -> Response {
    let user = &f.user;
    if !can_write(user) {
        return officials_read_only();
    }
    let get = |k: &str| {
        f.form
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let ids: Vec<i64> = f
        .form
        .iter()
        .filter(|(n, _)| n == "person_id")
        .filter_map(|(_, v)| v.trim().parse().ok())
        .collect();
    let form = TripForm {
        person_id: String::new(),
        kind: get("kind"),
        destination: get("destination"),
        leave_on: get("leave_on"),
        return_on: get("return_on"),
        health_certificate: get("health_certificate"),
    };
    let node_id = get("node_id").trim().parse::<i64>().ok();
    let (organiser, plate) = (get("organiser"), get("vehicle_plate"));
    let result = match (
        node_id,
        GroupTripDraft::parse(form.draft(), &organiser, &plate, &ids),
    ) {
        (Some(node), Ok(group)) => {
            trips::add_group_trip(&state.db, &user.scope, node, &group, now_ms()).await
        }
        (_, Err(errors)) => Err(StoreError::Invalid(errors)),
        (None, Ok(_)) => Err(StoreError::invalid("node_id", "请选择出发的地点")),
    };
    match result {
        Ok(_) => Redirect::to("/trips?notice=group").into_response(),
        Err(e) => match form_errors(e) {
            Ok(errors) => {
                let q = GroupQuery {
                    node_id,
                    find: get("find"),
                };
                render_group(
                    &state,
                    user,
                    q,
                    form.fields(),
                    &ids,
                    organiser,
                    plate,
                    errors,
                )
                .await
            }
            Err(e) => store_error_page(e),
        },
    }
}
