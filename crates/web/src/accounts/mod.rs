//! Signing in and out, accounts, one's own account, key-group tags and the audit log.

pub mod api;
pub mod audit;
pub mod login;
pub mod pages;

use axum::Router;

use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .merge(login::router())
        .merge(pages::router())
        .merge(audit::router())
}
