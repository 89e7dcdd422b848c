//! The `Provider` trait every adapter implements, its error classification, and adapter construction.

pub mod config;
pub mod error;
mod http;
pub mod hubspot;
pub mod jobber;
pub mod oauth;
pub mod secret;
pub mod token;
pub mod types;

use std::sync::Arc;

use fluxcascade_core::ProviderKind;

pub use config::{ProviderApp, ProvidersConfig, SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET};
pub use error::ProviderError;
pub use http::DEFAULT_RATE_LIMIT_RETRIES;
pub use hubspot::{HubspotAuth, HubspotClient};
pub use jobber::{JobberAuth, JobberClient};
pub use oauth::{authorize_url, exchange_code, refresh};
pub use secret::Secret;
pub use token::{StaticToken, TokenSet, TokenSource};
pub use types::*;

/// The adapter for one connection of `kind`, using `tokens` for its bearer token.
pub fn connect(
    kind: ProviderKind,
    config: &ProvidersConfig,
    tokens: Arc<dyn TokenSource>,
    http: reqwest::Client,
) -> Result<Arc<dyn Provider>, ProviderError> {
    match kind {
        ProviderKind::Hubspot => Ok(Arc::new(HubspotClient::new(&config.hubspot, tokens, http))),
        ProviderKind::Jobber => Ok(Arc::new(JobberClient::new(&config.jobber, tokens, http))),
        ProviderKind::Pipedrive | ProviderKind::Salesforce => {
            Err(ProviderError::Permanent("not supported yet".into()))
        }
    }
}
