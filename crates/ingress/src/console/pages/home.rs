//! `GET /`: the Connections page when signed in, the login page otherwise.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};

use crate::AppState;

pub async fn show(State(state): State<AppState>, headers: HeaderMap) -> Response {
    match crate::console::session::current(&headers, &state).await {
        Ok(Some(_)) => Redirect::to("/connections").into_response(),
        Ok(None) => Redirect::to("/login").into_response(),
        Err(e) => crate::console::layout::error_page(e.status, &e.message),
    }
}
