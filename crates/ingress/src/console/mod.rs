//! The console: server-rendered HTML pages (maud) served by the ingress at `/`, with a small
//! vendored htmx and a CSS file embedded in the binary. A browser logs in with an API key
//! (a session cookie, see [`session`]); every form that changes anything carries the session's
//! CSRF token ([`csrf`]); the member's role governs which actions are shown, and the API rules
//! still apply underneath. One file per page under [`pages`].
//!
//! These routes are HTML, outside `/v1` and the OpenAPI document (the `/v1/session` API is in it).

pub mod assets;
pub mod csrf;
pub mod forms;
pub mod layout;
pub mod pages;
pub mod session;
pub mod user;

use axum::routing::{get, post};
use axum::Router;

use crate::AppState;

/// The console's routes: the frame's own (login, logout, assets) and each page's.
pub fn routes() -> Router<AppState> {
    use pages::{
        connections, dead_letters, home, login, mappings, members, syncs, usage, webhooks,
    };
    Router::new()
        .route("/", get(home::show))
        .route("/login", get(login::show).post(login::submit))
        .route("/logout", post(login::logout))
        .route("/assets/{name}", get(assets::serve))
        .merge(connections::routes())
        .merge(mappings::routes())
        .merge(syncs::routes())
        .merge(dead_letters::routes())
        .merge(webhooks::routes())
        .merge(members::routes())
        .merge(usage::routes())
}
