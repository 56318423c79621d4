//! Emergency supplies: items, sites, the ledger, transfers and requests.

pub mod api;
pub mod pages;

use axum::Router;

use crate::AppState;

pub fn router() -> Router<AppState> {
    pages::router()
}
