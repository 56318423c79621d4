//! The volunteer JSON API (issue 20 contract): volunteers, teams, activities, sign-ups,
//! attendance with confirmed hours, and a node's volunteer numbers.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use linli_core::kernel::clock::{now_ms, parse_instant, rfc3339};
use linli_core::kernel::labels::Labelled;
use linli_core::participation::volunteers::{ActivityInput, VolunteerState};
use linli_store::participation::volunteers::{
    self as vol, Activity, ActivityFilter, HoursRecord, Signup, Team, Volunteer, VolunteerFilter,
    VolunteerInput, When, Who,
};
use linli_store::StoreError;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::ApiUser;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_volunteers, create_volunteer))
        .routes(routes!(get_volunteer))
        .routes(routes!(list_teams, create_team))
        .routes(routes!(list_activities, create_activity))
        .routes(routes!(get_activity))
        .routes(routes!(create_signup))
        .routes(routes!(record_attendance))
        .routes(routes!(volunteer_counts))
}

/// Store errors as API errors; a second sign-up of a volunteer is `409 Conflict`.
fn api_err(e: StoreError) -> ApiError {
    match e {
        StoreError::Conflict { field, message } => ApiError {
            status: StatusCode::CONFLICT,
            ..ApiError::from(StoreError::Conflict { field, message })
        },
        other => other.into(),
    }
}

fn need_node(node_id: Option<i64>) -> ApiResult<i64> {
    node_id.ok_or_else(|| ApiError::invalid("node_id", "请给出 node_id（列出该节点之下的记录）"))
}

// ---------------------------------------------------------------------------------------------
// Volunteers

