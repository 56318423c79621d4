//! Volunteer pages (志愿服务): the volunteers of a node (search, filters, pages, xlsx, masked
//! phones), a volunteer's page (teams, activities, hours, certificate), teams, activities (the
//! sign-ups with their attendance and hours forms, the QR poster) and the certificate.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use linli_core::kernel::clock::{display, format_date, now_ms, parse_local, today};
use linli_core::kernel::labels::Labelled;
use linli_core::participation::volunteers::{
    split_words, weekdays_zh, ActivityInput, HoursStatus, VolunteerState, SKILLS,
};
use linli_core::Role;
use linli_store::accounts::Principal;
use linli_store::participation::volunteers::{
    self as vol, Activity, ActivityFilter, VolunteerCounts, VolunteerFilter, VolunteerInput, Who,
};
use linli_store::{tree, StoreError, MAX_LIST_ROWS};
use serde::Deserialize;

use crate::auth::{CsrfForm, PageUser};
use crate::ui::qr::PublicBase;
use crate::ui::{
    error_page, field_errors, field_label, form_status, store_error_page, Choice, FieldErrors,
    HitRow, ListExport, Pager, Shell,
};
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/volunteers", get(list_page))
        .route("/volunteers.xlsx", get(list_export))
        .route("/volunteers/new", get(new_form).post(new_submit))
        .route("/volunteers/{id}", get(volunteer_page))
        .route("/volunteers/{id}/state", post(state_submit))
        .route("/volunteers/{id}/certificate", get(certificate_page))
        .route("/volunteer-teams", get(teams_page).post(team_submit))
        .route("/volunteer-teams/{id}", get(team_page))
        .route("/volunteer-teams/{id}/members", post(member_submit))
        .route("/activities", get(activities_page))
        .route("/activities.xlsx", get(activities_export))
        .route("/activities/new", get(activity_form).post(activity_submit))
        .route("/activities/{id}", get(activity_page))
        .route("/activities/{id}/poster", get(poster_page))
        .route("/activities/{id}/signups", post(signup_submit))
        .route("/activities/{id}/attendance", post(attendance_submit))
        .route("/activities/{id}/absent", post(absent_submit))
        .route("/activities/{id}/reject", post(reject_submit))
}

// ---------------------------------------------------------------------------------------------
// Shared bits

const SHELL: &str = "volunteers";

fn label(field: &str) -> &str {
    match field {
        "skills" | "skill" => "技能",
        "weekdays" => "空闲日",
        "availability" => "空闲时间",
        "team_ids" => "服务队",
        "person_id" => "居民",
        "title" => "活动名称",
        "place" => "地点",
        "starts_at" => "开始时间",
        "ends_at" => "结束时间",
        "needs" => "需求",
        "hours" => "服务时长",
        "activity" => "活动",
        "volunteer_id" => "志愿者",
        "leader_id" => "队长",
        "reason" => "原因",
        "left_on" => "退出日期",
        other => field_label(other),
    }
}

fn can_write(user: &Principal) -> bool {
    user.scope.role() != Role::Official
}

/// The node to show when none is asked for: the user's first bound node, else the first root.
async fn default_node(state: &AppState, user: &Principal) -> Result<Option<i64>, StoreError> {
    if let Some(n) = user.user.nodes.first() {
        return Ok(Some(n.id));
    }
    Ok(tree::visible_roots(&state.db, &user.scope)
        .await?
        .first()
        .map(|r| r.node.id))
}

/// The node asked for (an unreadable number is none asked), else the default.
async fn node_of(
    state: &AppState,
    user: &Principal,
    asked: &str,
) -> Result<Option<i64>, StoreError> {
    match asked.trim().parse::<i64>() {
        Ok(n) => Ok(Some(n)),
        Err(_) => default_node(state, user).await,
    }
}

fn no_node() -> Response {
    error_page(StatusCode::NOT_FOUND, "您还没有绑定辖区。")
}

/// A node's volunteer numbers as tiles, shown at the top of the participation pages.
pub(crate) struct Tile {
    pub(crate) label: &'static str,
    pub(crate) value: String,
    pub(crate) class: &'static str,
}

fn tiles(c: &VolunteerCounts) -> Vec<Tile> {
    vec![
        Tile {
            label: "在册志愿者",
            value: c.active.to_string(),
            class: "ok",
        },
        Tile {
            label: "待确认",
            value: c.pending.to_string(),
            class: "flag",
        },
        Tile {
            label: "本月服务时长（小时）",
            value: c.month_hours().display(),
            class: "ok",
        },
        Tile {
            label: "本月活动",
            value: c.month_activities.to_string(),
            class: "dup",
        },
    ]
}

/// The nodes a volunteer, team or activity may be registered at (open, community level or
/// below), `current` selected.
async fn home_choices(
    state: &AppState,
    user: &Principal,
    current: &str,
) -> Result<Vec<Choice>, StoreError> {
    let tree = tree::subtree(&state.db, &user.scope, None).await?;
    let writable: Vec<_> = tree
        .iter()
        .filter(|n| n.is_open() && n.kind.serves_residents())
        .collect();
    let base = writable.iter().map(|n| n.depth).min().unwrap_or(0);
    Ok(writable
        .iter()
        .map(|n| Choice::node(n, base, n.id.to_string() == current.trim()))
        .collect())
}

fn skill_choices(current: &str) -> Vec<Choice> {
    Choice::filter(
        current,
        SKILLS.iter().map(|s| ((*s).to_owned(), (*s).to_owned())),
    )
}

fn attended_text(a: Option<bool>) -> &'static str {
    match a {
        None => "未登记",
        Some(true) => "已到场",
        Some(false) => "缺席",
    }
}

