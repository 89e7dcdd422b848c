//! Salesforce OAuth (web server flow): the authorize URL and `POST /services/oauth2/token`.
//! The token response carries `instance_url` (the org's API host) and `id`
//! (`…/id/<orgId>/<userId>`), and no expiry: a 401 `INVALID_SESSION_ID` is the signal to refresh.

use chrono::Utc;
use serde_json::Value;

use crate::oauth::{parse_token_response, post_code_grant, post_refresh_grant, with_query};
use crate::{ProviderApp, ProviderError, TokenSet};

/// Salesforce's OAuth endpoints.
#[derive(Debug)]
pub struct SalesforceAuth;

impl SalesforceAuth {
    pub fn authorize_url(app: &ProviderApp, redirect_uri: &str, state: &str) -> String {
        with_query(
            &format!("{}/services/oauth2/authorize", app.oauth_base),
            &[
                ("response_type", "code"),
                ("client_id", app.client_id.as_str()),
                ("redirect_uri", redirect_uri),
                ("scope", "api refresh_token"),
                ("state", state),
            ],
        )
    }

    fn token_url(app: &ProviderApp) -> String {
        format!("{}/services/oauth2/token", app.oauth_base)
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

    /// A refresh returns no refresh token (unless rotation is configured): the old one stays.
    pub async fn refresh(
        app: &ProviderApp,
        http: &reqwest::Client,
        refresh_token: &str,
    ) -> Result<TokenSet, ProviderError> {
        let body = post_refresh_grant(http, &Self::token_url(app), app, refresh_token).await?;
        let mut tokens = token_set(&body)?;
        if tokens.refresh_token.is_none() {
            tokens.refresh_token = Some(refresh_token.to_owned());
        }
        Ok(tokens)
    }
}

fn token_set(body: &Value) -> Result<TokenSet, ProviderError> {
    let mut tokens = parse_token_response(body, Utc::now())?;
    tokens.account_id = body
        .get("id")
        .and_then(Value::as_str)
        .and_then(org_id_from_identity_url);
    Ok(tokens)
}

/// The org id in an identity URL `https://login.salesforce.com/id/<orgId>/<userId>`.
pub fn org_id_from_identity_url(url: &str) -> Option<String> {
    let mut parts = url.trim_end_matches('/').rsplit('/');
    let _user = parts.next()?;
    let org = parts.next()?;
    (parts.next()? == "id" && !org.is_empty()).then(|| org.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn org_id_is_read_from_the_identity_url() {
        assert_eq!(
            org_id_from_identity_url(
                "https://login.salesforce.com/id/00Dxx0000001gPLEAY/005xx000001SwiUAAS"
            )
            .as_deref(),
            Some("00Dxx0000001gPLEAY")
        );
        assert_eq!(org_id_from_identity_url("https://x/other/a/b"), None);
        assert_eq!(org_id_from_identity_url("nonsense"), None);
    }
}
