//! Epidemic prevention: arrivals and their screening, self-declarations, observation and
//! check-ins, alerts, policies, cases and close contacts, checkpoints, passes and trips, quarantine sites.

pub mod api;
pub mod declarations;
pub mod pages;
pub mod public;
pub mod self_checkin;

use axum::Router;

use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .merge(pages::router())
        .merge(pages::alerts::router())
        .merge(pages::checkpoints::router())
        .merge(pages::policies::router())
        .merge(pages::contacts::router())
        .merge(pages::observations::router())
        .merge(pages::rounds::router())
        .merge(pages::timeline::router())
        .merge(pages::sites::router())
        .merge(pages::trips::router())
        .merge(declarations::router())
        .merge(public::router())
        .merge(self_checkin::router())
}
