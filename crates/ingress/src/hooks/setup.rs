//! What a new connection needs for webhooks besides its provider account id (learned from the
//! provider before the connection is stored, `api::connections::learn_account`): for Pipedrive
//! and Salesforce, a webhook secret and URL. HubSpot and Jobber subscriptions are app-level.
//!
//! - Pipedrive: a subscription `POST /v1/webhooks` with Basic credentials `<connectionId>:<secret>`.
//! - Salesforce: the outbound-message endpoint URL (with the secret) is returned once, as
//!   `webhookUrl`, for the admin to paste into the outbound message.

use std::sync::Arc;

use fluxcascade_core::ProviderKind;
use fluxcascade_providers::{ConnectionContext, PipedriveClient, StaticToken};
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
}

/// Called by `POST /v1/connections` (and the OAuth callback) after the connection is stored.
pub async fn on_connection_created(
    state: &AppState,
    org_id: Uuid,
    row: &ConnectionRow,
    access_token: &str,
) -> Result<HookSetup, ApiError> {
    let mut setup = HookSetup::default();
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
    // The stored `api_domain` is checked again (egress policy): a foreign host gets no token.
    let client = match PipedriveClient::from_context(app, ctx) {
        Ok(client) => client,
        Err(e) => {
            tracing::warn!(error = %e, connection_id = %row.id, "Pipedrive webhook subscription refused");
            return;
        }
    };
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
