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
        (name = "participation", description = "Residents take part: volunteers, teams, \
            service activities, sign-ups, attendance and confirmed hours; notices (通知公告) with \
            read receipts; the public affairs ledger (居务公开)"),
    ),
    // Schemas only a `no_recursion` schema names (its nested types are not collected).
    components(schemas(crate::enterprises::api::ReasonCountOut))
)]
struct ApiDoc;

/// Every area's API routes, each with its part of the document.
fn parts() -> Vec<OpenApiRouter<AppState>> {
    vec![
        crate::tree::api::routes(),
        crate::accounts::api::routes(),
        crate::registry::api::routes(),
        crate::epidemic::api::routes(),
        crate::epidemic::api::checkpoints::routes(),
        crate::epidemic::api::contacts::routes(),
        crate::epidemic::api::observations::routes(),
        crate::epidemic::api::sites::routes(),
        crate::epidemic::api::trips::routes(),
        crate::ui::qr::routes(),
        crate::ui::places::routes(),
        crate::enterprises::api::routes(),
        crate::supplies::api::routes(),
        crate::reports::api::routes(),
        crate::requests::api::routes(),
        crate::participation::volunteers::api::routes(),
        crate::participation::notices::api::routes(),
        crate::participation::affairs::api::routes(),
    ]
}

/// The API routes and their OpenAPI document.
pub fn router() -> (axum::Router<AppState>, utoipa::openapi::OpenApi) {
    parts()
        .into_iter()
        .fold(
            OpenApiRouter::with_openapi(ApiDoc::openapi()),
            |all, part| all.merge(part),
        )
        .split_for_parts()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::collections::BTreeMap;

    /// Merging keeps one schema per name, silently: two areas' `RequestBody` documented
    /// `POST /api/v1/requests` with the supply request's body. A name must mean one shape.
    #[test]
    fn a_schema_name_means_one_shape_across_areas() {
        let mut seen: BTreeMap<String, (usize, serde_json::Value)> = BTreeMap::new();
        for (area, part) in super::parts().into_iter().enumerate() {
            let (_, doc) = part.split_for_parts();
            for (name, schema) in doc.components.map(|c| c.schemas).unwrap_or_default() {
                let json = serde_json::to_value(&schema).unwrap();
                if let Some((first, earlier)) = seen.get(&name) {
                    assert_eq!(
                        earlier, &json,
                        "schema {name} differs between route groups {first} and {area}"
                    );
                } else {
                    seen.insert(name, (area, json));
                }
            }
        }
        assert!(seen.len() > 100, "{} schemas", seen.len());
    }

    /// Every API path the crate serves is documented: a plain axum route under `/api/` would
    /// serve an endpoint the document (and the scope walk over it) does not know.
    #[test]
    fn every_api_route_is_in_the_document() {
        let (_, doc) = super::router();
        let mut undocumented = Vec::new();
        let mut dirs = vec![std::path::PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/src"
        ))];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    dirs.push(path);
                    continue;
                }
                let text = std::fs::read_to_string(&path).unwrap();
                for hit in text.split(".route(\"").skip(1) {
                    let route = hit.split('"').next().unwrap();
                    if route.starts_with("/api/")
                        && route != "/api/v1/openapi.json"
                        && !doc.paths.paths.contains_key(route)
                    {
                        undocumented.push(format!("{}: {route}", path.display()));
                    }
                }
            }
        }
        assert!(undocumented.is_empty(), "{undocumented:?}");
        assert!(doc.paths.paths.contains_key("/api/v1/trips/{id}/log"));
        // Every reference resolves (a `no_recursion` schema's nested types are not collected).
        let json = serde_json::to_string(&doc).unwrap();
        let schemas = doc.components.map(|c| c.schemas).unwrap_or_default();
        for hit in json.split("\"#/components/schemas/").skip(1) {
            let name = hit.split('"').next().unwrap();
            assert!(
                schemas.contains_key(name),
                "{name} is referenced but not defined"
            );
        }
    }
}
