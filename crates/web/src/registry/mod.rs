//! The registry: persons, households and their dwellings, roster import and export.

pub mod api;
pub mod dwellings;
pub mod import;
pub mod pages;
pub mod roll;

use axum::Router;

use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .merge(pages::router())
        .merge(import::router())
        .merge(dwellings::router())
}

/// The roster upload, under its own body limit.
pub fn upload_router() -> Router<AppState> {
    import::upload_router()
}
