//! OAuth 2.0 authorize (auto-approve) and token endpoints for HubSpot, Jobber, Pipedrive and
//! Salesforce, each with the provider's client authentication, response and error shapes.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::json;

use crate::auth::{random_token, CodeGrant};
use crate::clock::{correlation_id, now_ms};
use crate::state::{Provider, SharedState, DEFAULT_ACCOUNT};

/// Why a token request failed, rendered in each provider's shape.
#[derive(Debug, Clone, Copy)]
enum OAuthFailure {
    InvalidClient,
    BadCode,
    BadRefreshToken,
    BadRedirectUri,
    BadGrantType,
    MissingParameter,
}

fn failure(provider: Provider, f: OAuthFailure) -> Response {
    match provider {
        Provider::Hubspot => {
            let (status, message, error) = match f {
                OAuthFailure::InvalidClient => (
                    "BAD_CLIENT_ID",
                    "missing or unknown client id",
                    "invalid_client",
                ),
                OAuthFailure::BadCode => (
                    "BAD_AUTH_CODE",
                    "missing or unknown auth code",
                    "invalid_grant",
                ),
                OAuthFailure::BadRefreshToken => (
                    "BAD_REFRESH_TOKEN",
                    "missing or unknown refresh token",
                    "invalid_grant",
                ),
                OAuthFailure::BadRedirectUri => (
                    "BAD_REDIRECT_URI",
                    "redirect_uri does not match",
                    "invalid_grant",
                ),
                OAuthFailure::BadGrantType => (
                    "BAD_GRANT_TYPE",
                    "unsupported grant_type",
                    "unsupported_grant_type",
                ),
                OAuthFailure::MissingParameter => (
                    "BAD_REQUEST",
                    "missing required parameter",
                    "invalid_request",
                ),
            };
            (
                StatusCode::BAD_REQUEST,
                Json(json!({
                    "status": status,
                    "message": message,
                    "correlationId": correlation_id(),
                    "error": error,
                    "error_description": message,
                })),
            )
                .into_response()
        }
        Provider::Jobber => {
            let (code, error, description) = match f {
                OAuthFailure::InvalidClient => (StatusCode::UNAUTHORIZED, "invalid_client", "Client authentication failed due to unknown client, no client authentication included, or unsupported authentication method."),
                OAuthFailure::BadCode | OAuthFailure::BadRefreshToken | OAuthFailure::BadRedirectUri => (StatusCode::BAD_REQUEST, "invalid_grant", "The provided authorization grant is invalid, expired, revoked, does not match the redirection URI used in the authorization request, or was issued to another client."),
                OAuthFailure::BadGrantType => (StatusCode::BAD_REQUEST, "unsupported_grant_type", "The authorization grant type is not supported by the authorization server."),
                OAuthFailure::MissingParameter => (StatusCode::BAD_REQUEST, "invalid_request", "The request is missing a required parameter, includes an unsupported parameter value, or is otherwise malformed."),
            };
            (
                code,
                Json(json!({"error": error, "error_description": description})),
            )
                .into_response()
        }
        Provider::Pipedrive => {
            let (code, error, description) = match f {
                OAuthFailure::InvalidClient => (
                    StatusCode::UNAUTHORIZED,
                    "invalid_client",
                    "Invalid client credentials",
                ),
                OAuthFailure::BadCode => (
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "Invalid authorization code",
                ),
                OAuthFailure::BadRefreshToken => (
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "Invalid refresh token",
                ),
                OAuthFailure::BadRedirectUri => (
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "Invalid redirect uri",
                ),
                OAuthFailure::BadGrantType => (
                    StatusCode::BAD_REQUEST,
                    "unsupported_grant_type",
                    "Unsupported grant type",
                ),
                OAuthFailure::MissingParameter => (
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "Missing required parameter",
                ),
            };
            (
                code,
                Json(json!({"success": false, "message": description, "error": error, "error_description": description})),
            )
                .into_response()
        }
        Provider::Salesforce => {
            let (error, description) = match f {
                OAuthFailure::InvalidClient => ("invalid_client_id", "client identifier invalid"),
                OAuthFailure::BadCode => ("invalid_grant", "authentication failure"),
                OAuthFailure::BadRefreshToken => ("invalid_grant", "expired access/refresh token"),
                OAuthFailure::BadRedirectUri => (
                    "redirect_uri_mismatch",
                    "redirect_uri must match configuration",
                ),
                OAuthFailure::BadGrantType => {
                    ("unsupported_grant_type", "grant type not supported")
                }
                OAuthFailure::MissingParameter => ("invalid_request", "missing required parameter"),
            };
            (
                StatusCode::BAD_REQUEST,
                Json(json!({"error": error, "error_description": description})),
            )
                .into_response()
        }
    }
}

