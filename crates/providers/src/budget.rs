//! A connection's request budget: what every adapter asks before each provider request, so the
//! provider's per-account limit is shared by all worker replicas instead of multiplied by them.

use std::time::Duration;

use crate::ProviderError;

/// Which of a provider's limits a request counts against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RequestClass {
    /// The account's general request limit (HubSpot's ten-second window, Pipedrive's burst).
    General,
    /// A separately limited search endpoint (HubSpot search: 5/s), which also counts as general.
    Search,
}

impl RequestClass {
    pub fn as_str(self) -> &'static str {
        match self {
            RequestClass::General => "general",
            RequestClass::Search => "search",
        }
    }
}

/// The shared budget of one connection. The worker implements it on Postgres; tests and
/// single-process tools use [`Unlimited`].
#[async_trait::async_trait]
pub trait RequestBudget: Send + Sync {
    /// Waits until one more request of `class` may be sent, and takes it.
    async fn acquire(&self, class: RequestClass) -> Result<(), ProviderError>;
    /// The provider answered 429 and named `retry_after`: hold every replica off that long.
    async fn back_off(&self, _class: RequestClass, _retry_after: Duration) {}
}

/// No shared budget: requests go out as fast as the caller sends them.
pub struct Unlimited;

#[async_trait::async_trait]
impl RequestBudget for Unlimited {
    async fn acquire(&self, _class: RequestClass) -> Result<(), ProviderError> {
        Ok(())
    }
}
