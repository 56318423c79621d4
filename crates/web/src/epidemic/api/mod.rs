//! The epidemic JSON API: risk areas, policies, arrival screenings, check-ins and alerts.

pub mod checkpoints;
pub mod contacts;
pub mod observations;
pub mod sites;
pub mod trips;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use linli_core::kernel::clock::now_ms;
use linli_core::kernel::clock::{format_date, parse_date, parse_instant, rfc3339};
use linli_core::kernel::labels::Labelled;
use std::collections::BTreeMap;

use linli_core::epidemic::policy::{
    Classification, DivisionCode, PolicyDraft, PolicyVersion, RiskArea, RiskLevel, Temperature,
};
use linli_core::CoreError;
use linli_store::epidemic::{
    self, ArrivalInput, ArrivalPerson, ArrivalSource, CheckinInput, CheckinJob,
};
use linli_store::{epidemic::policies, StoreError};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::ApiUser;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::ui::PersonBody;
use crate::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_risk_areas, create_risk_area))
        .routes(routes!(list_policies, publish_policy))
        .routes(routes!(policy_what_if))
        .routes(routes!(create_arrival))
        .routes(routes!(create_checkin))
        .routes(routes!(list_alerts))
        .routes(routes!(handle_alert))
        .routes(routes!(list_releases, create_releases))
        .routes(routes!(get_dashboard))
}

/// Every field error of a parse, at once.
fn invalid(errors: Vec<CoreError>) -> ApiError {
    StoreError::Invalid(errors).into()
}

/// A temperature as a JSON number (37.3) or string ("37.3").
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum TemperatureIn {
    Number(f64),
    Text(String),
}

impl TemperatureIn {
    /// The temperature if one was given and it parses; a bad one joins `errors`.
    pub(crate) fn parse_opt(
        given: Option<&TemperatureIn>,
        errors: &mut Vec<CoreError>,
    ) -> Option<Temperature> {
        given?.parse().map_err(|e| errors.push(e)).ok()
    }

