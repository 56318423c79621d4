//! Residents taking part (issue 20): volunteers and their activities.

pub mod volunteers;

use axum::Router;

use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new().merge(volunteers::router())
}