fn client_ok(
    state: &SharedState,
    provider: Provider,
    id: Option<&String>,
    secret: Option<&String>,
) -> bool {
    let app = state.config().app(provider.as_str());
    id == Some(&app.client_id) && secret.is_none_or(|s| *s == app.client_secret)
}

async fn authorize(state: SharedState, provider: Provider, q: HashMap<String, String>) -> Response {
    if !client_ok(&state, provider, q.get("client_id"), None) {
        return failure(provider, OAuthFailure::InvalidClient);
    }
    let Some(redirect) = q.get("redirect_uri") else {
        return failure(provider, OAuthFailure::MissingParameter);
    };
    let Ok(mut url) = url::Url::parse(redirect) else {
        return failure(provider, OAuthFailure::BadRedirectUri);
    };
    let account = q.get("account").map_or(DEFAULT_ACCOUNT, String::as_str);
    match provider {
        Provider::Hubspot => drop(state.hubspot.get_or_create(account)),
        Provider::Jobber => drop(state.jobber.get_or_create(account)),
        // Their accounts are created on first API use.
        Provider::Pipedrive | Provider::Salesforce => {}
    }
    let code = state.tokens.issue_code(CodeGrant {
        provider,
        account: account.to_owned(),
        client_id: q.get("client_id").cloned().unwrap_or_default(),
        redirect_uri: redirect.clone(),
    });
    {
        let mut pairs = url.query_pairs_mut();
        pairs.append_pair("code", &code);
        if let Some(s) = q.get("state") {
            pairs.append_pair("state", s);
        }
    }
    (StatusCode::FOUND, [(header::LOCATION, url.to_string())]).into_response()
}

/// `GET /hubspot/oauth/authorize`
pub async fn hubspot_authorize(
    State(state): State<SharedState>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    authorize(state, Provider::Hubspot, q).await
}

/// `GET /jobber/api/oauth/authorize`
pub async fn jobber_authorize(
    State(state): State<SharedState>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    authorize(state, Provider::Jobber, q).await
}

/// `GET /pipedrive/oauth/authorize`
pub async fn pipedrive_authorize(
    State(state): State<SharedState>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    authorize(state, Provider::Pipedrive, q).await
}

/// `GET /salesforce/services/oauth2/authorize`
pub async fn salesforce_authorize(
    State(state): State<SharedState>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    authorize(state, Provider::Salesforce, q).await
}

/// The 18-character org id (`00D…`) of a Salesforce account, stable for its name.
pub fn salesforce_org_id(account: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, account.as_bytes());
    let alphabet = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let body: String = digest.as_ref()[..15]
        .iter()
        .map(|b| alphabet[usize::from(*b) % alphabet.len()] as char)
        .collect();
    format!("00D{body}")
}

fn mint_access(state: &SharedState, provider: Provider, account: &str) -> String {
    match provider {
        Provider::Hubspot => format!("CN{}", random_token(48)),
        Provider::Jobber => {
            let cfg = state.config();
            let app = cfg.app("jobber");
            let now = now_ms() / 1000;
            let account_id = state.jobber.get_or_create(account).account_id;
            let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
            let payload = json!({
                "iss": "https://api.getjobber.com",
                "client_id": app.client_id,
                "account_id": account_id,
                "user_id": account_id,
                "iat": now,
                "exp": now + cfg.token_ttl_seconds as i64,
                "jti": random_token(9),
            });
            let payload = URL_SAFE_NO_PAD.encode(payload.to_string());
            let signing_input = format!("{header}.{payload}");
            let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, app.client_secret.as_bytes());
            let sig = ring::hmac::sign(&key, signing_input.as_bytes());
            format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(sig.as_ref()))
        }
        Provider::Pipedrive => format!("v1u:{}", random_token(32)),
        Provider::Salesforce => format!("{}!{}", salesforce_org_id(account), random_token(40)),
    }
}