fn notice_text(n: &str) -> Option<String> {
    Some(
        match n {
            "" => return None,
            "created" => "已登记。",
            "signed" => "已报名。",
            "confirmed" => "服务时长已确认。",
            "absent" => "已标记缺席。",
            "rejected" => "已退回，并告知原因。",
            "state" => "状态已更新。",
            "member" => "已加入服务队。",
            _ => "已保存。",
        }
        .to_owned(),
    )
}

// ---------------------------------------------------------------------------------------------
// The volunteers of a node

struct VolunteerRow {
    id: i64,
    name: String,
    node_name: String,
    phone: String,
    skills: String,
    state: &'static str,
    state_class: &'static str,
}

fn state_class(s: VolunteerState) -> &'static str {
    match s {
        VolunteerState::Active => "reopened",
        VolunteerState::Pending => "pending",
        VolunteerState::Left => "not-reopened",
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "participation/volunteers.html")]
struct ListPage {
    shell: Shell,
    node_id: i64,
    node_name: String,
    nodes: Vec<Choice>,
    tiles: Vec<Tile>,
    rows: Vec<VolunteerRow>,
    can_write: bool,
    teams: Vec<Choice>,
    skills: Vec<Choice>,
    states: Vec<Choice>,
    q: String,
    matched: i64,
    pager: Pager,
    export: String,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct ListQuery {
    node_id: String,
    q: String,
    team_id: String,
    skill: String,
    state: String,
    page: Option<i64>,
}

const PER_PAGE: i64 = 50;

impl ListQuery {
    fn filter(&self) -> VolunteerFilter {
        VolunteerFilter {
            q: Some(self.q.trim().to_owned()).filter(|q| !q.is_empty()),
            team_id: self.team_id.trim().parse().ok(),
            skill: Some(self.skill.trim().to_owned()).filter(|s| !s.is_empty()),
            state: VolunteerState::from_code(self.state.trim()),
        }
    }

    fn query_string(&self, node_id: i64) -> String {
        crate::ui::query_string(&[
            ("node_id", &node_id.to_string()),
            ("q", &self.q),
            ("team_id", &self.team_id),
            ("skill", &self.skill),
            ("state", &self.state),
        ])
    }
}

async fn list_page(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Query(q): Query<ListQuery>,
) -> Response {
    let node_id = match node_of(&state, &user, &q.node_id).await {
        Ok(Some(n)) => n,
        Ok(None) => return no_node(),
        Err(e) => return store_error_page(e),
    };
    let page_no = Pager::asked(q.page);
    let result = async {
        let node = tree::get(&state.db, &user.scope, node_id).await?;
        let counts = vol::counts(&state.db, &user.scope, node_id, now_ms()).await?;
        let list = vol::volunteers(
            &state.db,
            &user.scope,
            node_id,
            &q.filter(),
            (PER_PAGE, Pager::offset(page_no, PER_PAGE)),
        )
        .await?;
        let teams = vol::teams(&state.db, &user.scope, node_id).await?;
        let nodes = crate::ui::node_picker(&state.db, &user, node_id).await?;
        Ok::<_, StoreError>((node, counts, list, teams, nodes))
    }
    .await;
    let (node, counts, list, teams, nodes) = match result {
        Ok(r) => r,
        Err(StoreError::Invalid(e)) => {
            return error_page(
                StatusCode::UNPROCESSABLE_ENTITY,
                &crate::ui::forms::messages(&e),
            )
        }
        Err(e) => return store_error_page(e),
    };
    ListPage {
        shell: Shell::of(&user, SHELL),
        node_id,
        node_name: node.name,
        nodes,
        tiles: tiles(&counts),
        matched: list.total,
        rows: list
            .items
            .into_iter()
            .map(|v| VolunteerRow {
                id: v.id,
                name: v.name,
                node_name: v.node_name,
                phone: v.phone_masked.unwrap_or_default(),
                skills: v.skills.join("、"),
                state: v.state.label_zh(),
                state_class: state_class(v.state),
            })
            .collect(),
        can_write: can_write(&user),
        teams: Choice::filter(
            &q.team_id,
            teams.into_iter().map(|t| (t.id.to_string(), t.name)),
        ),
        skills: skill_choices(&q.skill),
        states: Choice::filter_of::<VolunteerState>(&q.state),
        q: q.q.clone(),
        pager: Pager::new(page_no, list.total, PER_PAGE, |n| {
            format!("/volunteers?{}&page={n}", q.query_string(node_id))
        }),
        export: format!("/volunteers.xlsx?{}", q.query_string(node_id)),
    }
    .into_response()
}

/// The volunteers as filtered (up to [`MAX_LIST_ROWS`]) as xlsx, phones masked; audited.
async fn list_export(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Query(q): Query<ListQuery>,
    RawQuery(raw): RawQuery,
) -> Response {
    let node_id = match node_of(&state, &user, &q.node_id).await {
        Ok(Some(n)) => n,
        Ok(None) => return no_node(),
        Err(e) => return store_error_page(e),
    };
    let result = async {
        let node = tree::get(&state.db, &user.scope, node_id).await?;
        let list = vol::volunteers(
            &state.db,
            &user.scope,
            node_id,
            &q.filter(),
            (MAX_LIST_ROWS, 0),
        )
        .await?;
        Ok::<_, StoreError>((node, list))
    }
    .await;
    let (node, list) = match result {
        Ok(r) => r,
        Err(e) => return store_error_page(e),
    };
    let rows = list
        .items
        .into_iter()
        .map(|v| {
            vec![
                v.name,
                v.node_name,
                v.phone_masked.unwrap_or_default(),
                v.skills.join("、"),
                v.availability.unwrap_or_default(),
                weekdays_zh(&v.weekdays),
                if v.person_id.is_some() {
                    "辖区居民"
                } else {
                    "外来人员"
                }
                .to_owned(),
                v.state.label_zh().to_owned(),
                v.left_on.unwrap_or_default(),
            ]
        })
        .collect();
    crate::ui::audited_list(
        &state,
        &user,
        ListExport {
            entity: "volunteer",
            name: "志愿者",
            header: &[
                "姓名",
                "所属辖区",
                "联系电话",
                "技能",
                "空闲时间",
                "空闲日",
                "身份",
                "状态",
                "退出日期",
            ],
            node_id: Some(node.id),
            place: node.name,
            key: node.id.to_string(),
            query: raw,
        },
        list.total,
        rows,
    )
    .await
}

// ---------------------------------------------------------------------------------------------
// Registering a volunteer

#[derive(Default, Deserialize)]
#[serde(default)]
struct NewQuery {
    node_id: String,
    find: String,
    person_id: String,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct VolunteerFields {
    person_id: String,
    node_id: String,
    name: String,
    phone: String,
    skills: String,
    availability: String,
    weekdays: String,
    team_id: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "participation/volunteer_form.html")]
struct FormPage {
    shell: Shell,
    f: VolunteerFields,
    person: Option<HitRow>,
    find: String,
    searched: bool,
    hits: Vec<HitRow>,
    nodes: Vec<Choice>,
    teams: Vec<Choice>,
    skills_offered: &'static [&'static str],
    errors: FieldErrors,
    others: Vec<String>,
}

