//! The registry's JSON API: persons (masked by default, unmasked deliberately and audited),
//! their history, households and tags.

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use linli_core::kernel::clock::now_ms;
use linli_core::kernel::clock::rfc3339;
use linli_core::kernel::labels::Labelled;
use linli_store::registry::roll::Listed;
use linli_store::registry::{self, dwellings, Change, FieldWarning, Person, PersonPatch};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::{ApiUser, ClientIp};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::ui::PersonBody;
use crate::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(search_persons, create_person))
        .routes(routes!(get_person, update_person))
        .routes(routes!(unmask_person))
        .routes(routes!(person_history))
        .routes(routes!(get_household))
        .routes(routes!(add_household_member))
        .routes(routes!(list_dwellings))
        .routes(routes!(node_counts))
        .routes(routes!(list_tags, create_tag))
        .routes(routes!(export_persons, export_persons_post))
        .routes(routes!(export_persons_xlsx, export_persons_xlsx_post))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WarningOut {
    pub field: String,
    pub message: String,
}

impl From<FieldWarning> for WarningOut {
    fn from(w: FieldWarning) -> Self {
        WarningOut {
            field: w.field,
            message: w.message,
        }
    }
}

/// A person. ID and phone numbers are masked (`533401********2186`, `136****8609`).
#[derive(Debug, Serialize, ToSchema)]
pub struct PersonOut {
    pub id: i64,
    pub node_id: i64,
    pub node_name: String,
    pub dwelling_id: Option<i64>,
    pub address: Option<String>,
    pub household_id: Option<i64>,
    /// head, spouse, son, daughter, father, mother, grandson, granddaughter, other
    pub relation: Option<String>,
    pub name: String,
    pub gender: Option<String>,
    pub birth_date: Option<String>,
    pub ethnic_group: Option<String>,
    /// resident_id, passport, hk_macao_permit, taiwan_permit
    pub id_kind: Option<String>,
    pub id_number_masked: Option<String>,
    pub phone_masked: Option<String>,
    pub hukou_address: Option<String>,
    /// registered (户籍在本地且常住), registered_away (人户分离), resident (寄住), floating, foreign
    pub category: String,
    /// active, away (暂时外出), moved_out, deceased
    pub state: String,
    pub moved_out_on: Option<String>,
    pub moved_to: Option<String>,
    pub deceased_on: Option<String>,
    pub away_since: Option<String>,
    pub away_to: Option<String>,
    pub tags: Vec<String>,
    /// Entered values that disagree with the ID number, kept as entered.
    pub warnings: Vec<WarningOut>,
    pub created_at: String,
    pub updated_at: String,
}

impl From<Person> for PersonOut {
    fn from(p: Person) -> Self {
        PersonOut {
            id: p.id,
            node_id: p.node_id,
            node_name: p.node_name,
            dwelling_id: p.dwelling_id,
            address: p.address,
            household_id: p.household_id,
            relation: p.relation.map(|r| r.as_str().to_owned()),
            name: p.name,
            gender: p.gender.map(|g| g.as_str().to_owned()),
            birth_date: p.birth_date,
            ethnic_group: p.ethnic_group,
            id_kind: p.id_kind.map(|k| k.as_str().to_owned()),
            id_number_masked: p.id_number_masked,
            phone_masked: p.phone_masked,
            hukou_address: p.hukou_address,
            category: p.category.as_str().to_owned(),
            state: p.state.as_str().to_owned(),
            moved_out_on: p.moved_out_on,
            moved_to: p.moved_to,
            deceased_on: p.deceased_on,
            away_since: p.away_since,
            away_to: p.away_to,
            tags: p.tags,
            warnings: p.warnings.into_iter().map(WarningOut::from).collect(),
            created_at: rfc3339(p.created_at),
            updated_at: rfc3339(p.updated_at),
        }
    }
}

/// Register a person. An invalid field is a 422 naming it; a conflict with the ID number is kept
/// as entered and listed under `warnings`.
#[utoipa::path(post, path = "/api/v1/persons", tag = "registry", request_body = PersonBody,
    responses((status = 201, body = PersonOut), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_person(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Json(b): Json<PersonBody>,
) -> ApiResult<(StatusCode, Json<PersonOut>)> {
    let (p, _) = registry::create(
        &state.db,
        &user.scope,
        &b.placement()?,
        &b.input(),
        now_ms(),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(p.into())))
}