/// Pipedrive takes the client credentials as HTTP Basic authentication.
fn basic_client(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let encoded = value.strip_prefix("Basic ")?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (id, secret) = text.split_once(':')?;
    Some((id.to_owned(), secret.to_owned()))
}

async fn token(
    state: SharedState,
    provider: Provider,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut form: HashMap<String, String> =
        url::form_urlencoded::parse(&body).into_owned().collect();
    if provider == Provider::Pipedrive {
        let Some((id, secret)) = basic_client(&headers) else {
            return failure(provider, OAuthFailure::InvalidClient);
        };
        form.insert("client_id".into(), id);
        form.insert("client_secret".into(), secret);
    }
    if !client_ok(
        &state,
        provider,
        form.get("client_id"),
        Some(form.get("client_secret").unwrap_or(&String::new())),
    ) {
        return failure(provider, OAuthFailure::InvalidClient);
    }
    let client_id = form.get("client_id").cloned().unwrap_or_default();
    let ttl = state.config().token_ttl_seconds;
    let is_refresh = form.get("grant_type").map(String::as_str) == Some("refresh_token");
    let (account, refresh) = match form.get("grant_type").map(String::as_str) {
        Some("authorization_code") => {
            let Some(code) = form.get("code") else {
                return failure(provider, OAuthFailure::MissingParameter);
            };
            let Some(grant) = state.tokens.take_code(provider, code) else {
                return failure(provider, OAuthFailure::BadCode);
            };
            if grant.client_id != client_id {
                return failure(provider, OAuthFailure::BadCode);
            }
            if form
                .get("redirect_uri")
                .is_some_and(|r| *r != grant.redirect_uri)
            {
                return failure(provider, OAuthFailure::BadRedirectUri);
            }
            (grant.account, None)
        }
        Some("refresh_token") => {
            let Some(rt) = form.get("refresh_token") else {
                return failure(provider, OAuthFailure::MissingParameter);
            };
            // Jobber rotates refresh tokens; HubSpot keeps the same one.
            let rotate = provider == Provider::Jobber;
            let Some(account) = state.tokens.use_refresh(provider, rt, &client_id, rotate) else {
                return failure(provider, OAuthFailure::BadRefreshToken);
            };
            (account, (!rotate).then(|| rt.clone()))
        }
        Some(_) => return failure(provider, OAuthFailure::BadGrantType),
        None => return failure(provider, OAuthFailure::MissingParameter),
    };
    let access = mint_access(&state, provider, &account);
    let refresh = match refresh {
        Some(r) => {
            state
                .tokens
                .issue_access(provider, &account, access.clone(), ttl);
            r
        }
        None => state
            .tokens
            .issue_pair(provider, &account, &client_id, access.clone(), ttl),
    };
    let body = match provider {
        Provider::Hubspot => json!({
            "access_token": access,
            "refresh_token": refresh,
            "expires_in": ttl,
            "token_type": "bearer",
        }),
        Provider::Jobber => json!({"access_token": access, "refresh_token": refresh}),
        Provider::Pipedrive => json!({
            "access_token": access,
            "token_type": "Bearer",
            "refresh_token": refresh,
            "scope": "base,deals:full,contacts:full",
            "expires_in": ttl,
            "api_domain": format!("{}/pipedrive", state.base_url),
        }),
        Provider::Salesforce => {
            let org = salesforce_org_id(&account);
            let mut body = json!({
                "access_token": access,
                "instance_url": salesforce_instance_url(&state, &headers),
                "id": format!("{}/salesforce/id/{org}/005{}", state.base_url, &org[3..]),
                "token_type": "Bearer",
                "issued_at": now_ms().to_string(),
                "signature": random_token(32),
                "scope": "api refresh_token",
            });
            // Only the code grant returns a refresh token (no rotation configured).
            if !is_refresh {
                body["refresh_token"] = json!(refresh);
            }
            body
        }
    };
    (StatusCode::OK, Json(body)).into_response()
}

