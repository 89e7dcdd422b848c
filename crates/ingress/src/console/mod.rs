//! The console: server-rendered HTML pages (maud) served by the ingress at `/`, with a small
//! vendored htmx and a CSS file embedded in the binary. A browser logs in with an API key
//! (a session cookie, see [`session`]); every form that changes anything carries the session's
//! CSRF token ([`csrf`]); the member's role governs which actions are shown, and the API rules
//! still apply underneath. One file per page under [`pages`].
//!
//! These routes are HTML, outside `/v1` and the OpenAPI document (the `/v1/session` API is in it).

pub mod assets;
pub mod csrf;
pub mod layout;
pub mod pages;
pub mod session;
pub mod user;

use axum::routing::{get, post};
use axum::Router;

use crate::AppState;

/// The console's routes.
pub fn routes() -> Router<AppState> {
    use pages::{connections, home, login, mappings, syncs};
    Router::new()
        .route("/", get(home::show))
        .route("/login", get(login::show).post(login::submit))
        .route("/logout", post(login::logout))
        .route("/connections", get(connections::show))
        .route(
            "/connections/connect/{provider}",
            post(connections::connect),
        )
        .route("/connections/{id}/delete", post(connections::delete))
        .route("/mappings", get(mappings::show))
        .route("/syncs", get(syncs::show))
        .route("/assets/{name}", get(assets::serve))
}
