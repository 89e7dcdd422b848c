//! `GET /v1/oauth/{provider}/authorize` and `/callback`: connecting an account through the
//! provider's consent page instead of pasting tokens.
//!
//! `authorize` needs an API key that may manage connections; it records a random, single-use
//! `state` (10 minutes) and redirects to the provider (or, with `Accept: application/json`,
//! returns the URL). `callback` is what the provider redirects the browser to: it needs no
//! API key — the `state` names the org — exchanges the code and creates the connection, or, when
//! `authorize` named a `connectionId`, gives that connection the new tokens (a reconnect: the
//! account signed in with must be the connection's).
//!
//! An authorization the console starts is bound to the browser that started it: its state
//! stores the hash of a short-lived `fc_oauth` cookie (SameSite=Lax, so the provider's
//! cross-site redirect back still carries it) set in that browser, and the callback refuses it
//! (400 `invalid_state`, no connection) when the cookie is absent or different; it then sends
//! the browser back to the console's Connections page. API flows (`authorize` with a key) are
//! bound to nothing: whoever opens their consent URL connects their account to the org; with
//! `redirectTo` (an origin of `FLUXCASCADE_OAUTH_REDIRECT_ORIGINS` only) the callback sends the
//! browser back to the client's app instead of answering JSON.

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::Utc;
use fluxcascade_core::ProviderKind;
use fluxcascade_providers::ProviderError;
use fluxcascade_store::connections::NewConnection;
use fluxcascade_store::connections_reconnect::ReconnectTokens;
use fluxcascade_store::oauth_states::{NewOAuthState, OAuthState};
use serde::{Deserialize, Serialize};

use crate::api::connections::{create_connection, same_account, ConnectionView};
use crate::auth::{Caller, Manager};
use crate::error::{ApiError, ErrorBody};
use crate::AppState;

/// How long a started authorization may take.
const STATE_TTL_MINUTES: i64 = 10;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "camelCase")]
pub struct AuthorizeQuery {
    /// The connection's display name (default: the provider's account id).
    account_name: Option<String>,
    /// Which provider account to sign in as, passed to the consent page as `account` (the
    /// sandbox selects its account by it; real providers let the user choose and ignore it).
    account_hint: Option<String>,
    /// An existing connection of this provider to reconnect instead of creating one.
    connection_id: Option<String>,
    /// Where the callback sends the browser after success (`303`, with `connectionId`,
    /// `provider` and `status` appended), instead of answering JSON; its origin must be one of
    /// `FLUXCASCADE_OAUTH_REDIRECT_ORIGINS` (422 naming `redirectTo` otherwise).
    redirect_to: Option<String>,
}

/// What the provider appends to the redirect: `code` and `state`, or `error`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CallbackQuery {
    code: Option<String>,
    /// The single-use `state` `authorize` issued (it names the organization).
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// `authorize`'s answer to `Accept: application/json`: where to send the browser.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuthorizeStarted {
    /// The provider's consent page.
    pub authorize_url: String,
    /// The single-use state the callback must bring back.
    pub state: String,
    pub expires_at: chrono::DateTime<Utc>,
}

pub(crate) fn provider_kind(raw: &str) -> Result<ProviderKind, ApiError> {
    ProviderKind::parse(raw).ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("unknown provider {raw:?}"),
        )
    })
}

fn callback_url(state: &AppState, kind: ProviderKind) -> String {
    format!("{}/v1/oauth/{}/callback", state.public_url, kind.as_str())
}

/// `GET /v1/oauth/{provider}/authorize` (Admin, Owner): starts connecting an account through the
/// provider's consent page: a redirect there, or its URL with `Accept: application/json`.
#[utoipa::path(get, path = "/v1/oauth/{provider}/authorize", tag = "oauth",
    params(("provider" = ProviderKind, Path, description = "The provider to connect"), AuthorizeQuery),
    responses(
        (status = 200, description = "With `Accept: application/json`", body = AuthorizeStarted),
        (status = 302, description = "Redirect to the provider's consent page",
            headers(("Location" = String, description = "The consent page"))),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, description = "An unknown provider, `provider_not_configured`, or a `connectionId` not of this organization", body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 503, body = ErrorBody),
    ),
    extensions(("x-min-role" = json!("admin"))))]