/// The persons list's parameters (every one optional; `tag` may repeat).
#[derive(Debug, Deserialize, IntoParams)]
#[allow(dead_code)] // documents the query; it is read as pairs, since `tag` repeats
pub struct PersonListQuery {
    /// The node whose subtree is listed (any node: a street, a grid, a building); none: the
    /// caller's whole jurisdiction.
    pub node_id: Option<i64>,
    /// A key group by tag name (独居老人); repeated, a person carries every one named.
    pub tag: Option<Vec<String>>,
    /// Residence type: registered (户籍在本地且常住), registered_away (人户分离), resident (寄住),
    /// floating (流动), foreign (境外), or its Chinese name.
    pub residence: Option<String>,
    /// Whole years on today's date, inclusive.
    pub min_age: Option<i64>,
    pub max_age: Option<i64>,
    /// A building's number (`3` or `3栋`), as the dwellings record it.
    pub building: Option<String>,
    /// active (default), away (暂时外出), moved_out, deceased or all.
    pub state: Option<String>,
    /// Full ID number, its last 4, a phone number, a name prefix, pinyin initials (`zs`),
    /// a pinyin prefix (`zhangs`) or a key group's name.
    pub q: Option<String>,
    /// At most this many (1–200, default 50).
    pub limit: Option<i64>,
    /// The previous page's `next`.
    pub after: Option<i64>,
}

/// A person in the list: numbers masked.
#[derive(Debug, Serialize, ToSchema)]
pub struct HitOut {
    pub id: i64,
    pub name: String,
    pub gender: Option<String>,
    pub birth_date: Option<String>,
    /// Whole years today.
    pub age: Option<i32>,
    pub id_number_masked: Option<String>,
    pub phone_masked: Option<String>,
    pub node_id: i64,
    pub node_name: String,
    pub address: Option<String>,
    /// registered (户籍在本地且常住), registered_away (人户分离), resident (寄住), floating, foreign
    pub category: String,
    /// active, away (暂时外出), moved_out, deceased
    pub state: String,
    pub tags: Vec<String>,
}

