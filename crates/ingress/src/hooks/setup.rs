//! What a new connection needs for webhooks: its provider account id (HubSpot portal, Jobber
//! account: how deliveries find it) and, for Pipedrive and Salesforce, a webhook secret and URL.
//!
//! - HubSpot: `hub_id` from the token-info endpoint `GET /oauth/v1/access-tokens/{token}` (an OAuth
//!   endpoint, not the data API); Jobber: `account_id` in the access token (a JWT). Both only when
//!   the client did not give `externalAccountId`. Subscriptions are app-level: nothing to create.
//! - Pipedrive: a subscription `POST /v1/webhooks` with Basic credentials `<connectionId>:<secret>`.
//! - Salesforce: the outbound-message endpoint URL (with the secret) is returned once, as
//!   `webhookUrl`, for the admin to paste into the outbound message.

use std::sync::Arc;

use fluxcascade_core::ProviderKind;
use fluxcascade_providers::jobber::auth::jwt_account_id;
use fluxcascade_providers::{ConnectionContext, HubspotAuth, PipedriveClient, StaticToken};
use fluxcascade_store::connections::ConnectionRow;
use uuid::Uuid;

use super::verify;
use crate::error::ApiError;
use crate::AppState;

/// What the API shows once, right after the connection was created.
#[derive(Debug, Default, Clone)]
pub struct HookSetup {
    /// Salesforce: the URL to configure as the outbound message's endpoint (holds the secret).
    pub webhook_url: Option<String>,
    /// The provider account id found for the connection (when it had none).
    pub external_account_id: Option<String>,
}

/// Called by `POST /v1/connections` (and the OAuth callback) after the connection is stored.
/// Failures to learn the account id are logged, not fatal: the connection works, only webhooks
/// cannot be routed to it until `externalAccountId` is known.
pub async fn on_connection_created(
    state: &AppState,
    org_id: Uuid,
    row: &ConnectionRow,
    access_token: &str,
) -> Result<HookSetup, ApiError> {
    let mut setup = HookSetup::default();
    if row.external_account_id.is_empty() {
        let found = match row.provider.as_str() {
            "hubspot" => hubspot_portal(state, access_token).await,
            "jobber" => jwt_account_id(access_token),
            _ => None,
        };
        if let Some(account) = found {
            state
                .store
                .fill_external_account_id(org_id, row.id, &account)
                .await?;
            setup.external_account_id = Some(account);
        }
    }
    match row.provider.as_str() {
        "pipedrive" => {
            let secret = new_webhook_secret(state, org_id, row.id).await?;
            let url = format!("{}/hooks/pipedrive/{}", state.public_url, row.id);
            subscribe_pipedrive(state, org_id, row, access_token, &url, &secret).await;
        }
        "salesforce" => {
            let secret = new_webhook_secret(state, org_id, row.id).await?;
            setup.webhook_url = Some(format!(
                "{}/hooks/salesforce/{}?s={secret}",
                state.public_url, row.id
            ));
        }
        _ => {}
    }
    Ok(setup)
}

async fn new_webhook_secret(
    state: &AppState,
    org_id: Uuid,
    connection_id: Uuid,
) -> Result<String, ApiError> {
    let secret = verify::new_secret().map_err(|_| {
        tracing::error!("the system random generator failed");
        ApiError::internal()
    })?;
    state
        .store
        .set_webhook_secret_hash(org_id, connection_id, &verify::secret_hash(&secret))
        .await?;
    Ok(secret)
}

/// Creates the Pipedrive subscription (`POST /v1/webhooks`, every object and action, v2 payloads)
/// with the connection's Basic credentials. A failure is logged: the connection still syncs on
/// schedules and on demand, only without webhooks.
async fn subscribe_pipedrive(
    state: &AppState,
    org_id: Uuid,
    row: &ConnectionRow,
    access_token: &str,
    url: &str,
    secret: &str,
) {
    let mut ctx = ConnectionContext::simple(
        Arc::new(StaticToken(access_token.to_owned())),
        state.http.clone(),
    );
    // Pipedrive's API host is per company (`api_domain`, kept as the connection's instance URL).
    ctx.instance_url = match state
        .store
        .load_credentials(org_id, row.id, &state.master_key)
        .await
    {
        Ok(c) => c.instance_url,
        Err(e) => {
            tracing::warn!(error = %e, connection_id = %row.id, "no instance URL for the Pipedrive subscription");
            None
        }
    };
    let Some(app) = state.providers.app(ProviderKind::Pipedrive) else {
        tracing::warn!(connection_id = %row.id, "Pipedrive is not configured; no webhook subscription");
        return;
    };
    let client = PipedriveClient::from_context(app, ctx);
    match client
        .create_webhook(url, "*", "*", &row.id.to_string(), secret)
        .await
    {
        Ok(id) => {
            tracing::info!(connection_id = %row.id, webhook_id = %id, "Pipedrive webhook subscribed")
        }
        Err(e) => {
            tracing::warn!(error = %e, connection_id = %row.id, "Pipedrive webhook subscription failed")
        }
    }
}

/// The HubSpot portal of an access token (token info's `hub_id`); `None` logs why.
async fn hubspot_portal(state: &AppState, token: &str) -> Option<String> {
    let app = state.providers.app(ProviderKind::Hubspot)?;
    HubspotAuth::portal_id(app, &state.http, token)
        .await
        .inspect_err(|e| tracing::warn!(error = %e, "HubSpot token info failed; no portal id"))
        .ok()
}
