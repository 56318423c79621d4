//! The residents' requests JSON API (接诉即办): intake by operators and grid workers, the inbox,
//! one request with its timeline and whistles, each lifecycle step, whistles and their
//! reports, the three rates, categories and departments. A step the request's state does not
//! allow answers 422 naming why; a step someone else took first answers 409.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use linli_core::kernel::clock::{now_ms, parse_date, rfc3339};
use linli_core::kernel::labels::Labelled;
use linli_core::requests::{Action, CategoryRule, Channel, RequestDraft, RequestInput, Target};
use linli_store::requests::{self, Event, InboxFilter, Request, Whistle};
use linli_store::{Page, StoreError};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::{ApiUser, ClientIp};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_requests, create_request))
        .routes(routes!(request_rates))
        .routes(routes!(get_request))
        .routes(routes!(unmask_phone))
        .routes(routes!(dispatch))
        .routes(routes!(accept))
        .routes(routes!(return_request))
        .routes(routes!(start))
        .routes(routes!(resolve))
        .routes(routes!(rate))
        .routes(routes!(close))
        .routes(routes!(reopen))
        .routes(routes!(blow_whistle))
        .routes(routes!(acknowledge_whistle))
        .routes(routes!(list_categories, save_category))
        .routes(routes!(list_departments, create_department))
        .routes(routes!(get_photo))
        .routes(routes!(list_open311_settings))
        .routes(routes!(set_open311_setting))
        // The upload is routed by `pages_requests::upload_router` (its body limit is 5 MB,
        // above the 2 MiB of the other API routes); only its description joins the document.
        .merge(OpenApiRouter::with_openapi(PhotoUploadDoc::openapi()))
}

#[derive(utoipa::OpenApi)]
#[openapi(paths(upload_photo))]
struct PhotoUploadDoc;

const PHOTO_TYPES: [&str; 3] = ["image/jpeg", "image/png", "image/webp"];

/// The request's photo (JPEG, PNG or WebP), scoped like the request: 404 outside the caller's
/// jurisdiction or when it has none.
#[utoipa::path(get, path = "/api/v1/requests/{id}/photo", tag = "requests",
    params(("id" = i64, Path, description = "Request id")),
    responses((status = 200, description = "The photo's bytes", content_type = "image/jpeg"),
        (status = 404, body = ErrorBody)))]
async fn get_photo(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(id): Path<i64>,
) -> Result<axum::response::Response, ApiError> {
    let p = requests::photo(&state.db, &user.scope, id).await?;
    Ok(crate::requests::pages::photo_response(p))
}

/// Adds the photo to a request that has none (one per request; 409 when it has one). The body
/// is the image itself with `Content-Type: image/jpeg`, `image/png` or `image/webp`, at most
/// 5 MB; its type is checked against its bytes. Token callers only (`Authorization: Bearer`):
/// API writes carried by a session cookie must be JSON (CSRF), so a browser uses the form on
/// the request page instead. A JSON body is refused (422 on `photo`).
#[utoipa::path(post, path = "/api/v1/requests/{id}/photo", tag = "requests",
    params(("id" = i64, Path, description = "Request id")),
    request_body(content = Vec<u8>, content_type = "image/jpeg", description = "The photo (JPEG, PNG or WebP)"),
    responses((status = 201, body = RequestOut), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 413, body = ErrorBody),
        (status = 415, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub(crate) async fn upload_photo(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(id): Path<i64>,
    headers: axum::http::HeaderMap,
    body: Result<axum::body::Bytes, axum::extract::rejection::BytesRejection>,
) -> ApiResult<(StatusCode, Json<RequestOut>)> {
    if !headers.contains_key(axum::http::header::AUTHORIZATION) {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "照片上传须使用令牌（Authorization: Bearer）；网页上请用诉求页面的上传表单",
        ));
    }
    // Out of scope is 404 before anything about the body is said.
    requests::get(&state.db, &user.scope, id).await?;
    let declared = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let refuse =
        |message: &str| -> ApiError { StoreError::invalid("photo", message.to_owned()).into() };
    if !PHOTO_TYPES.contains(&declared.as_str()) {
        return Err(refuse(
            "请直接发送照片本身，Content-Type 为 image/jpeg、image/png 或 image/webp",
        ));
    }
    let body = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "照片太大，上限 5 MB",
            )
        } else {
            ApiError::new(e.status(), "bad_request", "请求体无法读取")
        }
    })?;
    let sniffed = linli_core::requests::photo_type(&body).map_err(StoreError::from)?;
    if sniffed != declared {
        return Err(refuse(&format!(
            "文件内容是 {sniffed}，与声明的 Content-Type {declared} 不符"
        )));
    }
    let now = now_ms();
    let r = requests::attach_photo(&state.db, &user.scope, id, &body, now)
        .await
        .map_err(|e| ApiError::conflict_409(e, &["photo"]))?;
    Ok((StatusCode::CREATED, Json(RequestOut::of(r, now))))
}

