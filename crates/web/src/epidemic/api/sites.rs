//! Centralised quarantine sites: `GET /api/v1/quarantine-sites` (the sites serving a node, with
//! their beds on a day) and `GET /api/v1/quarantine-sites/{id}/occupancy` (who is in which room;
//! names only of people in the caller's jurisdiction).

use axum::extract::{Path, Query, State};
use axum::Json;
use linli_core::kernel::clock::{format_date, now_ms, parse_date, today};
use linli_store::epidemic::sites::{self, SiteFilter, SiteSummary};
use linli_store::StoreError;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::ApiUser;
use crate::error::{ApiResult, ErrorBody};
use crate::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_sites))
        .routes(routes!(site_occupancy))
}

fn day(raw: Option<&str>) -> Result<time::Date, StoreError> {
    match raw.map(str::trim).filter(|d| !d.is_empty()) {
        Some(d) => Ok(parse_date("date", d)?),
        None => Ok(today()),
    }
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct SitesQuery {
    /// Only the sites serving this node: on it, above it or below it.
    pub node_id: Option<i64>,
    /// A part of the name or the address.
    pub q: Option<String>,
    /// `true`: open sites only; `false`: closed ones only.
    pub open: Option<bool>,
    /// Only sites with a free bed that day.
    #[serde(default)]
    pub with_free: bool,
    /// The day the beds are counted for, `YYYY-MM-DD` (today by default).
    pub date: Option<String>,
    /// At most this many (1–2000, default 200) …
    pub limit: Option<i64>,
    /// … after skipping this many.
    pub offset: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct QuarantineSiteOut {
    pub id: i64,
    pub name: String,
    pub node_id: i64,
    pub node_name: String,
    pub address: Option<String>,
    pub phone: Option<String>,
    pub open: bool,
    pub rooms: i64,
    pub beds_total: i64,
    pub beds_occupied: i64,
    pub beds_free: i64,
}

impl From<SiteSummary> for QuarantineSiteOut {
    fn from(s: SiteSummary) -> Self {
        QuarantineSiteOut {
            id: s.site.id,
            name: s.site.name,
            node_id: s.site.node_id,
            node_name: s.site.node_name,
            address: s.site.address,
            phone: s.site.phone,
            open: s.site.open,
            rooms: s.rooms,
            beds_total: s.beds.total,
            beds_occupied: s.beds.occupied,
            beds_free: s.beds.free(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct QuarantineSitesOut {
    pub date: String,
    pub total: i64,
    /// Beds of every matching site together.
    pub beds_total: i64,
    pub beds_occupied: i64,
    pub beds_free: i64,
    pub items: Vec<QuarantineSiteOut>,
}

/// The centralised quarantine sites the caller may see (those of their jurisdiction and those
/// above it, which serve it), with rooms and beds on a day.
#[utoipa::path(get, path = "/api/v1/quarantine-sites", tag = "epidemic", params(SitesQuery),
    responses((status = 200, body = QuarantineSitesOut), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn list_sites(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Query(q): Query<SitesQuery>,
) -> ApiResult<Json<QuarantineSitesOut>> {
    let on = day(q.date.as_deref())?;
    let filter = SiteFilter {
        node_id: q.node_id,
        q: q.q,
        open: q.open,
        with_free: q.with_free,
    };
    let page = sites::sites(
        &state.db,
        &user.scope,
        &filter,
        on,
        now_ms(),
        q.limit.unwrap_or(200),
        q.offset.unwrap_or(0),
    )
    .await?;
    Ok(Json(QuarantineSitesOut {
        date: format_date(on),
        total: page.total,
        beds_total: page.beds.total,
        beds_occupied: page.beds.occupied,
        beds_free: page.beds.free(),
        items: page
            .items
            .into_iter()
            .map(QuarantineSiteOut::from)
            .collect(),
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct OccupancyQuery {
    /// The night, `YYYY-MM-DD` (today by default).
    pub date: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OccupantOut {
    pub stay_id: i64,
    /// Null for someone outside the caller's jurisdiction (an occupied bed, nothing more).
    pub person_id: Option<i64>,
    pub person_name: Option<String>,
    pub from: String,
    pub until: String,
    /// The planned last night has passed and nobody checked the person out.
    pub overdue: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RoomOut {
    pub id: i64,
    pub floor: i64,
    pub number: String,
    pub beds: i64,
    pub occupied: i64,
    pub free: i64,
    pub occupants: Vec<OccupantOut>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OccupancyOut {
    pub site_id: i64,
    pub name: String,
    pub open: bool,
    pub date: String,
    pub beds_total: i64,
    pub beds_occupied: i64,
    pub beds_free: i64,
    pub rooms: Vec<RoomOut>,
}

/// Who is in which room of a site on a night. People outside the caller's jurisdiction are
/// counted but not named.
#[utoipa::path(get, path = "/api/v1/quarantine-sites/{id}/occupancy", tag = "epidemic",
    params(("id" = i64, Path, description = "Site id"), OccupancyQuery),
    responses((status = 200, body = OccupancyOut), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn site_occupancy(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(id): Path<i64>,
    Query(q): Query<OccupancyQuery>,
) -> ApiResult<Json<OccupancyOut>> {
    let on = day(q.date.as_deref())?;
    let d = sites::site_day(&state.db, &user.scope, id, on, now_ms()).await?;
    Ok(Json(OccupancyOut {
        site_id: d.site.id,
        name: d.site.name,
        open: d.site.open,
        date: d.date,
        beds_total: d.beds.total,
        beds_occupied: d.beds.occupied,
        beds_free: d.beds.free(),
        rooms: d
            .rooms
            .into_iter()
            .map(|r| RoomOut {
                free: r.free(),
                occupied: r.occupants.len() as i64,
                id: r.id,
                floor: r.floor,
                number: r.number,
                beds: r.beds,
                occupants: r
                    .occupants
                    .into_iter()
                    .map(|o| OccupantOut {
                        stay_id: o.stay_id,
                        person_id: o.person_id,
                        person_name: o.person_name,
                        from: o.from,
                        until: o.until,
                        overdue: o.overdue,
                    })
                    .collect(),
            })
            .collect(),
    }))
}