#[derive(Debug, Deserialize, ToSchema)]
pub struct OutsidePersonBody {
    pub name: String,
    pub phone: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct VolunteerBody {
    /// A registry person in the caller's jurisdiction; or give `person`.
    pub person_id: Option<i64>,
    /// Someone outside the registry (name and phone).
    pub person: Option<OutsidePersonBody>,
    /// The home node (community, grid …); a registry person's own node when left out.
    pub node_id: Option<i64>,
    /// Skill words (e.g. 医疗, 驾驶), normalised.
    #[serde(default)]
    pub skills: Vec<String>,
    #[serde(default)]
    pub team_ids: Vec<i64>,
    /// When they are usually free, in words.
    pub availability: Option<String>,
    /// ISO weekdays 1–7 (or 一…日).
    #[serde(default)]
    pub weekdays: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TeamRefOut {
    pub id: i64,
    pub name: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VolunteerOut {
    pub id: i64,
    pub node_id: i64,
    pub node_name: String,
    pub person_id: Option<i64>,
    pub name: String,
    /// Masked: `136****8609`.
    pub phone: Option<String>,
    pub skills: Vec<String>,
    pub availability: Option<String>,
    pub weekdays: Vec<u8>,
    /// pending, active or left
    pub state: String,
    pub state_label: String,
    pub left_on: Option<String>,
    pub teams: Vec<TeamRefOut>,
    pub created_at: String,
}

impl From<Volunteer> for VolunteerOut {
    fn from(v: Volunteer) -> Self {
        VolunteerOut {
            id: v.id,
            node_id: v.node_id,
            node_name: v.node_name,
            person_id: v.person_id,
            name: v.name,
            phone: v.phone_masked,
            skills: v.skills,
            availability: v.availability,
            weekdays: v.weekdays,
            state: v.state.as_str().to_owned(),
            state_label: v.state.label_zh().to_owned(),
            left_on: v.left_on,
            teams: v
                .teams
                .into_iter()
                .map(|t| TeamRefOut {
                    id: t.id,
                    name: t.name,
                })
                .collect(),
            created_at: rfc3339(v.created_at),
        }
    }
}

/// Register a volunteer: a registry person (`person_id`) or an outside person
/// (`person: {name, phone}`), with skills and teams of their community. A person already a
/// volunteer is a 409 on `person_id`. Audited.
#[utoipa::path(post, path = "/api/v1/volunteers", tag = "participation", request_body = VolunteerBody,
    responses((status = 201, body = VolunteerOut), (status = 403, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_volunteer(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Json(b): Json<VolunteerBody>,
) -> ApiResult<(StatusCode, Json<VolunteerOut>)> {
    let who = match (b.person_id, &b.person) {
        (Some(id), None) => Who::Person(id),
        (None, Some(p)) => Who::Outside {
            name: &p.name,
            phone: &p.phone,
        },
        _ => {
            return Err(ApiError::invalid(
                "person_id",
                "请给出 person_id（辖区居民）或 person（姓名和电话）之一",
            ))
        }
    };
    let v = vol::create_volunteer(
        &state.db,
        &user.scope,
        &VolunteerInput {
            who,
            node_id: b.node_id,
            skills: b.skills,
            availability: b.availability.as_deref(),
            weekdays: b.weekdays,
            team_ids: b.team_ids,
        },
        now_ms(),
    )
    .await
    .map_err(api_err)?;
    Ok((StatusCode::CREATED, Json(v.into())))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct VolunteerQuery {
    /// The node whose subtree to list.
    pub node_id: Option<i64>,
    /// Words in the name, or the phone's last four digits.
    pub q: Option<String>,
    pub skill: Option<String>,
    pub team_id: Option<i64>,
    /// pending, active or left
    pub state: Option<String>,
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VolunteersOut {
    pub total: i64,
    pub volunteers: Vec<VolunteerOut>,
}

/// Volunteers under a node in the caller's jurisdiction, filtered, by name (phones masked).
#[utoipa::path(get, path = "/api/v1/volunteers", tag = "participation", params(VolunteerQuery),
    responses((status = 200, body = VolunteersOut), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn list_volunteers(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Query(q): Query<VolunteerQuery>,
) -> ApiResult<Json<VolunteersOut>> {
    let node_id = need_node(q.node_id)?;
    let state_f = q
        .state
        .as_deref()
        .filter(|s| !s.trim().is_empty())
        .map(str::parse::<VolunteerState>)
        .transpose()
        .map_err(|e| ApiError::invalid("state", e.message))?;
    let list = vol::volunteers(
        &state.db,
        &user.scope,
        node_id,
        &VolunteerFilter {
            q: q.q,
            team_id: q.team_id,
            skill: q.skill,
            state: state_f,
        },
        (q.limit.unwrap_or(100).clamp(1, 500), q.offset.unwrap_or(0)),
    )
    .await
    .map_err(api_err)?;
    Ok(Json(VolunteersOut {
        total: list.total,
        volunteers: list.items.into_iter().map(Into::into).collect(),
    }))
}

/// One volunteer in the caller's jurisdiction, with their teams.
#[utoipa::path(get, path = "/api/v1/volunteers/{id}", tag = "participation", params(("id" = i64, Path)),
    responses((status = 200, body = VolunteerOut), (status = 404, body = ErrorBody)))]
async fn get_volunteer(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(id): Path<i64>,
) -> ApiResult<Json<VolunteerOut>> {
    let v = vol::volunteer(&state.db, &user.scope, id)
        .await
        .map_err(api_err)?;
    Ok(Json(v.into()))
}

// ---------------------------------------------------------------------------------------------
// Teams

#[derive(Debug, Deserialize, ToSchema)]
pub struct TeamBody {
    pub node_id: i64,
    pub name: String,
    /// A volunteer of the team's community.
    pub leader_id: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TeamOut {
    pub id: i64,
    pub node_id: i64,
    pub node_name: String,
    pub name: String,
    pub leader_id: Option<i64>,
    pub leader_name: Option<String>,
    pub members: i64,
}

impl From<Team> for TeamOut {
    fn from(t: Team) -> Self {
        TeamOut {
            id: t.id,
            node_id: t.node_id,
            node_name: t.node_name,
            name: t.name,
            leader_id: t.leader_id,
            leader_name: t.leader_name,
            members: t.members,
        }
    }
}

/// Form a volunteer team (志愿服务队) under a node. A name taken at that node is a 409. Audited.
#[utoipa::path(post, path = "/api/v1/volunteer-teams", tag = "participation", request_body = TeamBody,
    responses((status = 201, body = TeamOut), (status = 403, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_team(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Json(b): Json<TeamBody>,
) -> ApiResult<(StatusCode, Json<TeamOut>)> {
    let t = vol::create_team(
        &state.db,
        &user.scope,
        b.node_id,
        &b.name,
        b.leader_id,
        now_ms(),
    )
    .await
    .map_err(api_err)?;
    Ok((StatusCode::CREATED, Json(t.into())))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct NodeQuery {
    /// The node whose subtree to list.
    pub node_id: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TeamsOut {
    pub teams: Vec<TeamOut>,
}

/// The volunteer teams under a node in the caller's jurisdiction.
#[utoipa::path(get, path = "/api/v1/volunteer-teams", tag = "participation", params(NodeQuery),
    responses((status = 200, body = TeamsOut), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn list_teams(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Query(q): Query<NodeQuery>,
) -> ApiResult<Json<TeamsOut>> {
    let node_id = need_node(q.node_id)?;
    let teams = vol::teams(&state.db, &user.scope, node_id)
        .await
        .map_err(api_err)?;
    Ok(Json(TeamsOut {
        teams: teams.into_iter().map(Into::into).collect(),
    }))
}

// ---------------------------------------------------------------------------------------------
// Activities

#[derive(Debug, Deserialize, Serialize, ToSchema)]
pub struct NeedBody {
    /// A skill word; absent or empty: anyone.
    pub skill: Option<String>,
    pub count: i64,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ActivityBody {
    /// Community-level node or below, in the caller's jurisdiction.
    pub node_id: i64,
    pub title: String,
    pub place: Option<String>,
    /// RFC 3339, e.g. `2020-02-01T09:00:00+08:00`.
    pub starts_at: String,
    pub ends_at: String,
    pub description: Option<String>,
    /// People asked for by skill; their sum is the activity's capacity.
    pub needs: Vec<NeedBody>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ActivityOut {
    pub id: i64,
    pub node_id: i64,
    pub node_name: String,
    pub title: String,
    pub place: Option<String>,
    pub starts_at: String,
    pub ends_at: String,
    pub description: Option<String>,
    pub needs: Vec<NeedBody>,
    pub capacity: i64,
    pub signed_up: i64,
    /// Confirmed hours of all sign-ups.
    pub confirmed_hours: f64,
    /// The organiser's name.
    pub organiser: String,
    /// The public sign-up link (`/v/{code}`), for the QR poster.
    pub signup_link: String,
}

impl From<Activity> for ActivityOut {
    fn from(a: Activity) -> Self {
        ActivityOut {
            capacity: a.capacity(),
            id: a.id,
            node_id: a.node_id,
            node_name: a.node_name,
            title: a.title,
            place: a.place,
            starts_at: rfc3339(a.starts_at),
            ends_at: rfc3339(a.ends_at),
            description: a.description,
            needs: a
                .needs
                .into_iter()
                .map(|n| NeedBody {
                    skill: n.skill,
                    count: n.count,
                })
                .collect(),
            signed_up: a.signed_up,
            confirmed_hours: a.confirmed_halves as f64 / 2.0,
            organiser: a.organiser,
            signup_link: super::link_path(&a.code),
        }
    }
}

/// Create a service activity (服务活动) organised by the caller, with a public sign-up link.
/// Bad times or needs are a 422 naming each field. Audited.
#[utoipa::path(post, path = "/api/v1/activities", tag = "participation", request_body = ActivityBody,
    responses((status = 201, body = ActivityOut), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_activity(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Json(b): Json<ActivityBody>,
) -> ApiResult<(StatusCode, Json<ActivityOut>)> {
    let mut errors = Vec::new();
    let starts_at = parse_instant("starts_at", &b.starts_at)
        .map_err(|e| errors.push(e))
        .ok();
    let ends_at = parse_instant("ends_at", &b.ends_at)
        .map_err(|e| errors.push(e))
        .ok();
    if !errors.is_empty() {
        return Err(api_err(StoreError::Invalid(errors)));
    }
    let a = vol::create_activity(
        &state.db,
        &user.scope,
        b.node_id,
        &ActivityInput {
            title: &b.title,
            place: b.place.as_deref(),
            starts_at,
            ends_at,
            description: b.description.as_deref(),
            needs: b
                .needs
                .iter()
                .map(|n| (n.skill.as_deref(), n.count))
                .collect(),
        },
        now_ms(),
    )
    .await
    .map_err(api_err)?;
    Ok((StatusCode::CREATED, Json(a.into())))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct ActivityQuery {
    /// The node whose subtree to list.
    pub node_id: Option<i64>,
    /// Words in the title or place.
    pub q: Option<String>,
    /// `upcoming` (not yet ended) or `past`.
    pub when: Option<String>,
    pub skill: Option<String>,
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ActivitiesOut {
    pub total: i64,
    pub activities: Vec<ActivityOut>,
}

/// Parses `upcoming` / `past` (blank: all).
pub(crate) fn parse_when(raw: &str) -> Result<Option<When>, ApiError> {
    match raw.trim() {
        "" => Ok(None),
        "upcoming" => Ok(Some(When::Upcoming)),
        "past" => Ok(Some(When::Past)),
        other => Err(ApiError::invalid(
            "when",
            format!("「{other}」应为 upcoming（未结束）或 past（已结束）"),
        )),
    }
}

/// Activities under a node in the caller's jurisdiction, latest first.
#[utoipa::path(get, path = "/api/v1/activities", tag = "participation", params(ActivityQuery),
    responses((status = 200, body = ActivitiesOut), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn list_activities(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Query(q): Query<ActivityQuery>,
) -> ApiResult<Json<ActivitiesOut>> {
    let node_id = need_node(q.node_id)?;
    let when = parse_when(q.when.as_deref().unwrap_or(""))?;
    let list = vol::activities(
        &state.db,
        &user.scope,
        node_id,
        &ActivityFilter {
            q: q.q,
            when,
            skill: q.skill,
        },
        now_ms(),
        (q.limit.unwrap_or(100).clamp(1, 500), q.offset.unwrap_or(0)),
    )
    .await
    .map_err(api_err)?;
    Ok(Json(ActivitiesOut {
        total: list.total,
        activities: list.items.into_iter().map(Into::into).collect(),
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HoursOut {
    /// The record's id: what a points ledger entry names.
    pub id: i64,
    pub signup_id: i64,
    pub activity_id: i64,
    pub volunteer_id: i64,
    pub hours: f64,
    /// pending, confirmed or rejected
    pub status: String,
    pub status_label: String,
    /// staff or link
    pub source: String,
    pub reason: Option<String>,
    pub reported_at: String,
    pub decided_at: Option<String>,
}

impl From<HoursRecord> for HoursOut {
    fn from(h: HoursRecord) -> Self {
        HoursOut {
            id: h.id,
            signup_id: h.signup_id,
            activity_id: h.activity_id,
            volunteer_id: h.volunteer_id,
            hours: h.hours.as_f64(),
            status: h.status.as_str().to_owned(),
            status_label: h.status.label_zh().to_owned(),
            source: h.source.as_str().to_owned(),
            reason: h.reason,
            reported_at: rfc3339(h.reported_at),
            decided_at: h.decided_at.map(rfc3339),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SignupOut {
    pub id: i64,
    pub volunteer_id: i64,
    pub volunteer_name: String,
    /// Masked.
    pub phone: Option<String>,
    /// The need this sign-up fills.
    pub skill: Option<String>,
    /// staff or link
    pub source: String,
    /// null: not yet marked.
    pub attended: Option<bool>,
    pub hours: Option<HoursOut>,
}

impl From<Signup> for SignupOut {
    fn from(s: Signup) -> Self {
        SignupOut {
            id: s.id,
            volunteer_id: s.volunteer_id,
            volunteer_name: s.volunteer_name,
            phone: s.phone_masked,
            skill: s.skill,
            source: s.source.as_str().to_owned(),
            attended: s.attended,
            hours: s.hours.map(Into::into),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ActivityDetail {
    #[serde(flatten)]
    pub activity: ActivityOut,
    pub signups: Vec<SignupOut>,
}

/// One activity in the caller's jurisdiction with its sign-ups, attendance and hours.
#[utoipa::path(get, path = "/api/v1/activities/{id}", tag = "participation", params(("id" = i64, Path)),
    responses((status = 200, body = ActivityDetail), (status = 404, body = ErrorBody)))]
async fn get_activity(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(id): Path<i64>,
) -> ApiResult<Json<ActivityDetail>> {
    let a = vol::activity(&state.db, &user.scope, id)
        .await
        .map_err(api_err)?;
    let signups = vol::signups(&state.db, &user.scope, id)
        .await
        .map_err(api_err)?;
    Ok(Json(ActivityDetail {
        activity: a.into(),
        signups: signups.into_iter().map(Into::into).collect(),
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct SignupBody {
    pub volunteer_id: i64,
}

/// Sign a volunteer of the caller's jurisdiction up. A full activity is a 422 on `activity`; a
/// second sign-up of the same volunteer is a 409. Audited.
#[utoipa::path(post, path = "/api/v1/activities/{id}/signups", tag = "participation", params(("id" = i64, Path)),
    request_body = SignupBody,
    responses((status = 201, body = SignupOut), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_signup(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(id): Path<i64>,
    Json(b): Json<SignupBody>,
) -> ApiResult<(StatusCode, Json<SignupOut>)> {
    let s = vol::sign_up(&state.db, &user.scope, id, b.volunteer_id, now_ms())
        .await
        .map_err(api_err)?;
    Ok((StatusCode::CREATED, Json(s.into())))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct AttendanceBody {
    pub volunteer_id: i64,
    /// Hours served: more than 0, in half hours, at most the activity's length. A number or a
    /// string (`2.5`).
    #[schema(value_type = f64)]
    pub hours: serde_json::Value,
}

/// The organiser marks a signed-up volunteer present and confirms their hours (a pending
/// self-report is confirmed with these hours). Returns the confirmed hours record; its id is
/// what a points entry will name. Confirmed hours are final (422 on `hours`). Audited.
#[utoipa::path(post, path = "/api/v1/activities/{id}/attendance", tag = "participation", params(("id" = i64, Path)),
    request_body = AttendanceBody,
    responses((status = 200, body = HoursOut), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn record_attendance(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(id): Path<i64>,
    Json(b): Json<AttendanceBody>,
) -> ApiResult<Json<HoursOut>> {
    let hours = match &b.hours {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Number(n) => n.to_string(),
        _ => {
            return Err(ApiError::invalid(
                "hours",
                "请给出服务时长（小时数，如 2.5）",
            ))
        }
    };
    let h = vol::confirm_hours(&state.db, &user.scope, id, b.volunteer_id, &hours, now_ms())
        .await
        .map_err(api_err)?;
    Ok(Json(h.into()))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VolunteerCountsOut {
    /// Volunteers in service.
    pub active: i64,
    /// Signed up by link, waiting for staff.
    pub pending: i64,
    /// Confirmed hours this month.
    pub hours_this_month: f64,
    pub activities_this_month: i64,
}

/// A node's volunteer numbers: volunteers active (and pending), and this month's confirmed
/// hours and activities.
#[utoipa::path(get, path = "/api/v1/volunteer-counts", tag = "participation", params(NodeQuery),
    responses((status = 200, body = VolunteerCountsOut), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn volunteer_counts(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Query(q): Query<NodeQuery>,
) -> ApiResult<Json<VolunteerCountsOut>> {
    let node_id = need_node(q.node_id)?;
    let c = vol::counts(&state.db, &user.scope, node_id, now_ms())
        .await
        .map_err(api_err)?;
    Ok(Json(VolunteerCountsOut {
        active: c.active,
        pending: c.pending,
        hours_this_month: c.month_hours().as_f64(),
        activities_this_month: c.month_activities,
    }))
}
