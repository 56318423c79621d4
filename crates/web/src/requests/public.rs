//! The resident's own request pages, no login, phone-first: `/r/{node_id}` the self-service
//! form (a tracking number comes back), `/r/status` the status check by tracking number and the
//! last 4 digits of the phone, where the resident also rates the outcome. Both are rate-limited
//! per client address like `/d/{token}`, and carry no CSRF token for the same reason (no cookie
//! authenticates them).

use std::sync::Arc;
use std::time::Duration;

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Form, Router};
use linli_core::kernel::clock::{display, now_ms};
use linli_core::kernel::labels::Labelled;
use linli_core::requests::{Action, RequestDraft, RequestInput};
use linli_store::requests;
use linli_store::{tree, StoreError};
use serde::Deserialize;

use super::pages::{category_choices, messages, refusal, status_class, PhotoForm, MAX_PHOTO_BODY};
use crate::auth::ClientIp;
use crate::ui::{self, store_error_page, Choice, RateLimiter};
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/r/{node_id}", get(public_form))
        .route("/r/status", get(status_form).post(status_lookup))
        .route("/r/rate", post(public_rate))
        .layer(Extension(Arc::new(Limits::default())))
}

/// The resident's form, which may carry a photo: the body limit of the staff photo forms. The
/// submissions are counted here alone, so this router carries only their limiter ([`Limits`]
/// of the pages above holds the others; each counter lives in exactly one of the two).
pub fn upload_router() -> Router<AppState> {
    Router::new()
        .route("/r/{node_id}", post(public_submit))
        .layer(DefaultBodyLimit::max(MAX_PHOTO_BODY))
        .layer(Extension(Arc::new(SubmitLimits::default())))
}

// ---------------------------------------------------------------------------------------------
// Rate limits

const TEN_MINUTES: Duration = Duration::from_secs(600);

/// Status checks and ratings per address (20 per 10 minutes: enough for a family, far too few
/// to guess the last 4 digits of a phone) and page views per address.
struct Limits {
    lookup_per_address: RateLimiter,
    get_per_address: RateLimiter,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            lookup_per_address: RateLimiter::new(20, TEN_MINUTES),
            get_per_address: RateLimiter::new(60, TEN_MINUTES),
        }
    }
}

/// Submissions per address (10 per 10 minutes, as for self-declaration).
struct SubmitLimits {
    post_per_address: RateLimiter,
}

impl Default for SubmitLimits {
    fn default() -> SubmitLimits {
        SubmitLimits {
            post_per_address: RateLimiter::new(10, TEN_MINUTES),
        }
    }
}

fn message(status: StatusCode, title: &'static str, message: String) -> Response {
    let page = ui::PublicMessage {
        service: "居民诉求",
        title,
        message: &message,
        link: Some(("/r/status", "查询诉求进度")),
    };
    (status, page).into_response()
}

fn too_many(retry: Duration) -> Response {
    ui::too_many(retry, |minutes| {
        message(
            StatusCode::TOO_MANY_REQUESTS,
            "操作过于频繁",
            format!("同一网络操作次数过多，请 {minutes} 分钟后再试。急事请拨打社区电话或 12345。"),
        )
    })
}

// ---------------------------------------------------------------------------------------------
// The resident's form

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct PublicFields {
    phone: String,
    name: String,
    category: String,
    description: String,
    address: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "requests/request_public_form.html")]
struct PublicFormPage {
    node_id: i64,
    place: String,
    f: PublicFields,
    categories: Vec<Choice>,
    errors: Vec<String>,
}

/// The node a resident files to: open, community level or below; else `None`.
async fn public_node(state: &AppState, node_id: i64) -> Option<tree::Node> {
    let n = tree::get(&state.db, &linli_core::Scope::operator(), node_id)
        .await
        .ok()?;
    (n.is_open() && n.kind.serves_residents()).then_some(n)
}

