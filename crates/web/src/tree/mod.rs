//! The jurisdiction tree: the home page (a grid worker's to-do), a node's page, and the tree
//! through the API.

pub mod api;
pub mod pages;
pub mod todo;

use axum::Router;

use crate::AppState;

pub fn router() -> Router<AppState> {
    pages::router()
}
