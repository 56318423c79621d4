//! Enterprises and their reopening.

pub mod api;
pub mod pages;
pub mod public;

use axum::Router;

use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new().merge(pages::router()).merge(public::router())
}
