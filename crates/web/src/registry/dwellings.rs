//! Rooms in buildings (issue 19 items 4 and 6): a node's rooms (empty ones too, for the
//! door-to-door sweep 入户排查), adding a building's rooms at once, a room with its households,
//! moving a household, and the printable door-to-door list.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use linli_core::kernel::clock::{format_date, now_ms, today};
use linli_core::kernel::labels::Labelled;
use linli_core::registry::buildings::room_plan;
use linli_core::NodeKind;
use linli_store::registry::dwellings::{self, Room, RoomView};
use linli_store::tree::{self, Crumb, Node};
use linli_store::StoreError;
use serde::Deserialize;

use crate::auth::{CsrfForm, PageUser};
use crate::ui::{form_errors, store_error_page, Choice, NoticeQuery, Shell};
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/nodes/{id}/rooms", get(rooms_page).post(add_rooms))
        .route("/nodes/{id}/doors", get(doors_page))
        .route("/dwellings/{id}", get(room_page))
        .route("/households/{id}/move", post(move_household))
}

/// A room as the lists show it.
struct RoomRow {
    id: i64,
    address: String,
    head: String,
    living: i64,
    households: i64,
    registered: i64,
    empty: bool,
    tags: String,
}

impl RoomRow {
    fn of(r: &Room) -> RoomRow {
        RoomRow {
            id: r.id,
            address: r.address.to_string(),
            head: r.head.clone().unwrap_or_else(|| "—".to_owned()),
            living: r.living,
            households: r.households,
            registered: r.registered,
            empty: r.is_empty(),
            tags: r.tags.join("、"),
        }
    }
}

/// A node the caller may read, the way to it, and its rooms.
async fn node_rooms(
    state: &AppState,
    user: &linli_store::accounts::Principal,
    id: i64,
) -> Result<(Node, Vec<Crumb>, Vec<Room>), StoreError> {
    let node = tree::get(&state.db, &user.scope, id).await?;
    let crumbs = tree::ancestors(&state.db, &user.scope, &node).await?;
    let rooms = dwellings::rooms(&state.db, &user.scope, id).await?;
    Ok((node, crumbs, rooms))
}

#[derive(Deserialize)]
struct RoomsQuery {
    /// `empty` 空置, `occupied` 有人居住, or all.
    show: Option<String>,
    /// A room number or a head's name.
    q: Option<String>,
    notice: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "registry/rooms.html")]
struct RoomsPage {
    shell: Shell,
    crumbs: Vec<Crumb>,
    node: Node,
    kind_label: &'static str,
    rows: Vec<RoomRow>,
    total: usize,
    empty: usize,
    living: i64,
    shows: Vec<Choice>,
    q: String,
    /// Rooms can be added here (a building or unit the caller may write to).
    can_add: bool,
    notice: Option<String>,
    errors: Vec<String>,
    plan: PlanFields,
}

#[derive(Deserialize, Default, Clone)]
struct PlanFields {
    #[serde(default)]
    unit: String,
    #[serde(default)]
    floor_from: String,
    #[serde(default)]
    floor_to: String,
    #[serde(default)]
    per_floor: String,
}

async fn rooms_page(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Path(id): Path<i64>,
    Query(q): Query<RoomsQuery>,
) -> Response {
    let notice = q.notice.as_deref().map(|n| match n {
        "added" => "已添加房间。".to_owned(),
        other => format!("已添加 {other} 套房间。"),
    });
    render_rooms(
        &state,
        &user,
        id,
        q,
        notice,
        Vec::new(),
        PlanFields::default(),
    )
    .await
}

async fn render_rooms(
    state: &AppState,
    user: &linli_store::accounts::Principal,
    id: i64,
    q: RoomsQuery,
    notice: Option<String>,
    errors: Vec<String>,
    plan: PlanFields,
) -> Response {
    let (node, crumbs, rooms) = match node_rooms(state, user, id).await {
        Ok(r) => r,
        Err(e) => return store_error_page(e),
    };
    let show = q.show.unwrap_or_default();
    let typed = q.q.unwrap_or_default();
    let needle = typed.trim();
    let rows: Vec<RoomRow> = rooms
        .iter()
        .filter(|r| match show.as_str() {
            "empty" => r.is_empty(),
            "occupied" => !r.is_empty(),
            _ => true,
        })
        .filter(|r| {
            needle.is_empty()
                || r.address.room.contains(needle)
                || r.address.to_string().contains(needle)
                || r.head.as_deref().is_some_and(|h| h.contains(needle))
        })
        .map(RoomRow::of)
        .collect();
    let can_add = matches!(node.kind, NodeKind::Building | NodeKind::Unit)
        && user.scope.can_write_records(&node.path);
    let status = crate::ui::form_status(!errors.is_empty());
    let page = RoomsPage {
        shell: Shell::of(user, "persons"),
        crumbs,
        kind_label: node.kind.label_zh(),
        total: rooms.len(),
        empty: rooms.iter().filter(|r| r.is_empty()).count(),
        living: rooms.iter().map(|r| r.living).sum(),
        rows,
        shows: crate::ui::choices(
            [("", "全部"), ("occupied", "有人居住"), ("empty", "空置")].into_iter(),
            &show,
        ),
        q: typed,
        can_add,
        notice,
        errors,
        plan,
        node,
    };
    (status, page).into_response()
}

