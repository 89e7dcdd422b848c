//! The `Provider` trait every adapter implements, its error classification, and adapter construction.
//!
//! Choices callers should know about:
//! - 429s (and Jobber `THROTTLED`) whose wait fits in [`MAX_INLINE_WAIT`] (12 s, in total) are
//!   retried inside the adapter up to [`DEFAULT_RATE_LIMIT_RETRIES`] times, waiting what the
//!   provider asks plus jitter; a longer wait (or a budget slot further away than that) returns
//!   `ProviderError::RateLimited { retry_after }` at once, so no caller sleeps holding a worker
//!   slot. A 401 invalidates the token once and retries once.
//! - A HubSpot batch refused as a whole with a 4xx fails each of its records
//!   (`WriteResult::Failed`), not the call. A Jobber `write` whose ops partly succeeded turns
//!   the retryable failures into record failures, so a retry never creates twice.
//! - HubSpot incremental reads re-anchor before the 10,000-result search cap; if more than
//!   10,000 records share one millisecond the read steps 1 ms past it (and may miss some).
//! - Jobber `jobs`: incremental reads sort by `UPDATED_AT` descending and stop at the cursor
//!   (no `updatedAt` filter in Jobber's schema); records carry `clientId` and `propertyId`.
//!   A create needs `clientId` in its fields and goes on the client's first property (one is
//!   created when it has none); see [`jobber::jobs`].
//! - Jobber `properties` (`address.*`, `clientId`): Jobber's `Property` has no timestamp, so
//!   every read is a full read stamped inside the cursor's window (epoch for full reads,
//!   cursor + 1 s for incremental ones) and the engine's value hash skips unchanged ones;
//!   `get_many` batches 50 `property(id)` aliases per request; see [`jobber::properties`].
//! - HubSpot `deals` carry their associated contact ids as `associations.contacts: ["<id>"]`
//!   in `fields` (list, incremental read and `get_many`); `associations` is never written.
//! - `get_many` reads the fields named like `list` does: HubSpot asks for exactly those
//!   `properties` (plus the modified-time one), Salesforce adds them to its default field list
//!   (a custom `Foo__c` comes back), Pipedrive v2 always answers whole objects (custom fields
//!   included) and Jobber's selection is fixed (every field the adapter maps).

pub mod budget;
pub mod config;
pub mod egress;
pub mod error;
mod http;
pub mod hubspot;
pub mod identity;
pub mod jobber;
pub mod oauth;
pub mod pipedrive;
pub mod salesforce;
pub mod secret;
pub mod token;
pub mod types;

use std::sync::Arc;

use fluxcascade_core::ProviderKind;

pub use budget::{BudgetLimits, RateBudgets, RequestBudget, RequestClass, Unlimited, WindowLimit};
pub use config::{
    NotConfigured, ProviderApp, ProvidersConfig, SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET,
};
pub use error::ProviderError;
pub use http::{DEFAULT_RATE_LIMIT_RETRIES, MAX_INLINE_WAIT};
pub use hubspot::{HubspotAuth, HubspotClient};
pub use jobber::{JobberAuth, JobberClient};
pub use oauth::{authorize_url, exchange_code, refresh};
pub use pipedrive::{PipedriveAuth, PipedriveClient};
pub use salesforce::{SalesforceAuth, SalesforceClient};
pub use secret::Secret;
pub use token::{StaticToken, TokenSet, TokenSource};
pub use types::*;

/// What an adapter needs about one connection besides the provider's app config.
#[derive(Clone)]
pub struct ConnectionContext {
    /// Where the adapter gets its bearer token.
    pub tokens: Arc<dyn TokenSource>,
    /// The connection's request budget, shared by every replica.
    pub budget: Arc<dyn RequestBudget>,
    /// The API host from the token response (Salesforce `instance_url`, Pipedrive
    /// `api_domain`); `None` uses the app's `api_base`. Checked by the adapter before use.
    pub instance_url: Option<String>,
    /// Built by [`egress::provider_client`]: it follows no redirect.
    pub http: reqwest::Client,
}

impl ConnectionContext {
    /// A context with a fixed token, no shared budget and the app's default API host.
    pub fn simple(tokens: Arc<dyn TokenSource>, http: reqwest::Client) -> Self {
        ConnectionContext {
            tokens,
            budget: Arc::new(Unlimited),
            instance_url: None,
            http,
        }
    }
}

/// The adapter for one connection of `kind`; a permanent error if `kind` is not configured. A
/// Salesforce or Pipedrive instance URL is checked again here ([`egress::check_instance_url`]): a
/// stored host outside the provider's domains is a permanent error naming the host, and no
/// request is sent to it.
pub fn connect(
    kind: ProviderKind,
    config: &ProvidersConfig,
    ctx: ConnectionContext,
) -> Result<Arc<dyn Provider>, ProviderError> {
    let app = config.require(kind)?;
    match kind {
        ProviderKind::Hubspot => Ok(Arc::new(HubspotClient::from_context(app, ctx))),
        ProviderKind::Jobber => Ok(Arc::new(JobberClient::from_context(app, ctx))),
        ProviderKind::Pipedrive => Ok(Arc::new(PipedriveClient::from_context(app, ctx)?)),
        ProviderKind::Salesforce => Ok(Arc::new(SalesforceClient::from_context(app, ctx)?)),
    }
}
