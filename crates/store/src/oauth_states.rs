//! OAuth authorization attempts: the single-use, expiring `state` that ties a provider's
//! redirect back to the org that started it.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::{Store, StoreError};

/// A started authorization, as `GET /v1/oauth/{provider}/authorize` recorded it.
#[derive(Debug, Clone)]
pub struct OAuthState {
    pub org_id: Uuid,
    pub provider: String,
    pub account_name: Option<String>,
    pub redirect_uri: String,
    /// The connection this authorization reconnects (`None`: it creates a new one).
    pub connection_id: Option<Uuid>,
    /// The member and key that started it (for the audit log), when recorded.
    pub started_by: Option<(Uuid, Uuid)>,
    /// SHA-256 of the binding cookie of the console session that started it; `None`: an API
    /// (JSON) flow, bound to no browser.
    pub session_hash: Option<Vec<u8>>,
    /// Where the callback sends the browser after success (an API flow's allowed `redirectTo`).
    pub redirect_to: Option<String>,
}

/// A new authorization attempt.
#[derive(Debug, Clone)]
pub struct NewOAuthState<'a> {
    pub org_id: Uuid,
    pub provider: &'a str,
    pub account_name: Option<&'a str>,
    pub connection_id: Option<Uuid>,
    pub redirect_uri: &'a str,
    pub expires_at: DateTime<Utc>,
    /// The member and key starting it.
    pub started_by: Option<(Uuid, Uuid)>,
    /// The console's binding token (stored hashed): the callback must bring it back as a cookie.
    pub session_binding: Option<&'a str>,
    /// Where the callback sends the browser after success.
    pub redirect_to: Option<&'a str>,
}

impl Store {
    /// Records a new authorization attempt under `state` (random, chosen by the caller).
    pub async fn create_oauth_state(
        &self,
        state: &str,
        new: &NewOAuthState<'_>,
    ) -> Result<(), StoreError> {
        self.client()
            .await?
            .execute(
                "INSERT INTO oauth_states (state, org_id, provider, account_name, redirect_uri, expires_at, connection_id,
                    started_by_member, started_by_key, session_hash, redirect_to)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                &[
                    &state,
                    &new.org_id,
                    &new.provider,
                    &new.account_name,
                    &new.redirect_uri,
                    &new.expires_at,
                    &new.connection_id,
                    &new.started_by.map(|s| s.0),
                    &new.started_by.map(|s| s.1),
                    &new.session_binding.map(crate::orgs::hash_secret),
                    &new.redirect_to,
                ],
            )
            .await?;
        Ok(())
    }

    /// Consumes `state` if it exists, is for `provider` and has not expired (single use: a
    /// second call finds nothing). Expired states are swept on the way.
    pub async fn take_oauth_state(
        &self,
        state: &str,
        provider: &str,
    ) -> Result<Option<OAuthState>, StoreError> {
        let client = self.client().await?;
        client
            .execute("DELETE FROM oauth_states WHERE expires_at < now()", &[])
            .await?;
        let row = client
            .query_opt(
                "DELETE FROM oauth_states WHERE state = $1 AND provider = $2
                 RETURNING org_id, provider, account_name, redirect_uri, connection_id,
                    started_by_member, started_by_key, session_hash, redirect_to",
                &[&state, &provider],
            )
            .await?;
        Ok(row.map(|r| OAuthState {
            org_id: r.get(0),
            provider: r.get(1),
            account_name: r.get(2),
            redirect_uri: r.get(3),
            connection_id: r.get(4),
            started_by: r.get::<_, Option<Uuid>>(5).zip(r.get::<_, Option<Uuid>>(6)),
            session_hash: r.get(7),
            redirect_to: r.get(8),
        }))
    }
}
