//! The enterprise JSON API: businesses, reopening applications and decisions, inspections and
//! the not-reopened counts.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use linli_core::enterprises::{
    EnterpriseInput, InspectionInput, NotReopened, ReopeningDecision, ReopeningInput,
};
use linli_core::kernel::clock::now_ms;
use linli_core::kernel::clock::rfc3339;
use linli_core::kernel::labels::Labelled;
use linli_store::enterprises::{self, Enterprise, Inspection, Reopening, ReopeningCounts};
use linli_store::{Page, StoreError};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::{ApiUser, ClientIp};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_enterprises, create_enterprise))
        .routes(routes!(get_enterprise))
        .routes(routes!(unmask_enterprise))
        .routes(routes!(set_not_reopened))
        .routes(routes!(renew_link))
        .routes(routes!(create_reopening))
        .routes(routes!(decide_reopening))
        .routes(routes!(list_inspections, create_inspection))
        .routes(routes!(reopening_counts))
}

/// Store errors as API errors; a credit code (or an application) that clashes with a stored
/// one is `409 Conflict` here, as the enterprise contract asks.
fn api_err(e: StoreError) -> ApiError {
    match e {
        StoreError::Conflict { field, message } => ApiError {
            status: StatusCode::CONFLICT,
            ..ApiError::from(StoreError::Conflict { field, message })
        },
        other => other.into(),
    }
}