    fn parse(&self) -> Result<Temperature, CoreError> {
        match self {
            TemperatureIn::Number(n) => Temperature::from_celsius(*n),
            TemperatureIn::Text(s) => Temperature::parse(s),
        }
        .map_err(|e| CoreError::invalid("temperature", e.message))
    }
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct RiskAreaBody {
    /// GB/T 2260 division code at any level (`420000` a province, `420111` a county).
    pub division_code: String,
    pub name: Option<String>,
    /// high, medium or low (高/中/低).
    pub level: String,
    /// First day, `YYYY-MM-DD`.
    pub from: String,
    /// Last day (inclusive); absent while in force.
    pub to: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RiskAreaOut {
    pub id: i64,
    pub division_code: String,
    pub name: Option<String>,
    pub level: String,
    pub from: String,
    pub to: Option<String>,
    pub created_by: String,
}

impl RiskAreaOut {
    fn of(id: i64, area: &RiskArea, created_by: String) -> RiskAreaOut {
        RiskAreaOut {
            id,
            division_code: area.division_code().as_str().to_owned(),
            name: area.name().map(str::to_owned),
            level: area.level().as_str().to_owned(),
            from: format_date(area.from()),
            to: area.to().map(format_date),
            created_by,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RiskAreasOut {
    pub risk_areas: Vec<RiskAreaOut>,
}

/// Risk areas in force (public notices: every signed-in role reads them).
#[utoipa::path(get, path = "/api/v1/risk-areas", tag = "epidemic",
    responses((status = 200, body = RiskAreasOut)))]
async fn list_risk_areas(
    State(state): State<AppState>,
    ApiUser(_user): ApiUser,
) -> ApiResult<Json<RiskAreasOut>> {
    let areas = epidemic::risk_areas(&state.db).await?;
    Ok(Json(RiskAreasOut {
        risk_areas: areas
            .into_iter()
            .map(|a| RiskAreaOut::of(a.id, &a.area, a.created_by))
            .collect(),
    }))
}

/// Declare a risk area (officials and admins). Audited.
#[utoipa::path(post, path = "/api/v1/risk-areas", tag = "epidemic", request_body = RiskAreaBody,
    responses((status = 201, body = RiskAreaOut), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_risk_area(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Json(b): Json<RiskAreaBody>,
) -> ApiResult<(StatusCode, Json<RiskAreaOut>)> {
    if !user.scope.can_manage_policy() {
        return Err(StoreError::Forbidden("只有街道/区级干部可以发布风险地区".into()).into());
    }
    let area = risk_area(
        DivisionCode::parse_field("division_code", &b.division_code),
        &b.level,
        &b.from,
        b.to.as_deref().filter(|s| !s.trim().is_empty()),
        b.name.as_deref(),
    )
    .map_err(invalid)?;
    let id = epidemic::add_risk_area(&state.db, &user.scope, &area, now_ms()).await?;
    Ok((
        StatusCode::CREATED,
        Json(RiskAreaOut::of(id, &area, user.scope.actor().to_owned())),
    ))
}

/// A risk area from its parts as typed (the API's body, the page's form), every fault at once.
pub(crate) fn risk_area(
    code: Result<DivisionCode, CoreError>,
    level: &str,
    from: &str,
    to: Option<&str>,
    name: Option<&str>,
) -> Result<RiskArea, Vec<CoreError>> {
    let mut errors = Vec::new();
    let code = code.map_err(|e| errors.push(e)).ok();
    let level = level.parse::<RiskLevel>().map_err(|e| errors.push(e)).ok();
    let from = parse_date("from", from).map_err(|e| errors.push(e)).ok();
    let to = to.and_then(|t| parse_date("to", t).map_err(|e| errors.push(e)).ok());
    let (Some(code), Some(level), Some(from), true) = (code, level, from, errors.is_empty()) else {
        return Err(errors);
    };
    RiskArea::new(code, name, level, from, to).map_err(|e| vec![e])
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PolicyOut {
    pub id: i64,
    pub key: String,
    pub version: u32,
    pub name: String,
    pub effective_from: String,
    /// The rules as data (conditions → stages), as officials edit them.
    #[schema(value_type = Object)]
    pub rules: serde_json::Value,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PoliciesOut {
    pub policies: Vec<PolicyOut>,
}

/// Published quarantine policy versions, oldest first; each arrival is classified by the one in
/// force on its date.
#[utoipa::path(get, path = "/api/v1/policies", tag = "epidemic",
    responses((status = 200, body = PoliciesOut)))]
async fn list_policies(
    State(state): State<AppState>,
    ApiUser(_user): ApiUser,
) -> ApiResult<Json<PoliciesOut>> {
    let all = epidemic::published_policies(&state.db).await?;
    Ok(Json(PoliciesOut {
        policies: all
            .into_iter()
            .map(|p| PolicyOut {
                id: p.id,
                key: p.policy.key().to_owned(),
                version: p.policy.version(),
                name: p.policy.name().to_owned(),
                effective_from: format_date(p.policy.effective_from()),
                rules: serde_json::to_value(p.policy.rules()).unwrap_or_default(),
            })
            .collect(),
    }))
}

/// Reads a policy draft given as JSON (the shape `GET /api/v1/policies` lists, without `id`).
fn draft_of(value: serde_json::Value) -> Result<PolicyVersion, ApiError> {
    PolicyDraft::from_json(&value.to_string()).map_err(|e| ApiError::from(StoreError::Invalid(e.0)))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PublishedOut {
    pub id: i64,
    /// `key@version`
    pub policy_version: String,
}

/// Publishes a new policy version (officials and admins; audited). Body: `{"key","name",
/// "effective_from","version","rules"}`. The effective date may not lie in the past and the
/// version must be above every published one of its key (409 otherwise); arrivals already
/// classified keep their version.
#[utoipa::path(post, path = "/api/v1/policies", tag = "epidemic",
    request_body(content = Object, description = "A policy draft"),
    responses((status = 201, body = PublishedOut),
        (status = 403, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
async fn publish_policy(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Json(body): Json<serde_json::Value>,
) -> ApiResult<(StatusCode, Json<PublishedOut>)> {
    if !user.scope.can_manage_policy() {
        return Err(StoreError::Forbidden("只有干部和管理员可以发布防控政策".into()).into());
    }
    let draft = draft_of(body)?;
    let id = policies::publish(&state.db, &user.scope, &draft, now_ms())
        .await
        .map_err(version_conflict)?;
    Ok((
        StatusCode::CREATED,
        Json(PublishedOut {
            id,
            policy_version: format!("{}@{}", draft.key(), draft.version()),
        }),
    ))
}

/// A version number already taken is a clash with what is stored: 409.
fn version_conflict(e: StoreError) -> ApiError {
    ApiError::conflict_409(e, &[])
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct WhatIfBody {
    /// The draft: `{"key","name","effective_from","version","rules"}`.
    #[schema(value_type = Object)]
    pub policy: serde_json::Value,
    /// The day to compare on, `YYYY-MM-DD` (default: today).
    pub on: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WhatIfChangeOut {
    pub observation_id: i64,
    pub person_id: i64,
    pub person_name: String,
    /// The version that classified the record, `key@n`.
    pub current_version: String,
    /// released, extended, shortened, measure_changed or unchanged
    pub kind: String,
    pub kind_label: String,
    pub from_measure: String,
    pub from_until: String,
    pub to_measure: String,
    pub to_until: String,
    pub until_delta_days: i64,
    /// What the draft would tell the resident.
    pub explanation: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WhatIfOut {
    pub on: String,
    /// Records per kind of change.
    #[schema(value_type = Object)]
    pub counts: BTreeMap<String, usize>,
    pub changes: Vec<WhatIfChangeOut>,
}

/// Tries a draft policy on every open observation in the caller's jurisdiction: who would be
/// released, extended, shortened or put under another measure, before it is published. Changes
/// nothing. Officials and admins.
#[utoipa::path(post, path = "/api/v1/policies/what-if", tag = "epidemic",
    request_body = WhatIfBody,
    responses((status = 200, body = WhatIfOut),
        (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn policy_what_if(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Json(body): Json<WhatIfBody>,
) -> ApiResult<Json<WhatIfOut>> {
    if !user.scope.can_manage_policy() {
        return Err(StoreError::Forbidden("只有干部和管理员可以试算防控政策".into()).into());
    }
    let draft = draft_of(body.policy)?;
    let on = match body.on.as_deref() {
        Some(raw) => parse_date("on", raw).map_err(StoreError::from)?,
        None => linli_core::kernel::clock::today(),
    };
    let rows = policies::what_if(&state.db, &user.scope, &draft, on).await?;
    Ok(Json(what_if_out(on, &rows)))
}

/// The answer of a what-if, shared with the policy editor page.
pub fn what_if_out(on: time::Date, rows: &[policies::WhatIfRow]) -> WhatIfOut {
    let mut counts = BTreeMap::new();
    for kind in [
        "released",
        "extended",
        "shortened",
        "measure_changed",
        "unchanged",
    ] {
        counts.insert(kind.to_owned(), 0);
    }
    let changes = rows
        .iter()
        .map(|r| {
            *counts.entry(r.change.kind.as_str().to_owned()).or_insert(0) += 1;
            WhatIfChangeOut {
                observation_id: r.observation_id,
                person_id: r.person_id,
                person_name: r.person_name.clone(),
                current_version: r.current_version.clone(),
                kind: r.change.kind.as_str().to_owned(),
                kind_label: r.change.kind.label_zh().to_owned(),
                from_measure: r.change.from.measure.as_str().to_owned(),
                from_until: format_date(r.change.from.until),
                to_measure: r.change.to.measure.as_str().to_owned(),
                to_until: format_date(r.change.to.until),
                until_delta_days: r.change.until_delta_days,
                explanation: r.change.to.explanation.clone(),
            }
        })
        .collect();
    WhatIfOut {
        on: format_date(on),
        counts,
        changes,
    }
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ArrivalBody {
    /// A registered person …
    pub person_id: Option<i64>,
    /// … or one to match by ID number or register (as `POST /api/v1/persons`).
    pub person: Option<PersonBody>,
    /// Where from: a GB/T 2260 division code.
    pub origin_code: String,
    /// `YYYY-MM-DD`, not after today.
    pub arrived_on: String,
    pub purpose: Option<String>,
    #[serde(default)]
    pub symptoms: Vec<String>,
    /// °C, e.g. 36.5.
    #[schema(value_type = Option<f64>)]
    pub temperature: Option<TemperatureIn>,
    /// Entered on behalf of someone without a smartphone.
    #[serde(default)]
    pub on_behalf: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ClassificationOut {
    /// centralized_quarantine, home_quarantine, health_monitoring or none.
    pub measure: String,
    pub days: u16,
    /// First and last day (inclusive) of the measure; absent for `none`.
    pub start: Option<String>,
    pub until: Option<String>,
    pub check_ins_per_day: u8,
    pub fever_alert: bool,
    /// The measure and every alert beside it, as the result page leads with it:
    /// 「居家隔离 14 天；体温 37.6 ℃ 已发出发热预警，请立即送发热门诊」.
    pub headline: String,
    /// What to read to the resident: which area, which level since when, which rule of which
    /// policy version, how many days, until when.
    pub explanation: String,
    /// `key@version` of the policy that classified it.
    pub policy_version: String,
    pub policy_version_id: i64,
    pub stages: Vec<StageOut>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StageOut {
    pub measure: String,
    pub days: u16,
    pub start: String,
    pub until: String,
}

pub fn classification_out(c: &Classification, policy_version_id: i64) -> ClassificationOut {
    let none = c.measure == linli_core::epidemic::policy::Measure::None;
    ClassificationOut {
        measure: c.measure.as_str().to_owned(),
        days: c.days_total,
        start: (!none).then(|| format_date(c.start)),
        until: (!none).then(|| format_date(c.until)),
        check_ins_per_day: c.check_ins_per_day,
        fever_alert: c.fever_alert,
        headline: c.headline(),
        explanation: c.explanation.clone(),
        policy_version: format!("{}@{}", c.policy_key, c.policy_version),
        policy_version_id,
        stages: c
            .stages
            .iter()
            .map(|s| StageOut {
                measure: s.measure.as_str().to_owned(),
                days: s.days,
                start: format_date(s.start),
                until: format_date(s.until),
            })
            .collect(),
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ArrivalOut {
    pub id: i64,
    pub person_id: i64,
    pub classification: ClassificationOut,
    pub observation_id: Option<i64>,
    pub alert_id: Option<i64>,
    /// The alerts this screening raised beside its measure (a fever or a symptom: a fever
    /// alert and a referral to a fever clinic), whatever the policy of the day.
    pub alerts: Vec<AlertRaisedOut>,
    /// The room of a centralised quarantine, given by itself (see `/api/v1/quarantine-sites`).
    pub quarantine_room: Option<QuarantineRoomOut>,
    /// Centralised quarantine and no open site covering the person had a free room:
    /// 「暂无空床，请联系隔离点」. The screening is recorded all the same.
    pub no_bed: bool,
}

/// Where a person under centralised quarantine stays.
#[derive(Debug, Serialize, ToSchema)]
pub struct QuarantineRoomOut {
    pub stay_id: i64,
    pub site_id: i64,
    pub site_name: String,
    pub site_phone: Option<String>,
    pub floor: i64,
    pub room: String,
    /// First and last night, `YYYY-MM-DD`.
    pub from: String,
    pub until: String,
}

impl From<epidemic::sites::Placed> for QuarantineRoomOut {
    fn from(p: epidemic::sites::Placed) -> Self {
        QuarantineRoomOut {
            stay_id: p.stay_id,
            site_id: p.site_id,
            site_name: p.site_name,
            site_phone: p.site_phone,
            floor: p.floor,
            room: p.room,
            from: p.from,
            until: p.until,
        }
    }
}

/// An alert raised by a screening.
#[derive(Debug, Serialize, ToSchema)]
pub struct AlertRaisedOut {
    /// The stored alert (see `GET /api/v1/alerts`).
    pub id: Option<i64>,
    /// `fever`.
    pub kind: String,
    /// `fever_clinic` (发热门诊).
    pub referral: String,
    pub temperature: Option<f64>,
    pub symptoms: Vec<String>,
    /// 「体温 37.6 ℃ 已发出发热预警，请立即送发热门诊」.
    pub message: String,
}

/// The alerts of a classification, with the id of the one alert the store raised for them.
pub fn alerts_out(c: &Classification, alert_id: Option<i64>) -> Vec<AlertRaisedOut> {
    c.alerts
        .iter()
        .map(|a| AlertRaisedOut {
            id: alert_id,
            kind: a.kind.as_str().to_owned(),
            referral: match a.referral {
                linli_core::epidemic::policy::Referral::FeverClinic => "fever_clinic".to_owned(),
            },
            temperature: a.temperature.map(|t| t.celsius()),
            symptoms: a.symptoms.clone(),
            message: a.message.clone(),
        })
        .collect()
}

/// Record an arrival screening (三问一测) and classify it by the policy in force on its date.
#[utoipa::path(post, path = "/api/v1/arrivals", tag = "epidemic", request_body = ArrivalBody,
    responses((status = 201, body = ArrivalOut), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_arrival(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Json(b): Json<ArrivalBody>,
) -> ApiResult<(StatusCode, Json<ArrivalOut>)> {
    let mut errors = Vec::new();
    let origin = DivisionCode::parse_field("origin_code", &b.origin_code)
        .map_err(|e| errors.push(e))
        .ok();
    let arrived_on = parse_date("arrived_on", &b.arrived_on)
        .map_err(|e| errors.push(e))
        .ok();
    let temperature = TemperatureIn::parse_opt(b.temperature.as_ref(), &mut errors);
    let (Some(origin_code), Some(arrived_on)) = (origin, arrived_on) else {
        return Err(invalid(errors));
    };
    if !errors.is_empty() {
        return Err(invalid(errors));
    }
    let person = match (&b.person_id, &b.person) {
        (Some(id), None) => ArrivalPerson::Registered(*id),
        (None, Some(p)) => ArrivalPerson::New {
            placement: p.placement()?,
            input: p.input(),
        },
        _ => {
            return Err(ApiError::invalid(
                "person_id",
                "请给出 person_id（已登记的居民）或 person（新登记），二者取一",
            ))
        }
    };
    let recorded = epidemic::record_arrival(
        &state.db,
        &user.scope,
        ArrivalInput {
            person,
            origin_code,
            arrived_on,
            purpose: b.purpose.clone(),
            symptoms: b.symptoms.clone(),
            temperature,
            source: if b.on_behalf {
                ArrivalSource::Proxy
            } else {
                ArrivalSource::Worker
            },
        },
        now_ms(),
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(ArrivalOut {
            id: recorded.id,
            person_id: recorded.person_id,
            classification: classification_out(
                &recorded.classification,
                recorded.policy_version_id,
            ),
            observation_id: recorded.observation_id,
            alert_id: recorded.alert_id,
            alerts: alerts_out(&recorded.classification, recorded.alert_id),
            quarantine_room: recorded.room.map(QuarantineRoomOut::from),
            no_bed: recorded.no_bed,
        }),
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct CheckinBody {
    /// °C, e.g. 36.6.
    #[schema(value_type = Option<f64>)]
    pub temperature: Option<TemperatureIn>,
    #[serde(default)]
    pub symptoms: Vec<String>,
    /// RFC 3339; defaults to now. May lie in the past (entered late) inside the observation's
    /// period.
    pub at: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CheckinOut {
    pub id: i64,
    pub observation_id: i64,
    pub at: String,
    /// A fever alert this check-in raised.
    pub alert_id: Option<i64>,
}

/// Record a check-in (temperature, symptoms) on an observation; a fever or a symptom raises a
/// fever alert.
#[utoipa::path(post, path = "/api/v1/observations/{id}/checkins", tag = "epidemic",
    params(("id" = i64, Path, description = "Observation id")), request_body = CheckinBody,
    responses((status = 201, body = CheckinOut), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_checkin(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(id): Path<i64>,
    Json(b): Json<CheckinBody>,
) -> ApiResult<(StatusCode, Json<CheckinOut>)> {
    let mut errors = Vec::new();
    let temperature = TemperatureIn::parse_opt(b.temperature.as_ref(), &mut errors);
    let at = match b.at.as_deref() {
        Some(raw) => parse_instant("at", raw).map_err(|e| errors.push(e)).ok(),
        None => Some(linli_core::kernel::clock::now_ms()),
    };
    if temperature.is_none() && b.symptoms.is_empty() && errors.is_empty() {
        errors.push(CoreError::invalid("temperature", "请填写体温或症状"));
    }
    let Some(at) = at.filter(|_| errors.is_empty()) else {
        return Err(invalid(errors));
    };
    let recorded = state
        .checkins
        .add(CheckinJob {
            scope: user.scope.clone(),
            observation_id: id,
            input: CheckinInput {
                at,
                temperature,
                symptoms: b.symptoms,
            },
            now: linli_core::kernel::clock::now_ms(),
            channel: linli_core::epidemic::observation::CheckinChannel::Api,
        })
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(CheckinOut {
            id: recorded.id,
            observation_id: recorded.observation_id,
            at: rfc3339(at),
            alert_id: recorded.alert_id,
        }),
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct AlertQuery {
    /// The node whose subtree to list.
    pub node_id: Option<i64>,
    /// fever or overdue.
    pub kind: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AlertOut {
    pub id: i64,
    /// fever or overdue.
    pub kind: String,
    pub person_id: i64,
    pub person_name: String,
    pub observation_id: Option<i64>,
    pub arrival_id: Option<i64>,
    pub raised_at: String,
    pub detail: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AlertsOut {
    pub alerts: Vec<AlertOut>,
}

/// Open alerts under a node, within the caller's jurisdiction.
#[utoipa::path(get, path = "/api/v1/alerts", tag = "epidemic", params(AlertQuery),
    responses((status = 200, body = AlertsOut), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn list_alerts(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Query(q): Query<AlertQuery>,
) -> ApiResult<Json<AlertsOut>> {
    let Some(node_id) = q.node_id else {
        return Err(ApiError::invalid(
            "node_id",
            "请给出 node_id（列出该节点之下的预警）",
        ));
    };
    let alerts = epidemic::open_alerts(&state.db, &user.scope, node_id, q.kind.as_deref()).await?;
    Ok(Json(AlertsOut {
        alerts: alerts
            .into_iter()
            .map(|a| AlertOut {
                id: a.id,
                kind: a.kind,
                person_id: a.person_id,
                person_name: a.person_name,
                observation_id: a.observation_id,
                arrival_id: a.arrival_id,
                raised_at: rfc3339(a.raised_at),
                detail: a.detail,
            })
            .collect(),
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct HandleAlertBody {
    /// Fever: excluded (排除), observing (留观), transferred (转诊) or false_reading (误测);
    /// overdue: contacted (已联系) or escalated (联系不上，已上报).
    pub outcome: String,
    pub note: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HandledAlertOut {
    pub id: i64,
    pub kind: String,
    pub outcome: String,
    /// The outcome in Chinese.
    pub outcome_label: String,
    pub note: Option<String>,
    pub handled_at: String,
    pub handled_by: String,
}

/// Handle an open alert: close it with an outcome that fits its kind, and a note. Audited.
#[utoipa::path(post, path = "/api/v1/alerts/{id}/handle", tag = "epidemic",
    params(("id" = i64, Path, description = "Alert id")), request_body = HandleAlertBody,
    responses((status = 200, body = HandledAlertOut), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn handle_alert(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(id): Path<i64>,
    Json(b): Json<HandleAlertBody>,
) -> ApiResult<Json<HandledAlertOut>> {
    let h = linli_store::epidemic::alerts::handle(
        &state.db,
        &user.scope,
        id,
        &b.outcome,
        b.note.as_deref(),
        now_ms(),
    )
    .await?;
    Ok(Json(HandledAlertOut {
        id: h.id,
        kind: h.kind,
        outcome: h.outcome.as_str().to_owned(),
        outcome_label: h.outcome.label_zh().to_owned(),
        note: h.note,
        handled_at: rfc3339(h.handled_at),
        handled_by: h.handled_by,
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct ReleasesQuery {
    /// The node whose subtree to list.
    pub node_id: Option<i64>,
    /// `YYYY-MM-DD`; default today.
    pub on: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DueReleaseOut {
    pub observation_id: i64,
    pub person_id: i64,
    pub person_name: String,
    pub measure: String,
    pub place: Option<String>,
    pub start_on: String,
    pub until_on: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReleasesOut {
    pub on: String,
    pub due: Vec<DueReleaseOut>,
}

/// Observations under a node whose last day has come (today's releases, overdue ones included).
#[utoipa::path(get, path = "/api/v1/releases", tag = "epidemic", params(ReleasesQuery),
    responses((status = 200, body = ReleasesOut), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn list_releases(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Query(q): Query<ReleasesQuery>,
) -> ApiResult<Json<ReleasesOut>> {
    let Some(node_id) = q.node_id else {
        return Err(ApiError::invalid(
            "node_id",
            "请给出 node_id（列出该节点之下的到期观察）",
        ));
    };
    let on = match q.on.as_deref() {
        Some(d) => parse_date("on", d).map_err(|e| invalid(vec![e]))?,
        None => linli_core::kernel::clock::today(),
    };
    let due = epidemic::releases_due(&state.db, &user.scope, node_id, on).await?;
    Ok(Json(ReleasesOut {
        on: format_date(on),
        due: due
            .into_iter()
            .map(|d| DueReleaseOut {
                observation_id: d.observation_id,
                person_id: d.person_id,
                person_name: d.person_name,
                measure: d.measure,
                place: d.place,
                start_on: d.start_on,
                until_on: d.until_on,
            })
            .collect(),
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ReleaseBody {
    pub observation_ids: Vec<i64>,
    /// `YYYY-MM-DD`; default today.
    pub on: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReleasedOut {
    pub released: usize,
    pub on: String,
}

/// Release observations in one batch: all or none (each must be due, open and in scope).
#[utoipa::path(post, path = "/api/v1/releases", tag = "epidemic", request_body = ReleaseBody,
    responses((status = 200, body = ReleasedOut), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_releases(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Json(b): Json<ReleaseBody>,
) -> ApiResult<Json<ReleasedOut>> {
    let on = match b.on.as_deref() {
        Some(d) => parse_date("on", d).map_err(|e| invalid(vec![e]))?,
        None => linli_core::kernel::clock::today(),
    };
    let released =
        epidemic::release(&state.db, &user.scope, &b.observation_ids, on, now_ms()).await?;
    Ok(Json(ReleasedOut {
        released,
        on: format_date(on),
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct DashboardQuery {
    /// The node whose subtree to count; default the caller's first node (an admin's first root).
    pub node_id: Option<i64>,
}

/// One node's (or one row's) figures.
#[derive(Debug, Serialize, ToSchema)]
pub struct FiguresOut {
    /// Arrival screenings with today's arrival date.
    pub arrivals_today: i64,
    /// Open observations, all measures.
    pub under_observation: i64,
    pub centralized_quarantine: i64,
    pub home_quarantine: i64,
    pub health_monitoring: i64,
    /// Unhandled fever alerts.
    pub fevers_open: i64,
    /// Unhandled overdue check-in alerts.
    pub overdue_open: i64,
    /// Open observations whose last day is today or earlier.
    pub releases_due: i64,
}

impl From<linli_store::epidemic::dashboard::Figures> for FiguresOut {
    fn from(f: linli_store::epidemic::dashboard::Figures) -> FiguresOut {
        FiguresOut {
            arrivals_today: f.arrivals_today,
            under_observation: f.under_observation(),
            centralized_quarantine: f.centralized_quarantine,
            home_quarantine: f.home_quarantine,
            health_monitoring: f.health_monitoring,
            fevers_open: f.fevers_open,
            overdue_open: f.overdue_open,
            releases_due: f.releases_due,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ChildFiguresOut {
    pub node_id: i64,
    pub name: String,
    pub kind: String,
    pub closed: bool,
    pub figures: FiguresOut,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DashboardOut {
    pub node_id: i64,
    pub node_name: String,
    /// The China date of the figures.
    pub today: String,
    /// The whole subtree: the sum of `children` and `direct`.
    pub total: FiguresOut,
    /// Records placed on the node itself (本级直属).
    pub direct: FiguresOut,
    pub children: Vec<ChildFiguresOut>,
}

/// The epidemic dashboard of a node: its figures over its subtree and per child node.
#[utoipa::path(get, path = "/api/v1/epidemic/dashboard", tag = "epidemic", params(DashboardQuery),
    responses((status = 200, body = DashboardOut), (status = 404, body = ErrorBody)))]
async fn get_dashboard(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Query(q): Query<DashboardQuery>,
) -> ApiResult<Json<DashboardOut>> {
    let node_id = match q.node_id {
        Some(id) => id,
        None => linli_store::epidemic::dashboard::default_node(&state.db, &user.scope)
            .await?
            .ok_or(StoreError::NotFound)?,
    };
    let d = linli_store::epidemic::dashboard::epidemic_dashboard(
        &state.db,
        &user.scope,
        node_id,
        linli_core::kernel::clock::today(),
    )
    .await?;
    Ok(Json(DashboardOut {
        node_id: d.node_id,
        node_name: d.node_name,
        today: d.today,
        total: d.total.into(),
        direct: d.direct.into(),
        children: d
            .children
            .into_iter()
            .map(|c| ChildFiguresOut {
                node_id: c.node_id,
                name: c.name,
                kind: c.kind.as_str().to_owned(),
                closed: c.closed,
                figures: c.figures.into(),
            })
            .collect(),
    }))
}
