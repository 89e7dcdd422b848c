//! Console sessions: `POST /v1/session` exchanges an API key for an `fc_session` cookie
//! (`HttpOnly; SameSite=Strict; Path=/`, `Secure` when the public URL is https) and
//! `DELETE /v1/session` ends it. A session acts for its key, with the key's member's role at each
//! request; an unknown, expired or idle session is no session (401 on the API, the login page on
//! the console).

use std::time::Duration;

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Utc};
use fluxcascade_store::sessions::{NewSession, SessionLifetime, SessionRow};
use serde::{Deserialize, Serialize};

use crate::error::{ApiError, ErrorBody};
use crate::json::ApiJson;
use crate::AppState;

/// The session cookie.
pub const SESSION_COOKIE: &str = "fc_session";
/// The short-lived cookie that binds an OAuth flow the console started to this browser (`Lax`:
/// it must survive the provider's cross-site redirect back, which a `Strict` cookie does not).
pub const OAUTH_BINDING_COOKIE: &str = "fc_oauth";
/// The longest API key a login accepts (ours are 46 characters).
pub const MAX_KEY_CHARS: usize = 256;
/// The longest cookie token looked up (ours are 47 characters); longer is simply unknown.
const MAX_TOKEN_CHARS: usize = 128;
/// Default absolute lifetime: 12 hours.
pub const DEFAULT_SESSION_TTL: Duration = Duration::from_secs(43_200);
/// Default idle lifetime: 2 hours without a request.
pub const DEFAULT_SESSION_IDLE: Duration = Duration::from_secs(7_200);

/// How long sessions live (`FLUXCASCADE_SESSION_TTL_SECS`).
#[derive(Debug, Clone, Copy)]
pub struct SessionConfig {
    /// From login, whatever the activity.
    pub ttl: Duration,
    /// Without any request (never longer than `ttl`).
    pub idle: Duration,
}

impl Default for SessionConfig {
    fn default() -> SessionConfig {
        SessionConfig::with_ttl(DEFAULT_SESSION_TTL)
    }
}

impl SessionConfig {
    /// `ttl` absolute, and the default idle lifetime (capped at `ttl`).
    pub fn with_ttl(ttl: Duration) -> SessionConfig {
        SessionConfig {
            ttl,
            idle: DEFAULT_SESSION_IDLE.min(ttl),
        }
    }

    fn lifetime(&self) -> SessionLifetime {
        let secs = |d: Duration| chrono::Duration::seconds(d.as_secs().min(i64::MAX as u64) as i64);
        SessionLifetime {
            absolute: secs(self.ttl),
            idle: secs(self.idle),
        }
    }
}

/// The value of cookie `name` in the request's `Cookie` headers, if present and of sane length.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
        .filter(|v| !v.is_empty() && v.len() <= MAX_TOKEN_CHARS)
}

/// The request's live session and its token, if its cookie names one.
pub async fn current(
    headers: &HeaderMap,
    state: &AppState,
) -> Result<Option<(String, SessionRow)>, ApiError> {
    let Some(token) = cookie(headers, SESSION_COOKIE) else {
        return Ok(None);
    };
    let idle = state.sessions.lifetime().idle;
    Ok(state
        .store
        .session(token, idle)
        .await?
        .map(|row| (token.to_owned(), row)))
}

/// Whether cookies get `Secure`: the ingress is reached over https.
fn secure(state: &AppState) -> bool {
    state.public_url.starts_with("https://")
}

/// A `Set-Cookie` value (`max_age` 0 clears it).
fn set_cookie(
    state: &AppState,
    name: &str,
    value: &str,
    same_site: &str,
    path: &str,
    max_age: u64,
) -> HeaderValue {
    let secure = if secure(state) { "; Secure" } else { "" };
    let text = format!(
        "{name}={value}; HttpOnly; SameSite={same_site}; Path={path}; Max-Age={max_age}{secure}"
    );
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static("fc_invalid=1"))
}

/// The session cookie for a new session.
pub fn session_cookie(state: &AppState, session: &NewSession) -> HeaderValue {
    set_cookie(
        state,
        SESSION_COOKIE,
        &session.token,
        "Strict",
        "/",
        state.sessions.ttl.as_secs(),
    )
}

/// Clears the session cookie.
pub fn clear_session_cookie(state: &AppState) -> HeaderValue {
    set_cookie(state, SESSION_COOKIE, "", "Strict", "/", 0)
}

