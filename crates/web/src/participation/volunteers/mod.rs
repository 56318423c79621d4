//! Volunteers (志愿者), teams, service activities, sign-ups, hours and certificates: the pages,
//! the public sign-up link (`/v/{code}`) and the JSON API.

pub mod api;
pub mod pages;
pub mod public;

use axum::Router;

use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new().merge(pages::router()).merge(public::router())
}

/// The public sign-up link's path for an activity's code.
pub fn link_path(code: &str) -> String {
    format!("/v/{code}")
}
