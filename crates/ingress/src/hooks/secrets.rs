//! Per-connection webhook credentials for the Pipedrive and Salesforce receivers: one primary-key
//! read of the connection, kept in a small in-process cache so a burst costs one query.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use fluxcascade_store::webhook_events::HookConnection;
use uuid::Uuid;

use super::{unauthorized, verify};
use crate::error::ApiError;
use crate::AppState;

/// How long a looked-up connection is trusted (a deleted connection may still be accepted this long;
/// the worker drops events of connections that are gone).
pub const CACHE_TTL: Duration = Duration::from_secs(30);
const CACHE_MAX: usize = 10_000;

type Cache = Mutex<HashMap<Uuid, (Instant, HookConnection)>>;

fn cache() -> &'static Cache {
    static CACHE: OnceLock<Cache> = OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(HashMap::new()))
}

async fn lookup(state: &AppState, id: Uuid) -> Result<Option<HookConnection>, ApiError> {
    if let Ok(map) = cache().lock() {
        if let Some((at, conn)) = map.get(&id) {
            if at.elapsed() < CACHE_TTL {
                return Ok(Some(conn.clone()));
            }
        }
    }
    let found = state.store.hook_connection(id).await?;
    if let (Some(conn), Ok(mut map)) = (&found, cache().lock()) {
        if map.len() >= CACHE_MAX {
            map.retain(|_, (at, _)| at.elapsed() < CACHE_TTL);
        }
        if map.len() < CACHE_MAX {
            map.insert(id, (Instant::now(), conn.clone()));
        }
    }
    Ok(found)
}

/// Forgets a connection (its secret changed).
pub fn forget(id: Uuid) {
    if let Ok(mut map) = cache().lock() {
        map.remove(&id);
    }
}

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
    let conn = lookup(state, id).await?.ok_or_else(denied)?;
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
