//! HubSpot OAuth: the authorize URL (app.hubspot.com, or the sandbox), and the form-encoded
//! `POST /oauth/v1/token` for code exchange and refresh.

use chrono::Utc;

use crate::egress::PROVIDER_BODY_LIMIT;
use crate::http::{error_message, read_text, refuse_redirect, transport_error};
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
        let mut tokens = parse_token_response(&body, Utc::now())?;
        tokens.account_id = Some(Self::portal_id(app, http, &tokens.access_token).await?);
        Ok(tokens)
    }

    /// The portal (`hub_id`) an access token belongs to: `GET /oauth/v1/access-tokens/{token}`.
    /// The URL carries the token: errors never quote it.
    pub async fn portal_id(
        app: &ProviderApp,
        http: &reqwest::Client,
        access_token: &str,
    ) -> Result<String, ProviderError> {
        let url = format!("{}/oauth/v1/access-tokens/{access_token}", app.oauth_base);
        let response = http.get(url).send().await.map_err(transport_error)?;
        let status = response.status();
        refuse_redirect("HubSpot token info", status)?;
        let text = read_text("HubSpot token info", response, PROVIDER_BODY_LIMIT).await?;
        let body: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
            ProviderError::Transient(format!(
                "HubSpot token info answered {status} with a body that is not JSON: {e}"
            ))
        })?;
        match body.get("hub_id") {
            Some(id) if status.is_success() => Ok(match id {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            }),
            _ => Err(ProviderError::Auth(format!(
                "token info answered {status}: {}",
                error_message(&body)
            ))),
        }
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