const FORM_FIELDS: [&str; 9] = [
    "node_id",
    "name",
    "phone",
    "skills",
    "availability",
    "weekdays",
    "team_ids",
    "person_id",
    "csrf",
];

async fn render_volunteer_form(
    state: &AppState,
    user: &Principal,
    f: VolunteerFields,
    find: String,
    errors: FieldErrors,
) -> Response {
    if !can_write(user) {
        return error_page(StatusCode::FORBIDDEN, "您的账号只能查看志愿者。");
    }
    let result = async {
        let person = match f.person_id.trim().parse::<i64>() {
            Ok(id) => {
                let p = linli_store::registry::get(&state.db, &user.scope, id).await?;
                let (_, mut hits) =
                    linli_store::registry::search(&state.db, &user.scope, &p.name, 50).await?;
                hits.retain(|h| h.id == id);
                hits.into_iter().next().map(HitRow::from)
            }
            Err(_) => None,
        };
        let searched = person.is_none() && !find.trim().is_empty();
        let hits = if searched {
            linli_store::registry::search(&state.db, &user.scope, &find, 20)
                .await?
                .1
                .into_iter()
                .map(HitRow::from)
                .collect()
        } else {
            Vec::new()
        };
        let nodes = home_choices(state, user, &f.node_id).await?;
        let node_for_teams = match f.node_id.trim().parse::<i64>() {
            Ok(n) => Some(n),
            Err(_) => default_node(state, user).await?,
        };
        let teams = match node_for_teams {
            Some(n) => vol::teams(&state.db, &user.scope, n)
                .await
                .unwrap_or_default(),
            None => Vec::new(),
        };
        Ok::<_, StoreError>((person, searched, hits, nodes, teams))
    }
    .await;
    let (person, searched, hits, nodes, teams) = match result {
        Ok(r) => r,
        Err(e) => return store_error_page(e),
    };
    let status = form_status(!errors.is_empty());
    let others = errors.others(&FORM_FIELDS, label);
    let teams = std::iter::once(Choice {
        value: String::new(),
        label: "暂不加入".into(),
        selected: f.team_id.is_empty(),
    })
    .chain(teams.into_iter().map(|t| Choice {
        selected: t.id.to_string() == f.team_id,
        value: t.id.to_string(),
        label: format!("{}（{}）", t.name, t.node_name),
    }))
    .collect();
    let page = FormPage {
        shell: Shell::of(user, SHELL),
        f,
        person,
        find,
        searched,
        hits,
        nodes,
        teams,
        skills_offered: &SKILLS,
        errors,
        others,
    };
    (status, page).into_response()
}

async fn new_form(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Query(q): Query<NewQuery>,
) -> Response {
    let f = VolunteerFields {
        node_id: q.node_id,
        person_id: q.person_id,
        ..Default::default()
    };
    render_volunteer_form(&state, &user, f, q.find, FieldErrors::default()).await
}

async fn new_submit(State(state): State<AppState>, form: CsrfForm<VolunteerFields>) -> Response {
    let CsrfForm { user, form: f } = form;
    let person_id = f.person_id.trim().parse::<i64>().ok();
    let who = match person_id {
        Some(id) => Who::Person(id),
        None => Who::Outside {
            name: &f.name,
            phone: &f.phone,
        },
    };
    let input = VolunteerInput {
        who,
        node_id: f.node_id.trim().parse().ok(),
        skills: split_words(&f.skills),
        availability: Some(f.availability.as_str()),
        weekdays: split_words(&f.weekdays)
            .into_iter()
            .flat_map(|w| {
                // 「一三五」 typed together: one day a character.
                if w.chars().count() > 1 && !w.starts_with('周') && !w.starts_with("星期") {
                    w.chars().map(String::from).collect()
                } else {
                    vec![w]
                }
            })
            .collect(),
        team_ids: f.team_id.trim().parse().ok().into_iter().collect(),
    };
    match vol::create_volunteer(&state.db, &user.scope, &input, now_ms()).await {
        Ok(v) => Redirect::to(&format!("/volunteers/{}?notice=created", v.id)).into_response(),
        Err(e) => match field_errors(e) {
            Ok(errors) => render_volunteer_form(&state, &user, f, String::new(), errors).await,
            Err(e) => store_error_page(e),
        },
    }
}

// ---------------------------------------------------------------------------------------------
// A volunteer's page and certificate

struct ServiceRow {
    activity_id: i64,
    title: String,
    when: String,
    attended: &'static str,
    hours: String,
    status: &'static str,
}