pub async fn authorize(
    State(state): State<AppState>,
    Manager(caller): Manager,
    Path(provider): Path<String>,
    Query(q): Query<AuthorizeQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let kind = provider_kind(&provider)?;
    for (field, value) in [
        ("accountName", q.account_name.as_deref()),
        ("accountHint", q.account_hint.as_deref()),
    ] {
        if let Some(Err(e)) = value.map(|v| {
            fluxcascade_core::limits::check_text(v, fluxcascade_core::limits::MAX_NAME_CHARS)
        }) {
            return Err(ApiError::invalid_field(field, e.to_string()));
        }
    }
    let redirect_to = match q.redirect_to.as_deref().filter(|s| !s.is_empty()) {
        Some(raw) => Some(allowed_redirect(&state, raw)?),
        None => None,
    };
    let started = start(
        &state,
        &caller,
        kind,
        StartOptions {
            account_name: q.account_name.as_deref(),
            account_hint: q.account_hint.as_deref(),
            connection_id: q.connection_id.as_deref(),
            session_binding: None,
            redirect_to: redirect_to.as_deref(),
        },
    )
    .await?;
    let wants_json = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/json"));
    if wants_json {
        return Ok(Json(started).into_response());
    }
    Ok((
        StatusCode::FOUND,
        [(header::LOCATION, started.authorize_url)],
    )
        .into_response())
}

/// What starting an authorization may say besides the provider.
#[derive(Debug, Default, Clone, Copy)]
pub struct StartOptions<'a> {
    pub account_name: Option<&'a str>,
    pub account_hint: Option<&'a str>,
    /// A connection id (text, as given) to reconnect.
    pub connection_id: Option<&'a str>,
    /// The console's binding token: the callback then requires it back as the
    /// [`OAUTH_BINDING_COOKIE`](crate::console::session::OAUTH_BINDING_COOKIE) cookie.
    pub session_binding: Option<&'a str>,
    /// An allowed `redirectTo` (see [`allowed_redirect`]).
    pub redirect_to: Option<&'a str>,
}

/// The longest `redirectTo` accepted.
const MAX_REDIRECT_CHARS: usize = 2048;

/// `raw` as a URL whose origin is one of `FLUXCASCADE_OAUTH_REDIRECT_ORIGINS` (422 naming
/// `redirectTo` otherwise: an open redirect would hand the browser to anyone).
fn allowed_redirect(state: &AppState, raw: &str) -> Result<String, ApiError> {
    if raw.chars().count() > MAX_REDIRECT_CHARS {
        return Err(ApiError::invalid_field(
            "redirectTo",
            format!("is longer than {MAX_REDIRECT_CHARS} characters"),
        ));
    }
    let url = url::Url::parse(raw)
        .map_err(|e| ApiError::invalid_field("redirectTo", format!("is not a URL: {e}")))?;
    let origin = url.origin().ascii_serialization();
    let web = matches!(url.scheme(), "https" | "http");
    if !web || !state.oauth_redirect_origins.contains(&origin) {
        return Err(ApiError::invalid_field(
            "redirectTo",
            format!("{origin} is not an allowed origin (FLUXCASCADE_OAUTH_REDIRECT_ORIGINS)"),
        ));
    }
    Ok(url.to_string())
}

/// Where a successful callback sends the browser of a flow that named `redirectTo`.
fn redirect_after(target: &str, kind: ProviderKind, id: uuid::Uuid, status: &str) -> Response {
    let sep = if target.contains('?') { '&' } else { '?' };
    let location = format!(
        "{target}{sep}connectionId={id}&provider={}&status={status}",
        kind.as_str()
    );
    match header::HeaderValue::from_str(&location) {
        Ok(v) => (StatusCode::SEE_OTHER, [(header::LOCATION, v)]).into_response(),
        Err(_) => ApiError::internal().into_response(),
    }
}

