//! The trips JSON API (外出登记): single trips, organised group trips, the daily log of local
//! and field work, and the return.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use linli_core::epidemic::trips::{GroupTripDraft, TripDraft};
use linli_core::kernel::clock::{format_date, now_ms, parse_date, today};
use linli_core::kernel::labels::Labelled;
use linli_core::CoreError;
use linli_store::epidemic::trips::{self, Trip, TripFilter, TripState, MAX_PAGE};
use linli_store::StoreError;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::ApiUser;
use crate::epidemic::api::TemperatureIn;
use crate::error::{ApiResult, ErrorBody};
use crate::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_trips, create_trip))
        .routes(routes!(get_trip))
        .routes(routes!(log_trip_day))
        .routes(routes!(trip_returned))
        .routes(routes!(create_trip_group))
}

/// The trip fields a single and a group trip share.
#[derive(Debug, Deserialize, ToSchema)]
pub struct TripPlan {
    /// local_work (市内务工), field_work (出山劳作), work (外出务工), relatives (探亲访友),
    /// medical (就医) or other; the Chinese names are accepted too.
    pub kind: String,
    /// Where to; a medical visit names the hospital or clinic.
    pub destination: String,
    pub leave_on: String,
    /// Planned return; for local and field work the last day of the period (required).
    pub return_on: Option<String>,
    /// Required for work travel out of town.
    #[serde(default)]
    pub health_certificate: bool,
}

