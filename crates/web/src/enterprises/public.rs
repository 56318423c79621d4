//! A business's own reopening application behind its link (`/e/{token}`): no login,
//! rate-limited per address and per link.

use linli_core::kernel::clock::now_ms;
use linli_core::kernel::labels::Labelled;
use std::sync::Arc;
use std::time::Duration;

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Form, Router};
use linli_core::enterprises::ChecklistItem;
use linli_store::enterprises::{self, LinkView, Standing};
use linli_store::StoreError;

use super::pages::{apply_fields, extra_lines, label, ApplyFields, ItemRow};
use crate::auth::ClientIp;
use crate::ui::form_status;
use crate::ui::{error_page, field_errors, store_error_page, FieldErrors, RateLimiter};
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/e/{token}", get(public_form).post(public_submit))
        // Each app gets its own counters (tests run several apps in one process).
        .layer(Extension(Arc::new(LinkLimits::default())))
}

// ---------------------------------------------------------------------------------------------
// Rate limits of the public link (in memory, per process)

/// Page views: 60 per address per 10 minutes. Submissions: 10 per address and 5 per link per
/// 10 minutes (a business applies once; a few retries after field errors fit).
/// The link is unguessable (256 bits), so these only stop a holder of the link (or a script)
/// from flooding the community with applications.
struct LinkLimits {
    view_per_address: RateLimiter,
    post_per_address: RateLimiter,
    post_per_link: RateLimiter,
}

impl Default for LinkLimits {
    fn default() -> Self {
        let ten = Duration::from_secs(600);
        LinkLimits {
            view_per_address: RateLimiter::new(60, ten),
            post_per_address: RateLimiter::new(10, ten),
            post_per_link: RateLimiter::new(5, ten),
        }
    }
}

fn too_many() -> Response {
    let mut r = error_page(
        StatusCode::TOO_MANY_REQUESTS,
        "提交过于频繁，请 10 分钟后再试。",
    );
    r.headers_mut()
        .insert(header::RETRY_AFTER, header::HeaderValue::from_static("600"));
    r
}

// ---------------------------------------------------------------------------------------------
// The public link

#[derive(Template, WebTemplate)]
#[template(path = "enterprises/enterprise_public.html")]
struct PublicPage {
    token: String,
    view: LinkView,
    standing: &'static str,
    items: Vec<ItemRow>,
    f: ApplyFields,
    errors: FieldErrors,
    others: Vec<String>,
    /// Just submitted: show the receipt instead of the form.
    submitted: bool,
    /// No application waits or was approved: the form is shown.
    open: bool,
}

fn link_not_found() -> Response {
    error_page(
        StatusCode::NOT_FOUND,
        "链接无效或已失效，请向社区索取新的申请链接。",
    )
}

fn render_public(
    token: String,
    view: LinkView,
    f: ApplyFields,
    errors: FieldErrors,
    submitted: bool,
) -> Response {
    let items = ChecklistItem::ALL
        .iter()
        .map(|i| ItemRow {
            code: i.as_str(),
            label: i.label_zh(),
            checked: f.checked.iter().any(|c| c == i.as_str()),
        })
        .collect();
    let status = form_status(!errors.is_empty());
    let others = errors.others(
        &[
            "checklist",
            "extra_items",
            "employees_back",
            "planned_on",
            "note",
        ],
        label,
    );
    let page = PublicPage {
        token,
        standing: view.standing.label_zh(),
        open: view.standing == Standing::NotReopened,
        view,
        items,
        f,
        errors,
        others,
        submitted,
    };
    let mut r = (status, page).into_response();
    // The address carries the link's secret: keep it out of referrers and caches.
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    r
}

async fn public_form(
    State(state): State<AppState>,
    Extension(limits): Extension<Arc<LinkLimits>>,
    ClientIp(ip): ClientIp,
    Path(token): Path<String>,
) -> Response {
    if limits.view_per_address.hit(&ip).is_err() {
        return too_many();
    }
    match enterprises::by_link(&state.db, &token).await {
        Ok(view) => render_public(
            token,
            view,
            ApplyFields::default(),
            FieldErrors::default(),
            false,
        ),
        Err(StoreError::NotFound) => link_not_found(),
        Err(e) => store_error_page(e),
    }
}

async fn public_submit(
    State(state): State<AppState>,
    Extension(limits): Extension<Arc<LinkLimits>>,
    ClientIp(ip): ClientIp,
    Path(token): Path<String>,
    Form(form): Form<Vec<(String, String)>>,
) -> Response {
    if limits.post_per_address.hit(&ip).is_err() || limits.post_per_link.hit(&token).is_err() {
        return too_many();
    }
    let f = apply_fields(&form);
    let extra = extra_lines(&f.extra_items);
    let input = f.input(&extra);
    let result = enterprises::apply_by_link(&state.db, &token, &input, Some(&ip), now_ms()).await;
    let view = match enterprises::by_link(&state.db, &token).await {
        Ok(v) => v,
        Err(StoreError::NotFound) => return link_not_found(),
        Err(e) => return store_error_page(e),
    };
    match result {
        Ok(_) => render_public(
            token,
            view,
            ApplyFields::default(),
            FieldErrors::default(),
            true,
        ),
        Err(e) => match field_errors(e) {
            Ok(errors) => render_public(token, view, f, errors, false),
            Err(e) => store_error_page(e),
        },
    }
}
