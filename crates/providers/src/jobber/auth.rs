//! Jobber OAuth: the authorize URL, and `POST /api/oauth/token` for code exchange and refresh.
//! Access tokens are JWTs whose `exp` claim is their expiry; refresh tokens rotate.

use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine;
use chrono::{DateTime, TimeZone, Utc};
use serde_json::Value;

use crate::oauth::{parse_token_response, post_code_grant, post_refresh_grant, with_query};
use crate::{ProviderApp, ProviderError, TokenSet};

/// Jobber's OAuth endpoints.
#[derive(Debug)]
pub struct JobberAuth;

impl JobberAuth {
    pub fn authorize_url(app: &ProviderApp, redirect_uri: &str, state: &str) -> String {
        with_query(
            &format!("{}/api/oauth/authorize", app.oauth_base),
            &[
                ("response_type", "code"),
                ("client_id", app.client_id.as_str()),
                ("redirect_uri", redirect_uri),
                ("state", state),
            ],
        )
    }

    fn token_url(app: &ProviderApp) -> String {
        format!("{}/api/oauth/token", app.oauth_base)
    }

    pub async fn exchange_code(
        app: &ProviderApp,
        http: &reqwest::Client,
        code: &str,
        redirect_uri: &str,
    ) -> Result<TokenSet, ProviderError> {
        let body = post_code_grant(http, &Self::token_url(app), app, code, redirect_uri).await?;
        token_set(&body)
    }

    /// The returned set carries the NEW refresh token: the old one stops working.
    pub async fn refresh(
        app: &ProviderApp,
        http: &reqwest::Client,
        refresh_token: &str,
    ) -> Result<TokenSet, ProviderError> {
        let body = post_refresh_grant(http, &Self::token_url(app), app, refresh_token).await?;
        token_set(&body)
    }
}

/// A token response, with `expires_at` from the JWT's `exp` (else `expires_in`).
pub fn token_set(body: &Value) -> Result<TokenSet, ProviderError> {
    let mut tokens = parse_token_response(body, Utc::now())?;
    if let Some(exp) = jwt_expiry(&tokens.access_token) {
        tokens.expires_at = Some(exp);
    }
    tokens.account_id = jwt_account_id(&tokens.access_token);
    Ok(tokens)
}

/// The Jobber account an access token belongs to: the JWT's `account_id` claim.
pub fn jwt_account_id(token: &str) -> Option<String> {
    match jwt_claims(token)?.get("account_id")? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A JWT's claims, read without checking the signature (only used to schedule refreshes and
/// to learn the account a token belongs to).
fn jwt_claims(token: &str) -> Option<Value> {
    let payload = token.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD
        .decode(payload)
        .or_else(|_| URL_SAFE.decode(payload))
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// The `exp` claim of a JWT, read without checking the signature (we only schedule refreshes by it).
pub fn jwt_expiry(token: &str) -> Option<DateTime<Utc>> {
    let claims = jwt_claims(token)?;
    let exp = claims.get("exp")?;
    let secs = exp.as_i64().or_else(|| exp.as_f64().map(|f| f as i64))?;
    Utc.timestamp_opt(secs, 0).single()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_account_comes_from_the_jwt_payload() {
        let payload = URL_SAFE_NO_PAD.encode(br#"{"account_id":42,"exp":1}"#);
        assert_eq!(jwt_account_id(&format!("h.{payload}.s")), Some("42".into()));
        assert_eq!(jwt_account_id("opaque-token"), None);
    }
}
