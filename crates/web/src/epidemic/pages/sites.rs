//! 集中隔离点: the sites the caller may see with their beds today (search, filters, pages,
//! xlsx), a form to set one up, and each site's page — rooms floor by floor with who is in them
//! (names only of people in the viewer's jurisdiction), rooms added in bulk, the site's details,
//! and move / check-out buttons for whoever runs it. Phone first; forms work without JavaScript.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use linli_core::epidemic::sites::{room_block, NewRoom, RoomNumber};
use linli_core::kernel::clock::{format_date, now_ms, parse_date, today};
use linli_core::{CoreError, Role};
use linli_store::accounts::Principal;
use linli_store::epidemic::sites::{self, SiteDay, SiteFilter, SiteInput, SiteSummary};
use linli_store::{tree, StoreError};
use serde::Deserialize;

use super::root_ids;
use crate::auth::{CsrfForm, PageUser};
use crate::ui::form_status;
use crate::ui::{
    error_page, field_label, form_errors_with, store_error_page, Choice, Pager, Shell,
};
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/epidemic/sites", get(list_page))
        .route("/epidemic/sites.xlsx", get(export))
        .route("/epidemic/sites/new", get(new_page).post(create))
        .route("/epidemic/sites/{id}", get(site_page).post(update))
        .route("/epidemic/sites/{id}/rooms", post(add_rooms))
        .route("/epidemic/stays/{id}/move", post(move_stay))
        .route("/epidemic/stays/{id}/check-out", post(check_out))
        .route("/epidemic/rooms/{id}/beds", post(set_beds))
        .route(
            "/epidemic/observations/{id}/room",
            get(room_page).post(room_assign),
        )
}

/// Sites per page.
const PER_PAGE: i64 = 50;

/// Field names of the site forms in Chinese.
fn label(field: &str) -> &str {
    match field {
        "name" => "名称",
        "address" => "地址",
        "phone" => "联系电话",
        "node_id" => "所属辖区",
        "number" => "房间号",
        "floor" | "floor_from" | "floor_to" => "楼层",
        "room_from" | "room_to" => "每层房间序号",
        "beds" => "每间床位",
        "room_id" => "房间",
        "stay_id" => "入住",
        "person_id" => "居民",
        "observation_id" => "医学观察",
        "from" => "入住日期",
        "on" => "退房日期",
        other => field_label(other),
    }
}

/// Messages for a refused form; other errors are passed back for an error page.
fn form_errors(e: StoreError) -> Result<Vec<String>, StoreError> {
    form_errors_with(e, label)
}

/// Whether the caller's role may set up and run sites (within their jurisdiction).
fn may_run_sites(user: &Principal) -> bool {
    user.scope.role() != Role::GridWorker
}

// ---------------------------------------------------------------------------------------------
// The list

#[derive(Debug, Default, Deserialize)]
struct ListQuery {
    #[serde(default)]
    node_id: String,
    #[serde(default)]
    q: String,
    /// `open` (default), `closed` or `all`.
    #[serde(default)]
    status: String,
    #[serde(default)]
    free: String,
    page: Option<i64>,
    notice: Option<String>,
}

impl ListQuery {
    fn node(&self) -> Option<i64> {
        self.node_id.trim().parse().ok()
    }

    fn filter(&self) -> SiteFilter {
        SiteFilter {
            node_id: self.node(),
            q: Some(self.q.trim().to_owned()).filter(|q| !q.is_empty()),
            open: match self.status.as_str() {
                "all" => None,
                "closed" => Some(false),
                _ => Some(true),
            },
            with_free: !self.free.is_empty(),
        }
    }

    fn query_string(&self) -> String {
        crate::ui::query_string(&[
            ("node_id", &self.node_id),
            ("q", &self.q),
            ("status", &self.status),
            ("free", &self.free),
        ])
    }
}

struct SiteRow {
    id: i64,
    name: String,
    node_name: String,
    address: String,
    phone: String,
    open: bool,
    rooms: i64,
    total: i64,
    occupied: i64,
    free: i64,
}

