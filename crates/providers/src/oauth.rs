//! OAuth for every provider: the authorize URL a user is sent to, the code exchange and the
//! refresh, each dispatching to the provider's own `auth` module.

use std::time::Duration;

use chrono::{DateTime, Utc};
use fluxcascade_core::ProviderKind;
use serde_json::Value;

use crate::egress::provider_hosts::refused;
use crate::egress::{check_instance_url, PROVIDER_BODY_LIMIT};
use crate::http::{error_message, read_text, refuse_redirect, retry_after_header, transport_error};
use crate::{
    hubspot::HubspotAuth, jobber::JobberAuth, pipedrive::PipedriveAuth, salesforce::SalesforceAuth,
    ProviderApp, ProviderError, TokenSet,
};

/// Where to send the user to grant FluxCascade access.
pub fn authorize_url(
    kind: ProviderKind,
    app: &ProviderApp,
    redirect_uri: &str,
    state: &str,
) -> String {
    match kind {
        ProviderKind::Hubspot => HubspotAuth::authorize_url(app, redirect_uri, state),
        ProviderKind::Jobber => JobberAuth::authorize_url(app, redirect_uri, state),
        ProviderKind::Pipedrive => PipedriveAuth::authorize_url(app, redirect_uri, state),
        ProviderKind::Salesforce => SalesforceAuth::authorize_url(app, redirect_uri, state),
    }
}

/// Exchange the authorization `code` the provider redirected back with for tokens. The API host
/// the provider names (Salesforce `instance_url`, Pipedrive `api_domain`) must pass
/// [`check_instance_url`] in the app's mode.
pub async fn exchange_code(
    kind: ProviderKind,
    app: &ProviderApp,
    http: &reqwest::Client,
    code: &str,
    redirect_uri: &str,
) -> Result<TokenSet, ProviderError> {
    let tokens = match kind {
        ProviderKind::Hubspot => HubspotAuth::exchange_code(app, http, code, redirect_uri).await,
        ProviderKind::Jobber => JobberAuth::exchange_code(app, http, code, redirect_uri).await,
        ProviderKind::Pipedrive => {
            PipedriveAuth::exchange_code(app, http, code, redirect_uri).await
        }
        ProviderKind::Salesforce => {
            SalesforceAuth::exchange_code(app, http, code, redirect_uri).await
        }
    }?;
    checked_instance(kind, app, tokens)
}

/// Trade a refresh token for a new token set. A refused grant is `ProviderError::Auth`:
/// the user must reconnect. (Jobber rotates refresh tokens: store the returned one.) A new API
/// host in the answer is checked like at the exchange.
pub async fn refresh(
    kind: ProviderKind,
    app: &ProviderApp,
    http: &reqwest::Client,
    refresh_token: &str,
) -> Result<TokenSet, ProviderError> {
    let tokens = match kind {
        ProviderKind::Hubspot => HubspotAuth::refresh(app, http, refresh_token).await,
        ProviderKind::Jobber => JobberAuth::refresh(app, http, refresh_token).await,
        ProviderKind::Pipedrive => PipedriveAuth::refresh(app, http, refresh_token).await,
        ProviderKind::Salesforce => SalesforceAuth::refresh(app, http, refresh_token).await,
    }?;
    checked_instance(kind, app, tokens)
}

/// The token set, if the API host it names (if any) is one of the provider's; otherwise a
/// permanent error naming the host (a token endpoint naming a foreign host is not to be trusted
/// with the token).
fn checked_instance(
    kind: ProviderKind,
    app: &ProviderApp,
    tokens: TokenSet,
) -> Result<TokenSet, ProviderError> {
    if let Some(url) = tokens.instance_url.as_deref() {
        check_instance_url(kind, url, app.mode)
            .map_err(|e| refused(kind, "token response's", url, &e))?;
    }
    Ok(tokens)
}

/// `base?k=v&...` with the values percent-encoded.
pub(crate) fn with_query(base: &str, params: &[(&str, &str)]) -> String {
    match url::Url::parse_with_params(base, params) {
        Ok(u) => u.to_string(),
        Err(_) => {
            let q: String = url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(params)
                .finish();
            format!("{base}?{q}")
        }
    }
}

/// The authorization-code grant with client credentials in the form (HubSpot, Jobber).
pub(crate) async fn post_code_grant(
    http: &reqwest::Client,
    url: &str,
    app: &crate::ProviderApp,
    code: &str,
    redirect_uri: &str,
) -> Result<Value, ProviderError> {
    let form = [
        ("grant_type", "authorization_code"),
        ("client_id", app.client_id.as_str()),
        ("client_secret", app.client_secret.expose()),
        ("redirect_uri", redirect_uri),
        ("code", code),
    ];
    post_token_form(http, url, &form).await
}

