//! Reconnecting a connection (new tokens for the same provider account) and the version the
//! worker's adapter cache compares to notice it.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::connections::{access_aad, refresh_aad, row_to_connection, ConnectionRow, COLUMNS};
use crate::{MasterKey, Store, StoreError};

/// The tokens a reconnect stores in place of the old ones.
pub struct ReconnectTokens {
    pub access_token: String,
    /// `None` clears the stored refresh token.
    pub refresh_token: Option<String>,
    pub expires_at: Option<DateTime<Utc>>,
    /// `None` keeps the stored API host.
    pub instance_url: Option<String>,
}

/// What a worker needs to know to tell whether its cached adapter is still current.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionVersion(pub DateTime<Utc>);

impl Store {
    /// The stored API host of a connection (Salesforce `instance_url`, Pipedrive `api_domain`),
    /// `Ok(None)` when it has none; `NotFound` for another org's or a deleted connection.
    pub async fn connection_instance_url(
        &self,
        org_id: Uuid,
        id: Uuid,
    ) -> Result<Option<String>, StoreError> {
        let row = self
            .client()
            .await?
            .query_opt(
                "SELECT instance_url FROM connections WHERE org_id = $1 AND id = $2 AND deleted_at IS NULL",
                &[&org_id, &id],
            )
            .await?
            .ok_or(StoreError::NotFound)?;
        Ok(row.get(0))
    }

    /// Seals `tokens` again under `key` (new ciphertexts for both tokens) in place of the
    /// connection's, and makes it `active` without a status message, provided it still belongs to
    /// `external_account_id` (a reconnect never moves a connection to another account). The
    /// update takes the row lock, so it waits for a refresh in progress and a later refresh reads
    /// these tokens. `None` when there is no such live connection in the org (or it changed account).
    pub async fn reconnect_connection(
        &self,
        org_id: Uuid,
        id: Uuid,
        external_account_id: &str,
        key: &MasterKey,
        tokens: ReconnectTokens,
    ) -> Result<Option<ConnectionRow>, StoreError> {
        let access = key.seal_stored(&access_aad(id), &tokens.access_token)?;
        let refresh = match &tokens.refresh_token {
            Some(t) => Some(key.seal_stored(&refresh_aad(id), t)?),
            None => None,
        };
        let row = self
            .client()
            .await?
            .query_opt(
                &format!(
                    "UPDATE connections SET access_token = $4, refresh_token = $5,
                        expires_at = $6, instance_url = COALESCE($7, instance_url),
                        status = 'active', status_message = NULL, updated_at = clock_timestamp()
                     WHERE org_id = $1 AND id = $2 AND external_account_id = $3 AND deleted_at IS NULL
                     RETURNING {COLUMNS}"
                ),
                &[
                    &org_id,
                    &id,
                    &external_account_id,
                    &access,
                    &refresh,
                    &tokens.expires_at,
                    &tokens.instance_url,
                ],
            )
            .await?;
        Ok(row.as_ref().map(row_to_connection))
    }

    /// The version of a connection's stored credentials: it changes whenever they do (a
    /// reconnect, a refresh, expiry). `NotFound` once the connection is deleted.
    pub async fn connection_version(
        &self,
        org_id: Uuid,
        id: Uuid,
    ) -> Result<ConnectionVersion, StoreError> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(
                "SELECT updated_at FROM connections WHERE org_id = $1 AND id = $2 AND deleted_at IS NULL",
            )
            .await?;
        let row = client
            .query_opt(&stmt, &[&org_id, &id])
            .await?
            .ok_or(StoreError::NotFound)?;
        Ok(ConnectionVersion(row.get(0)))
    }
}
