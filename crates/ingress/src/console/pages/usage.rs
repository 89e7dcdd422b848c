//! The Usage page: usage per day with a chart. (Being built: no routes yet.)

use axum::Router;

use crate::AppState;

/// The page's routes.
pub fn routes() -> Router<AppState> {
    Router::new()
}