/// Store errors as API errors, a lost race on the request's state as 409.
fn request_error(e: StoreError) -> ApiError {
    ApiError::conflict_409(e, &["status", "whistle"])
}

fn opt_time(ms: Option<i64>) -> Option<String> {
    ms.map(rfc3339)
}

// ---------------------------------------------------------------------------------------------
// Shapes

#[derive(Debug, Serialize, ToSchema)]
pub struct RequestOut {
    pub id: i64,
    /// The 14-digit number the resident quotes.
    pub tracking_number: String,
    /// The node responsible now.
    pub node_id: i64,
    pub node_name: String,
    pub category_code: String,
    pub category_name: String,
    /// self_service, hotline, patrol or open311.
    pub channel: String,
    pub description: String,
    pub address: Option<String>,
    pub lat: Option<f64>,
    pub long: Option<f64>,
    pub reporter_name: Option<String>,
    /// Masked (`136****8609`).
    pub reporter_phone: Option<String>,
    /// received, dispatched, accepted, returned, in_progress, resolved, rated or closed.
    pub status: String,
    pub status_label: String,
    pub department_id: Option<i64>,
    pub department_name: Option<String>,
    pub created_by: String,
    pub received_at: String,
    pub respond_by: String,
    pub resolve_by: String,
    pub responded_at: Option<String>,
    pub resolved_at: Option<String>,
    pub outcome: Option<String>,
    /// satisfied, fairly_satisfied or dissatisfied.
    pub rating: Option<String>,
    pub closed_at: Option<String>,
    /// Pending past its response limit (nobody accepted it in time).
    pub response_late: bool,
    /// Pending past its resolution limit.
    pub resolution_late: bool,
    pub escalated_at: Option<String>,
    pub escalated_node_id: Option<i64>,
    /// `/api/v1/requests/{id}/photo` when the request has a photo.
    pub photo_url: Option<String>,
}