/// The OAuth binding cookie, for as long as a started authorization lives.
pub fn binding_cookie(state: &AppState, token: &str, max_age: u64) -> HeaderValue {
    set_cookie(
        state,
        OAUTH_BINDING_COOKIE,
        token,
        "Lax",
        "/v1/oauth",
        max_age,
    )
}

/// Clears the OAuth binding cookie.
pub fn clear_binding_cookie(state: &AppState) -> HeaderValue {
    binding_cookie(state, "", 0)
}

/// Checks `api_key` and creates a session for it: 422 naming `apiKey` when it is empty or too
/// long, 401 when no live key matches.
pub async fn start(state: &AppState, api_key: &str) -> Result<NewSession, ApiError> {
    let key = api_key.trim();
    if key.is_empty() {
        return Err(ApiError::invalid_field("apiKey", "is required"));
    }
    if key.chars().count() > MAX_KEY_CHARS {
        return Err(ApiError::invalid_field(
            "apiKey",
            format!("is longer than {MAX_KEY_CHARS} characters"),
        ));
    }
    let Some(principal) = state.store.authenticate(key).await? else {
        tracing::warn!("console login with an unknown or revoked API key");
        return Err(ApiError::unauthorized());
    };
    let session = state
        .store
        .create_session(&principal, state.sessions.lifetime())
        .await?;
    tracing::info!(org_id = %principal.org_id, key_id = %principal.key_id, role = principal.role.as_str(), "console session started");
    Ok(session)
}

/// `POST /v1/session`'s body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SessionRequest {
    /// An API key of the organization (`fc_…`); the session acts with its role.
    pub api_key: String,
}

/// A session just started (the cookie carries its id; it is never in a body).
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionStarted {
    /// Cookie-authenticated requests that change anything carry it as `X-CSRF-Token`.
    pub csrf_token: String,
    pub expires_at: DateTime<Utc>,
}

/// `POST /v1/session`: exchanges an API key for a console session cookie.
#[utoipa::path(post, path = "/v1/session", tag = "session",
    request_body = SessionRequest,
    security(()),
    responses(
        (status = 201, description = "Started; `Set-Cookie: fc_session=…; HttpOnly; SameSite=Strict`", body = SessionStarted),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 503, body = ErrorBody),
    ))]
pub async fn login(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<SessionRequest>,
) -> Result<Response, ApiError> {
    let session = start(&state, &body.api_key).await?;
    let cookie = session_cookie(&state, &session);
    let body = SessionStarted {
        csrf_token: session.csrf_token,
        expires_at: session.expires_at,
    };
    Ok((
        StatusCode::CREATED,
        [(header::SET_COOKIE, cookie)],
        Json(body),
    )
        .into_response())
}

/// `DELETE /v1/session`: ends the cookie's session (with its `X-CSRF-Token`) and clears the
/// cookie; without a live session it only clears the cookie.
#[utoipa::path(delete, path = "/v1/session", tag = "session",
    security(()),
    responses(
        (status = 204, description = "Ended; the cookie is cleared"),
        (status = 403, description = "`csrf_failed`: the session's CSRF token is missing or wrong", body = ErrorBody),
        (status = 503, body = ErrorBody),
    ))]
pub async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if let Some((token, session)) = current(&headers, &state).await? {
        super::csrf::check_header(&headers, &session)?;
        state.store.delete_session(&token).await?;
        tracing::info!(org_id = %session.principal.org_id, "console session ended");
    }
    Ok((
        StatusCode::NO_CONTENT,
        [(header::SET_COOKIE, clear_session_cookie(&state))],
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_named_cookie_only() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; fc_session=tok; fc_oauth=b"),
        );
        assert_eq!(cookie(&h, SESSION_COOKIE), Some("tok"));
        assert_eq!(cookie(&h, OAUTH_BINDING_COOKIE), Some("b"));
        assert_eq!(cookie(&h, "fc"), None);
        let long = format!("fc_session={}", "x".repeat(MAX_TOKEN_CHARS + 1));
        h.insert(header::COOKIE, HeaderValue::from_str(&long).unwrap());
        assert_eq!(cookie(&h, SESSION_COOKIE), None);
    }

    #[test]
    fn idle_never_outlives_the_absolute_lifetime() {
        let c = SessionConfig::with_ttl(Duration::from_secs(60));
        assert_eq!(c.idle, Duration::from_secs(60));
        assert_eq!(SessionConfig::default().idle, DEFAULT_SESSION_IDLE);
    }
}