/// Starts an authorization for `caller` (who may manage connections): records the single-use
/// state and returns the provider's consent URL. Shared by the API and the console.
pub async fn start(
    state: &AppState,
    caller: &Caller,
    kind: ProviderKind,
    options: StartOptions<'_>,
) -> Result<AuthorizeStarted, ApiError> {
    let app = state.provider_app(kind)?;
    let connection_id = match options.connection_id.filter(|s| !s.is_empty()) {
        Some(raw) => Some(reconnect_target(state, caller, kind, raw).await?),
        None => None,
    };
    let redirect_uri = callback_url(state, kind);
    // 32 random bytes, base64url: the same generator as webhook secrets.
    let nonce = crate::hooks::verify::new_secret().map_err(|_| ApiError::internal())?;
    let expires_at = Utc::now() + chrono::Duration::minutes(STATE_TTL_MINUTES);
    state
        .store
        .create_oauth_state(
            &nonce,
            &NewOAuthState {
                org_id: caller.org_id(),
                provider: kind.as_str(),
                account_name: options.account_name.filter(|s| !s.is_empty()),
                connection_id,
                redirect_uri: &redirect_uri,
                expires_at,
                started_by: Some((caller.member_id(), caller.0.key_id)),
                session_binding: options.session_binding,
                redirect_to: options.redirect_to,
            },
        )
        .await?;
    let mut url = fluxcascade_providers::authorize_url(kind, app, &redirect_uri, &nonce);
    if let Some(hint) = options.account_hint.filter(|s| !s.is_empty()) {
        let encoded: String = url::form_urlencoded::byte_serialize(hint.as_bytes()).collect();
        url.push_str(&format!("&account={encoded}"));
    }
    Ok(AuthorizeStarted {
        authorize_url: url,
        state: nonce,
        expires_at,
    })
}

/// How long a started authorization (and so its binding cookie) lives, in seconds.
pub const STATE_TTL_SECS: u64 = STATE_TTL_MINUTES as u64 * 60;

/// Whether the request brings back the binding a console-started authorization was bound to
/// (an API flow is bound to nothing). Constant-time on the hashes.
fn binding_matches(started: &OAuthState, headers: &HeaderMap) -> bool {
    use subtle::ConstantTimeEq;
    let Some(expected) = &started.session_hash else {
        return true;
    };
    let Some(given) =
        crate::console::session::cookie(headers, crate::console::session::OAUTH_BINDING_COOKIE)
    else {
        return false;
    };
    let given = fluxcascade_store::sessions::token_hash(given);
    bool::from(given.ct_eq(expected))
}

/// `GET /v1/oauth/{provider}/callback`: where the provider sends the browser back. No API key:
/// the single-use `state` names the organization. Creates the connection (201), or gives the
/// connection `authorize` named its new tokens (200).
#[utoipa::path(get, path = "/v1/oauth/{provider}/callback", tag = "oauth",
    params(("provider" = ProviderKind, Path, description = "The provider"), CallbackQuery),
    security(()),
    responses(
        (status = 200, description = "Reconnected", body = ConnectionView),
        (status = 201, description = "Connected", body = ConnectionView),
        (status = 303, description = "Connected or reconnected, for a flow started with `redirectTo` (to it) or from the console (its Connections page)"),
        (status = 400, description = "`invalid_state`, `oauth_denied` or `oauth_exchange_failed`", body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 502, body = ErrorBody), (status = 503, body = ErrorBody),
    ))]
pub async fn callback(
    State(state): State<AppState>,
    Path(provider): Path<String>,
    Query(q): Query<CallbackQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let kind = provider_kind(&provider)?;
    let app = state.provider_app(kind)?;
    let Some(nonce) = q.state.as_deref().filter(|s| !s.is_empty()) else {
        return Err(ApiError::invalid_field("state", "missing"));
    };
    // A state we issued is short base64url; anything else (NUL, megabytes) is simply unknown.
    let started = if fluxcascade_core::limits::check_text(nonce, 128).is_ok() {
        state.store.take_oauth_state(nonce, kind.as_str()).await?
    } else {
        None
    };
    let Some(started) = started else {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_state",
            "state is unknown, expired or already used; start again at /v1/oauth/{provider}/authorize",
        ));
    };
    if !binding_matches(&started, &headers) {
        tracing::warn!(org_id = %started.org_id, provider = %kind, "OAuth callback in a browser other than the console session that started it");
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_state",
            "this authorization was started in another browser session; start again from the console",
        ));
    }
    let from_console = started.session_hash.is_some();
    if let Some(error) = &q.error {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "oauth_denied",
            format!(
                "{} refused the authorization ({error}): {}",
                kind.as_str(),
                q.error_description.as_deref().unwrap_or("no description")
            ),
        ));
    }
    let Some(code) = q.code.as_deref().filter(|s| !s.is_empty()) else {
        return Err(ApiError::invalid_field("code", "missing"));
    };
    let tokens =
        fluxcascade_providers::exchange_code(kind, app, &state.http, code, &started.redirect_uri)
            .await
            .map_err(|e| exchange_error(kind, e))?;
    // HubSpot, Jobber and Salesforce name the account in the token exchange; Pipedrive is asked.
    let account_id = match tokens.account_id.clone() {
        Some(account) => account,
        None => {
            crate::api::connections::learn_account(
                &state,
                kind,
                &tokens.access_token,
                tokens.instance_url.as_deref(),
            )
            .await?
        }
    };
    if let Some(connection_id) = started.connection_id {
        let view = reconnect(&state, &started, connection_id, kind, &account_id, tokens).await?;
        crate::api::audit::record_callback(&state, &started, "connection.reconnected", view.id)
            .await;
        if from_console {
            return Ok(crate::console::pages::connections::back_from_oauth(
                &state, kind,
            ));
        }
        if let Some(target) = &started.redirect_to {
            return Ok(redirect_after(target, kind, view.id, "reconnected"));
        }
        return Ok((StatusCode::OK, Json(view)).into_response());
    }
    let account_name = started
        .account_name
        .clone()
        .unwrap_or_else(|| format!("{} {account_id}", kind.as_str()).trim().to_owned());
    let new = NewConnection {
        provider: kind.as_str().to_owned(),
        account_name,
        external_account_id: account_id,
        access_token: tokens.access_token.clone(),
        refresh_token: tokens.refresh_token.clone(),
        expires_at: tokens.expires_at,
        instance_url: tokens.instance_url.clone(),
    };
    let view = create_connection(&state, started.org_id, new, &tokens.access_token).await?;
    crate::api::audit::record_callback(&state, &started, "connection.created", view.id).await;
    if from_console {
        return Ok(crate::console::pages::connections::back_from_oauth(
            &state, kind,
        ));
    }
    if let Some(target) = &started.redirect_to {
        return Ok(redirect_after(target, kind, view.id, "connected"));
    }
    Ok((StatusCode::CREATED, Json(view)).into_response())
}

