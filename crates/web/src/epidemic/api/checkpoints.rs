//! The checkpoint JSON API: checkpoints at gates, passes, and scans with the gate's verdict.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use linli_core::epidemic::checkpoint::{parse_pass_code, Direction, ScanOutcome, VehiclePlate};
use linli_core::kernel::clock::now_ms;
use linli_core::kernel::clock::{display, format_date, parse_date, parse_instant, today};
use linli_core::kernel::labels::Labelled;
use linli_core::CoreError;
use linli_store::epidemic::checkpoints::{
    self, Checkpoint, Holder, Pass, PassInput, Passer, ScanInput,
};
use linli_store::StoreError;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::ApiUser;
use crate::epidemic::api::TemperatureIn;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_checkpoints, create_checkpoint))
        .routes(routes!(list_scans, create_scan))
        .routes(routes!(list_passes, create_pass))
        .routes(routes!(revoke_pass))
}

fn invalid(errors: Vec<CoreError>) -> ApiError {
    StoreError::Invalid(errors).into()
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct NodeQuery {
    /// The node whose subtree to read (required).
    pub node_id: Option<i64>,
}

impl NodeQuery {
    pub(crate) fn node(&self) -> Result<i64, ApiError> {
        self.node_id
            .ok_or_else(|| ApiError::invalid("node_id", "请给出 node_id"))
    }
}

// ---------------------------------------------------------------------------------------------
// Checkpoints

#[derive(Debug, Serialize, ToSchema)]
pub struct CheckpointOut {
    pub id: i64,
    pub node_id: i64,
    pub node_name: String,
    pub name: String,
}

impl From<Checkpoint> for CheckpointOut {
    fn from(c: Checkpoint) -> Self {
        CheckpointOut {
            id: c.id,
            node_id: c.node_id,
            node_name: c.node_name,
            name: c.name,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CheckpointsOut {
    pub checkpoints: Vec<CheckpointOut>,
}

/// The open checkpoints in a node's subtree.
#[utoipa::path(get, path = "/api/v1/checkpoints", tag = "checkpoints", params(NodeQuery),
    responses((status = 200, body = CheckpointsOut), (status = 404, body = ErrorBody)))]
async fn list_checkpoints(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Query(q): Query<NodeQuery>,
) -> ApiResult<Json<CheckpointsOut>> {
    let list = checkpoints::checkpoints(&state.db, &user.scope, q.node()?).await?;
    Ok(Json(CheckpointsOut {
        checkpoints: list.into_iter().map(CheckpointOut::from).collect(),
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct CheckpointBody {
    /// The node the gate belongs to (a compound, usually).
    pub node_id: i64,
    /// 东门, 南门 …
    pub name: String,
}

/// Set up a checkpoint (staff and admins). Audited.
#[utoipa::path(post, path = "/api/v1/checkpoints", tag = "checkpoints", request_body = CheckpointBody,
    responses((status = 201, body = CheckpointOut), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_checkpoint(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Json(b): Json<CheckpointBody>,
) -> ApiResult<(StatusCode, Json<CheckpointOut>)> {
    let c = checkpoints::create_checkpoint(&state.db, &user.scope, b.node_id, &b.name, now_ms())
        .await?;
    Ok((StatusCode::CREATED, Json(c.into())))
}

// ---------------------------------------------------------------------------------------------
// Scans

#[derive(Debug, Deserialize, ToSchema)]
pub struct ScanBody {
    /// in or out
    pub direction: String,
    /// The code on the pass card …
    pub pass_code: Option<String>,
    /// … or a vehicle plate …
    pub plate: Option<String>,
    /// … or a registered person.
    pub person_id: Option<i64>,
    pub temperature: Option<TemperatureIn>,
    /// RFC 3339; now when absent.
    pub at: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ScanOut {
    pub id: i64,
    /// allowed, no_pass, fever or under_quarantine
    pub outcome: String,
    pub outcome_label: String,
    /// The person's name masked (张**) or the plate (「辖区外通行证」 for a pass of elsewhere).
    pub holder: String,
    /// Why a pass shown did not count.
    pub reason: Option<String>,
    /// Why not let through: the measure and its last day (under_quarantine), the fever.
    pub message: Option<String>,
    /// The fever alert raised at the gate's node.
    pub alert_id: Option<i64>,
    pub pass_id: Option<i64>,
}

/// Log a passage through a gate and get the verdict: a fever (≥ 37.3 °C) stops anyone; coming
/// in needs a pass valid here that day; leaving is allowed. An unknown pass code is a 422
/// (nothing logged). Exactly one of `pass_code`, `plate`, `person_id`.
#[utoipa::path(post, path = "/api/v1/checkpoints/{id}/scans", tag = "checkpoints",
    params(("id" = i64, Path, description = "Checkpoint id")), request_body = ScanBody,
    responses((status = 201, body = ScanOut), (status = 200, description = "Refused for quarantine (outcome under_quarantine)", body = ScanOut), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_scan(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(id): Path<i64>,
    Json(b): Json<ScanBody>,
) -> ApiResult<(StatusCode, Json<ScanOut>)> {
    let mut errors = Vec::new();
    let direction = Direction::parse(&b.direction)
        .map_err(|e| errors.push(e))
        .ok();
    let given = [
        b.pass_code.is_some(),
        b.plate.is_some(),
        b.person_id.is_some(),
    ]
    .iter()
    .filter(|x| **x)
    .count();
    let passer = match (&b.pass_code, &b.plate, b.person_id) {
        _ if given != 1 => {
            errors.push(CoreError::invalid(
                "pass_code",
                "请给出通行证编码、车牌或居民之一",
            ));
            None
        }
        (Some(code), _, _) => parse_pass_code(code)
            .map(Passer::PassCode)
            .map_err(|e| errors.push(e))
            .ok(),
        (_, Some(plate), _) => VehiclePlate::parse(plate)
            .map(Passer::Plate)
            .map_err(|e| errors.push(e))
            .ok(),
        (_, _, Some(person)) => Some(Passer::Person(person)),
        _ => None,
    };
    let temperature = TemperatureIn::parse_opt(b.temperature.as_ref(), &mut errors);
    let at = match b.at.as_deref() {
        Some(raw) => parse_instant("at", raw).map_err(|e| errors.push(e)).ok(),
        None => None,
    };
    let (Some(direction), Some(passer), true) = (direction, passer, errors.is_empty()) else {
        return Err(invalid(errors));
    };
    let r = checkpoints::record_scan(
        &state.db,
        &user.scope,
        id,
        &ScanInput {
            direction,
            passer,
            temperature,
            at,
        },
        now_ms(),
    )
    .await?;
    // The contract of issue 18: a refusal for quarantine is the gate's answer, not a new
    // passage, so it is 200; every other scan keeps its 201.
    let status = if r.outcome == ScanOutcome::UnderQuarantine {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((
        status,
        Json(ScanOut {
            id: r.id,
            message: r.message,
            alert_id: r.alert_id,
            outcome: r.outcome.as_str().to_owned(),
            outcome_label: r.outcome.label_zh().to_owned(),
            holder: r.holder,
            reason: r.reason,
            pass_id: r.pass_id,
        }),
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct DayQuery {
    /// `YYYY-MM-DD` (China date); today when absent.
    pub date: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ScanRowOut {
    pub id: i64,
    /// `YYYY-MM-DD HH:MM` China time
    pub at: String,
    pub direction: String,
    pub holder: String,
    pub temperature: Option<String>,
    pub outcome: String,
    pub recorded_by: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ScansOut {
    pub date: String,
    pub entered: i64,
    pub left: i64,
    pub no_pass: i64,
    pub fever: i64,
    pub scans: Vec<ScanRowOut>,
}

/// A checkpoint's scans on one day (newest first, at most 500) with the day's counts.
#[utoipa::path(get, path = "/api/v1/checkpoints/{id}/scans", tag = "checkpoints",
    params(("id" = i64, Path, description = "Checkpoint id"), DayQuery),
    responses((status = 200, body = ScansOut), (status = 404, body = ErrorBody)))]
async fn list_scans(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(id): Path<i64>,
    Query(q): Query<DayQuery>,
) -> ApiResult<Json<ScansOut>> {
    let on = match q.date.as_deref() {
        Some(raw) => parse_date("date", raw).map_err(StoreError::from)?,
        None => today(),
    };
    let (list, counts) = checkpoints::scans(&state.db, &user.scope, id, on).await?;
    Ok(Json(ScansOut {
        date: format_date(on),
        entered: counts.entered,
        left: counts.left,
        no_pass: counts.no_pass,
        fever: counts.fever,
        scans: list
            .into_iter()
            .map(|s| ScanRowOut {
                id: s.id,
                at: display(s.at),
                direction: s.direction,
                holder: s.holder,
                temperature: s.temperature,
                outcome: s.outcome,
                recorded_by: s.recorded_by,
            })
            .collect(),
    }))
}

// ---------------------------------------------------------------------------------------------
// Passes

#[derive(Debug, Serialize, ToSchema)]
pub struct PassOut {
    pub id: i64,
    pub node_id: i64,
    pub node_name: String,
    /// Printed on the card, typed at the gate.
    pub code: String,
    pub person_id: Option<i64>,
    pub person_name: Option<String>,
    pub plate: Option<String>,
    pub purpose: Option<String>,
    pub valid_from: String,
    pub valid_to: String,
    pub revoked: bool,
}

impl From<Pass> for PassOut {
    fn from(p: Pass) -> Self {
        PassOut {
            id: p.id,
            node_id: p.node_id,
            node_name: p.node_name,
            code: p.code,
            person_id: p.person_id,
            person_name: p.person_name,
            plate: p.plate,
            purpose: p.purpose,
            valid_from: p.valid_from,
            valid_to: p.valid_to,
            revoked: p.revoked,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PassesOut {
    pub passes: Vec<PassOut>,
}

/// The passes issued in a node's subtree, newest first.
#[utoipa::path(get, path = "/api/v1/passes", tag = "checkpoints", params(NodeQuery),
    responses((status = 200, body = PassesOut), (status = 404, body = ErrorBody)))]
async fn list_passes(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Query(q): Query<NodeQuery>,
) -> ApiResult<Json<PassesOut>> {
    let list = checkpoints::passes(&state.db, &user.scope, q.node()?).await?;
    Ok(Json(PassesOut {
        passes: list.into_iter().map(PassOut::from).collect(),
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct PassBody {
    /// Valid at every checkpoint under this node.
    pub node_id: i64,
    /// A registered person …
    pub person_id: Option<i64>,
    /// … or a vehicle.
    pub plate: Option<String>,
    pub purpose: Option<String>,
    pub valid_from: String,
    pub valid_to: String,
}

/// Issue a pass for a person or a vehicle (not officials). Audited.
#[utoipa::path(post, path = "/api/v1/passes", tag = "checkpoints", request_body = PassBody,
    responses((status = 201, body = PassOut), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_pass(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Json(b): Json<PassBody>,
) -> ApiResult<(StatusCode, Json<PassOut>)> {
    let mut errors = Vec::new();
    let holder = match (b.person_id, b.plate.as_deref()) {
        (Some(id), None) => Some(Holder::Person(id)),
        (None, Some(plate)) => VehiclePlate::parse(plate)
            .map(Holder::Vehicle)
            .map_err(|e| errors.push(e))
            .ok(),
        _ => {
            errors.push(CoreError::invalid("person_id", "请给出居民或车牌之一"));
            None
        }
    };
    let from = parse_date("valid_from", &b.valid_from)
        .map_err(|e| errors.push(e))
        .ok();
    let to = parse_date("valid_to", &b.valid_to)
        .map_err(|e| errors.push(e))
        .ok();
    let (Some(holder), Some(valid_from), Some(valid_to), true) =
        (holder, from, to, errors.is_empty())
    else {
        return Err(invalid(errors));
    };
    let p = checkpoints::issue_pass(
        &state.db,
        &user.scope,
        &PassInput {
            node_id: b.node_id,
            holder,
            purpose: b.purpose,
            valid_from,
            valid_to,
        },
        now_ms(),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(p.into())))
}

/// Revoke a pass: the gate refuses it from the next scan. Audited.
#[utoipa::path(post, path = "/api/v1/passes/{id}/revoke", tag = "checkpoints",
    params(("id" = i64, Path, description = "Pass id")),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
async fn revoke_pass(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(id): Path<i64>,
) -> ApiResult<StatusCode> {
    checkpoints::revoke_pass(&state.db, &user.scope, id, now_ms()).await?;
    Ok(StatusCode::NO_CONTENT)
}
