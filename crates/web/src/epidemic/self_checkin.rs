//! Self check-in: the resident's own page behind a short link (`/o/{code}`) and its QR code,
//! and the worker's page that makes and prints the link.
//!
//! The public page needs no login and shows only the masked name, day N of M and today's
//! count; a released observation's link answers 410. Like the declaration form it carries no
//! CSRF token (no cookie authenticates it); the code is the authority, and the per-address
//! limits on views and posts keep guessing hopeless (see `kernel::token::SELF_CHECKIN`).

use std::sync::Arc;
use std::time::Duration;

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Extension, Json, Router};
use linli_core::epidemic::policy::Temperature;
use linli_core::kernel::clock::now_ms;
use linli_core::kernel::labels::Labelled;
use linli_core::kernel::token::grouped;
use linli_store::epidemic::self_checkin::{self, LinkState, SelfView};
use linli_store::epidemic::CheckinInput;
use linli_store::{tree, StoreError};
use serde_json::json;

use super::public::{symptom_choices, SymptomChoice};
use crate::auth::{ClientIp, CsrfForm, PageUser};
use crate::ui::qr::PublicBase;
use crate::ui::{self, store_error_page, RateLimiter, Shell};
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/o/{token}", get(public_page).post(public_submit))
        .route(
            "/epidemic/observations/{id}/self-link",
            get(link_page).post(make_link),
        )
        .route("/epidemic/observations/{id}/self-link/card", get(card_page))
        .layer(Extension(Arc::new(Limits::default())))
}

// ---------------------------------------------------------------------------------------------
// Rate limits (in memory, per process)

/// Views and posts per client address. A household checking in twice a day fits easily; a
/// guesser gets 30 tries a minute.
struct Limits {
    get_per_address: RateLimiter,
    post_per_address: RateLimiter,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            get_per_address: RateLimiter::new(30, Duration::from_secs(60)),
            post_per_address: RateLimiter::new(20, Duration::from_secs(600)),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The resident's page

#[derive(Template, WebTemplate)]
#[template(path = "epidemic/self_checkin.html")]
struct PublicPage {
    token: String,
    view: SelfView,
    measure: &'static str,
    temperature: String,
    symptoms: Vec<SymptomChoice>,
    error: String,
    /// After a post: what was recorded.
    done: String,
    fever: bool,
}

fn message(status: StatusCode, title: &'static str, message: &str) -> Response {
    let page = ui::PublicMessage {
        service: super::public::SERVICE,
        title,
        message,
        link: None,
    };
    (status, [(header::CACHE_CONTROL, "no-store")], page).into_response()
}

fn unknown() -> Response {
    message(
        StatusCode::NOT_FOUND,
        "打卡链接无效",
        "请核对链接或打卡码（10 位，不含 0、O、1、I、L），或联系您的网格员。",
    )
}

fn released() -> Response {
    message(
        StatusCode::GONE,
        "观察已解除",
        "您的医学观察已经解除，不需要再打卡。谢谢配合！",
    )
}

fn too_many(retry: Duration) -> Response {
    ui::too_many(retry, |minutes| {
        message(
            StatusCode::TOO_MANY_REQUESTS,
            "操作过于频繁",
            &format!("请 {minutes} 分钟后再试。如有不适，请立即联系网格员或拨打 120。"),
        )
    })
}

fn render(token: String, view: SelfView, status: StatusCode, form: Form, result: Done) -> Response {
    let page = PublicPage {
        measure: view.measure.label_zh(),
        symptoms: symptom_choices(&form.symptoms),
        temperature: form.temperature,
        error: result.error,
        done: result.done,
        fever: result.fever,
        token,
        view,
    };
    (status, [(header::CACHE_CONTROL, "no-store")], page).into_response()
}

#[derive(Default)]
struct Form {
    temperature: String,
    symptoms: Vec<String>,
}

#[derive(Default)]
struct Done {
    error: String,
    done: String,
    fever: bool,
}

async fn open_link(state: &AppState, token: &str) -> Result<SelfView, Response> {
    match self_checkin::by_code(&state.db, token, now_ms()).await {
        Ok(LinkState::Open(view)) => Ok(view),
        Ok(LinkState::Released) => Err(released()),
        Err(StoreError::NotFound) => Err(unknown()),
        Err(e) => Err(store_error_page(e)),
    }
}

async fn public_page(
    State(state): State<AppState>,
    Extension(limits): Extension<Arc<Limits>>,
    ClientIp(ip): ClientIp,
    Path(token): Path<String>,
) -> Response {
    if let Err(retry) = limits.get_per_address.hit(&ip) {
        return too_many(retry);
    }
    match open_link(&state, &token).await {
        Ok(view) => render(
            token,
            view,
            StatusCode::OK,
            Form::default(),
            Done::default(),
        ),
        Err(r) => r,
    }
}

/// A check-in from the resident: a form post, or JSON (`{"temperature": 36.6, "symptoms": []}`)
/// answered with JSON.
async fn public_submit(
    State(state): State<AppState>,
    Extension(limits): Extension<Arc<Limits>>,
    ClientIp(ip): ClientIp,
    Path(token): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if let Err(retry) = limits.post_per_address.hit(&ip) {
        tracing::warn!(%ip, "self check-in: rate limit per address");
        return too_many(retry);
    }
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let form = if json {
        match serde_json::from_slice::<serde_json::Value>(&body) {
            Ok(v) => Form {
                temperature: match &v["temperature"] {
                    serde_json::Value::Number(n) => n.to_string(),
                    serde_json::Value::String(s) => s.clone(),
                    _ => String::new(),
                },
                symptoms: v["symptoms"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|s| s.as_str().map(str::to_owned))
                            .collect()
                    })
                    .unwrap_or_default(),
            },
            Err(e) => {
                return crate::error::ApiError::invalid("body", format!("不是有效的 JSON：{e}"))
                    .into_response()
            }
        }
    } else {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(&body).unwrap_or_default();
        let mut f = Form::default();
        for (k, v) in pairs {
            match k.as_str() {
                "temperature" => f.temperature = v,
                "symptoms" => f.symptoms.push(v),
                _ => {}
            }
        }
        f
    };
    let view = match open_link(&state, &token).await {
        Ok(view) => view,
        Err(r) => return r,
    };
    let temperature = match form.temperature.trim() {
        "" => Ok(None),
        t => Temperature::parse(t).map(Some),
    };
    let refused = |message: String, form: Form, view: SelfView| {
        if json {
            crate::error::ApiError::invalid("temperature", message).into_response()
        } else {
            render(
                token.clone(),
                view,
                StatusCode::UNPROCESSABLE_ENTITY,
                form,
                Done {
                    error: message,
                    ..Done::default()
                },
            )
        }
    };
    let temperature = match temperature {
        Ok(t) => t,
        Err(e) => return refused(e.message, form, view),
    };
    if temperature.is_none() && form.symptoms.is_empty() {
        return refused("请填写体温（如 36.5）".to_owned(), form, view);
    }
    let now = now_ms();
    let input = CheckinInput {
        at: now,
        temperature,
        symptoms: form.symptoms.clone(),
    };
    let recorded = match self_checkin::record(&state.checkins, &view, input, now).await {
        Ok(r) => r,
        Err(StoreError::Invalid(errors)) => {
            let message = crate::ui::forms::messages(&errors);
            return refused(message, form, view);
        }
        Err(e) => return store_error_page(e),
    };
    if json {
        return (
            StatusCode::CREATED,
            Json(json!({
                "id": recorded.id,
                "observation_id": recorded.observation_id,
                "alert_id": recorded.alert_id,
            })),
        )
            .into_response();
    }
    // Read again: today's count now includes this one.
    let view = match open_link(&state, &token).await {
        Ok(view) => view,
        Err(r) => return r,
    };
    let fever = recorded.alert_id.is_some();
    let done = match temperature {
        Some(t) => format!("已收到：体温 {t}"),
        None => "已收到".to_owned(),
    };
    render(
        token,
        view,
        StatusCode::OK,
        Form::default(),
        Done {
            done,
            fever,
            ..Done::default()
        },
    )
}