impl From<Listed> for HitOut {
    fn from(h: Listed) -> Self {
        HitOut {
            id: h.id,
            name: h.name,
            gender: h.gender.map(|g| g.as_str().to_owned()),
            birth_date: h.birth_date,
            age: h.age,
            id_number_masked: h.id_number_masked,
            phone_masked: h.phone_masked,
            node_id: h.node_id,
            node_name: h.node_name,
            address: h.address,
            category: h.category.as_str().to_owned(),
            state: h.state.as_str().to_owned(),
            tags: h.tags,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SearchOut {
    /// How `q` was read: id_number, phone, last4, pinyin or name; none without `q`.
    pub kind: Option<String>,
    pub items: Vec<HitOut>,
    /// Pass as `after` for the next page; null on the last page.
    pub next: Option<i64>,
    /// All the persons that match, over every page; for `q` alone (a search, read as the
    /// search reads it and in its order) the number found, at most `limit`.
    pub total: i64,
}

/// The persons of the caller's jurisdiction (or of a node's subtree), filtered by key group,
/// residence type, age, building, state and `q`, in pinyin order a page at a time. A bad
/// parameter is a 422 naming it; a node outside the jurisdiction is a 404.
#[utoipa::path(get, path = "/api/v1/persons", tag = "registry", params(PersonListQuery),
    responses((status = 200, body = SearchOut), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn search_persons(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Query(pairs): Query<Vec<(String, String)>>,
) -> ApiResult<Json<SearchOut>> {
    let ask = crate::registry::roll::ask_of(&pairs)?;
    let on = linli_core::kernel::clock::today();
    // `q` alone is a search: the index probe, without the count over the jurisdiction.
    let bare = pairs
        .iter()
        .all(|(k, v)| matches!(k.as_str(), "q" | "limit") || v.trim().is_empty());
    let r = match ask.filter.q.as_deref() {
        Some(q) if bare => registry::roll::search(&state.db, &user.scope, q, ask.limit, on).await?,
        _ => {
            registry::roll::list(
                &state.db,
                &user.scope,
                &ask.filter,
                ask.after,
                ask.limit,
                on,
            )
            .await?
        }
    };
    let kind = ask
        .filter
        .q
        .as_deref()
        .and_then(registry::classify)
        .and_then(|(k, _)| serde_json::to_value(k).ok())
        .and_then(|v| v.as_str().map(str::to_owned));
    Ok(Json(SearchOut {
        kind,
        items: r.items.into_iter().map(HitOut::from).collect(),
        next: r.next,
        total: r.total,
    }))
}

/// A node's registry numbers: its subtree's, or (`by=children`) each child's and its own records'.
#[derive(Debug, Serialize, ToSchema)]
pub struct NodeCountsOut {
    pub dwellings: i64,
    /// Dwellings where an active person is registered.
    pub occupied: i64,
    pub households: i64,
    /// Persons in the registry: active or away for a while (not moved out or deceased).
    pub persons: i64,
    /// Of `persons`, those away for a while (暂时外出).
    pub away: i64,
    /// By residence type, all five keys (zeros included): `registered` 户籍在本地且常住,
    /// `registered_away` 人户分离, `resident` 寄住, `floating` 流动, `foreign` 境外.
    pub by_residence: BTreeMap<String, i64>,
    /// 人户一致率, 0 to 1: registered ÷ (registered + registered_away); null when nobody is
    /// registered here.
    pub consistency_rate: Option<f64>,
    /// By age band: `0-17`, `18-59`, `60-79`, `80+`, `unknown`.
    pub by_age: BTreeMap<String, i64>,
    /// By key group (tag name).
    pub by_tag: BTreeMap<String, i64>,
    /// The grids' typed household estimates, summed (none where no grid carries one).
    pub estimate_households: Option<i64>,
}

impl From<registry::counts::Counts> for NodeCountsOut {
    fn from(c: registry::counts::Counts) -> Self {
        NodeCountsOut {
            dwellings: c.dwellings,
            occupied: c.occupied,
            households: c.households,
            persons: c.persons,
            away: c.away,
            by_residence: c.by_residence,
            consistency_rate: c.consistency_rate,
            by_age: c.by_age,
            by_tag: c.by_tag,
            estimate_households: c.estimate_households,
        }
    }
}

/// One child's numbers, or (`node_id` none) those of the records placed on the node itself.
#[derive(Debug, Serialize, ToSchema)]
pub struct NodeCountLineOut {
    pub node_id: Option<i64>,
    /// The child's name, or 本级直属.
    pub name: String,
    pub counts: NodeCountsOut,
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct CountsQuery {
    /// `children`: one entry per child, then the node's own records.
    pub by: Option<String>,
}

/// The registry's numbers of a node's subtree, counted live; `by=children` breaks them down.
#[utoipa::path(get, path = "/api/v1/nodes/{id}/counts", tag = "registry",
    params(("id" = i64, Path, description = "node id"), CountsQuery),
    responses((status = 200, body = NodeCountsOut), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
async fn node_counts(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(id): Path<i64>,
    Query(q): Query<CountsQuery>,
) -> ApiResult<Response> {
    use registry::counts;
    match q.by.as_deref().map(str::trim) {
        None | Some("") => {
            let c = counts::counts(&state.db, &user.scope, id).await?;
            Ok(Json(NodeCountsOut::from(c)).into_response())
        }
        Some("children") => {
            let lines = counts::counts_by_children(&state.db, &user.scope, id).await?;
            let out: Vec<NodeCountLineOut> = lines
                .into_iter()
                .map(|l| NodeCountLineOut {
                    node_id: l.node.as_ref().map(|n| n.id),
                    name: l.node.map_or_else(|| "本级直属".to_owned(), |n| n.name),
                    counts: l.counts.into(),
                })
                .collect();
            Ok(Json(out).into_response())
        }
        Some(other) => Err(ApiError::invalid(
            "by",
            format!("「{other}」不是有效的分组方式，应为 children（按下级）"),
        )),
    }
}

/// One person, masked.
#[utoipa::path(get, path = "/api/v1/persons/{id}", tag = "registry", params(("id" = i64, Path, description = "person id")),
    responses((status = 200, body = PersonOut), (status = 404, body = ErrorBody)))]
async fn get_person(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(id): Path<i64>,
) -> ApiResult<Json<PersonOut>> {
    Ok(Json(
        registry::get(&state.db, &user.scope, id).await?.into(),
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct PersonPatchBody {
    pub name: Option<String>,
    pub gender: Option<String>,
    pub birth_date: Option<String>,
    pub ethnic_group: Option<String>,
    pub id_kind: Option<String>,
    pub id_number: Option<String>,
    pub phone: Option<String>,
    pub hukou_address: Option<String>,
    pub category: Option<String>,
    pub tags: Option<Vec<String>>,
    pub relation: Option<String>,
    /// active, away (with away_since and away_to), moved_out (with moved_out_on and moved_to)
    /// or deceased (with deceased_on)
    pub state: Option<String>,
    pub moved_out_on: Option<String>,
    pub moved_to: Option<String>,
    pub deceased_on: Option<String>,
    pub away_since: Option<String>,
    pub away_to: Option<String>,
}

/// Change a person's fields; every change is kept in the history.
#[utoipa::path(patch, path = "/api/v1/persons/{id}", tag = "registry", request_body = PersonPatchBody, params(("id" = i64, Path, description = "person id")),
    responses((status = 200, body = PersonOut), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update_person(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(id): Path<i64>,
    Json(b): Json<PersonPatchBody>,
) -> ApiResult<Json<PersonOut>> {
    let patch = PersonPatch {
        name: b.name,
        gender: b.gender,
        birth_date: b.birth_date,
        ethnic_group: b.ethnic_group,
        id_kind: b.id_kind,
        id_number: b.id_number,
        phone: b.phone,
        hukou_address: b.hukou_address,
        category: b.category,
        tags: b.tags,
        relation: b.relation,
        state: b.state,
        moved_out_on: b.moved_out_on,
        moved_to: b.moved_to,
        deceased_on: b.deceased_on,
        away_since: b.away_since,
        away_to: b.away_to,
    };
    let (p, _) = registry::update(&state.db, &user.scope, id, &patch, now_ms()).await?;
    Ok(Json(p.into()))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UnmaskedOut {
    pub id_number: Option<String>,
    pub phone: Option<String>,
}

/// The clear ID and phone numbers of one person (staff and above). Audited.
#[utoipa::path(post, path = "/api/v1/persons/{id}/unmask", tag = "registry", params(("id" = i64, Path, description = "person id")),
    responses((status = 200, body = UnmaskedOut), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn unmask_person(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiUser(user): ApiUser,
    Path(id): Path<i64>,
) -> ApiResult<Json<UnmaskedOut>> {
    let u = registry::unmask(&state.db, &user.scope, id, Some(&ip), now_ms()).await?;
    Ok(Json(UnmaskedOut {
        id_number: u.id_number,
        phone: u.phone,
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ChangeOut {
    pub id: i64,
    pub at: String,
    pub actor: String,
    pub field: String,
    pub old_value: Option<String>,
    pub new_value: Option<String>,
}

impl From<Change> for ChangeOut {
    fn from(c: Change) -> Self {
        ChangeOut {
            id: c.id,
            at: rfc3339(c.at),
            actor: c.actor,
            field: c.field,
            old_value: c.old_value,
            new_value: c.new_value,
        }
    }
}

/// The change history of a person, newest first (ID and phone numbers masked).
#[utoipa::path(get, path = "/api/v1/persons/{id}/history", tag = "registry", params(("id" = i64, Path, description = "person id")),
    responses((status = 200, body = Vec<ChangeOut>), (status = 404, body = ErrorBody)))]
async fn person_history(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(id): Path<i64>,
) -> ApiResult<Json<Vec<ChangeOut>>> {
    let h = registry::history(&state.db, &user.scope, "person", id).await?;
    Ok(Json(h.into_iter().map(ChangeOut::from).collect()))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HouseholdOut {
    pub id: i64,
    pub members: Vec<PersonOut>,
}

/// A household and its members.
#[utoipa::path(get, path = "/api/v1/households/{id}", tag = "registry", params(("id" = i64, Path, description = "household id")),
    responses((status = 200, body = HouseholdOut), (status = 404, body = ErrorBody)))]
async fn get_household(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(id): Path<i64>,
) -> ApiResult<Json<HouseholdOut>> {
    let members = registry::household_members(&state.db, &user.scope, id).await?;
    Ok(Json(HouseholdOut {
        id,
        members: members.into_iter().map(PersonOut::from).collect(),
    }))
}

/// Add a member to a household: the person lives in the household's room, on its building's
/// node (`node_id` and `address` in the body are not needed, and are ignored).
#[utoipa::path(post, path = "/api/v1/households/{id}/members", tag = "registry", request_body = PersonBody,
    params(("id" = i64, Path, description = "household id")),
    responses((status = 201, body = PersonOut), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn add_household_member(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(id): Path<i64>,
    Json(mut b): Json<PersonBody>,
) -> ApiResult<(StatusCode, Json<PersonOut>)> {
    let home = dwellings::household_home(&state.db, &user.scope, id).await?;
    b.node_id = Some(home.node_id);
    b.household_id = Some(id);
    b.address = None;
    let (p, _) = registry::create(
        &state.db,
        &user.scope,
        &b.placement()?,
        &b.input(),
        now_ms(),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(p.into())))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct DwellingsQuery {
    /// A building or unit (or any node with at most 3,000 rooms below it). Required.
    pub node_id: Option<i64>,
}

/// A room: its address, the node it is on, its households and how many live there.
#[derive(Debug, Serialize, ToSchema)]
pub struct DwellingOut {
    pub id: i64,
    pub node_id: i64,
    pub node_name: String,
    /// `3栋2单元501室`, derived from the building and unit nodes.
    pub address: String,
    pub building: String,
    pub unit: String,
    pub room: String,
    /// Ids of the households living here.
    pub household_ids: Vec<i64>,
    pub households: i64,
    /// Persons in the registry (在册) living here; 人户分离 persons registered here but living
    /// elsewhere are not.
    pub living: i64,
    /// Persons in the registry (在册) whose hukou is here (户籍), living here or not.
    pub registered: i64,
    pub head: Option<String>,
    /// Key groups (tags) of the persons living here, each once.
    pub tags: Vec<String>,
}

/// The rooms under a node, in address order, empty ones included (for the door-to-door sweep).
#[utoipa::path(get, path = "/api/v1/dwellings", tag = "registry", params(DwellingsQuery),
    responses((status = 200, body = Vec<DwellingOut>), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn list_dwellings(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Query(q): Query<DwellingsQuery>,
) -> ApiResult<Json<Vec<DwellingOut>>> {
    let node_id = q
        .node_id
        .ok_or_else(|| ApiError::invalid("node_id", "请给出楼栋或单元（node_id）"))?;
    let rooms = dwellings::rooms(&state.db, &user.scope, node_id).await?;
    Ok(Json(
        rooms
            .into_iter()
            .map(|r| DwellingOut {
                household_ids: r.household_ids,
                address: r.address.to_string(),
                id: r.id,
                node_id: r.node_id,
                node_name: r.node_name,
                building: r.address.building,
                unit: r.address.unit,
                room: r.address.room,
                households: r.households,
                living: r.living,
                registered: r.registered,
                head: r.head,
                tags: r.tags,
            })
            .collect(),
    ))
}

/// The key-group tags.
#[utoipa::path(get, path = "/api/v1/tags", tag = "registry", responses((status = 200, body = Vec<String>), (status = 401, body = ErrorBody)))]
async fn list_tags(
    State(state): State<AppState>,
    ApiUser(_user): ApiUser,
) -> ApiResult<Json<Vec<String>>> {
    Ok(Json(registry::tags(&state.db).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct TagBody {
    pub name: String,
}

/// Add a key-group tag (admins).
#[utoipa::path(post, path = "/api/v1/tags", tag = "registry", request_body = TagBody,
    responses((status = 201), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_tag(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Json(b): Json<TagBody>,
) -> ApiResult<StatusCode> {
    registry::add_tag(&state.db, &user.scope, &b.name, now_ms()).await?;
    Ok(StatusCode::CREATED)
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct ExportQuery {
    /// Full ID and phone numbers instead of masks (staff and above; audited). Only with POST:
    /// a GET can be triggered by a link on another site, and the audit would blame the victim.
    #[serde(default)]
    pub unmasked: bool,
}

/// The format of a roster export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    Csv,
    Xlsx,
}

/// The active persons under a node as CSV in the roster template's layout (UTF-8 with BOM, for
/// Excel), masked. Every export is audited. `unmasked=true` is refused here: use POST.
#[utoipa::path(get, path = "/api/v1/nodes/{id}/persons.csv", tag = "registry", params(("id" = i64, Path, description = "node id"), ExportQuery),
    responses((status = 200, content_type = "text/csv", body = String), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 405, body = ErrorBody)))]
async fn export_persons(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiUser(user): ApiUser,
    Path(id): Path<i64>,
    Query(q): Query<ExportQuery>,
) -> ApiResult<Response> {
    refuse_unmasked_get(q.unmasked)?;
    export_file(&state, &user.scope, &ip, id, ExportFormat::Csv, false).await
}

/// The same CSV, unmasked when `unmasked=true` (staff and above; audited). A POST, so that no
/// link or image on another site can make a signed-in browser fetch the clear roster.
#[utoipa::path(post, path = "/api/v1/nodes/{id}/persons.csv", tag = "registry", params(("id" = i64, Path, description = "node id"), ExportQuery),
    responses((status = 200, content_type = "text/csv", body = String), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn export_persons_post(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiUser(user): ApiUser,
    Path(id): Path<i64>,
    Query(q): Query<ExportQuery>,
) -> ApiResult<Response> {
    export_file(&state, &user.scope, &ip, id, ExportFormat::Csv, q.unmasked).await
}

/// The active persons under a node as an xlsx in the roster template's layout (a title row, the
/// header, one row per person, every cell text), masked. Audited like the CSV export; the file
/// imports back as it is. `unmasked=true` is refused here: use POST.
#[utoipa::path(get, path = "/api/v1/nodes/{id}/persons.xlsx", tag = "registry", params(("id" = i64, Path, description = "node id"), ExportQuery),
    responses((status = 200, content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", body = Vec<u8>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 405, body = ErrorBody)))]
async fn export_persons_xlsx(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiUser(user): ApiUser,
    Path(id): Path<i64>,
    Query(q): Query<ExportQuery>,
) -> ApiResult<Response> {
    refuse_unmasked_get(q.unmasked)?;
    export_file(&state, &user.scope, &ip, id, ExportFormat::Xlsx, false).await
}

/// The same xlsx, unmasked when `unmasked=true` (staff and above; audited); a POST for the
/// reason given on the CSV export.
#[utoipa::path(post, path = "/api/v1/nodes/{id}/persons.xlsx", tag = "registry", params(("id" = i64, Path, description = "node id"), ExportQuery),
    responses((status = 200, content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", body = Vec<u8>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn export_persons_xlsx_post(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiUser(user): ApiUser,
    Path(id): Path<i64>,
    Query(q): Query<ExportQuery>,
) -> ApiResult<Response> {
    export_file(&state, &user.scope, &ip, id, ExportFormat::Xlsx, q.unmasked).await
}

fn refuse_unmasked_get(unmasked: bool) -> ApiResult<()> {
    if unmasked {
        return Err(ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "导出完整号码须使用 POST 请求（防止跨站链接冒用您的身份）",
        ));
    }
    Ok(())
}

/// The roster export of node `id` as a file, masked unless `unmasked`; audited by the store.
/// Shared by the API and the node page's export form.
pub async fn export_file(
    state: &AppState,
    scope: &linli_core::Scope,
    ip: &str,
    id: i64,
    format: ExportFormat,
    unmasked: bool,
) -> ApiResult<Response> {
    let node = linli_store::tree::get(&state.db, scope, id).await?;
    let rows = registry::export(&state.db, scope, id, unmasked, Some(ip), now_ms()).await?;
    let today = linli_core::kernel::clock::format_date(linli_core::kernel::clock::today());
    let full = if unmasked { "-full" } else { "" };
    if format == ExportFormat::Csv {
        let name = format!("linli-{id}-{today}{full}.csv");
        return Ok((
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"{name}\""),
                ),
                (header::CACHE_CONTROL, "no-store".to_owned()),
            ],
            linli_core::registry::roster::to_csv(&rows),
        )
            .into_response());
    }
    let title = format!("{} 居民花名册（导出于 {today}）", node.name);
    let bytes = tokio::task::spawn_blocking(move || -> Result<Vec<u8>, linli_core::CoreError> {
        let mut out =
            linli_core::registry::sheet::XlsxOut::new(linli_core::registry::sheet::TEMPLATE_SHEET)?;
        out.title(&title)?;
        let mut rows = rows.into_iter();
        if let Some(header) = rows.next() {
            out.header(&header)?;
        }
        for row in rows {
            out.row(&row)?;
        }
        out.finish()
    })
    .await
    .map_err(|e| {
        tracing::error!(error = %e, "xlsx export panicked");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "系统内部错误，请稍后重试",
        )
    })?
    .map_err(|e| {
        tracing::error!(error = %e, "xlsx export");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "导出文件生成失败，请稍后重试",
        )
    })?;
    Ok(crate::ui::xlsx_response(
        bytes,
        &format!("linli-{id}-{today}{full}.xlsx"),
    ))
}
