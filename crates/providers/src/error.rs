//! Provider errors, classified so the worker knows whether to retry, dead-letter or count.

use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// 429 or a throttle response: retry after the time the provider named.
    #[error("rate limited by provider (retry after {retry_after:?})")]
    RateLimited { retry_after: Duration },
    /// Network trouble or a 5xx: retry with backoff.
    #[error("transient provider error: {0}")]
    Transient(String),
    /// The credentials are revoked or invalid and cannot be refreshed: the user must reconnect.
    #[error("authorization failed: {0}")]
    Auth(String),
    /// A request the provider will never accept (bad object, bad query): do not retry.
    #[error("permanent provider error: {0}")]
    Permanent(String),
}

impl ProviderError {
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            ProviderError::RateLimited { .. } | ProviderError::Transient(_)
        )
    }
}