// ---------------------------------------------------------------------------------------------
// The worker's page: make the link, show its code, print a card

#[derive(Template, WebTemplate)]
#[template(path = "epidemic/self_link.html")]
struct LinkPage {
    shell: Shell,
    observation_id: i64,
    person_name: String,
    person_id: i64,
    /// Empty until made.
    url: String,
    token: String,
    code: String,
    qr: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "epidemic/self_link_card.html")]
struct CardPage {
    observation_id: i64,
    place: String,
    masked_name: String,
    url: String,
    code: String,
    qr: String,
}

async fn link_page(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    PublicBase(base): PublicBase,
    Path(id): Path<i64>,
) -> Response {
    // Seeing the link takes the right to make one: the code is as good as the link.
    let link = match self_checkin::existing_link(&state.db, &user.scope, id).await {
        Ok(l) => l,
        Err(e) => return store_error_page(e),
    };
    let (url, qr) = if link.token.is_empty() {
        (String::new(), String::new())
    } else {
        ui::qr::link_and_svg(format!("{base}/o/{}", link.token), 220)
    };
    LinkPage {
        shell: Shell::of(&user, "epidemic"),
        observation_id: id,
        person_name: link.person_name,
        person_id: link.person_id,
        code: grouped(&link.token),
        token: link.token,
        url,
        qr,
    }
    .into_response()
}

/// A card to print and hand over: the code large, the link, the masked name, the community.
async fn card_page(
    State(state): State<AppState>,
    PageUser(user): PageUser,
    PublicBase(base): PublicBase,
    Path(id): Path<i64>,
) -> Response {
    let result = async {
        let link = self_checkin::existing_link(&state.db, &user.scope, id).await?;
        let path = linli_core::JurisdictionPath::parse(&link.node_path)
            .map_err(|e| StoreError::Internal(e.to_string()))?;
        let node = tree::get(&state.db, &user.scope, path.id()).await?;
        let crumbs = tree::ancestors(&state.db, &user.scope, &node).await?;
        Ok::<_, StoreError>((link, crumbs))
    }
    .await;
    let (link, crumbs) = match result {
        Ok(r) => r,
        Err(e) => return store_error_page(e),
    };
    if link.token.is_empty() {
        return Redirect::to(&format!("/epidemic/observations/{id}/self-link")).into_response();
    }
    // From the community down: the street and district above mean nothing on a door card.
    let from = crumbs
        .iter()
        .position(|c| c.kind == linli_core::NodeKind::Community)
        .unwrap_or(0);
    let place = crumbs[from..]
        .iter()
        .map(|c| c.name.as_str())
        .collect::<Vec<_>>()
        .join(" · ");
    let (url, qr) = ui::qr::link_and_svg(format!("{base}/o/{}", link.token), 320);
    CardPage {
        observation_id: id,
        place,
        masked_name: linli_core::epidemic::contact::mask_name(&link.person_name),
        code: grouped(&link.token),
        url,
        qr,
    }
    .into_response()
}

async fn make_link(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    form: CsrfForm<ui::forms::Empty>,
) -> Response {
    match self_checkin::self_link(&state.db, &form.user.scope, id, now_ms()).await {
        Ok(_) => Redirect::to(&format!("/epidemic/observations/{id}/self-link")).into_response(),
        Err(e) => store_error_page(e),
    }
}
