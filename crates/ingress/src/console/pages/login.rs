//! Login (an API key exchanged for a session cookie) and logout.

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use maud::html;
use serde::Deserialize;

use crate::console::layout::{bare, error_page};
use crate::console::session;
use crate::AppState;

#[derive(Debug, Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    api_key: String,
}

#[derive(Debug, Deserialize)]
pub struct LogoutForm {
    csrf: Option<String>,
}

fn login_page(status: StatusCode, error: Option<&str>) -> Response {
    bare(
        status,
        "Log in",
        html! {
            h1 { "Log in" }
            p { "Paste an API key of your organization. The console acts with that key's role." }
            @if let Some(e) = error {
                p.error role="alert" { (e) }
            }
            form.stack method="post" action="/login" {
                label for="api_key" { "API key" }
                input #api_key type="password" name="api_key" autocomplete="off"
                    placeholder="fc_…" maxlength=(session::MAX_KEY_CHARS) required autofocus;
                button.primary type="submit" { "Log in" }
            }
            p.hint { "No key yet? " code { "make run" } " prints the demo organization's key." }
        },
    )
}

/// `GET /login`.
pub async fn show() -> Response {
    login_page(StatusCode::OK, None)
}

/// `POST /login` (form): starts a session and goes to the Connections page.
pub async fn submit(State(state): State<AppState>, Form(form): Form<LoginForm>) -> Response {
    match session::start(&state, &form.api_key).await {
        Ok(new) => (
            [(header::SET_COOKIE, session::session_cookie(&state, &new))],
            Redirect::to("/connections"),
        )
            .into_response(),
        Err(e) if e.status == StatusCode::UNAUTHORIZED => login_page(
            StatusCode::UNAUTHORIZED,
            Some("That key is unknown or revoked."),
        ),
        Err(e) if e.status == StatusCode::UNPROCESSABLE_ENTITY => {
            login_page(StatusCode::UNPROCESSABLE_ENTITY, Some(&e.message))
        }
        Err(e) => error_page(e.status, &e.message),
    }
}

/// `POST /logout` (form, with the CSRF token): ends the session and goes to the login page.
pub async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<LogoutForm>,
) -> Response {
    match session::current(&headers, &state).await {
        Ok(Some((token, row))) => {
            if let Err(e) = crate::console::csrf::check_field(&row, form.csrf.as_deref()) {
                return e.into_response();
            }
            if let Err(e) = state.store.delete_session(&token).await {
                let e = crate::error::ApiError::from(e);
                return error_page(e.status, &e.message);
            }
        }
        Ok(None) => {}
        Err(e) => return error_page(e.status, &e.message),
    }
    (
        [(header::SET_COOKIE, session::clear_session_cookie(&state))],
        Redirect::to("/login"),
    )
        .into_response()
}
