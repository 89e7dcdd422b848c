//! The `Provider` trait every adapter implements, its error classification, and adapter construction.
//!
//! Choices callers should know about:
//! - 429s (and Jobber `THROTTLED`) are retried inside the adapter up to
//!   [`DEFAULT_RATE_LIMIT_RETRIES`] times, waiting what the provider asks plus jitter; then
//!   `ProviderError::RateLimited`. A 401 invalidates the token once and retries once.
//! - A HubSpot batch refused as a whole with a 4xx fails each of its records
//!   (`WriteResult::Failed`), not the call. A Jobber `write` whose ops partly succeeded turns
//!   the retryable failures into record failures, so a retry never creates twice.
//! - HubSpot incremental reads re-anchor before the 10,000-result search cap; if more than
//!   10,000 records share one millisecond the read steps 1 ms past it (and may miss some).
//! - Jobber `jobs`: incremental reads sort by `UPDATED_AT` descending and stop at the cursor
//!   (no `updatedAt` filter in Jobber's schema); records carry `clientId` and `propertyId`.
//!   A create needs `clientId` in its fields and goes on the client's first property (one is
//!   created when it has none); see [`jobber::jobs`]. `properties` are not an object of their own.
//! - HubSpot `deals` carry their associated contact ids as `associations.contacts: ["<id>"]`
//!   in `fields` (list, incremental read and `get_many`); `associations` is never written.

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
