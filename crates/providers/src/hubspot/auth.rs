//! HubSpot OAuth: the authorize URL (app.hubspot.com, or the sandbox), and the form-encoded
//! `POST /oauth/v1/token` for code exchange and refresh.

use chrono::Utc;

use crate::oauth::{parse_token_response, post_code_grant, post_refresh_grant, with_query};
use crate::{ProviderApp, ProviderError, TokenSet};

/// The scopes FluxCascade asks for: read and write contacts, companies and deals.
pub const SCOPES: &str = "oauth crm.objects.contacts.read crm.objects.contacts.write \
crm.objects.companies.read crm.objects.companies.write crm.objects.deals.read crm.objects.deals.write";

/// HubSpot's OAuth endpoints.
#[derive(Debug)]
pub struct HubspotAuth;

impl HubspotAuth {
    /// Real HubSpot serves the consent page on app.hubspot.com; elsewhere (the sandbox) it is
    /// `{oauth_base}/oauth/authorize`.
    pub fn authorize_url(app: &ProviderApp, redirect_uri: &str, state: &str) -> String {
        let base = if app.oauth_base.contains("api.hubapi.com") {
            "https://app.hubspot.com/oauth/authorize".to_owned()
        } else {
            format!("{}/oauth/authorize", app.oauth_base)
        };
        with_query(
            &base,
            &[
                ("client_id", app.client_id.as_str()),
                ("redirect_uri", redirect_uri),
                ("scope", SCOPES),
                ("state", state),
            ],
        )
    }

    fn token_url(app: &ProviderApp) -> String {
        format!("{}/oauth/v1/token", app.oauth_base)
    }

    pub async fn exchange_code(
        app: &ProviderApp,
        http: &reqwest::Client,
        code: &str,
        redirect_uri: &str,
    ) -> Result<TokenSet, ProviderError> {
        let body = post_code_grant(http, &Self::token_url(app), app, code, redirect_uri).await?;
        parse_token_response(&body, Utc::now())
    }

    pub async fn refresh(
        app: &ProviderApp,
        http: &reqwest::Client,
        refresh_token: &str,
    ) -> Result<TokenSet, ProviderError> {
        let body = post_refresh_grant(http, &Self::token_url(app), app, refresh_token).await?;
        let mut tokens = parse_token_response(&body, Utc::now())?;
        // HubSpot keeps the refresh token; some responses omit it.
        if tokens.refresh_token.is_none() {
            tokens.refresh_token = Some(refresh_token.to_owned());
        }
        Ok(tokens)
    }
}
