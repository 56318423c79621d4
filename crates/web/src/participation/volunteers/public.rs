//! An activity's public page (`/v/{code}`), no login: the activity in brief, a sign-up form
//! (name and phone) and a form to report one's own hours (phone and hours). Rate-limited per
//! address and per link like the declaration form; it shows no one's personal data.

use std::sync::Arc;
use std::time::Duration;

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Form, Router};
use linli_core::kernel::clock::{display, now_ms};
use linli_store::participation::volunteers::{self as vol, PublicActivity};
use linli_store::StoreError;
use serde::Deserialize;

use crate::auth::ClientIp;
use crate::ui::{self, field_errors, store_error_page, FieldErrors, RateLimiter};
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v/{code}", get(public_page).post(signup_submit))
        .route("/v/{code}/hours", post(hours_submit))
        // Each app gets its own counters (tests run several apps in one process).
        .layer(Extension(Arc::new(Limits::default())))
}

/// Submissions per address (10 per 10 minutes: a family signing up one by one on one phone)
/// and per link (300 per 10 minutes: a poster at a busy gate), and page views per address.
struct Limits {
    post_per_address: RateLimiter,
    post_per_link: RateLimiter,
    get_per_address: RateLimiter,
}

impl Default for Limits {
    fn default() -> Limits {
        let ten_minutes = Duration::from_secs(600);
        Limits {
            post_per_address: RateLimiter::new(10, ten_minutes),
            post_per_link: RateLimiter::new(300, ten_minutes),
            get_per_address: RateLimiter::new(60, ten_minutes),
        }
    }
}

const SERVICE: &str = "志愿服务报名";

fn message(status: StatusCode, title: &'static str, message: String) -> Response {
    let page = ui::PublicMessage {
        service: SERVICE,
        title,
        message: &message,
        link: None,
    };
    (status, page).into_response()
}

fn too_many(retry: Duration) -> Response {
    ui::too_many(retry, |minutes| {
        message(
            StatusCode::TOO_MANY_REQUESTS,
            "提交过于频繁",
            format!("同一网络提交次数过多，请 {minutes} 分钟后再试。"),
        )
    })
}

fn link_gone() -> Response {
    message(
        StatusCode::NOT_FOUND,
        "链接无效",
        "该活动链接无效，请核对活动海报上的活动码，或联系社区工作人员。".to_owned(),
    )
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct Fields {
    name: String,
    phone: String,
    hours: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "participation/activity_public.html")]
struct PublicPage {
    code: String,
    a: PublicActivity,
    when: String,
    needs: String,
    full: bool,
    ended: bool,
    started: bool,
    f: Fields,
    errors: FieldErrors,
    /// Which form the errors belong to: `signup` or `hours`.
    form: &'static str,
    /// What was just done, for the receipt.
    done: Option<String>,
}

fn render(
    code: String,
    a: PublicActivity,
    f: Fields,
    errors: FieldErrors,
    form: &'static str,
    done: Option<String>,
) -> Response {
    let now = now_ms();
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let page = PublicPage {
        when: format!("{} 至 {}", display(a.starts_at), display(a.ends_at)),
        needs: a
            .needs
            .iter()
            .map(|n| {
                format!(
                    "{} {} 人",
                    n.skill.as_deref().unwrap_or("不限技能"),
                    n.count
                )
            })
            .collect::<Vec<_>>()
            .join("、"),
        full: a.signed_up >= a.capacity,
        ended: now >= a.ends_at,
        started: now >= a.starts_at,
        code,
        a,
        f,
        errors,
        form,
        done,
    };
    let mut r = (status, page).into_response();
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    r
}

async fn public_page(
    State(state): State<AppState>,
    Extension(limits): Extension<Arc<Limits>>,
    ClientIp(ip): ClientIp,
    Path(code): Path<String>,
) -> Response {
    if let Err(retry) = limits.get_per_address.hit(&ip) {
        return too_many(retry);
    }
    match vol::by_code(&state.db, &code).await {
        Ok(a) => render(
            code,
            a,
            Fields::default(),
            FieldErrors::default(),
            "signup",
            None,
        ),
        Err(StoreError::NotFound) => link_gone(),
        Err(e) => store_error_page(e),
    }
}

/// Counts a submission against the limits; the refusal when over.
fn limited(limits: &Limits, ip: &str, code: &str) -> Option<Response> {
    if let Err(retry) = limits.post_per_address.hit(ip) {
        return Some(too_many(retry));
    }
    if let Err(retry) = limits.post_per_link.hit(code) {
        return Some(too_many(retry));
    }
    None
}

async fn signup_submit(
    State(state): State<AppState>,
    Extension(limits): Extension<Arc<Limits>>,
    ClientIp(ip): ClientIp,
    Path(code): Path<String>,
    Form(f): Form<Fields>,
) -> Response {
    if let Some(r) = limited(&limits, &ip, &code) {
        return r;
    }
    let result =
        vol::sign_up_by_code(&state.db, &code, &f.name, &f.phone, Some(&ip), now_ms()).await;
    let a = match vol::by_code(&state.db, &code).await {
        Ok(a) => a,
        Err(StoreError::NotFound) => return link_gone(),
        Err(e) => return store_error_page(e),
    };
    match result {
        Ok(_) => {
            // The same words whether or not the phone belongs to a volunteer of the community
            // (a known one is signed up at once, a new one waits for staff): a public form must
            // not tell a stranger who volunteers here.
            let done = "报名已提交！请按时到场，社区工作人员如需核实会与您联系；服务结束后可在本页申报服务时长。";
            render(
                code,
                a,
                Fields::default(),
                FieldErrors::default(),
                "signup",
                Some(done.into()),
            )
        }
        Err(e) => match field_errors(e) {
            Ok(errors) => render(code, a, f, errors, "signup", None),
            Err(e) => store_error_page(e),
        },
    }
}

async fn hours_submit(
    State(state): State<AppState>,
    Extension(limits): Extension<Arc<Limits>>,
    ClientIp(ip): ClientIp,
    Path(code): Path<String>,
    Form(f): Form<Fields>,
) -> Response {
    if let Some(r) = limited(&limits, &ip, &code) {
        return r;
    }
    let result =
        vol::report_hours_by_code(&state.db, &code, &f.phone, &f.hours, Some(&ip), now_ms()).await;
    let a = match vol::by_code(&state.db, &code).await {
        Ok(a) => a,
        Err(StoreError::NotFound) => return link_gone(),
        Err(e) => return store_error_page(e),
    };
    match result {
        Ok(h) => render(
            code,
            a,
            Fields::default(),
            FieldErrors::default(),
            "hours",
            Some(format!(
                "已申报服务时长 {} 小时，等待活动组织者确认。",
                h.hours.display()
            )),
        ),
        Err(e) => match field_errors(e) {
            Ok(errors) => render(code, a, f, errors, "hours", None),
            Err(e) => store_error_page(e),
        },
    }
}
