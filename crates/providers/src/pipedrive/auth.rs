//! Pipedrive OAuth: the authorize URL (oauth.pipedrive.com, or the sandbox) and `POST /oauth/token`
//! with HTTP Basic client authentication. The token response names the company's API host
//! (`api_domain`), which becomes the connection's instance URL.

use chrono::Utc;

use crate::oauth::{parse_token_response, post_token_form_with_basic, with_query};
use crate::{ProviderApp, ProviderError, TokenSet};

/// Pipedrive's OAuth endpoints.
#[derive(Debug)]
pub struct PipedriveAuth;

impl PipedriveAuth {
    pub fn authorize_url(app: &ProviderApp, redirect_uri: &str, state: &str) -> String {
        with_query(
            &format!("{}/oauth/authorize", app.oauth_base),
            &[
                ("client_id", app.client_id.as_str()),
                ("redirect_uri", redirect_uri),
                ("state", state),
            ],
        )
    }

    fn token_url(app: &ProviderApp) -> String {
        format!("{}/oauth/token", app.oauth_base)
    }

    pub async fn exchange_code(
        app: &ProviderApp,
        http: &reqwest::Client,
        code: &str,
        redirect_uri: &str,
    ) -> Result<TokenSet, ProviderError> {
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect_uri),
        ];
        let body = post_token_form_with_basic(http, &Self::token_url(app), app, &form).await?;
        parse_token_response(&body, Utc::now())
    }

    /// Pipedrive answers with a refresh token too; if it ever omits it the old one stays.
    pub async fn refresh(
        app: &ProviderApp,
        http: &reqwest::Client,
        refresh_token: &str,
    ) -> Result<TokenSet, ProviderError> {
        let form = [
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ];
        let body = post_token_form_with_basic(http, &Self::token_url(app), app, &form).await?;
        let mut tokens = parse_token_response(&body, Utc::now())?;
        if tokens.refresh_token.is_none() {
            tokens.refresh_token = Some(refresh_token.to_owned());
        }
        Ok(tokens)
    }
}