/// The refresh-token grant with client credentials in the form (HubSpot, Jobber).
pub(crate) async fn post_refresh_grant(
    http: &reqwest::Client,
    url: &str,
    app: &crate::ProviderApp,
    refresh_token: &str,
) -> Result<Value, ProviderError> {
    let form = [
        ("grant_type", "refresh_token"),
        ("client_id", app.client_id.as_str()),
        ("client_secret", app.client_secret.expose()),
        ("refresh_token", refresh_token),
    ];
    post_token_form(http, url, &form).await
}

/// POST a form to a token endpoint and classify the failure modes.
pub(crate) async fn post_token_form(
    http: &reqwest::Client,
    url: &str,
    form: &[(&str, &str)],
) -> Result<Value, ProviderError> {
    classify_token_response(http.post(url).form(form)).await
}

/// The same with the client credentials as HTTP Basic authentication (Pipedrive).
pub(crate) async fn post_token_form_with_basic(
    http: &reqwest::Client,
    url: &str,
    app: &ProviderApp,
    form: &[(&str, &str)],
) -> Result<Value, ProviderError> {
    let request = http
        .post(url)
        .basic_auth(&app.client_id, Some(app.client_secret.expose()))
        .form(form);
    classify_token_response(request).await
}

async fn classify_token_response(request: reqwest::RequestBuilder) -> Result<Value, ProviderError> {
    let response = request.send().await.map_err(transport_error)?;
    let status = response.status();
    refuse_redirect("token endpoint", status)?;
    let retry_after = retry_after_header(response.headers());
    let text = read_text("token endpoint", response, PROVIDER_BODY_LIMIT).await?;
    let body: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
    if status.is_success() {
        return Ok(body);
    }
    let message = error_message(&body);
    if status.as_u16() == 429 {
        return Err(ProviderError::RateLimited {
            retry_after: retry_after.unwrap_or(Duration::from_secs(10)),
        });
    }
    if status.is_server_error() {
        return Err(ProviderError::Transient(format!(
            "token endpoint answered {status}: {message}"
        )));
    }
    let code = body
        .get("error")
        .or_else(|| body.get("status"))
        .and_then(Value::as_str)
        .unwrap_or_default();
    match code {
        // Our own app is misconfigured: reconnecting will not help.
        "invalid_client"
        | "invalid_client_id"
        | "unsupported_grant_type"
        | "BAD_CLIENT_ID"
        | "BAD_CLIENT_SECRET"
        | "BAD_GRANT_TYPE" => Err(ProviderError::Permanent(format!(
            "token endpoint refused the app ({code}): {message}"
        ))),
        // invalid_grant, BAD_REFRESH_TOKEN, BAD_AUTH_CODE, ...: the grant is dead.
        _ => Err(ProviderError::Auth(format!(
            "token endpoint refused the grant ({status}): {message}"
        ))),
    }
}

/// The common fields of a token response; `expires_at` from `expires_in` when given.
pub(crate) fn parse_token_response(
    body: &Value,
    now: DateTime<Utc>,
) -> Result<TokenSet, ProviderError> {
    let access_token = body
        .get("access_token")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ProviderError::Permanent("token response without access_token".into()))?
        .to_owned();
    let expires_at = body
        .get("expires_in")
        .and_then(|v| {
            v.as_i64()
                .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        })
        .map(|secs| now + chrono::Duration::seconds(secs));
    let text = |k: &str| body.get(k).and_then(Value::as_str).map(str::to_owned);
    Ok(TokenSet {
        access_token,
        refresh_token: text("refresh_token"),
        expires_at,
        instance_url: text("instance_url").or_else(|| text("api_domain")),
        account_id: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn token_response_expiry_is_now_plus_expires_in() {
        let now = Utc::now();
        let t = parse_token_response(
            &json!({"access_token":"a","refresh_token":"r","expires_in":1800,"token_type":"bearer"}),
            now,
        )
        .unwrap();
        assert_eq!(t.access_token, "a");
        assert_eq!(t.refresh_token.as_deref(), Some("r"));
        assert_eq!(t.expires_at, Some(now + chrono::Duration::seconds(1800)));
    }

    #[test]
    fn token_response_without_access_token_is_an_error() {
        assert!(parse_token_response(&json!({"error":"x"}), Utc::now()).is_err());
    }

    #[test]
    fn query_values_are_encoded() {
        let u = with_query(
            "http://h/a",
            &[
                ("redirect_uri", "http://localhost/cb?x=1"),
                ("state", "a b"),
            ],
        );
        assert_eq!(
            u,
            "http://h/a?redirect_uri=http%3A%2F%2Flocalhost%2Fcb%3Fx%3D1&state=a+b"
        );
    }
}
