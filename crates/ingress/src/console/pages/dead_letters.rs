//! The Dead letters page: jobs that failed every attempt, with replay. (Being built: no routes yet.)

use axum::Router;

use crate::AppState;

/// The page's routes.
pub fn routes() -> Router<AppState> {
    Router::new()
}