/// `POST /hubspot/oauth/v1/token`
pub async fn hubspot_token(
    State(state): State<SharedState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    token(state, Provider::Hubspot, headers, body).await
}

/// A real org's `instance_url` is an origin (scheme, host, port; no path): here the instance
/// listener's port on the host the client called (its `Host` header), so a client that reached
/// the sandbox by a service name gets an instance URL it can reach too.
fn salesforce_instance_url(state: &crate::state::SandboxState, headers: &HeaderMap) -> String {
    let called = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| format!("http://{h}").parse::<axum::http::Uri>().ok())
        .and_then(|u| u.host().map(str::to_owned));
    let host = called.unwrap_or_else(|| {
        state
            .base_url
            .parse::<axum::http::Uri>()
            .ok()
            .and_then(|u| u.host().map(str::to_owned))
            .unwrap_or_else(|| "127.0.0.1".to_owned())
    });
    format!("http://{host}:{}", state.salesforce_instance_port)
}

/// `POST /jobber/api/oauth/token`
pub async fn jobber_token(
    State(state): State<SharedState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    token(state, Provider::Jobber, headers, body).await
}

/// `POST /pipedrive/oauth/token` (client credentials as HTTP Basic)
pub async fn pipedrive_token(
    State(state): State<SharedState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    token(state, Provider::Pipedrive, headers, body).await
}

/// `POST /salesforce/services/oauth2/token`
pub async fn salesforce_token(
    State(state): State<SharedState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    token(state, Provider::Salesforce, headers, body).await
}

/// OAuth routes of Pipedrive, to merge into its router under `/pipedrive`.
pub fn pipedrive_routes() -> axum::Router<SharedState> {
    axum::Router::new()
        .route("/oauth/authorize", axum::routing::get(pipedrive_authorize))
        .route("/oauth/token", axum::routing::post(pipedrive_token))
}

/// OAuth routes of Salesforce, to merge into its router under `/salesforce`.
pub fn salesforce_routes() -> axum::Router<SharedState> {
    axum::Router::new()
        .route(
            "/services/oauth2/authorize",
            axum::routing::get(salesforce_authorize),
        )
        .route(
            "/services/oauth2/token",
            axum::routing::post(salesforce_token),
        )
}

/// `GET /hubspot/oauth/v1/access-tokens/{token}`: token metadata incl. `hub_id`.
pub async fn hubspot_token_info(
    State(state): State<SharedState>,
    Path(token): Path<String>,
) -> Response {
    match state.tokens.access_expires_in(Provider::Hubspot, &token) {
        Some((account, expires_in)) if expires_in > 0 => {
            let acct = state.hubspot.get_or_create(&account);
            let (portal, account) = (acct.portal_id, acct.name.clone());
            Json(json!({
                "token": token,
                "user": format!("{account}@sandbox.invalid"),
                "hub_domain": format!("{account}.sandbox.hubspot.invalid"),
                "scopes": ["oauth", "crm.objects.contacts.read", "crm.objects.contacts.write",
                           "crm.objects.companies.read", "crm.objects.companies.write",
                           "crm.objects.deals.read", "crm.objects.deals.write"],
                "hub_id": portal,
                "app_id": 1,
                "expires_in": expires_in,
                "user_id": 1,
                "token_type": "access",
            }))
            .into_response()
        }
        _ => (
            StatusCode::NOT_FOUND,
            Json(json!({
                "status": "error",
                "message": "The access token provided is invalid or has expired",
                "correlationId": correlation_id(),
                "category": "OBJECT_NOT_FOUND",
            })),
        )
            .into_response(),
    }
}
