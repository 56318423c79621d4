//! The jurisdiction tree: the home page, a node's page, and the tree through the API.

pub mod api;
pub mod pages;

use axum::Router;

use crate::AppState;

pub fn router() -> Router<AppState> {
    pages::router()
}
