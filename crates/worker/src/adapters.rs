//! A per-process cache of provider adapters, one per connection, each with a store-backed token source.
//! An adapter is kept while its connection's stored credentials are unchanged: each use compares
//! their version (one indexed read), so a reconnected connection's new tokens are used at once
//! and a deleted connection is refused at once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use fluxcascade_core::ProviderKind;
use fluxcascade_providers::{
    ConnectionContext, Provider, ProviderError, ProvidersConfig, RateBudgets,
};
use fluxcascade_store::connections_reconnect::ConnectionVersion;
use fluxcascade_store::{MasterKey, Store, StoreError};
use uuid::Uuid;

use crate::budget::StoreBudget;
use crate::deliveries::RelaySignal;
use crate::tokens::StoreTokenSource;

#[derive(Clone)]
pub struct Adapter {
    pub kind: ProviderKind,
    pub provider: Arc<dyn Provider>,
}

pub struct Adapters {
    store: Store,
    key: Arc<MasterKey>,
    config: ProvidersConfig,
    budgets: RateBudgets,
    http: reqwest::Client,
    /// Handed to each token source, which wakes the outbox relay after recording an expiry.
    relay: RelaySignal,
    cache: Mutex<HashMap<Uuid, (ConnectionVersion, Adapter)>>,
}

#[derive(Debug, thiserror::Error)]
pub enum AdapterError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Provider(#[from] ProviderError),
    #[error("connection {0} was deleted")]
    Gone(Uuid),
}

impl Adapters {
    pub fn new(
        store: Store,
        key: Arc<MasterKey>,
        config: ProvidersConfig,
        budgets: RateBudgets,
        http: reqwest::Client,
        relay: RelaySignal,
    ) -> Adapters {
        Adapters {
            relay,
            store,
            key,
            config,
            budgets,
            http,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The adapter for a connection, built on first use and rebuilt whenever the connection's
    /// stored credentials changed since (a reconnect, another process's refresh, expiry).
    pub async fn get(&self, org_id: Uuid, connection_id: Uuid) -> Result<Adapter, AdapterError> {
        // The version is read before the credentials: a change in between only rebuilds once more.
        let version = match self.store.connection_version(org_id, connection_id).await {
            Ok(v) => v,
            Err(StoreError::NotFound) => {
                self.cache
                    .lock()
                    .expect("adapter cache poisoned")
                    .remove(&connection_id);
                return Err(AdapterError::Gone(connection_id));
            }
            Err(e) => return Err(e.into()),
        };
        if let Some((cached, a)) = self
            .cache
            .lock()
            .expect("adapter cache poisoned")
            .get(&connection_id)
        {
            if *cached == version {
                return Ok(a.clone());
            }
        }
        let creds = match self
            .store
            .load_credentials(org_id, connection_id, &self.key)
            .await
        {
            Ok(c) => c,
            Err(StoreError::NotFound) => return Err(AdapterError::Gone(connection_id)),
            Err(e) => return Err(e.into()),
        };
        let kind = ProviderKind::parse(&creds.provider).ok_or_else(|| {
            ProviderError::Permanent(format!("unknown provider {}", creds.provider))
        })?;
        let instance_url = creds.instance_url.clone();
        let tokens = Arc::new(
            StoreTokenSource::new(
                self.store.clone(),
                self.key.clone(),
                org_id,
                kind,
                self.config.clone(),
                self.http.clone(),
                creds,
            )
            .waking(self.relay.clone()),
        );
        let ctx = ConnectionContext {
            tokens,
            budget: Arc::new(StoreBudget::new(
                self.store.clone(),
                connection_id,
                self.budgets.for_kind(kind),
            )),
            instance_url,
            http: self.http.clone(),
        };
        let provider = fluxcascade_providers::connect(kind, &self.config, ctx)?;
        let adapter = Adapter { kind, provider };
        self.cache
            .lock()
            .expect("adapter cache poisoned")
            .insert(connection_id, (version, adapter.clone()));
        Ok(adapter)
    }
}
