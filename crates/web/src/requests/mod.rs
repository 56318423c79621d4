//! Residents' requests (接诉即办): intake, dispatch, the lifecycle, categories, Open311.

pub mod api;
pub mod open311;
pub mod pages;
pub mod public;

use axum::Router;

use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .merge(open311::router())
        .merge(pages::router())
        .merge(public::router())
        .merge(pages::categories::router())
        .merge(pages::api_keys::router())
        .merge(pages::open311_settings::router())
}

/// The photo uploads, under their own body limit.
pub fn upload_router() -> Router<AppState> {
    Router::new()
        .merge(pages::upload_router())
        .merge(public::upload_router())
}