/// The public application link's path for a token.
pub fn link_path(token: &str) -> String {
    format!("/e/{token}")
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct EnterpriseBody {
    /// Community-level node or below, in the caller's jurisdiction.
    pub node_id: i64,
    pub name: String,
    /// `enterprise` (企业) or `individual` (个体工商户).
    pub kind: String,
    /// Unified social credit code (GB 32100, 18 characters, checked); required for
    /// enterprises, optional for individual businesses.
    pub credit_code: Option<String>,
    pub address: Option<String>,
    /// Number of employees; a number or a string of digits.
    #[schema(value_type = Option<i64>)]
    pub employees: Option<serde_json::Value>,
    pub contact_name: Option<String>,
    pub contact_phone: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EnterpriseOut {
    pub id: i64,
    pub node_id: i64,
    pub node_name: String,
    pub name: String,
    /// enterprise or individual
    pub kind: String,
    pub kind_label: String,
    pub credit_code: Option<String>,
    pub address: Option<String>,
    pub employees: Option<i64>,
    pub contact_name: Option<String>,
    /// Masked: `136****8609`.
    pub contact_phone: Option<String>,
    /// reopened, pending or not_reopened
    pub standing: String,
    pub standing_label: String,
    /// workers_short, no_protective_supplies, no_materials, no_demand or other
    pub not_reopened_reason: Option<String>,
    pub not_reopened_note: Option<String>,
    pub created_at: String,
    pub created_by: String,
}

impl From<Enterprise> for EnterpriseOut {
    fn from(e: Enterprise) -> Self {
        EnterpriseOut {
            id: e.id,
            node_id: e.node_id,
            node_name: e.node_name,
            name: e.name,
            kind: e.kind.as_str().to_owned(),
            kind_label: e.kind.label_zh().to_owned(),
            credit_code: e.credit_code,
            address: e.address,
            employees: e.employees,
            contact_name: e.contact_name,
            contact_phone: e.contact_phone_masked,
            standing: e.standing.as_str().to_owned(),
            standing_label: e.standing.label_zh().to_owned(),
            not_reopened_reason: e.not_reopened_reason.map(|r| r.as_str().to_owned()),
            not_reopened_note: e.not_reopened_note,
            created_at: rfc3339(e.created_at),
            created_by: e.created_by,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EnterpriseCreated {
    #[serde(flatten)]
    pub enterprise: EnterpriseOut,
    /// The public application link (`/e/{token}`), shown this once: only its hash is kept.
    pub application_link: String,
}

fn count_text(v: &Option<serde_json::Value>) -> Option<String> {
    match v {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(s)) => Some(s.clone()),
        Some(other) => Some(other.to_string()),
    }
}

/// Register an enterprise or individual business (staff and admins). A wrong GB 32100 check
/// character is a 422 naming `credit_code`; a code already registered is a 409. Audited.
#[utoipa::path(post, path = "/api/v1/enterprises", tag = "enterprises", request_body = EnterpriseBody,
    responses((status = 201, body = EnterpriseCreated), (status = 403, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_enterprise(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Json(b): Json<EnterpriseBody>,
) -> ApiResult<(StatusCode, Json<EnterpriseCreated>)> {
    let employees = count_text(&b.employees);
    let reg = enterprises::create(
        &state.db,
        &user.scope,
        b.node_id,
        &EnterpriseInput {
            name: &b.name,
            kind: &b.kind,
            credit_code: b.credit_code.as_deref(),
            address: b.address.as_deref(),
            employees: employees.as_deref(),
            contact_name: b.contact_name.as_deref(),
            contact_phone: b.contact_phone.as_deref(),
        },
        now_ms(),
    )
    .await
    .map_err(api_err)?;
    Ok((
        StatusCode::CREATED,
        Json(EnterpriseCreated {
            enterprise: reg.enterprise.into(),
            application_link: link_path(&reg.link_token),
        }),
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct ListQuery {
    /// The node whose subtree to list.
    pub node_id: Option<i64>,
    pub limit: Option<i64>,
    /// The last id seen (pages by id).
    pub after: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EnterprisesOut {
    pub enterprises: Vec<EnterpriseOut>,
}

fn need_node(node_id: Option<i64>) -> ApiResult<i64> {
    node_id.ok_or_else(|| ApiError::invalid("node_id", "请给出 node_id（列出该节点之下的企业）"))
}

/// Businesses under a node, within the caller's jurisdiction, with where each stands.
#[utoipa::path(get, path = "/api/v1/enterprises", tag = "enterprises", params(ListQuery),
    responses((status = 200, body = EnterprisesOut), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn list_enterprises(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Query(q): Query<ListQuery>,
) -> ApiResult<Json<EnterprisesOut>> {
    let node_id = need_node(q.node_id)?;
    let list = enterprises::list(&state.db, &user.scope, node_id, Page::new(q.limit, q.after))
        .await
        .map_err(api_err)?;
    Ok(Json(EnterprisesOut {
        enterprises: list.into_iter().map(Into::into).collect(),
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReopeningOut {
    pub id: i64,
    pub enterprise_id: i64,
    /// submitted, approved or rejected
    pub status: String,
    pub status_label: String,
    /// Standard items ticked: thermometers, disinfection, masks, staff_registration.
    pub checked: Vec<String>,
    /// Standard items not ticked (approval needs none missing).
    pub missing: Vec<String>,
    pub extra_items: Vec<String>,
    pub employees_back: Option<i64>,
    pub planned_on: Option<String>,
    pub note: Option<String>,
    /// staff or link
    pub channel: String,
    pub submitted_at: String,
    pub submitted_by: String,
    pub decided_at: Option<String>,
    pub decided_by: Option<String>,
    pub decision_reason: Option<String>,
}

impl From<Reopening> for ReopeningOut {
    fn from(r: Reopening) -> Self {
        ReopeningOut {
            id: r.id,
            enterprise_id: r.enterprise_id,
            status: r.status.as_str().to_owned(),
            status_label: r.status.label_zh().to_owned(),
            checked: r.checked.iter().map(|i| i.as_str().to_owned()).collect(),
            missing: r.missing.iter().map(|i| i.as_str().to_owned()).collect(),
            extra_items: r.extra_items,
            employees_back: r.employees_back,
            planned_on: r.planned_on,
            note: r.note,
            channel: r.channel,
            submitted_at: rfc3339(r.submitted_at),
            submitted_by: r.submitted_by,
            decided_at: r.decided_at.map(rfc3339),
            decided_by: r.decided_by,
            decision_reason: r.decision_reason,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EnterpriseDetail {
    #[serde(flatten)]
    pub enterprise: EnterpriseOut,
    /// Newest first.
    pub reopenings: Vec<ReopeningOut>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UnmaskedContactOut {
    /// The contact phone in clear; absent when none was given.
    pub contact_phone: Option<String>,
}

/// The clear contact phone of one business (staff and admins; officials and grid workers 403).
/// Audited with the caller's address.
#[utoipa::path(post, path = "/api/v1/enterprises/{id}/unmask", tag = "enterprises",
    params(("id" = i64, Path, description = "Enterprise id")),
    responses((status = 200, body = UnmaskedContactOut), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn unmask_enterprise(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiUser(user): ApiUser,
    Path(id): Path<i64>,
) -> ApiResult<Json<UnmaskedContactOut>> {
    let contact_phone =
        enterprises::unmask_contact(&state.db, &user.scope, id, Some(&ip), now_ms())
            .await
            .map_err(api_err)?;
    Ok(Json(UnmaskedContactOut { contact_phone }))
}

/// One business with its reopening applications.
#[utoipa::path(get, path = "/api/v1/enterprises/{id}", tag = "enterprises",
    params(("id" = i64, Path, description = "Enterprise id")),
    responses((status = 200, body = EnterpriseDetail), (status = 404, body = ErrorBody)))]
async fn get_enterprise(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(id): Path<i64>,
) -> ApiResult<Json<EnterpriseDetail>> {
    let e = enterprises::get(&state.db, &user.scope, id)
        .await
        .map_err(api_err)?;
    let reopenings = enterprises::reopenings(&state.db, &user.scope, id)
        .await
        .map_err(api_err)?;
    Ok(Json(EnterpriseDetail {
        enterprise: e.into(),
        reopenings: reopenings.into_iter().map(Into::into).collect(),
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NotReopenedBody {
    /// workers_short, no_protective_supplies, no_materials, no_demand or other; null clears.
    pub reason: Option<String>,
    /// Required with `other`.
    pub note: Option<String>,
}

/// Why a business has not reopened (staff and admins). Audited.
#[utoipa::path(put, path = "/api/v1/enterprises/{id}/not-reopened", tag = "enterprises",
    params(("id" = i64, Path, description = "Enterprise id")), request_body = NotReopenedBody,
    responses((status = 200, body = EnterpriseOut), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn set_not_reopened(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(id): Path<i64>,
    Json(b): Json<NotReopenedBody>,
) -> ApiResult<Json<EnterpriseOut>> {
    let reason = match b.reason.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        Some(r) => Some(NotReopened::parse(r, b.note.as_deref()).map_err(StoreError::Invalid)?),
        None => None,
    };
    let e = enterprises::set_not_reopened(&state.db, &user.scope, id, reason.as_ref(), now_ms())
        .await
        .map_err(api_err)?;
    Ok(Json(e.into()))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LinkOut {
    /// `/e/{token}`: shown this once; the previous link stops working.
    pub application_link: String,
}

/// Make a new public application link for a business (staff and admins). Audited.
#[utoipa::path(post, path = "/api/v1/enterprises/{id}/link", tag = "enterprises",
    params(("id" = i64, Path, description = "Enterprise id")),
    responses((status = 200, body = LinkOut), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn renew_link(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(id): Path<i64>,
) -> ApiResult<Json<LinkOut>> {
    let token = enterprises::renew_link(&state.db, &user.scope, id, now_ms())
        .await
        .map_err(api_err)?;
    Ok(Json(LinkOut {
        application_link: link_path(&token),
    }))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct ReopeningBody {
    /// Standard items in place: thermometers, disinfection, masks, staff_registration.
    #[serde(default)]
    pub checked: Vec<String>,
    /// Other measures, free text (at most 10).
    #[serde(default)]
    pub extra_items: Vec<String>,
    #[schema(value_type = Option<i64>)]
    pub employees_back: Option<serde_json::Value>,
    /// `YYYY-MM-DD`.
    pub planned_on: Option<String>,
    pub note: Option<String>,
}

/// Submit a reopening application on the business's behalf (staff and admins). Refused (409)
/// while another waits or after one was approved. Audited.
#[utoipa::path(post, path = "/api/v1/enterprises/{id}/reopening", tag = "enterprises",
    params(("id" = i64, Path, description = "Enterprise id")), request_body = ReopeningBody,
    responses((status = 201, body = ReopeningOut), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_reopening(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(id): Path<i64>,
    Json(b): Json<ReopeningBody>,
) -> ApiResult<(StatusCode, Json<ReopeningOut>)> {
    let employees_back = count_text(&b.employees_back);
    let r = enterprises::apply(
        &state.db,
        &user.scope,
        id,
        &ReopeningInput {
            checked: &b.checked,
            extra_items: &b.extra_items,
            employees_back: employees_back.as_deref(),
            planned_on: b.planned_on.as_deref(),
            note: b.note.as_deref(),
        },
        now_ms(),
    )
    .await
    .map_err(api_err)?;
    Ok((StatusCode::CREATED, Json(r.into())))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct DecisionBody {
    /// approve or reject.
    pub decision: String,
    /// Required when rejecting; a remark when approving.
    pub reason: Option<String>,
}

/// The community's decision on a pending application (staff and admins of the jurisdiction).
/// Approval needs all four standard items. Audited.
#[utoipa::path(post, path = "/api/v1/reopenings/{id}/decision", tag = "enterprises",
    params(("id" = i64, Path, description = "Reopening application id")), request_body = DecisionBody,
    responses((status = 200, body = ReopeningOut), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn decide_reopening(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(id): Path<i64>,
    Json(b): Json<DecisionBody>,
) -> ApiResult<Json<ReopeningOut>> {
    // Scope first: an application outside the jurisdiction is 404 whatever the body says.
    enterprises::reopening(&state.db, &user.scope, id)
        .await
        .map_err(api_err)?;
    let decision =
        ReopeningDecision::parse(&b.decision, b.reason.as_deref()).map_err(StoreError::Invalid)?;
    let r = enterprises::decide(&state.db, &user.scope, id, &decision, now_ms())
        .await
        .map_err(api_err)?;
    Ok(Json(r.into()))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InspectionOut {
    pub id: i64,
    pub enterprise_id: i64,
    pub reopening_id: i64,
    pub inspected_on: String,
    pub inspector: String,
    pub findings: Option<String>,
    pub passed: bool,
    pub created_at: String,
    pub created_by: String,
}

impl From<Inspection> for InspectionOut {
    fn from(i: Inspection) -> Self {
        InspectionOut {
            id: i.id,
            enterprise_id: i.enterprise_id,
            reopening_id: i.reopening_id,
            inspected_on: i.inspected_on,
            inspector: i.inspector,
            findings: i.findings,
            passed: i.passed,
            created_at: rfc3339(i.created_at),
            created_by: i.created_by,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InspectionsOut {
    pub inspections: Vec<InspectionOut>,
}

/// Inspections of a business, latest first.
#[utoipa::path(get, path = "/api/v1/enterprises/{id}/inspections", tag = "enterprises",
    params(("id" = i64, Path, description = "Enterprise id")),
    responses((status = 200, body = InspectionsOut), (status = 404, body = ErrorBody)))]
async fn list_inspections(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(id): Path<i64>,
) -> ApiResult<Json<InspectionsOut>> {
    let list = enterprises::inspections(&state.db, &user.scope, id)
        .await
        .map_err(api_err)?;
    Ok(Json(InspectionsOut {
        inspections: list.into_iter().map(Into::into).collect(),
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct InspectionBody {
    /// `YYYY-MM-DD`, not before the approval nor after today.
    pub inspected_on: String,
    pub inspector: String,
    pub findings: Option<String>,
    pub passed: bool,
}

/// Record an inspection of a reopened business (staff and admins). Audited.
#[utoipa::path(post, path = "/api/v1/enterprises/{id}/inspections", tag = "enterprises",
    params(("id" = i64, Path, description = "Enterprise id")), request_body = InspectionBody,
    responses((status = 201, body = InspectionOut), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_inspection(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(id): Path<i64>,
    Json(b): Json<InspectionBody>,
) -> ApiResult<(StatusCode, Json<InspectionOut>)> {
    let i = enterprises::add_inspection(
        &state.db,
        &user.scope,
        id,
        &InspectionInput {
            inspected_on: &b.inspected_on,
            inspector: &b.inspector,
            findings: b.findings.as_deref(),
            passed: Some(if b.passed { "true" } else { "false" }),
        },
        now_ms(),
    )
    .await
    .map_err(api_err)?;
    Ok((StatusCode::CREATED, Json(i.into())))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct CountsQuery {
    /// The node whose subtree to count.
    pub node_id: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReasonCountOut {
    pub reason: String,
    pub label: String,
    pub count: i64,
}

#[derive(Debug, Serialize, ToSchema)]
#[schema(no_recursion)]
pub struct EnterpriseCountsOut {
    pub node_id: i64,
    pub total: i64,
    pub reopened: i64,
    pub pending: i64,
    pub not_reopened: i64,
    /// Not reopened, per reason (all five, zeros included).
    pub by_reason: Vec<ReasonCountOut>,
    /// Not reopened, no reason given yet.
    pub reason_unknown: i64,
    /// The same counts for each child node with any business under it (one level down).
    pub children: Vec<EnterpriseCountsOut>,
}

impl EnterpriseCountsOut {
    fn of(node_id: i64, c: ReopeningCounts) -> EnterpriseCountsOut {
        EnterpriseCountsOut {
            node_id,
            total: c.total,
            reopened: c.reopened,
            pending: c.pending,
            not_reopened: c.not_reopened,
            by_reason: c
                .by_reason
                .into_iter()
                .map(|r| ReasonCountOut {
                    reason: r.reason.as_str().to_owned(),
                    label: r.reason.label_zh().to_owned(),
                    count: r.count,
                })
                .collect(),
            reason_unknown: c.reason_unknown,
            children: Vec::new(),
        }
    }
}

/// How many businesses under a node have reopened, wait, or have not — and why not.
#[utoipa::path(get, path = "/api/v1/enterprise-counts", tag = "enterprises", params(CountsQuery),
    responses((status = 200, body = EnterpriseCountsOut), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn reopening_counts(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Query(q): Query<CountsQuery>,
) -> ApiResult<Json<EnterpriseCountsOut>> {
    let node_id = need_node(q.node_id)?;
    let c = enterprises::counts(&state.db, &user.scope, node_id)
        .await
        .map_err(api_err)?;
    let children = enterprises::counts_by_child(&state.db, &user.scope, node_id)
        .await
        .map_err(api_err)?;
    let mut out = EnterpriseCountsOut::of(node_id, c);
    out.children = children
        .into_iter()
        .map(|k| EnterpriseCountsOut::of(k.node_id, k.counts))
        .collect();
    Ok(Json(out))
}
