//! Enterprises and their reopening.

pub mod api;
pub mod pages;

use axum::Router;

use crate::AppState;

pub fn router() -> Router<AppState> {
    pages::router()
}
