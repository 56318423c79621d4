//! Linli's web layer: the zh-CN HTML app, the JSON API under `/api/v1` with its generated
//! OpenAPI document, `/healthz` and `/metrics`. Handlers are thin: they extract, call the store
//! with the caller's scope, and render.

// Areas: one folder each, the same word in every crate (see docs/architecture.md).
pub mod accounts;
pub mod enterprises;
pub mod epidemic;
pub mod participation;
pub mod registry;
pub mod reports;
pub mod requests;
pub mod supplies;
pub mod tree;

// What the areas share; neither imports an area.
pub mod auth;
pub mod ui;

pub mod error;
pub mod metrics;
mod openapi;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use linli_store::Db;
use tower_http::compression::CompressionLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::trace::TraceLayer;

use crate::error::ApiError;

/// Settings of the web server.
#[derive(Debug, Clone, Default)]
pub struct WebConfig {
    /// Mark cookies `Secure` (set when Linli is served over TLS, directly or behind a proxy).
    pub secure_cookies: bool,
    /// Take the client address from `X-Forwarded-For` (only behind a trusted proxy).
    pub trust_forwarded_for: bool,
    /// The address residents reach the server at (`https://linli.example.org`), printed in
    /// QR codes and posters; `None`: the `Host` the staff member's browser used.
    pub public_url: Option<String>,
}

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub config: Arc<WebConfig>,
    pub metrics: Arc<metrics::Metrics>,
    pub openapi: Arc<String>,
    /// Roster uploads waiting for confirmation and imports running (see `registry::import`).
    pub imports: Arc<registry::import::ImportJobs>,
    /// Check-ins are written in batches, each acknowledged after its commit.
    pub checkins: linli_store::epidemic::CheckinWriter,
}

/// The whole application.
pub fn app(db: Db, config: WebConfig) -> Router {
    app_with(db, config, Router::new())
}

/// The application with extra routes served through the same layers (`linli bench` adds a
/// no-op endpoint this way, to measure the server's own cost beside a real one).
pub fn app_with(db: Db, config: WebConfig, extra: Router<AppState>) -> Router {
    let (api_routes, openapi) = openapi::router();
    let openapi = openapi.to_pretty_json().unwrap_or_else(|_| "{}".to_owned());
    let state = AppState {
        checkins: linli_store::epidemic::CheckinWriter::new(db.clone()),
        db,
        config: Arc::new(config),
        metrics: Arc::new(metrics::Metrics::default()),
        openapi: Arc::new(openapi),
        imports: Arc::new(registry::import::ImportJobs::default()),
    };
    let api = api_routes
        .route("/api/v1/openapi.json", get(openapi_json))
        .layer(middleware::from_fn(json_only_for_cookie_writes));
    // Request bodies are small everywhere but on the roster upload, which has its own limit.
    let small_bodies = Router::new()
        .merge(api)
        .merge(ui::router())
        .merge(ui::places::router())
        .merge(tree::router())
        .merge(accounts::router())
        .merge(registry::router())
        .merge(epidemic::router())
        .merge(reports::router())
        .merge(requests::router())
        .merge(supplies::router())
        .merge(enterprises::router())
        .merge(participation::router())
        .merge(extra)
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics_text))
        .layer(RequestBodyLimitLayer::new(2 * 1024 * 1024));
    Router::new()
        .merge(small_bodies)
        .merge(registry::upload_router())
        .merge(requests::upload_router())
        .merge(participation::upload_router())
        .fallback(ui::not_found)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            metrics::track,
        ))
        .layer(middleware::from_fn(ui::input::refuse_nul))
        .layer(middleware::from_fn(security_headers))
        .layer(CompressionLayer::new())
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

async fn openapi_json(State(state): State<AppState>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        state.openapi.as_str().to_owned(),
    )
        .into_response()
}

/// Liveness and database reachability.
async fn healthz(State(state): State<AppState>) -> Response {
    match state.db.ping().await {
        Ok(()) => (
            StatusCode::OK,
            Json(serde_json::json!({"status": "ok", "database": state.db.backend().as_str()})),
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "health check: database unreachable");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(serde_json::json!({"status": "database unreachable"})),
            )
                .into_response()
        }
    }
}

/// Prometheus text, for admins only (a session or an admin's API token, which is what a scraper
/// sends as its bearer token): routes, counts and timings tell an outsider what is used and when.
async fn metrics_text(
    State(state): State<AppState>,
    auth::ApiUser(user): auth::ApiUser,
) -> Response {
    if !user.scope.is_admin() {
        return ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "只有系统管理员可以读取运行指标",
        )
        .into_response();
    }
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
        .into_response()
}

/// A browser can send a cookie with a cross-site form post but not with a cross-site JSON
/// request (no CORS is ever granted), so API writes carried by a cookie must be JSON.
async fn json_only_for_cookie_writes(req: Request, next: Next) -> Response {
    let writes = matches!(
        *req.method(),
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    );
    let bearer = req.headers().contains_key(header::AUTHORIZATION);
    let json = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    // DELETE carries no body; a cross-site page cannot send one with credentials either.
    if writes && !bearer && !json && req.method() != Method::DELETE {
        return ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "API 写操作须使用「content-type: application/json」",
        )
        .into_response();
    }
    next.run(req).await
}

async fn security_headers(req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    h.insert("referrer-policy", HeaderValue::from_static("same-origin"));
    h.insert(
        "content-security-policy",
        HeaderValue::from_static("default-src 'self'; img-src 'self' data:; style-src 'self'; form-action 'self'; frame-ancestors 'none'"),
    );
    // Pages and answers carry personal data (an unmasked number, a roster): no shared or
    // browser cache may keep them unless the handler said otherwise (stylesheets, QR images).
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    resp
}

/// Serves until SIGTERM or Ctrl-C, then finishes the requests in flight.
pub async fn serve(listener: tokio::net::TcpListener, app: Router) -> std::io::Result<()> {
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
    // Give slow clients a bounded time; the runtime drops what is left.
    tokio::spawn(async {
        tokio::time::sleep(Duration::from_secs(20)).await;
        tracing::warn!("shutdown grace period over");
        std::process::exit(0);
    });
}