fn no_such_place() -> Response {
    message(
        StatusCode::NOT_FOUND,
        "链接无效",
        "没有这个社区，或它已撤销。请扫描社区最新张贴的二维码，或拨打 12345。".to_owned(),
    )
}

async fn public_form(
    State(state): State<AppState>,
    Extension(limits): Extension<Arc<Limits>>,
    ClientIp(ip): ClientIp,
    Path(node_id): Path<i64>,
) -> Response {
    if let Err(retry) = limits.get_per_address.hit(&ip) {
        return too_many(retry);
    }
    let Some(node) = public_node(&state, node_id).await else {
        return no_such_place();
    };
    let categories = match category_choices(&state, "general").await {
        Ok(c) => c,
        Err(e) => return store_error_page(e),
    };
    PublicFormPage {
        node_id,
        place: node.name,
        f: PublicFields::default(),
        categories,
        errors: Vec::new(),
    }
    .into_response()
}

#[derive(Template, WebTemplate)]
#[template(path = "requests/request_public_receipt.html")]
struct ReceiptPage {
    place: String,
    tracking_number: String,
    last4: String,
    category: String,
    respond_hours: i64,
    resolve_days: i64,
}

async fn public_submit(
    State(state): State<AppState>,
    Extension(limits): Extension<Arc<SubmitLimits>>,
    ClientIp(ip): ClientIp,
    Path(node_id): Path<i64>,
    PhotoForm { form: f, photo, .. }: PhotoForm<PublicFields>,
) -> Response {
    if let Err(retry) = limits.post_per_address.hit(&ip) {
        tracing::warn!(%ip, "request form: rate limit per address");
        return too_many(retry);
    }
    let Some(node) = public_node(&state, node_id).await else {
        return no_such_place();
    };
    let draft = RequestDraft::parse(&RequestInput {
        description: &f.description,
        address: Some(&f.address),
        reporter_name: Some(&f.name),
        reporter_phone: Some(&f.phone),
        phone_required: true,
        ..Default::default()
    });
    let result = match draft {
        Ok(d) => requests::create_self_service_with_photo(
            &state.db,
            node.id,
            &f.category,
            &d,
            photo.as_deref(),
            now_ms(),
        )
        .await
        .map(|n| (n, d)),
        Err(errs) => Err(StoreError::Invalid(errs)),
    };
    match result {
        Ok((number, draft)) => {
            let cat = requests::category(&state.db, &f.category, "category").await;
            let (category, respond_hours, resolve_days) = match cat {
                Ok(c) => (c.rule.name, c.rule.respond_hours, c.rule.resolve_days),
                Err(_) => (String::new(), 0, 0),
            };
            ReceiptPage {
                place: node.name,
                tracking_number: number.to_string(),
                last4: draft
                    .reporter_phone
                    .as_ref()
                    .map(|p| p.last4().to_owned())
                    .unwrap_or_default(),
                category,
                respond_hours,
                resolve_days,
            }
            .into_response()
        }
        Err(e) => {
            let errors = match refusal(e) {
                Ok(m) => m,
                Err(e) => return store_error_page(e),
            };
            let categories = match category_choices(&state, &f.category).await {
                Ok(c) => c,
                Err(e) => return store_error_page(e),
            };
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                PublicFormPage {
                    node_id,
                    place: node.name,
                    f,
                    categories,
                    errors,
                },
            )
                .into_response()
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The resident's status check and rating

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct LookupFields {
    tracking_number: String,
    last4: String,
    rating: String,
    comment: String,
}

struct StepRow {
    at: String,
    label: &'static str,
}

struct StatusView {
    tracking_number: String,
    category: String,
    status: &'static str,
    status_class: &'static str,
    received_at: String,
    resolve_by: String,
    outcome: String,
    rating: String,
    can_rate: bool,
    steps: Vec<StepRow>,
}

#[derive(Template, WebTemplate)]
#[template(path = "requests/request_public_status.html")]
struct StatusPage {
    f: LookupFields,
    errors: Vec<String>,
    notice: &'static str,
    view: Option<StatusView>,
}

#[derive(Debug, Default, Deserialize)]
struct StatusQuery {
    n: Option<String>,
}

async fn status_form(
    Extension(limits): Extension<Arc<Limits>>,
    ClientIp(ip): ClientIp,
    Query(q): Query<StatusQuery>,
) -> Response {
    if let Err(retry) = limits.get_per_address.hit(&ip) {
        return too_many(retry);
    }
    StatusPage {
        f: LookupFields {
            tracking_number: q.n.unwrap_or_default(),
            ..Default::default()
        },
        errors: Vec::new(),
        notice: "",
        view: None,
    }
    .into_response()
}

fn status_view(v: requests::ResidentView) -> StatusView {
    StatusView {
        tracking_number: v.tracking_number,
        category: v.category_name,
        status: v.status.label_zh(),
        status_class: status_class(v.status),
        received_at: display(v.received_at),
        resolve_by: display(v.resolve_by),
        outcome: v.outcome.unwrap_or_default(),
        rating: v
            .rating
            .map(|r| r.label_zh().to_owned())
            .unwrap_or_default(),
        can_rate: v.can_rate,
        steps: v
            .steps
            .into_iter()
            .map(|(at, kind)| StepRow {
                at: display(at),
                label: kind.label_zh(),
            })
            .collect(),
    }
}

fn not_found_lookup(f: LookupFields) -> Response {
    (
        StatusCode::NOT_FOUND,
        StatusPage {
            f,
            errors: vec!["没有找到：请核对受理编号和手机号码后 4 位。".to_owned()],
            notice: "",
            view: None,
        },
    )
        .into_response()
}

async fn lookup_result(
    result: Result<requests::ResidentView, StoreError>,
    f: LookupFields,
    notice: &'static str,
) -> Response {
    match result {
        Ok(v) => StatusPage {
            f: LookupFields {
                rating: String::new(),
                comment: String::new(),
                ..f
            },
            errors: Vec::new(),
            notice,
            view: Some(status_view(v)),
        }
        .into_response(),
        Err(StoreError::NotFound) => not_found_lookup(f),
        Err(e) => match refusal(e) {
            Ok(errors) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                StatusPage {
                    f,
                    errors,
                    notice: "",
                    view: None,
                },
            )
                .into_response(),
            Err(e) => store_error_page(e),
        },
    }
}

async fn status_lookup(
    State(state): State<AppState>,
    Extension(limits): Extension<Arc<Limits>>,
    ClientIp(ip): ClientIp,
    Form(f): Form<LookupFields>,
) -> Response {
    if let Err(retry) = limits.lookup_per_address.hit(&ip) {
        tracing::warn!(%ip, "request status: rate limit per address");
        return too_many(retry);
    }
    let result = requests::resident_status(&state.db, &f.tracking_number, &f.last4).await;
    lookup_result(result, f, "").await
}

async fn public_rate(
    State(state): State<AppState>,
    Extension(limits): Extension<Arc<Limits>>,
    ClientIp(ip): ClientIp,
    Form(f): Form<LookupFields>,
) -> Response {
    if let Err(retry) = limits.lookup_per_address.hit(&ip) {
        return too_many(retry);
    }
    let result = match Action::rate_with(&f.rating, &f.comment) {
        Ok(action) => {
            requests::resident_rate(&state.db, &f.tracking_number, &f.last4, &action, now_ms())
                .await
        }
        Err(e) => Err(StoreError::from(e)),
    };
    if let Err(StoreError::Invalid(errs)) = &result {
        // Show the request again with the message (a rating the state no longer allows).
        let again = requests::resident_status(&state.db, &f.tracking_number, &f.last4).await;
        if let Ok(v) = again {
            return (
                StatusCode::UNPROCESSABLE_ENTITY,
                StatusPage {
                    errors: messages(errs),
                    notice: "",
                    view: Some(status_view(v)),
                    f,
                },
            )
                .into_response();
        }
    }
    lookup_result(result, f, "谢谢您的评价！").await
}