impl From<SiteSummary> for SiteRow {
    fn from(s: SiteSummary) -> Self {
        SiteRow {
            id: s.site.id,
            name: s.site.name,
            node_name: s.site.node_name,
            address: s.site.address.unwrap_or_default(),
            phone: s.site.phone.unwrap_or_default(),
            open: s.site.open,
            rooms: s.rooms,
            total: s.beds.total,
            occupied: s.beds.occupied,
            free: s.beds.free(),
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "epidemic/sites.html")]
struct ListPage {
    shell: Shell,
    today: String,
    nodes: Vec<Choice>,
    statuses: Vec<Choice>,
    q: String,
    free: bool,
    total: i64,
    beds_total: i64,
    beds_free: i64,
    rows: Vec<SiteRow>,
    export: String,
    can_create: bool,
    notice: String,
    pager: Pager,
}

/// The open nodes of the caller's jurisdiction as choices (indented by depth), `selected` chosen;
/// `keep` narrows them (the nodes a site may be set up at).
async fn node_choices(
    state: &AppState,
    user: &Principal,
    selected: Option<i64>,
    keep: impl Fn(&tree::Node) -> bool,
) -> Result<Vec<Choice>, StoreError> {
    let mut out = Vec::new();
    for root in root_ids(state, user).await? {
        for n in tree::subtree(&state.db, &user.scope, Some(root)).await? {
            if n.is_open() && keep(&n) {
                out.push(Choice {
                    selected: Some(n.id) == selected,
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
    Ok(out)
}

async fn list_page(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Query(q): Query<ListQuery>,
) -> Response {
    let page_no = Pager::asked(q.page);
    let result = async {
        let page = sites::sites(
            &state.db,
            &user.scope,
            &q.filter(),
            today(),
            now_ms(),
            PER_PAGE,
            Pager::offset(page_no, PER_PAGE),
        )
        .await?;
        // Only the nodes a site can be about: districts, streets and communities.
        let nodes = node_choices(&state, &user, q.node(), |n| {
            !matches!(
                n.kind,
                linli_core::NodeKind::Building | linli_core::NodeKind::Compound
            )
        })
        .await?;
        Ok::<_, StoreError>((page, nodes))
    }
    .await;
    let (page, nodes) = match result {
        Ok(r) => r,
        Err(e) => return store_error_page(e),
    };
    let qs = q.query_string();
    let filter = q.filter();
    ListPage {
        shell: Shell::of(&user, "epidemic"),
        today: format_date(today()),
        nodes,
        statuses: [("open", "启用中"), ("closed", "已关闭"), ("all", "全部")]
            .iter()
            .map(|(v, l)| Choice {
                value: (*v).to_owned(),
                label: (*l).to_owned(),
                selected: match filter.open {
                    Some(true) => *v == "open",
                    Some(false) => *v == "closed",
                    None => *v == "all",
                },
            })
            .collect(),
        q: q.q.clone(),
        free: filter.with_free,
        pager: Pager::new(page_no, page.total, PER_PAGE, |n| {
            format!("/epidemic/sites?{qs}&page={n}")
        }),
        total: page.total,
        beds_total: page.beds.total,
        beds_free: page.beds.free(),
        rows: page.items.into_iter().map(SiteRow::from).collect(),
        export: format!("/epidemic/sites.xlsx?{qs}"),
        can_create: may_run_sites(&user),
        notice: match q.notice.as_deref() {
            Some("created") => "已添加隔离点。".to_owned(),
            _ => String::new(),
        },
    }
    .into_response()
}

/// The same list as an xlsx (every match).
async fn export(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Query(q): Query<ListQuery>,
) -> Response {
    let page = match sites::sites(
        &state.db,
        &user.scope,
        &q.filter(),
        today(),
        now_ms(),
        i64::MAX,
        0,
    )
    .await
    {
        Ok(p) => p,
        Err(e) => return store_error_page(e),
    };
    let day = format_date(today());
    let title = format!(
        "集中隔离点（{day}，共 {} 处，床位 {} 张，空闲 {} 张）",
        page.total,
        page.beds.total,
        page.beds.free()
    );
    let rows = page.items.into_iter().map(|s| {
        let r = SiteRow::from(s);
        vec![
            r.name,
            r.node_name,
            r.address,
            r.phone,
            if r.open { "启用" } else { "关闭" }.to_owned(),
            r.rooms.to_string(),
            r.total.to_string(),
            r.occupied.to_string(),
            r.free.to_string(),
        ]
    });
    crate::ui::xlsx_table(
        "sites",
        &format!("集中隔离点-{day}.xlsx"),
        "集中隔离点",
        title,
        &[
            "名称",
            "所属辖区",
            "地址",
            "联系电话",
            "状态",
            "房间数",
            "床位",
            "已住",
            "空闲",
        ],
        rows,
    )
    .await
}

// ---------------------------------------------------------------------------------------------
// A new site

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct SiteForm {
    node_id: String,
    name: String,
    address: String,
    phone: String,
    /// Present when ticked (the edit form); a new site is open.
    open: String,
}

impl SiteForm {
    fn input(&self, open: bool) -> SiteInput<'_> {
        SiteInput {
            name: &self.name,
            address: Some(&self.address),
            phone: Some(&self.phone),
            open,
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "epidemic/site_new.html")]
struct NewPage {
    shell: Shell,
    nodes: Vec<Choice>,
    form: SiteForm,
    errors: Vec<String>,
}

async fn render_new(
    state: &AppState,
    user: &Principal,
    form: SiteForm,
    errors: Vec<String>,
) -> Response {
    if !may_run_sites(user) {
        return error_page(
            StatusCode::FORBIDDEN,
            "网格员不能设置隔离点，请联系社区或街道。",
        );
    }
    let selected = form.node_id.trim().parse().ok();
    let nodes = match node_choices(state, user, selected, |n| {
        linli_core::epidemic::sites::can_manage_site(&user.scope, &n.path)
            && (n.kind.is_upper_level() || n.kind == linli_core::NodeKind::Community)
    })
    .await
    {
        Ok(n) => n,
        Err(e) => return store_error_page(e),
    };
    let page = NewPage {
        shell: Shell::of(user, "epidemic"),
        nodes,
        form,
        errors,
    };
    (form_status(!page.errors.is_empty()), page).into_response()
}

async fn new_page(State(state): State<AppState>, PageUser(user): PageUser) -> Response {
    render_new(&state, &user, SiteForm::default(), Vec::new()).await
}

async fn create(State(state): State<AppState>, f: CsrfForm<SiteForm>) -> Response {
    let user = &f.user;
    let form = f.form;
    let result = match form.node_id.trim().parse::<i64>() {
        Ok(node_id) => {
            sites::create_site(&state.db, &user.scope, node_id, &form.input(true), now_ms()).await
        }
        Err(_) => Err(StoreError::invalid(
            "node_id",
            "请选择隔离点所属的街道或区县",
        )),
    };
    match result {
        Ok(site) => {
            Redirect::to(&format!("/epidemic/sites/{}?notice=created", site.id)).into_response()
        }
        Err(e) => match form_errors(e) {
            Ok(errors) => render_new(&state, user, form, errors).await,
            Err(e) => store_error_page(e),
        },
    }
}

// ---------------------------------------------------------------------------------------------
// A site's page

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RoomsForm {
    floor_from: String,
    floor_to: String,
    room_from: String,
    room_to: String,
    beds: String,
    /// One room by its number (a door numbered otherwise), with `floor` and `beds`.
    number: String,
    floor: String,
}

impl RoomsForm {
    /// The rooms asked for: one by its number, or a block of floors × rooms.
    fn rooms(&self) -> Result<Vec<NewRoom>, StoreError> {
        let int = |field: &str, raw: &str| -> Result<i64, CoreError> {
            raw.trim()
                .parse::<i64>()
                .map_err(|_| CoreError::invalid(field, "请填写整数"))
        };
        let beds = int("beds", &self.beds);
        if !self.number.trim().is_empty() {
            let mut errors = Vec::new();
            let number = RoomNumber::parse(&self.number)
                .map_err(|e| errors.push(e))
                .ok();
            let floor = int("floor", &self.floor).map_err(|e| errors.push(e)).ok();
            let beds = beds.map_err(|e| errors.push(e)).ok();
            return match (number, floor, beds) {
                (Some(n), Some(f), Some(b)) if errors.is_empty() => {
                    Ok(vec![NewRoom::new(f, n, b)?])
                }
                _ => Err(StoreError::Invalid(errors)),
            };
        }
        let mut errors = Vec::new();
        let mut get = |field: &str, raw: &str| int(field, raw).map_err(|e| errors.push(e)).ok();
        let parts = (
            get("floor_from", &self.floor_from),
            get("floor_to", &self.floor_to),
            get("room_from", &self.room_from),
            get("room_to", &self.room_to),
            get("beds", &self.beds),
        );
        match parts {
            (Some(a), Some(b), Some(c), Some(d), Some(beds)) if errors.is_empty() => {
                room_block((a, b), (c, d), beds).map_err(StoreError::Invalid)
            }
            _ => Err(StoreError::Invalid(errors)),
        }
    }
}

struct OccupantRow {
    stay_id: i64,
    person_id: i64,
    name: String,
    known: bool,
    dates: String,
    overdue: bool,
}

struct RoomRow {
    id: i64,
    number: String,
    beds: i64,
    free: i64,
    occupants: Vec<OccupantRow>,
}

struct FloorGroup {
    floor: i64,
    rooms: Vec<RoomRow>,
}

#[derive(Template, WebTemplate)]
#[template(path = "epidemic/site.html")]
struct SitePage {
    shell: Shell,
    day: SiteDay,
    date: String,
    is_today: bool,
    floors: Vec<FloorGroup>,
    free_rooms: Vec<Choice>,
    notice: String,
    errors: Vec<String>,
    edit: SiteForm,
    rooms_form: RoomsForm,
}

#[derive(Debug, Default, Deserialize)]
struct SiteQuery {
    date: Option<String>,
    notice: Option<String>,
}

fn notice_zh(code: Option<&str>) -> String {
    match code {
        Some("created") => "已添加隔离点，请添加房间。",
        Some("updated") => "已保存。",
        Some("rooms") => "已添加房间。",
        Some("moved") => "已换房。",
        Some("checked_out") => "已退房，床位自明日起空出。",
        Some("beds") => "已修改床位数。",
        _ => "",
    }
    .to_owned()
}

#[allow(clippy::too_many_arguments)]
async fn render_site(
    state: &AppState,
    user: &Principal,
    id: i64,
    date: Option<&str>,
    notice: String,
    errors: Vec<String>,
    edit: Option<SiteForm>,
    rooms_form: RoomsForm,
) -> Response {
    let on = match date.map(str::trim).filter(|d| !d.is_empty()) {
        Some(d) => match parse_date("date", d) {
            Ok(d) => d,
            Err(e) => return store_error_page(e.into()),
        },
        None => today(),
    };
    let day = match sites::site_day(&state.db, &user.scope, id, on, now_ms()).await {
        Ok(d) => d,
        Err(e) => return store_error_page(e),
    };
    let mut floors: Vec<FloorGroup> = Vec::new();
    let mut free_rooms = Vec::new();
    for r in &day.rooms {
        if r.free() > 0 {
            free_rooms.push(Choice {
                value: r.id.to_string(),
                label: format!("{} 室（空 {} 床）", r.number, r.free()),
                selected: false,
            });
        }
        let row = RoomRow {
            id: r.id,
            number: r.number.clone(),
            beds: r.beds,
            free: r.free(),
            occupants: r
                .occupants
                .iter()
                .map(|o| OccupantRow {
                    stay_id: o.stay_id,
                    person_id: o.person_id.unwrap_or_default(),
                    known: o.person_id.is_some(),
                    name: o
                        .person_name
                        .clone()
                        .unwrap_or_else(|| "辖区外人员".to_owned()),
                    dates: format!("{} 至 {}", o.from, o.until),
                    overdue: o.overdue,
                })
                .collect(),
        };
        match floors.last_mut() {
            Some(f) if f.floor == r.floor => f.rooms.push(row),
            _ => floors.push(FloorGroup {
                floor: r.floor,
                rooms: vec![row],
            }),
        }
    }
    let edit = edit.unwrap_or_else(|| SiteForm {
        node_id: day.site.node_id.to_string(),
        name: day.site.name.clone(),
        address: day.site.address.clone().unwrap_or_default(),
        phone: day.site.phone.clone().unwrap_or_default(),
        open: if day.site.open {
            "1".into()
        } else {
            String::new()
        },
    });
    let page = SitePage {
        shell: Shell::of(user, "epidemic"),
        date: format_date(on),
        is_today: on == today(),
        floors,
        free_rooms,
        notice,
        errors,
        edit,
        rooms_form,
        day,
    };
    (form_status(!page.errors.is_empty()), page).into_response()
}

async fn site_page(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Path(id): Path<i64>,
    Query(q): Query<SiteQuery>,
) -> Response {
    render_site(
        &state,
        &user,
        id,
        q.date.as_deref(),
        notice_zh(q.notice.as_deref()),
        Vec::new(),
        None,
        RoomsForm {
            floor_from: "2".into(),
            floor_to: "5".into(),
            room_from: "1".into(),
            room_to: "12".into(),
            beds: "1".into(),
            ..Default::default()
        },
    )
    .await
}

async fn update(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    f: CsrfForm<SiteForm>,
) -> Response {
    let user = &f.user;
    let form = f.form;
    let open = !form.open.is_empty();
    match sites::update_site(&state.db, &user.scope, id, &form.input(open), now_ms()).await {
        Ok(_) => Redirect::to(&format!("/epidemic/sites/{id}?notice=updated")).into_response(),
        Err(e) => match form_errors(e) {
            Ok(errors) => {
                render_site(
                    &state,
                    user,
                    id,
                    None,
                    String::new(),
                    errors,
                    Some(form),
                    RoomsForm::default(),
                )
                .await
            }
            Err(e) => store_error_page(e),
        },
    }
}

async fn add_rooms(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    f: CsrfForm<RoomsForm>,
) -> Response {
    let user = &f.user;
    let form = f.form;
    let result = match form.rooms() {
        Ok(rooms) => sites::add_rooms(&state.db, &user.scope, id, &rooms, now_ms()).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(_) => Redirect::to(&format!("/epidemic/sites/{id}?notice=rooms")).into_response(),
        Err(e) => match form_errors(e) {
            Ok(errors) => {
                render_site(&state, user, id, None, String::new(), errors, None, form).await
            }
            Err(e) => store_error_page(e),
        },
    }
}

#[derive(Debug, Default, Deserialize)]
struct StayForm {
    #[serde(default)]
    site_id: String,
    #[serde(default)]
    room_id: String,
}

/// After a move or a check-out: back to the site's page, with the notice or the refusal.
async fn after_stay(
    state: &AppState,
    user: &Principal,
    form: &StayForm,
    result: Result<(), StoreError>,
    notice: &str,
) -> Response {
    let Ok(site_id) = form.site_id.trim().parse::<i64>() else {
        return error_page(StatusCode::UNPROCESSABLE_ENTITY, "缺少隔离点");
    };
    match result {
        Ok(()) => {
            Redirect::to(&format!("/epidemic/sites/{site_id}?notice={notice}")).into_response()
        }
        Err(e) => match form_errors(e) {
            Ok(errors) => {
                render_site(
                    state,
                    user,
                    site_id,
                    None,
                    String::new(),
                    errors,
                    None,
                    RoomsForm::default(),
                )
                .await
            }
            Err(e) => store_error_page(e),
        },
    }
}

async fn move_stay(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    f: CsrfForm<StayForm>,
) -> Response {
    let user = &f.user;
    let result = match f.form.room_id.trim().parse::<i64>() {
        Ok(room) => sites::move_stay(&state.db, &user.scope, id, room, now_ms())
            .await
            .map(|_| ()),
        Err(_) => Err(StoreError::invalid("room_id", "请选择要换到的房间")),
    };
    after_stay(&state, user, &f.form, result, "moved").await
}

async fn check_out(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    f: CsrfForm<StayForm>,
) -> Response {
    let user = &f.user;
    let result = sites::check_out(&state.db, &user.scope, id, today(), now_ms()).await;
    after_stay(&state, user, &f.form, result, "checked_out").await
}

#[derive(Debug, Default, Deserialize)]
struct BedsForm {
    #[serde(default)]
    site_id: String,
    #[serde(default)]
    beds: String,
}

/// A room's beds changed (a bed added, or one taken out of use); never below who sleeps there.
async fn set_beds(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    f: CsrfForm<BedsForm>,
) -> Response {
    let user = &f.user;
    let result = match f.form.beds.trim().parse::<i64>() {
        Ok(beds) => sites::set_room_beds(&state.db, &user.scope, id, beds, now_ms()).await,
        Err(_) => Err(StoreError::invalid("beds", "床位数请填整数")),
    };
    let back = StayForm {
        site_id: f.form.site_id.clone(),
        room_id: String::new(),
    };
    after_stay(&state, user, &back, result, "beds").await
}

// ---------------------------------------------------------------------------------------------
// A room by hand: for someone screened when no bed was free (暂无空床), or placed elsewhere.

struct SiteOption {
    id: i64,
    label: String,
    selected: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "epidemic/room_assign.html")]
struct RoomPage {
    shell: Shell,
    observation_id: i64,
    person_id: i64,
    person_name: String,
    /// The room now, 「建塘宾馆 2 楼 201 室」, or empty.
    current: String,
    until: String,
    /// No centralised stage ahead: nothing to place.
    needs_room: bool,
    sites: Vec<SiteOption>,
    site_id: Option<i64>,
    rooms: Vec<(i64, String)>,
    error: String,
    done: bool,
}

#[derive(Deserialize, Default)]
struct RoomQuery {
    site_id: Option<i64>,
    done: Option<String>,
}

async fn render_room(
    state: &AppState,
    user: &Principal,
    id: i64,
    q: RoomQuery,
    error: String,
) -> Response {
    let now = now_ms();
    let result = async {
        let seeker = sites::room_seeker(&state.db, &user.scope, id, now).await?;
        let current = sites::stay_of_observation(&state.db, &user.scope, id).await?;
        let filter = SiteFilter {
            node_id: Some(seeker.node_id),
            open: Some(true),
            with_free: true,
            ..SiteFilter::default()
        };
        let found = match seeker.until {
            Some(_) => {
                sites::sites(&state.db, &user.scope, &filter, today(), now, 200, 0)
                    .await?
                    .items
            }
            None => Vec::new(),
        };
        let rooms = match (q.site_id, seeker.until) {
            (Some(site), Some(until)) => {
                sites::rooms_free(&state.db, &user.scope, site, until, now).await?
            }
            _ => Vec::new(),
        };
        Ok::<_, StoreError>((seeker, current, found, rooms))
    }
    .await;
    let (seeker, current, found, rooms) = match result {
        Ok(r) => r,
        Err(e) => return store_error_page(e),
    };
    let status = form_status(!error.is_empty());
    (
        status,
        RoomPage {
            shell: Shell::of(user, "epidemic"),
            observation_id: id,
            person_id: seeker.person_id,
            person_name: seeker.person_name,
            current: current
                .filter(|_| seeker.until.is_some())
                .map(|p| p.place_zh())
                .unwrap_or_default(),
            until: seeker.until.map(format_date).unwrap_or_default(),
            needs_room: seeker.until.is_some(),
            sites: found
                .into_iter()
                .map(|s| SiteOption {
                    selected: Some(s.site.id) == q.site_id,
                    label: format!("{}（空床 {}）", s.site.name, s.beds.free()),
                    id: s.site.id,
                })
                .collect(),
            site_id: q.site_id,
            rooms,
            error,
            done: q.done.is_some(),
        },
    )
        .into_response()
}

async fn room_page(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Path(id): Path<i64>,
    Query(q): Query<RoomQuery>,
) -> Response {
    render_room(&state, &user, id, q, String::new()).await
}

#[derive(Deserialize)]
struct RoomForm {
    #[serde(default)]
    room_id: String,
    #[serde(default)]
    site_id: String,
}

async fn room_assign(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    f: CsrfForm<RoomForm>,
) -> Response {
    let site_id = f.form.site_id.parse().ok();
    let Ok(room_id) = f.form.room_id.parse::<i64>() else {
        let q = RoomQuery {
            site_id,
            done: None,
        };
        return render_room(&state, &f.user, id, q, "请选择一个房间".to_owned()).await;
    };
    match sites::assign(&state.db, &f.user.scope, id, room_id, now_ms()).await {
        Ok(_) => Redirect::to(&format!("/epidemic/observations/{id}/room?done=1")).into_response(),
        Err(StoreError::Invalid(errors)) => {
            let message = crate::ui::forms::messages(&errors);
            let q = RoomQuery {
                site_id,
                done: None,
            };
            render_room(&state, &f.user, id, q, message).await
        }
        Err(e) => store_error_page(e),
    }
}
