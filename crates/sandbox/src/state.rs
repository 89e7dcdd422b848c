//! Shared sandbox state: configuration, per-provider accounts, tokens and stats.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use crate::auth::TokenRegistry;
use crate::config::SandboxConfig;
use crate::hubspot::HubspotAccount;
use crate::jobber::JobberAccount;
use crate::pipedrive::PipedriveAccount;
use crate::salesforce::SalesforceAccount;
use crate::stats::SandboxStats;
use crate::webhook::WebhookDispatcher;

/// Name of the account that exists from start for every provider.
pub const DEFAULT_ACCOUNT: &str = "default";

/// Locks a mutex, recovering the data if a previous holder panicked.
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The providers the sandbox emulates with data endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Provider {
    Hubspot,
    Jobber,
    Pipedrive,
    Salesforce,
}

impl Provider {
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Hubspot => "hubspot",
            Provider::Jobber => "jobber",
            Provider::Pipedrive => "pipedrive",
            Provider::Salesforce => "salesforce",
        }
    }

    pub fn parse(s: &str) -> Option<Provider> {
        match s {
            "hubspot" => Some(Provider::Hubspot),
            "jobber" => Some(Provider::Jobber),
            "pipedrive" => Some(Provider::Pipedrive),
            "salesforce" => Some(Provider::Salesforce),
            _ => None,
        }
    }
}

/// Accounts of one provider by name.
pub struct AccountRegistry<A> {
    accounts: RwLock<HashMap<String, Arc<A>>>,
    next_number: Mutex<u64>,
    make: fn(&str, u64) -> A,
}

impl<A> AccountRegistry<A> {
    fn new(first_number: u64, make: fn(&str, u64) -> A) -> Self {
        let reg = AccountRegistry {
            accounts: RwLock::new(HashMap::new()),
            next_number: Mutex::new(first_number),
            make,
        };
        reg.get_or_create(DEFAULT_ACCOUNT);
        reg
    }

    /// The named account, created on first use.
    pub fn get_or_create(&self, name: &str) -> Arc<A> {
        if let Some(a) = self.get(name) {
            return a;
        }
        let mut map = self.accounts.write().unwrap_or_else(|e| e.into_inner());
        if let Some(a) = map.get(name) {
            return a.clone();
        }
        let mut n = lock(&self.next_number);
        let account = Arc::new((self.make)(name, *n));
        *n += 1;
        map.insert(name.to_owned(), account.clone());
        account
    }

    pub fn get(&self, name: &str) -> Option<Arc<A>> {
        let map = self.accounts.read().unwrap_or_else(|e| e.into_inner());
        map.get(name).cloned()
    }

    pub fn all(&self) -> Vec<Arc<A>> {
        let map = self.accounts.read().unwrap_or_else(|e| e.into_inner());
        map.values().cloned().collect()
    }
}

/// Everything the handlers share.
pub struct SandboxState {
    config: RwLock<Arc<SandboxConfig>>,
    pub base_url: String,
    /// Port of the listener that serves the Salesforce instance API at its root; a token
    /// response's `instance_url` is this port on the host the client called (an origin).
    pub salesforce_instance_port: u16,
    pub hubspot: AccountRegistry<HubspotAccount>,
    pub jobber: AccountRegistry<JobberAccount>,
    pub pipedrive: AccountRegistry<PipedriveAccount>,
    pub salesforce: AccountRegistry<SalesforceAccount>,
    pub tokens: TokenRegistry,
    pub stats: SandboxStats,
    pub webhooks: WebhookDispatcher,
}

pub type SharedState = Arc<SandboxState>;

impl SandboxState {
    /// Builds the state and spawns the webhook delivery task (needs a Tokio runtime).
    pub fn start(base_url: String, salesforce_instance_port: u16) -> SharedState {
        Arc::new_cyclic(|weak| {
            let (webhooks, task) = WebhookDispatcher::start(weak.clone());
            tokio::spawn(task);
            SandboxState::new(base_url, salesforce_instance_port, webhooks)
        })
    }

    fn new(
        base_url: String,
        salesforce_instance_port: u16,
        webhooks: WebhookDispatcher,
    ) -> SandboxState {
        SandboxState {
            webhooks,
            config: RwLock::new(Arc::new(SandboxConfig::default())),
            base_url,
            salesforce_instance_port,
            hubspot: AccountRegistry::new(10_000_001, HubspotAccount::new),
            jobber: AccountRegistry::new(200_001, JobberAccount::new),
            pipedrive: AccountRegistry::new(7_000_001, PipedriveAccount::new),
            salesforce: AccountRegistry::new(1, SalesforceAccount::new),
            tokens: TokenRegistry::default(),
            stats: SandboxStats::default(),
        }
    }

    pub fn config(&self) -> Arc<SandboxConfig> {
        self.config
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub fn set_config(&self, cfg: SandboxConfig) {
        *self.config.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(cfg);
    }

    /// Clears every record and the stats; accounts, tokens and config stay.
    pub fn reset(&self) {
        for a in self.hubspot.all() {
            a.clear();
        }
        for a in self.jobber.all() {
            a.clear();
        }
        for a in self.pipedrive.all() {
            a.clear();
        }
        for a in self.salesforce.all() {
            a.clear();
        }
        self.stats.clear();
    }
}