impl RequestOut {
    fn of(r: Request, now: i64) -> RequestOut {
        RequestOut {
            response_late: r.response_late(now),
            resolution_late: r.resolution_late(now),
            id: r.id,
            tracking_number: r.tracking_number,
            node_id: r.node_id,
            node_name: r.node_name,
            category_code: r.category_code,
            category_name: r.category_name,
            channel: r.channel.as_str().to_owned(),
            description: r.description,
            address: r.address,
            lat: r.lat,
            long: r.long,
            reporter_name: r.reporter_name,
            reporter_phone: r.reporter_phone_masked,
            status: r.status.as_str().to_owned(),
            status_label: r.status.label_zh().to_owned(),
            department_id: r.department_id,
            department_name: r.department_name,
            created_by: r.created_by,
            received_at: rfc3339(r.received_at),
            respond_by: rfc3339(r.respond_by),
            resolve_by: rfc3339(r.resolve_by),
            responded_at: opt_time(r.responded_at),
            resolved_at: opt_time(r.resolved_at),
            outcome: r.outcome,
            rating: r.rating.map(|x| x.as_str().to_owned()),
            closed_at: opt_time(r.closed_at),
            escalated_at: opt_time(r.escalated_at),
            escalated_node_id: r.escalated_node_id,
            photo_url: r
                .has_photo
                .then(|| format!("/api/v1/requests/{}/photo", r.id)),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EventOut {
    pub at: String,
    pub actor: String,
    /// received, dispatched, accepted, returned, started, resolved, rated, closed, reopened,
    /// whistled, whistle_acknowledged, response_overdue, resolution_overdue or escalated.
    pub kind: String,
    pub label: String,
    pub note: Option<String>,
}

impl From<Event> for EventOut {
    fn from(e: Event) -> Self {
        EventOut {
            label: e.label_zh().to_owned(),
            at: rfc3339(e.at),
            actor: e.actor,
            kind: e.kind.as_str().to_owned(),
            note: e.note,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WhistleOut {
    pub id: i64,
    pub department_id: i64,
    pub department_name: String,
    pub blown_at: String,
    pub blown_by: String,
    pub due_at: String,
    pub acknowledged_at: Option<String>,
    pub acknowledged_by: Option<String>,
    pub response: Option<String>,
    /// waiting, unanswered (past 30 minutes: shown in red), on_time or late.
    pub state: String,
}

impl From<Whistle> for WhistleOut {
    fn from(w: Whistle) -> Self {
        WhistleOut {
            id: w.id,
            department_id: w.department_id,
            department_name: w.department_name,
            blown_at: rfc3339(w.blown_at),
            blown_by: w.blown_by,
            due_at: rfc3339(w.due_at),
            acknowledged_at: opt_time(w.acknowledged_at),
            acknowledged_by: w.acknowledged_by,
            response: w.response,
            state: w.state.as_str().to_owned(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RequestDetailOut {
    pub request: RequestOut,
    pub timeline: Vec<EventOut>,
    pub whistles: Vec<WhistleOut>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RequestListOut {
    pub items: Vec<RequestOut>,
    /// The cursor for the next page (absent on the last).
    pub next_after: Option<i64>,
}

// ---------------------------------------------------------------------------------------------
// Intake and the inbox

#[derive(Debug, Deserialize, IntoParams)]
pub struct InboxQuery {
    /// Only this node's subtree (else the caller's whole jurisdiction).
    pub node_id: Option<i64>,
    /// all (default), new, pending, overdue or mine.
    pub view: Option<String>,
    /// One status only.
    pub status: Option<String>,
    pub limit: Option<i64>,
    /// The last id seen (newest first).
    pub after: Option<i64>,
}

/// The inbox: requests in the caller's jurisdiction, newest first.
#[utoipa::path(get, path = "/api/v1/requests", tag = "requests", params(InboxQuery),
    responses((status = 200, body = RequestListOut), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn list_requests(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Query(q): Query<InboxQuery>,
) -> ApiResult<Json<RequestListOut>> {
    let view = q
        .view
        .as_deref()
        .unwrap_or("")
        .parse()
        .map_err(StoreError::from)?;
    let status = q
        .status
        .as_deref()
        .map(str::parse)
        .transpose()
        .map_err(StoreError::from)?;
    let filter = InboxFilter {
        node_id: q.node_id,
        view,
        status,
        ..InboxFilter::default()
    };
    let page = Page::new(q.limit, q.after);
    let now = now_ms();
    let items = requests::list(&state.db, &user.scope, &filter, page, now).await?;
    let next_after = if items.len() as i64 == page.limit {
        items.last().map(|r| r.id)
    } else {
        None
    };
    Ok(Json(RequestListOut {
        items: items.into_iter().map(|r| RequestOut::of(r, now)).collect(),
        next_after,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct RequestBody {
    /// Where the request is (a node in the caller's jurisdiction).
    pub node_id: i64,
    /// A category code (emergency, utilities, general, complex, …).
    pub category: String,
    /// hotline (an operator's form, the default) or patrol (a grid worker's report).
    pub channel: Option<String>,
    pub description: String,
    pub address: Option<String>,
    pub lat: Option<f64>,
    pub long: Option<f64>,
    pub reporter_name: Option<String>,
    pub reporter_phone: Option<String>,
}

/// Record a request from the hotline or a patrol. Audited.
#[utoipa::path(post, path = "/api/v1/requests", tag = "requests", request_body = RequestBody,
    responses((status = 201, body = RequestOut), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_request(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Json(b): Json<RequestBody>,
) -> ApiResult<(StatusCode, Json<RequestOut>)> {
    let channel: Channel = b
        .channel
        .as_deref()
        .unwrap_or("hotline")
        .parse()
        .map_err(StoreError::from)?;
    let draft = RequestDraft::parse(&RequestInput {
        description: &b.description,
        address: b.address.as_deref(),
        lat: b.lat,
        long: b.long,
        reporter_name: b.reporter_name.as_deref(),
        reporter_phone: b.reporter_phone.as_deref(),
        phone_required: false,
    })
    .map_err(StoreError::Invalid)?;
    let now = now_ms();
    let r = requests::create(
        &state.db,
        &user.scope,
        b.node_id,
        &b.category,
        channel,
        &draft,
        now,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(RequestOut::of(r, now))))
}

/// One request with its timeline and whistles.
#[utoipa::path(get, path = "/api/v1/requests/{id}", tag = "requests",
    params(("id" = i64, Path, description = "Request id")),
    responses((status = 200, body = RequestDetailOut), (status = 404, body = ErrorBody)))]
async fn get_request(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(id): Path<i64>,
) -> ApiResult<Json<RequestDetailOut>> {
    let now = now_ms();
    detail(&state, &user.scope, id, now).await.map(Json)
}

async fn detail(
    state: &AppState,
    scope: &linli_core::Scope,
    id: i64,
    now: i64,
) -> Result<RequestDetailOut, ApiError> {
    let r = requests::get(&state.db, scope, id).await?;
    let timeline = requests::timeline(&state.db, scope, id).await?;
    let whistles = requests::whistles(&state.db, scope, id, now).await?;
    Ok(RequestDetailOut {
        request: RequestOut::of(r, now),
        timeline: timeline.into_iter().map(EventOut::from).collect(),
        whistles: whistles.into_iter().map(WhistleOut::from).collect(),
    })
}

async fn step(
    state: &AppState,
    scope: &linli_core::Scope,
    id: i64,
    action: Result<Action, linli_core::CoreError>,
) -> ApiResult<Json<RequestDetailOut>> {
    let action = action.map_err(StoreError::from)?;
    // Read first, so an id outside the caller's jurisdiction is 404 whatever the body says.
    requests::get(&state.db, scope, id).await?;
    let now = now_ms();
    requests::transition(&state.db, scope, id, &action, now)
        .await
        .map_err(request_error)?;
    detail(state, scope, id, now).await.map(Json)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UnmaskedPhoneOut {
    /// The reporter's phone in clear (null when none was given).
    pub reporter_phone: Option<String>,
}

/// The reporter's clear phone (staff, officials and admins; grid workers 403). Audited with
/// the caller's address.
#[utoipa::path(post, path = "/api/v1/requests/{id}/unmask", tag = "requests",
    params(("id" = i64, Path, description = "Request id")),
    responses((status = 200, body = UnmaskedPhoneOut), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn unmask_phone(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiUser(user): ApiUser,
    Path(id): Path<i64>,
) -> ApiResult<Json<UnmaskedPhoneOut>> {
    let reporter_phone =
        requests::unmask_phone(&state.db, &user.scope, id, Some(&ip), now_ms()).await?;
    Ok(Json(UnmaskedPhoneOut { reporter_phone }))
}

// ---------------------------------------------------------------------------------------------
// The lifecycle

#[derive(Debug, Deserialize, ToSchema)]
pub struct DispatchBody {
    /// Send it to this node (in the caller's jurisdiction) …
    pub node_id: Option<i64>,
    /// … or to this department.
    pub department_id: Option<i64>,
}

/// Dispatch to a node or a department (not grid workers).
#[utoipa::path(post, path = "/api/v1/requests/{id}/dispatch", tag = "requests",
    params(("id" = i64, Path, description = "Request id")), request_body = DispatchBody,
    responses((status = 200, body = RequestDetailOut), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn dispatch(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(id): Path<i64>,
    Json(b): Json<DispatchBody>,
) -> ApiResult<Json<RequestDetailOut>> {
    let target = match (b.node_id, b.department_id) {
        (Some(n), None) => Ok(Target::Node(n)),
        (None, Some(d)) => Ok(Target::Department(d)),
        _ => Err(linli_core::CoreError::invalid(
            "node_id",
            "请给出 node_id（派往节点）或 department_id（派往部门）之一",
        )),
    };
    step(
        &state,
        &user.scope,
        id,
        target.map(|target| Action::Dispatch { target }),
    )
    .await
}

/// A lifecycle step's handler: `POST {path}` on a request, the action made by `$action` (from
/// the JSON body `$b` when the step takes one), answering the request as it now is. `errors`
/// are the statuses besides 200 it documents.
macro_rules! step_handler {
    (
        $(#[doc = $doc:literal])*
        $name:ident $(($b:ident: $body:ident))?, $path:literal, errors($($code:literal),*) => $action:expr
    ) => {
        $(#[doc = $doc])*
        #[utoipa::path(post, path = $path, tag = "requests",
            params(("id" = i64, Path, description = "Request id")) $(, request_body = $body)?,
            responses((status = 200, body = RequestDetailOut) $(, (status = $code, body = ErrorBody))*))]
        async fn $name(
            State(state): State<AppState>,
            ApiUser(user): ApiUser,
            Path(id): Path<i64>,
            $(Json($b): Json<$body>,)?
        ) -> ApiResult<Json<RequestDetailOut>> {
            step(&state, &user.scope, id, $action).await
        }
    };
}

step_handler! {
    /// Accept (the response: the deadline for it stops here).
    accept, "/api/v1/requests/{id}/accept", errors(404, 409, 422) => Ok(Action::Accept)
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ReasonBody {
    pub reason: String,
}

step_handler! {
    /// Return to the dispatcher with a reason; the request goes back to where it came in.
    return_request(b: ReasonBody), "/api/v1/requests/{id}/return", errors(404, 409, 422)
        => Action::return_with(&b.reason)
}

step_handler! {
    /// Start work on an accepted request.
    start, "/api/v1/requests/{id}/start", errors(404, 409, 422) => Ok(Action::Start)
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ResolveBody {
    /// What was done.
    pub outcome: String,
}

step_handler! {
    /// Resolve, saying what was done.
    resolve(b: ResolveBody), "/api/v1/requests/{id}/resolve", errors(404, 409, 422)
        => Action::resolve_with(&b.outcome)
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct RateBody {
    /// satisfied (满意), fairly_satisfied (基本满意) or dissatisfied (不满意).
    pub rating: String,
    pub comment: Option<String>,
}

step_handler! {
    /// Record the reporter's rating (from a call back; not grid workers). 满意 and 基本满意 close
    /// the request.
    rate(b: RateBody), "/api/v1/requests/{id}/rate", errors(403, 404, 409, 422)
        => Action::rate_with(&b.rating, b.comment.as_deref().unwrap_or(""))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct RequestCloseBody {
    pub note: Option<String>,
}

step_handler! {
    /// Close a resolved or rated request (not grid workers).
    close(b: RequestCloseBody), "/api/v1/requests/{id}/close", errors(403, 404, 409, 422)
        => Action::close_with(b.note.as_deref().unwrap_or(""))
}

step_handler! {
    /// Reopen a request rated 不满意 (not grid workers): handled again with a fresh deadline.
    reopen(b: ReasonBody), "/api/v1/requests/{id}/reopen", errors(403, 404, 409, 422)
        => Action::reopen_with(&b.reason)
}

// ---------------------------------------------------------------------------------------------
// Whistles

#[derive(Debug, Deserialize, ToSchema)]
pub struct WhistleBody {
    /// The departments summoned; each must report within 30 minutes.
    pub department_ids: Vec<i64>,
}

/// Blow the whistle (吹哨): summon departments to a pending request (not grid workers).
#[utoipa::path(post, path = "/api/v1/requests/{id}/whistles", tag = "requests",
    params(("id" = i64, Path, description = "Request id")), request_body = WhistleBody,
    responses((status = 201, body = [WhistleOut]), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn blow_whistle(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(id): Path<i64>,
    Json(b): Json<WhistleBody>,
) -> ApiResult<(StatusCode, Json<Vec<WhistleOut>>)> {
    let ws =
        requests::blow_whistle(&state.db, &user.scope, id, &b.department_ids, now_ms()).await?;
    Ok((
        StatusCode::CREATED,
        Json(ws.into_iter().map(WhistleOut::from).collect()),
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct AcknowledgeBody {
    /// The department's report and what it will do.
    pub response: String,
}

/// Record a summoned department's report (报到); after 30 minutes it is kept as late.
#[utoipa::path(post, path = "/api/v1/whistles/{id}/acknowledge", tag = "requests",
    params(("id" = i64, Path, description = "Whistle id")), request_body = AcknowledgeBody,
    responses((status = 200, body = WhistleOut), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn acknowledge_whistle(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(id): Path<i64>,
    Json(b): Json<AcknowledgeBody>,
) -> ApiResult<Json<WhistleOut>> {
    let w = requests::acknowledge_whistle(&state.db, &user.scope, id, &b.response, now_ms())
        .await
        .map_err(request_error)?;
    Ok(Json(w.into()))
}

// ---------------------------------------------------------------------------------------------
// Rates

#[derive(Debug, Deserialize, IntoParams)]
pub struct RatesQuery {
    pub node_id: Option<i64>,
    /// First day (YYYY-MM-DD, China date), included.
    pub from: Option<String>,
    /// Last day, included.
    pub to: Option<String>,
}

/// The three rates over the requests received in the period, now in the node's subtree:
/// response rate = responded (accepted) within the category's limit ÷ received; resolution
/// rate = resolved ÷ closed (closed after a resolution and not rated 不满意); satisfaction
/// rate = (满意 + 基本满意) ÷ rated. A rate with nothing to divide by is null.
#[derive(Debug, Serialize, ToSchema)]
pub struct RatesOut {
    pub received: i64,
    pub responded_on_time: i64,
    pub resolved: i64,
    pub closed: i64,
    pub rated: i64,
    pub satisfied: i64,
    pub response_rate: Option<f64>,
    pub resolution_rate: Option<f64>,
    pub satisfaction_rate: Option<f64>,
}

/// The three rates of a node and period.
#[utoipa::path(get, path = "/api/v1/requests/rates", tag = "requests", params(RatesQuery),
    responses((status = 200, body = RatesOut), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn request_rates(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Query(q): Query<RatesQuery>,
) -> ApiResult<Json<RatesOut>> {
    let mut errors = Vec::new();
    if q.node_id.is_none() {
        errors.push(linli_core::CoreError::invalid("node_id", "请给出 node_id"));
    }
    let day = |field: &str, raw: &Option<String>| match raw {
        Some(s) => parse_date(field, s).map(Some),
        None => Err(linli_core::CoreError::invalid(
            field,
            "请给出日期，格式如 2026-12-01",
        )),
    };
    let from = day("from", &q.from).unwrap_or_else(|e| {
        errors.push(e);
        None
    });
    let to = day("to", &q.to).unwrap_or_else(|e| {
        errors.push(e);
        None
    });
    let (Some(node_id), Some(from), Some(to)) = (q.node_id, from, to) else {
        return Err(StoreError::Invalid(errors).into());
    };
    let r = requests::rates(&state.db, &user.scope, node_id, from, to).await?;
    Ok(Json(RatesOut {
        received: r.received,
        responded_on_time: r.responded_on_time,
        resolved: r.resolved,
        closed: r.closed,
        rated: r.rated,
        satisfied: r.satisfied,
        response_rate: r.response_rate,
        resolution_rate: r.resolution_rate,
        satisfaction_rate: r.satisfaction_rate,
    }))
}

// ---------------------------------------------------------------------------------------------
// Categories and departments

#[derive(Debug, Serialize, ToSchema)]
pub struct CategoryOut {
    pub id: i64,
    pub code: String,
    pub version: i64,
    pub name: String,
    pub description: String,
    pub respond_hours: i64,
    pub resolve_days: i64,
    /// never, on_late_response or on_late_resolution.
    pub escalation: String,
    pub active: bool,
}

impl From<requests::Category> for CategoryOut {
    fn from(c: requests::Category) -> Self {
        CategoryOut {
            id: c.id,
            code: c.rule.code,
            version: c.version,
            name: c.rule.name,
            description: c.rule.description,
            respond_hours: c.rule.respond_hours,
            resolve_days: c.rule.resolve_days,
            escalation: c.rule.escalation.as_str().to_owned(),
            active: c.active,
        }
    }
}

/// The categories in force with their deadlines.
#[utoipa::path(get, path = "/api/v1/request-categories", tag = "requests",
    responses((status = 200, body = [CategoryOut])))]
async fn list_categories(
    State(state): State<AppState>,
    ApiUser(_user): ApiUser,
) -> ApiResult<Json<Vec<CategoryOut>>> {
    let cats = requests::categories(&state.db).await?;
    Ok(Json(cats.into_iter().map(CategoryOut::from).collect()))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct CategoryBody {
    pub code: String,
    pub name: String,
    pub description: Option<String>,
    pub respond_hours: i64,
    pub resolve_days: i64,
    /// never, on_late_response or on_late_resolution.
    pub escalation: String,
    /// false retires the category (default true).
    pub active: Option<bool>,
}

/// Save a category as its next version (admins). Requests received keep their deadlines.
#[utoipa::path(post, path = "/api/v1/request-categories", tag = "requests", request_body = CategoryBody,
    responses((status = 201, body = CategoryOut), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn save_category(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Json(b): Json<CategoryBody>,
) -> ApiResult<(StatusCode, Json<CategoryOut>)> {
    if !user.scope.is_admin() {
        return Err(StoreError::Forbidden("只有系统管理员可以修改诉求类别和时限".into()).into());
    }
    let rule = CategoryRule::parse(
        &b.code,
        &b.name,
        b.description.as_deref().unwrap_or(""),
        b.respond_hours,
        b.resolve_days,
        &b.escalation,
    )
    .map_err(StoreError::Invalid)?;
    let c = requests::save_category(
        &state.db,
        &user.scope,
        &rule,
        b.active.unwrap_or(true),
        now_ms(),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(c.into())))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DepartmentOut {
    pub id: i64,
    pub name: String,
}

/// Every department.
#[utoipa::path(get, path = "/api/v1/departments", tag = "requests",
    responses((status = 200, body = [DepartmentOut])))]
async fn list_departments(
    State(state): State<AppState>,
    ApiUser(_user): ApiUser,
) -> ApiResult<Json<Vec<DepartmentOut>>> {
    let deps = requests::departments(&state.db).await?;
    Ok(Json(
        deps.into_iter()
            .map(|d| DepartmentOut {
                id: d.id,
                name: d.name,
            })
            .collect(),
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct DepartmentBody {
    pub name: String,
}

/// Add a department (officials and admins). Audited.
#[utoipa::path(post, path = "/api/v1/departments", tag = "requests", request_body = DepartmentBody,
    responses((status = 201, body = DepartmentOut), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_department(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Json(b): Json<DepartmentBody>,
) -> ApiResult<(StatusCode, Json<DepartmentOut>)> {
    let d = requests::create_department(&state.db, &user.scope, &b.name, now_ms()).await?;
    Ok((
        StatusCode::CREATED,
        Json(DepartmentOut {
            id: d.id,
            name: d.name,
        }),
    ))
}

/// A node's Open311 public reading setting (see `/requests/open311`).
#[derive(Debug, Serialize, ToSchema)]
pub struct Open311SettingOut {
    pub node_id: i64,
    pub node_name: String,
    /// Keyless Open311 clients read the node's requests (a redacted view).
    pub public_read: bool,
    /// That view carries the descriptions.
    pub publish_descriptions: bool,
    pub updated_at: String,
    pub updated_by: String,
}

impl From<requests::Open311Setting> for Open311SettingOut {
    fn from(s: requests::Open311Setting) -> Self {
        Open311SettingOut {
            node_id: s.node_id,
            node_name: s.node_name,
            public_read: s.public_read,
            publish_descriptions: s.publish_descriptions,
            updated_at: rfc3339(s.updated_at),
            updated_by: s.updated_by,
        }
    }
}

/// The Open311 public reading settings within the caller's jurisdiction. A node without one
/// (nor one above it) is read publicly, without descriptions; where several apply, the
/// stricter wins.
#[utoipa::path(get, path = "/api/v1/open311-settings", tag = "requests",
    responses((status = 200, body = [Open311SettingOut])))]
async fn list_open311_settings(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
) -> ApiResult<Json<Vec<Open311SettingOut>>> {
    let settings = requests::open311_settings(&state.db, &user.scope).await?;
    Ok(Json(
        settings.into_iter().map(Open311SettingOut::from).collect(),
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct Open311SettingBody {
    pub public_read: bool,
    pub publish_descriptions: bool,
}

/// Set a node's Open311 public reading (admins, and community staff within their
/// jurisdiction). Audited.
#[utoipa::path(put, path = "/api/v1/open311-settings/{node_id}", tag = "requests",
    params(("node_id" = i64, Path, description = "Node id")),
    request_body = Open311SettingBody,
    responses((status = 200, body = Open311SettingOut), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
async fn set_open311_setting(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    Path(node_id): Path<i64>,
    Json(b): Json<Open311SettingBody>,
) -> ApiResult<Json<Open311SettingOut>> {
    let s = requests::set_open311_setting(
        &state.db,
        &user.scope,
        node_id,
        b.public_read,
        b.publish_descriptions,
        now_ms(),
    )
    .await?;
    Ok(Json(s.into()))
}
