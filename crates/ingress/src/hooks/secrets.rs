//! Per-connection webhook credentials for the Pipedrive and Salesforce receivers: one primary-key
//! read of the connection per delivery (a cached prepared statement), nothing kept in memory, so a
//! deleted connection or a new secret is refused at once on every ingress replica.

use fluxcascade_store::hook_events::HookConnection;
use uuid::Uuid;

use super::{unauthorized, verify};
use crate::error::ApiError;
use crate::AppState;

/// The connection named by a webhook URL, if `secret` is its webhook secret and it is of
/// `provider`; every failure is the same 401 (an unknown id tells nothing more than a bad secret).
pub async fn authenticate(
    state: &AppState,
    raw_id: &str,
    provider: &str,
    secret: Option<&str>,
) -> Result<HookConnection, ApiError> {
    let denied = || unauthorized("the webhook credentials are not valid for this connection");
    let id = Uuid::parse_str(raw_id).map_err(|_| denied())?;
    let secret = secret.ok_or_else(denied)?;
    let conn = state.store.hook_connection(id).await?.ok_or_else(denied)?;
    let valid = conn.provider == provider
        && conn
            .secret_hash
            .as_deref()
            .is_some_and(|hash| verify::secret_matches(secret, hash));
    if !valid {
        tracing::warn!(connection_id = %id, provider, "webhook with bad credentials");
        return Err(denied());
    }
    Ok(conn)
}
