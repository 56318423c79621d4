//! Daily reports computed from the records, their templates and other offices' layouts.

pub mod api;
pub mod pages;

use axum::Router;

use crate::AppState;

pub fn router() -> Router<AppState> {
    pages::router()
}
