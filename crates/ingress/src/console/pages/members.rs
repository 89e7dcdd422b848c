//! The Members page: members, invites and API keys. (Being built: no routes yet.)

use axum::Router;

use crate::AppState;

/// The page's routes.
pub fn routes() -> Router<AppState> {
    Router::new()
}