/// The connection `raw` names, if it is one of the caller's connections of `kind` (404 otherwise,
/// like any other org's id; 422 naming `connectionId` for another provider's connection).
async fn reconnect_target(
    state: &AppState,
    caller: &Caller,
    kind: ProviderKind,
    raw: &str,
) -> Result<uuid::Uuid, ApiError> {
    let id = uuid::Uuid::parse_str(raw).map_err(|_| ApiError::not_found())?;
    let conn = state
        .store
        .get_connection(caller.org_id(), id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    if conn.provider != kind.as_str() {
        return Err(ApiError::invalid_field(
            "connectionId",
            format!("is a {} connection, not {}", conn.provider, kind.as_str()),
        ));
    }
    Ok(id)
}

/// The callback of an authorization started with `connectionId`: the connection gets the new
/// tokens if the account signed in with is its account.
async fn reconnect(
    state: &AppState,
    started: &OAuthState,
    connection_id: uuid::Uuid,
    kind: ProviderKind,
    account_id: &str,
    tokens: fluxcascade_providers::TokenSet,
) -> Result<ConnectionView, ApiError> {
    let current = state
        .store
        .get_connection(started.org_id, connection_id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    if !same_account(kind, &current.external_account_id, account_id) {
        tracing::warn!(org_id = %started.org_id, %connection_id, provider = %kind, "OAuth reconnect signed in to another account");
        return Err(ApiError::invalid_field(
            "connectionId",
            "the account signed in with is not this connection's externalAccountId; a reconnect \
             never moves a connection to another account",
        ));
    }
    let row = state
        .store
        .reconnect_connection(
            started.org_id,
            connection_id,
            &current.external_account_id,
            &state.master_key,
            ReconnectTokens {
                access_token: tokens.access_token,
                refresh_token: tokens.refresh_token,
                expires_at: tokens.expires_at,
                instance_url: tokens.instance_url,
            },
        )
        .await?
        .ok_or_else(ApiError::not_found)?;
    tracing::info!(org_id = %started.org_id, %connection_id, provider = %kind, "connection reconnected through OAuth");
    Ok(row.into())
}

fn exchange_error(kind: ProviderKind, e: ProviderError) -> ApiError {
    tracing::warn!(provider = %kind, error = %e, "OAuth code exchange failed");
    let transient = matches!(
        e,
        ProviderError::Transient(_) | ProviderError::RateLimited { .. }
    );
    if transient {
        ApiError::new(
            StatusCode::BAD_GATEWAY,
            "provider_unavailable",
            format!("{} token endpoint: {e}; try again", kind.as_str()),
        )
    } else {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "oauth_exchange_failed",
            format!("{} refused the code: {e}", kind.as_str()),
        )
    }
}