async fn add_rooms(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    f: CsrfForm<PlanFields>,
) -> Response {
    let plan = f.form.clone();
    let result = async {
        let rooms = room_plan(
            &plan.unit,
            &plan.floor_from,
            &plan.floor_to,
            &plan.per_floor,
        )
        .map_err(StoreError::Invalid)?;
        dwellings::add_rooms(&state.db, &f.user.scope, id, &rooms, now_ms()).await
    }
    .await;
    match result {
        Ok(n) => Redirect::to(&format!("/nodes/{id}/rooms?notice={n}")).into_response(),
        Err(e) => match form_errors(e) {
            Ok(errors) => {
                let q = RoomsQuery {
                    show: None,
                    q: None,
                    notice: None,
                };
                render_rooms(&state, &f.user, id, q, None, errors, plan).await
            }
            Err(e) => store_error_page(e),
        },
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "registry/doors.html")]
struct DoorsPage {
    node: Node,
    place: String,
    rows: Vec<RoomRow>,
    today: String,
}

/// The door-to-door list of a building (or unit): every room, lived in or not, with blank
/// columns for what the visit found; printed on A4.
async fn doors_page(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Path(id): Path<i64>,
) -> Response {
    match node_rooms(&state, &user, id).await {
        Ok((node, crumbs, rooms)) => DoorsPage {
            place: crumbs
                .iter()
                .map(|c| c.name.as_str())
                .collect::<Vec<_>>()
                .join(" › "),
            rows: rooms.iter().map(RoomRow::of).collect(),
            today: format_date(today()),
            node,
        }
        .into_response(),
        Err(e) => store_error_page(e),
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "registry/room.html")]
struct RoomPage {
    shell: Shell,
    crumbs: Vec<Crumb>,
    view: RoomView,
    address: String,
    can_write: bool,
    /// 登记新住户: the person form with this room's node and address filled in.
    new_household_href: String,
    /// Where a household may move: the nodes that hold residents.
    nodes: Vec<Choice>,
    notice: Option<String>,
    errors: Vec<String>,
}

async fn room_page(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    Path(id): Path<i64>,
    Query(n): Query<NoticeQuery>,
) -> Response {
    let notice = n.notice.map(|_| "住户已迁入本房屋。".to_owned());
    render_room(&state, &user, id, notice, Vec::new()).await
}

async fn render_room(
    state: &AppState,
    user: &linli_store::accounts::Principal,
    id: i64,
    notice: Option<String>,
    errors: Vec<String>,
) -> Response {
    let result = async {
        let view = dwellings::room(&state.db, &user.scope, id).await?;
        let crumbs = tree::ancestors(&state.db, &user.scope, &view.node).await?;
        let nodes = tree::subtree(&state.db, &user.scope, None).await?;
        Ok::<_, StoreError>((view, crumbs, nodes))
    }
    .await;
    let (view, crumbs, nodes) = match result {
        Ok(r) => r,
        Err(e) => return store_error_page(e),
    };
    let status = crate::ui::form_status(!errors.is_empty());
    let page = RoomPage {
        shell: Shell::of(user, "persons"),
        address: format!("{} {}", view.node.name, view.room.address),
        can_write: user.scope.can_write_records(&view.node.path),
        new_household_href: format!(
            "/persons/new?node_id={}&address={}",
            view.node.id,
            crate::ui::url_encode(&view.room.address.to_string())
        ),
        nodes: nodes
            .iter()
            .filter(|n| n.is_open() && n.kind.serves_residents())
            .map(|n| Choice::node(n, 0, n.id == view.node.id))
            .collect(),
        crumbs,
        view,
        notice,
        errors,
    };
    (status, page).into_response()
}

#[derive(Deserialize)]
struct MoveForm {
    /// The room the household leaves (the page to come back to on a refusal).
    from: i64,
    node_id: String,
    address: String,
}

async fn move_household(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    f: CsrfForm<MoveForm>,
) -> Response {
    let form = &f.form;
    let result = async {
        let node_id = form
            .node_id
            .trim()
            .parse::<i64>()
            .map_err(|_| StoreError::invalid("node_id", "请选择迁入的楼栋或小区"))?;
        dwellings::move_household(
            &state.db,
            &f.user.scope,
            id,
            node_id,
            &form.address,
            now_ms(),
        )
        .await
    }
    .await;
    match result {
        Ok(to) => Redirect::to(&format!("/dwellings/{to}?notice=moved")).into_response(),
        Err(e) => match form_errors(e) {
            Ok(errors) => render_room(&state, &f.user, form.from, None, errors).await,
            Err(e) => store_error_page(e),
        },
    }
}
