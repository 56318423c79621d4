//! `GET /api/v1/observations`: who is under observation within a node, day by day.

use axum::extract::{Path, Query, State};
use axum::Json;
use linli_core::kernel::clock::{format_date, parse_date, today};
use linli_core::kernel::labels::Labelled;
use linli_store::epidemic::observations::{self, ObservationFilter, UnderObservation};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::ApiUser;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::ui::qr::PublicBase;
use crate::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_observations))
        .routes(routes!(create_self_link))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct ObservationsQuery {
    pub node_id: Option<i64>,
    /// The day to judge check-ins and day N by, `YYYY-MM-DD` (today by default).
    pub date: Option<String>,
    /// Only those who still owe check-ins that day.
    #[serde(default)]
    pub pending: bool,
    /// Only those whose last day is that day or past.
    #[serde(default)]
    pub ending: bool,
    /// `centralized_quarantine`, `home_quarantine` or `health_monitoring`.
    pub measure: Option<String>,
    /// A name prefix.
    pub q: Option<String>,
    /// At most this many (1–5000, default 200) …
    pub limit: Option<i64>,
    /// … after skipping this many.
    pub offset: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ObservationOut {
    pub id: i64,
    pub person_id: i64,
    pub person_name: String,
    pub measure: String,
    pub start_on: String,
    pub until: String,
    pub day: i64,
    pub days: i64,
    pub checkins_done: i64,
    pub checkins_due: i64,
    /// °C, one decimal.
    pub last_temperature: Option<f64>,
    pub open_alerts: i64,
    /// Where the person lives: the node's name, and its parent's (a building's grid).
    pub node_name: String,
    pub parent_name: Option<String>,
}

impl From<UnderObservation> for ObservationOut {
    fn from(o: UnderObservation) -> Self {
        ObservationOut {
            id: o.id,
            person_id: o.person_id,
            person_name: o.person_name,
            measure: o.measure.as_str().to_owned(),
            start_on: format_date(o.start_on),
            until: format_date(o.until),
            day: o.day,
            days: o.days,
            checkins_done: o.checkins_done,
            checkins_due: o.checkins_due,
            last_temperature: o.last_temperature.map(|t| t.celsius()),
            open_alerts: o.open_alerts,
            node_name: o.node_name,
            parent_name: o.parent_name,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ObservationsOut {
    pub date: String,
    pub total: i64,
    pub items: Vec<ObservationOut>,
}

/// Everyone under an open observation within a node (in scope), ordered by where they live:
/// measure, day N of M, that day's check-ins done and due, last temperature, open alerts.
#[utoipa::path(get, path = "/api/v1/observations", tag = "epidemic", params(ObservationsQuery),
    responses((status = 200, body = ObservationsOut), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn list_observations(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Query(q): Query<ObservationsQuery>,
) -> ApiResult<Json<ObservationsOut>> {
    let Some(node_id) = q.node_id else {
        return Err(ApiError::invalid(
            "node_id",
            "请给出 node_id（列出该节点之下正在观察的人员）",
        ));
    };
    let on = match q.date.as_deref() {
        Some(d) => parse_date("date", d).map_err(linli_store::StoreError::from)?,
        None => today(),
    };
    let measure = match q.measure.as_deref().filter(|m| !m.is_empty()) {
        Some(m) => Some(m.parse().map_err(linli_store::StoreError::from)?),
        None => None,
    };
    let filter = ObservationFilter {
        measure,
        pending: q.pending,
        ending: q.ending,
        q: q.q,
    };
    let page = observations::under_observation(
        &state.db,
        &user.scope,
        node_id,
        &filter,
        on,
        q.limit.unwrap_or(200),
        q.offset.unwrap_or(0),
    )
    .await?;
    Ok(Json(ObservationsOut {
        date: format_date(on),
        total: page.total,
        items: page.items.into_iter().map(ObservationOut::from).collect(),
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SelfLinkOut {
    /// The short code (10 characters, no 0/O/1/I/L), to type or to print.
    pub token: String,
    /// The resident's page, at the app's public address.
    pub url: String,
}

/// The observation's self check-in link (`/o/{token}`), made on first asking: the same link
/// after that, until the release ends it. Whoever may record check-ins there.
#[utoipa::path(post, path = "/api/v1/observations/{id}/self-link", tag = "epidemic",
    params(("id" = i64, Path, description = "Observation id")),
    responses((status = 200, body = SelfLinkOut), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_self_link(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    PublicBase(base): PublicBase,
    Path(id): Path<i64>,
) -> ApiResult<Json<SelfLinkOut>> {
    let link = linli_store::epidemic::self_checkin::self_link(
        &state.db,
        &user.scope,
        id,
        linli_core::kernel::clock::now_ms(),
    )
    .await?;
    Ok(Json(SelfLinkOut {
        url: format!("{base}/o/{}", link.token),
        token: link.token,
    }))
}
