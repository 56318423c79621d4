//! Emergency supplies: items, sites, the ledger (searched, filtered, exported), transfers and
//! requests.

pub mod api;
pub mod ledger;
pub mod pages;

use axum::Router;

use crate::AppState;

pub fn router() -> Router<AppState> {
    pages::router().merge(ledger::router())
}
