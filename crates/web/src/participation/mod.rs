//! Residents take part (issue 20): volunteers and their activities (the public sign-up link
//! `/v/{code}`), notices (通知公告), the public affairs ledger (居务公开) and the community's
//! public page (`/c/{code}`).

pub mod affairs;
pub mod notices;
pub mod volunteers;

use axum::Router;

use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .merge(volunteers::router())
        .merge(notices::router())
        .merge(affairs::router())
}

/// The attachment uploads, under their own body limit.
pub fn upload_router() -> Router<AppState> {
    Router::new().merge(affairs::upload_router())
}