#[derive(Template, WebTemplate)]
#[template(path = "participation/volunteer.html")]
struct VolunteerPage {
    shell: Shell,
    v: vol::Volunteer,
    weekdays: String,
    skills: String,
    service: Vec<ServiceRow>,
    total: String,
    can_write: bool,
    notice: Option<String>,
    from: String,
    to: String,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct NoticeQ {
    notice: String,
}

fn service_rows(lines: Vec<vol::ServiceLine>) -> Vec<ServiceRow> {
    lines
        .into_iter()
        .map(|l| ServiceRow {
            activity_id: l.activity_id,
            title: l.title,
            when: display(l.starts_at),
            attended: attended_text(l.attended),
            hours: l
                .hours
                .as_ref()
                .map(|h| h.hours.display())
                .unwrap_or_default(),
            status: l.hours.as_ref().map(|h| h.status.label_zh()).unwrap_or(""),
        })
        .collect()
}

async fn volunteer_page(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Path(id): Path<i64>,
    Query(q): Query<NoticeQ>,
) -> Response {
    let result = async {
        let v = vol::volunteer(&state.db, &user.scope, id).await?;
        let lines = vol::service(&state.db, &user.scope, id, (None, None)).await?;
        Ok::<_, StoreError>((v, lines))
    }
    .await;
    let (v, lines) = match result {
        Ok(r) => r,
        Err(e) => return store_error_page(e),
    };
    let total: i64 = lines
        .iter()
        .filter_map(|l| l.hours.as_ref())
        .filter(|h| h.status == HoursStatus::Confirmed)
        .map(|h| h.hours.halves())
        .sum();
    let year = today().year();
    VolunteerPage {
        shell: Shell::of(&user, SHELL),
        weekdays: weekdays_zh(&v.weekdays),
        skills: v.skills.join("、"),
        v,
        service: service_rows(lines),
        total: linli_core::participation::volunteers::Hours::from_halves(total).display(),
        can_write: can_write(&user),
        notice: notice_text(&q.notice),
        from: format!("{year}-01-01"),
        to: format_date(today()),
    }
    .into_response()
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct StateFields {
    to: String,
    left_on: String,
}

async fn state_submit(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    form: CsrfForm<StateFields>,
) -> Response {
    let CsrfForm { user, form: f } = form;
    let to = match f.to.parse::<VolunteerState>() {
        Ok(t) => t,
        Err(e) => return error_page(StatusCode::UNPROCESSABLE_ENTITY, &e.message),
    };
    match vol::set_state(&state.db, &user.scope, id, to, Some(&f.left_on), now_ms()).await {
        Ok(_) => Redirect::to(&format!("/volunteers/{id}?notice=state")).into_response(),
        Err(StoreError::Invalid(e)) => error_page(
            StatusCode::UNPROCESSABLE_ENTITY,
            &crate::ui::forms::messages(&e),
        ),
        Err(e) => store_error_page(e),
    }
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct PeriodQ {
    from: String,
    to: String,
}

struct CertLine {
    title: String,
    day: String,
    hours: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "participation/certificate.html")]
struct CertificatePage {
    c: vol::Certificate,
    total: String,
    lines: Vec<CertLine>,
    issued_on: String,
}

async fn certificate_page(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Path(id): Path<i64>,
    Query(q): Query<PeriodQ>,
) -> Response {
    let range = match crate::ui::day_range(&q.from, &q.to) {
        Ok(r) => r,
        Err(m) => return error_page(StatusCode::UNPROCESSABLE_ENTITY, &m),
    };
    match vol::certificate(&state.db, &user.scope, id, range, now_ms()).await {
        Ok(c) => CertificatePage {
            total: c.total.display(),
            lines: c
                .lines
                .iter()
                .map(|l| CertLine {
                    title: l.title.clone(),
                    day: format_date(linli_core::kernel::clock::date_of(l.starts_at)),
                    hours: l
                        .hours
                        .as_ref()
                        .map(|h| h.hours.display())
                        .unwrap_or_default(),
                })
                .collect(),
            issued_on: format_date(today()),
            c,
        }
        .into_response(),
        Err(StoreError::Invalid(e)) => error_page(
            StatusCode::UNPROCESSABLE_ENTITY,
            &crate::ui::forms::messages(&e),
        ),
        Err(e) => store_error_page(e),
    }
}

// ---------------------------------------------------------------------------------------------
// Teams

#[derive(Template, WebTemplate)]
#[template(path = "participation/teams.html")]
struct TeamsPage {
    shell: Shell,
    node_id: i64,
    node_name: String,
    nodes: Vec<Choice>,
    homes: Vec<Choice>,
    /// Volunteers in service under the node, to lead a new team.
    leaders: Vec<Choice>,
    teams: Vec<vol::Team>,
    can_write: bool,
    errors: FieldErrors,
    name: String,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct NodeQ {
    node_id: String,
}

async fn render_teams(
    state: &AppState,
    user: &Principal,
    asked: &str,
    errors: FieldErrors,
    name: String,
) -> Response {
    let node_id = match node_of(state, user, asked).await {
        Ok(Some(n)) => n,
        Ok(None) => return no_node(),
        Err(e) => return store_error_page(e),
    };
    let result = async {
        let node = tree::get(&state.db, &user.scope, node_id).await?;
        let teams = vol::teams(&state.db, &user.scope, node_id).await?;
        let nodes = crate::ui::node_picker(&state.db, user, node_id).await?;
        let homes = home_choices(state, user, &node_id.to_string()).await?;
        let active = vol::volunteers(
            &state.db,
            &user.scope,
            node_id,
            &VolunteerFilter {
                state: Some(VolunteerState::Active),
                ..Default::default()
            },
            (500, 0),
        )
        .await?;
        Ok::<_, StoreError>((node, teams, nodes, homes, active))
    }
    .await;
    let (node, teams, nodes, homes, active) = match result {
        Ok(r) => r,
        Err(e) => return store_error_page(e),
    };
    let status = form_status(!errors.is_empty());
    (
        status,
        TeamsPage {
            shell: Shell::of(user, SHELL),
            node_id,
            node_name: node.name,
            nodes,
            homes,
            leaders: std::iter::once(Choice {
                value: String::new(),
                label: "暂不指定".into(),
                selected: true,
            })
            .chain(active.items.into_iter().map(|v| Choice {
                value: v.id.to_string(),
                label: format!("{}（{}）", v.name, v.node_name),
                selected: false,
            }))
            .collect(),
            teams,
            can_write: can_write(user),
            errors,
            name,
        },
    )
        .into_response()
}

async fn teams_page(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Query(q): Query<NodeQ>,
) -> Response {
    render_teams(
        &state,
        &user,
        &q.node_id,
        FieldErrors::default(),
        String::new(),
    )
    .await
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct TeamFields {
    node_id: String,
    name: String,
    leader_id: String,
}

async fn team_submit(State(state): State<AppState>, form: CsrfForm<TeamFields>) -> Response {
    let CsrfForm { user, form: f } = form;
    let Ok(node_id) = f.node_id.trim().parse::<i64>() else {
        let errors = FieldErrors(vec![("node_id".into(), "请选择所属社区或网格".into())]);
        return render_teams(&state, &user, "", errors, f.name).await;
    };
    let leader = f.leader_id.trim().parse::<i64>().ok();
    match vol::create_team(&state.db, &user.scope, node_id, &f.name, leader, now_ms()).await {
        Ok(t) => Redirect::to(&format!("/volunteer-teams/{}?notice=created", t.id)).into_response(),
        Err(e) => match field_errors(e) {
            Ok(errors) => render_teams(&state, &user, &f.node_id, errors, f.name).await,
            Err(e) => store_error_page(e),
        },
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "participation/team.html")]
struct TeamPage {
    shell: Shell,
    t: vol::Team,
    members: Vec<VolunteerRow>,
    candidates: Vec<Choice>,
    can_write: bool,
    notice: Option<String>,
}

async fn team_page(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Path(id): Path<i64>,
    Query(q): Query<NoticeQ>,
) -> Response {
    let result = async {
        let t = vol::team(&state.db, &user.scope, id).await?;
        let members = vol::volunteers(
            &state.db,
            &user.scope,
            t.node_id,
            &VolunteerFilter {
                team_id: Some(t.id),
                ..Default::default()
            },
            (500, 0),
        )
        .await?;
        let everyone = vol::volunteers(
            &state.db,
            &user.scope,
            t.node_id,
            &VolunteerFilter {
                state: Some(VolunteerState::Active),
                ..Default::default()
            },
            (500, 0),
        )
        .await?;
        Ok::<_, StoreError>((t, members, everyone))
    }
    .await;
    let (t, members, everyone) = match result {
        Ok(r) => r,
        Err(e) => return store_error_page(e),
    };
    let in_team: Vec<i64> = members.items.iter().map(|v| v.id).collect();
    TeamPage {
        shell: Shell::of(&user, SHELL),
        candidates: everyone
            .items
            .into_iter()
            .filter(|v| !in_team.contains(&v.id))
            .map(|v| Choice {
                value: v.id.to_string(),
                label: format!("{}（{}）", v.name, v.phone_masked.unwrap_or_default()),
                selected: false,
            })
            .collect(),
        members: members
            .items
            .into_iter()
            .map(|v| VolunteerRow {
                id: v.id,
                name: v.name,
                node_name: v.node_name,
                phone: v.phone_masked.unwrap_or_default(),
                skills: v.skills.join("、"),
                state: v.state.label_zh(),
                state_class: state_class(v.state),
            })
            .collect(),
        t,
        can_write: can_write(&user),
        notice: notice_text(&q.notice),
    }
    .into_response()
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct VolunteerIdField {
    volunteer_id: String,
}

fn volunteer_id_of(raw: &str) -> Option<i64> {
    raw.trim().parse::<i64>().ok()
}

fn no_volunteer() -> Response {
    error_page(StatusCode::UNPROCESSABLE_ENTITY, "请选择志愿者。")
}

async fn member_submit(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    form: CsrfForm<VolunteerIdField>,
) -> Response {
    let CsrfForm { user, form: f } = form;
    let Some(vid) = volunteer_id_of(&f.volunteer_id) else {
        return no_volunteer();
    };
    match vol::add_member(&state.db, &user.scope, id, vid, now_ms()).await {
        Ok(_) => Redirect::to(&format!("/volunteer-teams/{id}?notice=member")).into_response(),
        Err(StoreError::Invalid(e)) => error_page(
            StatusCode::UNPROCESSABLE_ENTITY,
            &crate::ui::forms::messages(&e),
        ),
        Err(e) => store_error_page(e),
    }
}

// ---------------------------------------------------------------------------------------------
// Activities

struct ActivityRow {
    id: i64,
    title: String,
    place: String,
    node_name: String,
    when: String,
    signed: String,
    needs: String,
    ended: bool,
}

fn needs_text(a: &Activity) -> String {
    a.needs
        .iter()
        .map(|n| {
            format!(
                "{} {} 人",
                n.skill.as_deref().unwrap_or("不限技能"),
                n.count
            )
        })
        .collect::<Vec<_>>()
        .join("、")
}

fn activity_row(a: Activity, now: i64) -> ActivityRow {
    ActivityRow {
        signed: format!("{} / {}", a.signed_up, a.capacity()),
        needs: needs_text(&a),
        ended: a.ends_at <= now,
        when: format!("{} 至 {}", display(a.starts_at), display(a.ends_at)),
        id: a.id,
        title: a.title,
        place: a.place.unwrap_or_default(),
        node_name: a.node_name,
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "participation/activities.html")]
struct ActivitiesPage {
    shell: Shell,
    node_id: i64,
    node_name: String,
    nodes: Vec<Choice>,
    tiles: Vec<Tile>,
    rows: Vec<ActivityRow>,
    can_write: bool,
    whens: Vec<Choice>,
    skills: Vec<Choice>,
    q: String,
    matched: i64,
    pager: Pager,
    export: String,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct ActivityQuery {
    node_id: String,
    q: String,
    when: String,
    skill: String,
    page: Option<i64>,
}

impl ActivityQuery {
    fn filter(&self) -> Result<ActivityFilter, String> {
        let when = super::api::parse_when(&self.when).map_err(|e| e.message)?;
        Ok(ActivityFilter {
            q: Some(self.q.trim().to_owned()).filter(|q| !q.is_empty()),
            when,
            skill: Some(self.skill.trim().to_owned()).filter(|s| !s.is_empty()),
        })
    }

    fn query_string(&self, node_id: i64) -> String {
        crate::ui::query_string(&[
            ("node_id", &node_id.to_string()),
            ("q", &self.q),
            ("when", &self.when),
            ("skill", &self.skill),
        ])
    }
}

async fn activities_page(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Query(q): Query<ActivityQuery>,
) -> Response {
    let node_id = match node_of(&state, &user, &q.node_id).await {
        Ok(Some(n)) => n,
        Ok(None) => return no_node(),
        Err(e) => return store_error_page(e),
    };
    let filter = match q.filter() {
        Ok(f) => f,
        Err(m) => return error_page(StatusCode::UNPROCESSABLE_ENTITY, &m),
    };
    let now = now_ms();
    let page_no = Pager::asked(q.page);
    let result = async {
        let node = tree::get(&state.db, &user.scope, node_id).await?;
        let counts = vol::counts(&state.db, &user.scope, node_id, now).await?;
        let list = vol::activities(
            &state.db,
            &user.scope,
            node_id,
            &filter,
            now,
            (PER_PAGE, Pager::offset(page_no, PER_PAGE)),
        )
        .await?;
        let nodes = crate::ui::node_picker(&state.db, &user, node_id).await?;
        Ok::<_, StoreError>((node, counts, list, nodes))
    }
    .await;
    let (node, counts, list, nodes) = match result {
        Ok(r) => r,
        Err(StoreError::Invalid(e)) => {
            return error_page(
                StatusCode::UNPROCESSABLE_ENTITY,
                &crate::ui::forms::messages(&e),
            )
        }
        Err(e) => return store_error_page(e),
    };
    ActivitiesPage {
        shell: Shell::of(&user, SHELL),
        node_id,
        node_name: node.name,
        nodes,
        tiles: tiles(&counts),
        matched: list.total,
        rows: list
            .items
            .into_iter()
            .map(|a| activity_row(a, now))
            .collect(),
        can_write: can_write(&user),
        whens: Choice::filter(
            &q.when,
            [
                ("upcoming".to_owned(), "未结束".to_owned()),
                ("past".to_owned(), "已结束".to_owned()),
            ],
        ),
        skills: skill_choices(&q.skill),
        q: q.q.clone(),
        pager: Pager::new(page_no, list.total, PER_PAGE, |n| {
            format!("/activities?{}&page={n}", q.query_string(node_id))
        }),
        export: format!("/activities.xlsx?{}", q.query_string(node_id)),
    }
    .into_response()
}

/// The activities as filtered as xlsx; audited.
async fn activities_export(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Query(q): Query<ActivityQuery>,
    RawQuery(raw): RawQuery,
) -> Response {
    let node_id = match node_of(&state, &user, &q.node_id).await {
        Ok(Some(n)) => n,
        Ok(None) => return no_node(),
        Err(e) => return store_error_page(e),
    };
    let filter = match q.filter() {
        Ok(f) => f,
        Err(m) => return error_page(StatusCode::UNPROCESSABLE_ENTITY, &m),
    };
    let result = async {
        let node = tree::get(&state.db, &user.scope, node_id).await?;
        let list = vol::activities(
            &state.db,
            &user.scope,
            node_id,
            &filter,
            now_ms(),
            (MAX_LIST_ROWS, 0),
        )
        .await?;
        Ok::<_, StoreError>((node, list))
    }
    .await;
    let (node, list) = match result {
        Ok(r) => r,
        Err(e) => return store_error_page(e),
    };
    let rows = list
        .items
        .into_iter()
        .map(|a| {
            vec![
                a.title.clone(),
                a.node_name.clone(),
                a.place.clone().unwrap_or_default(),
                display(a.starts_at),
                display(a.ends_at),
                needs_text(&a),
                a.signed_up.to_string(),
                linli_core::participation::volunteers::Hours::from_halves(a.confirmed_halves)
                    .display(),
                a.organiser,
            ]
        })
        .collect();
    crate::ui::audited_list(
        &state,
        &user,
        ListExport {
            entity: "activity",
            name: "服务活动",
            header: &[
                "活动名称",
                "所属辖区",
                "地点",
                "开始时间",
                "结束时间",
                "需求",
                "已报名",
                "已确认时长（小时）",
                "组织者",
            ],
            node_id: Some(node.id),
            place: node.name,
            key: node.id.to_string(),
            query: raw,
        },
        list.total,
        rows,
    )
    .await
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct ActivityFields {
    node_id: String,
    title: String,
    place: String,
    starts_at: String,
    ends_at: String,
    description: String,
    /// One need a line: 「医疗 2」 (a skill and a number; 「不限 5」 or just 「5」 for anyone).
    needs: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "participation/activity_form.html")]
struct ActivityFormPage {
    shell: Shell,
    f: ActivityFields,
    nodes: Vec<Choice>,
    errors: FieldErrors,
    others: Vec<String>,
}

const ACTIVITY_FIELDS: [&str; 8] = [
    "node_id",
    "title",
    "place",
    "starts_at",
    "ends_at",
    "description",
    "needs",
    "csrf",
];

async fn render_activity_form(
    state: &AppState,
    user: &Principal,
    f: ActivityFields,
    errors: FieldErrors,
) -> Response {
    if !can_write(user) {
        return error_page(StatusCode::FORBIDDEN, "您的账号只能查看服务活动。");
    }
    let nodes = match home_choices(state, user, &f.node_id).await {
        Ok(n) => n,
        Err(e) => return store_error_page(e),
    };
    let status = form_status(!errors.is_empty());
    let others = errors.others(&ACTIVITY_FIELDS, label);
    (
        status,
        ActivityFormPage {
            shell: Shell::of(user, SHELL),
            f,
            nodes,
            errors,
            others,
        },
    )
        .into_response()
}

async fn activity_form(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Query(q): Query<NodeQ>,
) -> Response {
    let f = ActivityFields {
        node_id: q.node_id,
        needs: "不限 5".into(),
        ..Default::default()
    };
    render_activity_form(&state, &user, f, FieldErrors::default()).await
}

/// The needs typed one a line (`医疗 2`, `5`): a refusal names the line.
fn parse_need_lines(text: &str) -> Result<Vec<(Option<String>, i64)>, linli_core::CoreError> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let words = split_words(line);
        if words.is_empty() {
            continue;
        }
        let (skill, count) = match words.as_slice() {
            [n] => (None, n.as_str()),
            [s, n] => (Some(s.clone()), n.trim_end_matches('人')),
            _ => {
                return Err(linli_core::CoreError::invalid(
                    "needs",
                    format!("第 {} 行应为「技能 人数」，如「医疗 2」", i + 1),
                ))
            }
        };
        let count = count.trim_end_matches('人').parse::<i64>().map_err(|_| {
            linli_core::CoreError::invalid(
                "needs",
                format!("第 {} 行的人数「{count}」不是数字", i + 1),
            )
        })?;
        out.push((skill, count));
    }
    Ok(out)
}

async fn activity_submit(
    State(state): State<AppState>,
    form: CsrfForm<ActivityFields>,
) -> Response {
    let CsrfForm { user, form: f } = form;
    let mut errors = Vec::new();
    let mut time = |field: &str, raw: &str| {
        if raw.trim().is_empty() {
            return None;
        }
        parse_local(field, raw).map_err(|e| errors.push(e)).ok()
    };
    let starts_at = time("starts_at", &f.starts_at);
    let ends_at = time("ends_at", &f.ends_at);
    let needs = parse_need_lines(&f.needs)
        .map_err(|e| errors.push(e))
        .unwrap_or_default();
    let node_id = f.node_id.trim().parse::<i64>();
    if node_id.is_err() {
        errors.push(linli_core::CoreError::invalid(
            "node_id",
            "请选择所属社区或网格",
        ));
    }
    if let (true, Ok(node_id)) = (errors.is_empty(), node_id) {
        let input = ActivityInput {
            title: &f.title,
            place: Some(&f.place),
            starts_at,
            ends_at,
            description: Some(&f.description),
            needs: needs.iter().map(|(s, n)| (s.as_deref(), *n)).collect(),
        };
        match vol::create_activity(&state.db, &user.scope, node_id, &input, now_ms()).await {
            Ok(a) => {
                return Redirect::to(&format!("/activities/{}?notice=created", a.id))
                    .into_response()
            }
            Err(e) => match field_errors(e) {
                Ok(errs) => return render_activity_form(&state, &user, f, errs).await,
                Err(e) => return store_error_page(e),
            },
        }
    }
    render_activity_form(&state, &user, f, FieldErrors::from_core(&errors)).await
}

struct SignupRow {
    volunteer_id: i64,
    name: String,
    phone: String,
    skill: String,
    source: &'static str,
    attended: &'static str,
    hours: String,
    status: &'static str,
    status_class: &'static str,
    reason: String,
    /// Hours may still be confirmed (none yet, or a pending report).
    open: bool,
    pending: bool,
    pending_volunteer: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "participation/activity.html")]
struct ActivityPage {
    shell: Shell,
    a: Activity,
    when: String,
    needs: String,
    capacity: i64,
    length: String,
    confirmed: String,
    rows: Vec<SignupRow>,
    candidates: Vec<Choice>,
    can_write: bool,
    notice: Option<String>,
    errors: Vec<String>,
    url: String,
    short_code: String,
    qr: String,
}

async fn render_activity(
    state: &AppState,
    user: &Principal,
    base: &str,
    id: i64,
    notice: Option<String>,
    errors: Vec<String>,
) -> Response {
    let result = async {
        let a = vol::activity(&state.db, &user.scope, id).await?;
        let signups = vol::signups(&state.db, &user.scope, id).await?;
        let everyone = vol::volunteers(
            &state.db,
            &user.scope,
            a.node_id,
            &VolunteerFilter {
                state: Some(VolunteerState::Active),
                ..Default::default()
            },
            (500, 0),
        )
        .await?;
        Ok::<_, StoreError>((a, signups, everyone))
    }
    .await;
    let (a, signups, everyone) = match result {
        Ok(r) => r,
        Err(e) => return store_error_page(e),
    };
    let signed: Vec<i64> = signups.iter().map(|s| s.volunteer_id).collect();
    let url = format!("{base}{}", super::link_path(&a.code));
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let page = ActivityPage {
        shell: Shell::of(user, SHELL),
        when: format!("{} 至 {}", display(a.starts_at), display(a.ends_at)),
        needs: needs_text(&a),
        capacity: a.capacity(),
        length: a.length().display(),
        confirmed: linli_core::participation::volunteers::Hours::from_halves(a.confirmed_halves)
            .display(),
        rows: signups
            .into_iter()
            .map(|s| {
                let status = s.hours.as_ref().map(|h| h.status);
                SignupRow {
                    volunteer_id: s.volunteer_id,
                    name: s.volunteer_name,
                    phone: s.phone_masked.unwrap_or_default(),
                    skill: s.skill.unwrap_or_default(),
                    source: s.source.label_zh(),
                    attended: attended_text(s.attended),
                    hours: s
                        .hours
                        .as_ref()
                        .map(|h| h.hours.display())
                        .unwrap_or_default(),
                    status: status.map(|s| s.label_zh()).unwrap_or("未确认"),
                    status_class: match status {
                        Some(HoursStatus::Confirmed) => "reopened",
                        Some(HoursStatus::Pending) => "pending",
                        Some(HoursStatus::Rejected) => "not-reopened",
                        None => "grey",
                    },
                    reason: s
                        .hours
                        .as_ref()
                        .and_then(|h| h.reason.clone())
                        .unwrap_or_default(),
                    open: matches!(status, None | Some(HoursStatus::Pending)),
                    pending: status == Some(HoursStatus::Pending),
                    pending_volunteer: s.volunteer_state == VolunteerState::Pending,
                }
            })
            .collect(),
        candidates: everyone
            .items
            .into_iter()
            .filter(|v| !signed.contains(&v.id))
            .map(|v| Choice {
                value: v.id.to_string(),
                label: if v.skills.is_empty() {
                    v.name
                } else {
                    format!("{}（{}）", v.name, v.skills.join("、"))
                },
                selected: false,
            })
            .collect(),
        can_write: can_write(user),
        notice,
        errors,
        qr: crate::ui::qr::svg(&url, 160).unwrap_or_default(),
        short_code: linli_core::kernel::token::grouped(&a.code),
        url,
        a,
    };
    (status, page).into_response()
}

async fn activity_page(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    PublicBase(base): PublicBase,
    Path(id): Path<i64>,
    Query(q): Query<NoticeQ>,
) -> Response {
    render_activity(&state, &user, &base, id, notice_text(&q.notice), Vec::new()).await
}

#[derive(Template, WebTemplate)]
#[template(path = "participation/activity_poster.html")]
struct PosterPage {
    a: Activity,
    when: String,
    needs: String,
    community: String,
    url: String,
    short_code: String,
    qr: String,
}

async fn poster_page(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    PublicBase(base): PublicBase,
    Path(id): Path<i64>,
) -> Response {
    let a = match vol::activity(&state.db, &user.scope, id).await {
        Ok(a) => a,
        Err(e) => return store_error_page(e),
    };
    let community = match vol::by_code(&state.db, &a.code).await {
        Ok(p) => p.community,
        Err(e) => return store_error_page(e),
    };
    let url = format!("{base}{}", super::link_path(&a.code));
    PosterPage {
        when: format!("{} 至 {}", display(a.starts_at), display(a.ends_at)),
        needs: needs_text(&a),
        community,
        qr: crate::ui::qr::svg(&url, 320).unwrap_or_default(),
        short_code: linli_core::kernel::token::grouped(&a.code),
        url,
        a,
    }
    .into_response()
}

/// After a form on the activity page: back to it with a notice, or the page again with the
/// refusal's messages.
async fn after(
    state: &AppState,
    user: &Principal,
    base: &str,
    id: i64,
    result: Result<&'static str, StoreError>,
) -> Response {
    match result {
        Ok(notice) => Redirect::to(&format!("/activities/{id}?notice={notice}")).into_response(),
        Err(e) => match crate::ui::form_errors(e) {
            Ok(messages) => render_activity(state, user, base, id, None, messages).await,
            Err(e) => store_error_page(e),
        },
    }
}

async fn signup_submit(
    State(state): State<AppState>,
    PublicBase(base): PublicBase,
    Path(id): Path<i64>,
    form: CsrfForm<VolunteerIdField>,
) -> Response {
    let CsrfForm { user, form: f } = form;
    let Some(vid) = volunteer_id_of(&f.volunteer_id) else {
        return no_volunteer();
    };
    let r = vol::sign_up(&state.db, &user.scope, id, vid, now_ms())
        .await
        .map(|_| "signed");
    after(&state, &user, &base, id, r).await
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct HoursFields {
    volunteer_id: String,
    hours: String,
    reason: String,
}

async fn attendance_submit(
    State(state): State<AppState>,
    PublicBase(base): PublicBase,
    Path(id): Path<i64>,
    form: CsrfForm<HoursFields>,
) -> Response {
    let CsrfForm { user, form: f } = form;
    let Some(vid) = volunteer_id_of(&f.volunteer_id) else {
        return no_volunteer();
    };
    let r = vol::confirm_hours(&state.db, &user.scope, id, vid, &f.hours, now_ms())
        .await
        .map(|_| "confirmed");
    after(&state, &user, &base, id, r).await
}

async fn absent_submit(
    State(state): State<AppState>,
    PublicBase(base): PublicBase,
    Path(id): Path<i64>,
    form: CsrfForm<HoursFields>,
) -> Response {
    let CsrfForm { user, form: f } = form;
    let Some(vid) = volunteer_id_of(&f.volunteer_id) else {
        return no_volunteer();
    };
    let r = vol::mark_absent(&state.db, &user.scope, id, vid, now_ms())
        .await
        .map(|_| "absent");
    after(&state, &user, &base, id, r).await
}

async fn reject_submit(
    State(state): State<AppState>,
    PublicBase(base): PublicBase,
    Path(id): Path<i64>,
    form: CsrfForm<HoursFields>,
) -> Response {
    let CsrfForm { user, form: f } = form;
    let Some(vid) = volunteer_id_of(&f.volunteer_id) else {
        return no_volunteer();
    };
    let r = vol::reject_hours(&state.db, &user.scope, id, vid, &f.reason, now_ms())
        .await
        .map(|_| "rejected");
    after(&state, &user, &base, id, r).await
}
