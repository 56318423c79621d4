//! The JSON API under `/api/v1`: every area's routes merged, and the OpenAPI document generated
//! from their `#[utoipa::path]` declarations (the scope test walks it).

use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use crate::AppState;

#[derive(OpenApi)]
#[openapi(
    info(title = "Linli API", description = "邻里 — community governance and epidemic response. \
        Authenticate with `POST /api/v1/session` (cookie) or `Authorization: Bearer TOKEN` \
        (`linli user token NAME`). Errors are `{\"error\":{\"code\",\"message\",\"fields\"}}`."),
    tags(
        (name = "session", description = "Sign in and out"),
        (name = "nodes", description = "The jurisdiction tree"),
        (name = "users", description = "Accounts (admins)"),
        (name = "audit", description = "The audit log"),
        (name = "registry", description = "Persons, households and key-group tags"),
        (name = "epidemic", description = "Risk areas, policies (editor and what-if), arrival \
            screening, check-ins, alerts, releases, cases and close contacts, the dashboard"),
        (name = "checkpoints", description = "Gates, passes and scans"),
        (name = "trips", description = "Outgoing trips by kind (local and field work with a \
            daily log, work travel, visits to relatives, medical visits) and organised group trips"),
        (name = "places", description = "GB/T 2260 divisions by name, pinyin or code (public)"),
        (name = "qr", description = "QR codes of the app's public pages (SVG or PNG)"),
        (name = "reports", description = "Daily reports computed from the records, approval, \
            completeness, other offices' layouts"),
        (name = "requests", description = "Residents' requests (接诉即办), whistles, the three \
            rates; Open311 GeoReport v2 is served under /open311/v2"),
        (name = "supplies", description = "Emergency supplies: items, sites, ledger, transfers, \
            requests, allocation"),
        (name = "enterprises", description = "Enterprises and their reopening"),
    )
)]
struct ApiDoc;

/// The API routes and their OpenAPI document.
pub fn router() -> (axum::Router<AppState>, utoipa::openapi::OpenApi) {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(crate::tree::api::routes())
        .merge(crate::accounts::api::routes())
        .merge(crate::registry::api::routes())
        .merge(crate::epidemic::api::routes())
        .merge(crate::epidemic::api::checkpoints::routes())
        .merge(crate::epidemic::api::contacts::routes())
        .merge(crate::epidemic::api::observations::routes())
        .merge(crate::epidemic::api::sites::routes())
        .merge(crate::epidemic::api::trips::routes())
        .merge(crate::ui::qr::routes())
        .merge(crate::ui::places::routes())
        .merge(crate::enterprises::api::routes())
        .merge(crate::supplies::api::routes())
        .merge(crate::reports::api::routes())
        .merge(crate::requests::api::routes())
        .split_for_parts()
}
