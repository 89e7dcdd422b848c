//! A `TokenSource` backed by the store: refreshes before expiry, one refresher at a time per connection.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use fluxcascade_core::ProviderKind;
use fluxcascade_providers::{ProviderError, ProvidersConfig, TokenSource};
use fluxcascade_store::connections::Credentials;
use fluxcascade_store::{MasterKey, Store, StoreError};
use tokio::sync::Mutex;
use tracing::{info, warn};
use uuid::Uuid;

use crate::deliveries::RelaySignal;

/// Refresh this long before the provider's expiry (or at half the token's lifetime, for
/// tokens that live less than two of these).
const REFRESH_MARGIN_SECONDS: i64 = 60;

struct Cached {
    token: String,
    expires_at: Option<DateTime<Utc>>,
    /// How long before `expires_at` this token is refreshed.
    margin: Duration,
}

/// The refresh margin for a token that has `expires_at` left now: a minute, or half of what
/// is left for short-lived tokens (a sandbox TTL of 5 s refreshes every ~2.5 s, not on every call).
fn margin_for(expires_at: Option<DateTime<Utc>>) -> Duration {
    let full = Duration::seconds(REFRESH_MARGIN_SECONDS);
    match expires_at {
        Some(t) => {
            let left = t - Utc::now();
            if left > full * 2 {
                full
            } else {
                (left / 2).max(Duration::zero())
            }
        }
        None => full,
    }
}

pub struct StoreTokenSource {
    /// Wakes the outbox relay after an expiry event was recorded.
    relay: RelaySignal,
    store: Store,
    key: Arc<MasterKey>,
    org_id: Uuid,
    connection_id: Uuid,
    kind: ProviderKind,
    config: ProvidersConfig,
    http: reqwest::Client,
    cached: Mutex<Cached>,
}

fn store_err(e: StoreError) -> ProviderError {
    ProviderError::Transient(format!("credential store: {e}"))
}

fn fresh(expires_at: Option<DateTime<Utc>>, margin: Duration) -> bool {
    expires_at.is_none_or(|t| t > Utc::now() + margin)
}

impl StoreTokenSource {
    /// Wakes `relay` (the worker's outbox relay) after recording an expiry; without it the
    /// relay finds the event on its next interval.
    pub fn waking(mut self, relay: RelaySignal) -> StoreTokenSource {
        self.relay = relay;
        self
    }

    pub fn new(
        store: Store,
        key: Arc<MasterKey>,
        org_id: Uuid,
        kind: ProviderKind,
        config: ProvidersConfig,
        http: reqwest::Client,
        creds: Credentials,
    ) -> StoreTokenSource {
        StoreTokenSource {
            relay: RelaySignal::default(),
            store,
            key,
            org_id,
            connection_id: creds.connection_id,
            kind,
            config,
            http,
            cached: Mutex::new(Cached {
                token: creds.access_token,
                expires_at: creds.expires_at,
                margin: Duration::seconds(REFRESH_MARGIN_SECONDS),
            }),
        }
    }

    /// Refreshes under the connection's row lock. `rejected` is a token the provider refused.
    async fn refresh(
        &self,
        cached: &mut Cached,
        rejected: Option<&str>,
    ) -> Result<(), ProviderError> {
        let locked = self
            .store
            .lock_credentials(self.org_id, self.connection_id, &self.key)
            .await
            .map_err(store_err)?;
        let creds = locked.credentials.clone();
        if creds.status == "expired" {
            let _ = locked.lock.release().await;
            return Err(ProviderError::Auth(
                "the connection has expired; reconnect the account".into(),
            ));
        }
        let someone_refreshed =
            creds.access_token != cached.token && Some(creds.access_token.as_str()) != rejected;
        let margin = margin_for(creds.expires_at);
        if someone_refreshed && fresh(creds.expires_at, margin) {
            // Another worker refreshed while we waited for the lock.
            cached.token = creds.access_token;
            cached.expires_at = creds.expires_at;
            cached.margin = margin;
            let _ = locked.lock.release().await;
            return Ok(());
        }
        let Some(refresh_token) = creds.refresh_token.clone() else {
            let _ = locked.lock.release().await;
            return Err(ProviderError::Auth(
                "the access token expired and there is no refresh token; reconnect".into(),
            ));
        };
        let app = match self.config.require(self.kind) {
            Ok(app) => app,
            Err(e) => {
                let _ = locked.lock.release().await;
                return Err(e.into());
            }
        };
        match fluxcascade_providers::refresh(self.kind, app, &self.http, &refresh_token).await {
            Ok(set) => {
                locked
                    .lock
                    .store_tokens(
                        &self.key,
                        &set.access_token,
                        set.refresh_token.as_deref(),
                        set.expires_at,
                        set.instance_url.as_deref(),
                    )
                    .await
                    .map_err(store_err)?;
                info!(connection_id = %self.connection_id, provider = %self.kind, "access token refreshed");
                cached.token = set.access_token;
                cached.expires_at = set.expires_at;
                cached.margin = margin_for(set.expires_at);
                Ok(())
            }
            Err(ProviderError::Auth(msg)) => {
                count_refresh_failure(self.kind, "rejected");
                warn!(connection_id = %self.connection_id, error = %msg, "refresh token rejected; connection expired");
                let message = format!(
                    "the provider rejected the refresh token ({msg}); reconnect the account"
                );
                locked
                    .lock
                    .mark_expired(&message)
                    .await
                    .map_err(store_err)?;
                self.relay.nudge();
                Err(ProviderError::Auth(message))
            }
            Err(e) => {
                count_refresh_failure(self.kind, "error");
                let _ = locked.lock.release().await;
                Err(e)
            }
        }
    }
}

/// `fluxcascade_token_refresh_failures_total{provider, reason}`: `rejected` (the connection
/// is now expired) or `error` (the provider or the network failed; the job retries).
fn count_refresh_failure(kind: ProviderKind, reason: &'static str) {
    fluxcascade_telemetry::metrics()
        .token_refresh_failures
        .with_label_values(&[kind.as_str(), reason])
        .inc();
}

#[async_trait::async_trait]
impl TokenSource for StoreTokenSource {
    async fn access_token(&self) -> Result<String, ProviderError> {
        let mut cached = self.cached.lock().await;
        if !fresh(cached.expires_at, cached.margin) {
            self.refresh(&mut cached, None).await?;
        }
        Ok(cached.token.clone())
    }

    async fn invalidate(&self, token: &str) -> Result<(), ProviderError> {
        let mut cached = self.cached.lock().await;
        if cached.token != token {
            return Ok(()); // already replaced
        }
        self.refresh(&mut cached, Some(token)).await
    }
}
