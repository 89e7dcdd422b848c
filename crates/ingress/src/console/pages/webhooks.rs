//! The Webhooks page: outbound webhook subscriptions and their delivery log. (Being built: no routes yet.)

use axum::Router;

use crate::AppState;

/// The page's routes.
pub fn routes() -> Router<AppState> {
    Router::new()
}