impl TripPlan {
    fn draft(&self) -> Result<TripDraft, Vec<CoreError>> {
        TripDraft::parse(
            &self.kind,
            &self.destination,
            parse_date("leave_on", &self.leave_on),
            self.return_on
                .as_deref()
                .map(|r| parse_date("return_on", r)),
            self.health_certificate,
        )
    }
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct TripBody {
    pub person_id: i64,
    #[serde(flatten)]
    pub plan: TripPlan,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TripCreatedOut {
    pub id: i64,
}

/// Log an outgoing trip. Refused for a person under quarantine, and for a kind the policy in
/// force on the day of leaving suspends. Audited.
#[utoipa::path(post, path = "/api/v1/trips", tag = "trips", request_body = TripBody,
    responses((status = 201, body = TripCreatedOut), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_trip(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Json(b): Json<TripBody>,
) -> ApiResult<(StatusCode, Json<TripCreatedOut>)> {
    let draft = b.plan.draft().map_err(StoreError::Invalid)?;
    let id = trips::add_trip(&state.db, &user.scope, b.person_id, &draft, now_ms()).await?;
    Ok((StatusCode::CREATED, Json(TripCreatedOut { id })))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct TripGroupBody {
    /// The node the group leaves from; every person must live in it.
    pub node_id: i64,
    #[serde(flatten)]
    pub plan: TripPlan,
    /// Who leads the group (带队人).
    pub organiser: String,
    pub vehicle_plate: Option<String>,
    pub person_ids: Vec<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TripGroupOut {
    pub id: i64,
    /// Each person's own trip, in the order given.
    pub trip_ids: Vec<i64>,
}

/// Register organised transport (集体出行) for a list of persons. All or nothing: a person who
/// may not go is named by position (`person_ids[2]`) and nothing is stored. Audited.
#[utoipa::path(post, path = "/api/v1/trip-groups", tag = "trips", request_body = TripGroupBody,
    responses((status = 201, body = TripGroupOut), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_trip_group(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Json(b): Json<TripGroupBody>,
) -> ApiResult<(StatusCode, Json<TripGroupOut>)> {
    let group = GroupTripDraft::parse(
        b.plan.draft(),
        &b.organiser,
        b.vehicle_plate.as_deref().unwrap_or_default(),
        &b.person_ids,
    )
    .map_err(StoreError::Invalid)?;
    let done = trips::add_group_trip(&state.db, &user.scope, b.node_id, &group, now_ms()).await?;
    Ok((
        StatusCode::CREATED,
        Json(TripGroupOut {
            id: done.id,
            trip_ids: done.trip_ids,
        }),
    ))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TripOut {
    pub id: i64,
    pub person_id: i64,
    pub person_name: String,
    pub kind: String,
    pub kind_zh: String,
    pub destination: String,
    pub leave_on: String,
    pub return_on: Option<String>,
    pub health_certificate: bool,
    pub returned_on: Option<String>,
    pub group_id: Option<i64>,
    /// Daily-log kinds: entries so far, the last temperature (°C), today's entry still due.
    pub logs: i64,
    pub last_temperature: Option<f64>,
    pub log_due: bool,
}

impl From<Trip> for TripOut {
    fn from(t: Trip) -> TripOut {
        TripOut {
            id: t.id,
            person_id: t.person_id,
            person_name: t.person_name,
            kind: t.kind.as_str().to_owned(),
            kind_zh: t.kind.label_zh().to_owned(),
            destination: t.destination,
            leave_on: format_date(t.leave_on),
            return_on: t.return_on.map(format_date),
            health_certificate: t.health_certificate,
            returned_on: t.returned_on.map(format_date),
            group_id: t.group_id,
            logs: t.logs,
            last_temperature: t.last_temperature.map(|x| x.celsius()),
            log_due: t.log_due,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TripsOut {
    pub total: i64,
    pub trips: Vec<TripOut>,
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct TripsQuery {
    /// The node whose subtree to read (required).
    pub node_id: Option<i64>,
    /// A kind code (local_work, field_work, work, relatives, medical, other).
    pub kind: Option<String>,
    /// out (default), log_due, returned or all.
    pub state: Option<String>,
    /// A name prefix.
    pub q: Option<String>,
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

/// Trips in a node's subtree: those not back yet first; `state=log_due` lists the daily-log
/// trips whose entry for today is missing.
#[utoipa::path(get, path = "/api/v1/trips", tag = "trips", params(TripsQuery),
    responses((status = 200, body = TripsOut), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
async fn list_trips(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Query(q): Query<TripsQuery>,
) -> ApiResult<Json<TripsOut>> {
    let node_id = q
        .node_id
        .ok_or_else(|| StoreError::invalid("node_id", "请给出 node_id"))?;
    let kind = match q.kind.as_deref() {
        None | Some("") => None,
        Some(k) => Some(linli_core::epidemic::trips::TripKind::parse(k).map_err(StoreError::from)?),
    };
    let state_ = match q.state.as_deref() {
        None | Some("") | Some("out") => TripState::Out,
        Some("log_due") => TripState::LogDue,
        Some("returned") => TripState::Returned,
        Some("all") => TripState::All,
        Some(other) => {
            return Err(StoreError::invalid(
                "state",
                format!("「{other}」应为 out、log_due、returned 或 all"),
            )
            .into())
        }
    };
    let filter = TripFilter {
        kind,
        state: state_,
        q: q.q.filter(|s| !s.trim().is_empty()),
    };
    let page = trips::trips(
        &state.db,
        &user.scope,
        node_id,
        &filter,
        today(),
        q.limit.unwrap_or(100).clamp(1, MAX_PAGE),
        q.offset.unwrap_or(0),
    )
    .await?;
    Ok(Json(TripsOut {
        total: page.total,
        trips: page.items.into_iter().map(TripOut::from).collect(),
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TripLogOut {
    pub on: String,
    pub temperature: f64,
    pub note: Option<String>,
    pub alert_id: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TripDetailOut {
    pub trip: TripOut,
    /// Newest first.
    pub logs: Vec<TripLogOut>,
    pub organiser: Option<String>,
    pub vehicle_plate: Option<String>,
    pub group_size: Option<i64>,
}

/// One trip with its daily log and, for an organised trip, its group.
#[utoipa::path(get, path = "/api/v1/trips/{id}", tag = "trips",
    params(("id" = i64, Path, description = "Trip id")),
    responses((status = 200, body = TripDetailOut), (status = 404, body = ErrorBody)))]
async fn get_trip(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(id): Path<i64>,
) -> ApiResult<Json<TripDetailOut>> {
    let d = trips::trip(&state.db, &user.scope, id, today()).await?;
    Ok(Json(TripDetailOut {
        logs: d
            .logs
            .into_iter()
            .map(|l| TripLogOut {
                on: format_date(l.on),
                temperature: l.temperature.celsius(),
                note: l.note,
                alert_id: l.alert_id,
            })
            .collect(),
        organiser: d.group.as_ref().map(|g| g.organiser.clone()),
        vehicle_plate: d.group.as_ref().and_then(|g| g.vehicle_plate.clone()),
        group_size: d.group.as_ref().map(|g| g.persons),
        trip: d.trip.into(),
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct TripLogBody {
    /// `YYYY-MM-DD`; today when absent. Inside the trip's period, not in the future.
    pub on: Option<String>,
    /// °C, e.g. 36.5.
    #[schema(value_type = f64)]
    pub temperature: TemperatureIn,
    pub note: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TripLogCreatedOut {
    pub id: i64,
    /// The fever alert raised (37.3 ℃ and above).
    pub alert_id: Option<i64>,
}

/// Enter one day of a local or field work trip: the temperature on coming back, once a day
/// (a second entry for the day is refused with the code `conflict`).
/// A fever raises an alert. Audited.
#[utoipa::path(post, path = "/api/v1/trips/{id}/log", tag = "trips",
    params(("id" = i64, Path, description = "Trip id")), request_body = TripLogBody,
    responses((status = 201, body = TripLogCreatedOut), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
async fn log_trip_day(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(id): Path<i64>,
    Json(b): Json<TripLogBody>,
) -> ApiResult<(StatusCode, Json<TripLogCreatedOut>)> {
    let on = match b.on.as_deref() {
        Some(raw) => parse_date("on", raw),
        None => Ok(today()),
    };
    let temperature = match &b.temperature {
        TemperatureIn::Number(n) => n.to_string(),
        TemperatureIn::Text(s) => s.clone(),
    };
    let done = trips::log_day(
        &state.db,
        &user.scope,
        id,
        on,
        &temperature,
        b.note.as_deref().unwrap_or_default(),
        today(),
        now_ms(),
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(TripLogCreatedOut {
            id: done.id,
            alert_id: done.alert_id,
        }),
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct TripReturnBody {
    /// `YYYY-MM-DD`; today when absent.
    pub on: Option<String>,
}

/// Mark a trip as back (once); for local and field work, the end of the registration.
#[utoipa::path(post, path = "/api/v1/trips/{id}/return", tag = "trips",
    params(("id" = i64, Path, description = "Trip id")), request_body = TripReturnBody,
    responses((status = 204), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn trip_returned(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(id): Path<i64>,
    Json(b): Json<TripReturnBody>,
) -> ApiResult<StatusCode> {
    let on = match b.on.as_deref() {
        Some(raw) => parse_date("on", raw).map_err(StoreError::from)?,
        None => today(),
    };
    trips::trip_returned(&state.db, &user.scope, id, on).await?;
    Ok(StatusCode::NO_CONTENT)
}
