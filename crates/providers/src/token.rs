//! Access tokens: the `TokenSource` an adapter asks for a bearer token, and OAuth token sets.

use chrono::{DateTime, Utc};

use crate::ProviderError;

/// What an OAuth token endpoint returned, normalised across providers.
#[derive(Clone, PartialEq)]
pub struct TokenSet {
    pub access_token: String,
    pub refresh_token: Option<String>,
    pub expires_at: Option<DateTime<Utc>>,
    /// Salesforce's `instance_url`, Pipedrive's `api_domain`.
    pub instance_url: Option<String>,
    /// The provider account the token belongs to, where the token response or token tells
    /// (HubSpot portal id, Jobber account id, Salesforce org id); webhooks are routed by it.
    pub account_id: Option<String>,
}

impl std::fmt::Debug for TokenSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenSet")
            .field("access_token", &"[redacted]")
            .field(
                "refresh_token",
                &self.refresh_token.as_ref().map(|_| "[redacted]"),
            )
            .field("expires_at", &self.expires_at)
            .field("instance_url", &self.instance_url)
            .field("account_id", &self.account_id)
            .finish()
    }
}

/// Where an adapter gets its bearer token. The worker implements this on top of
/// the store so refreshes are coordinated across replicas.
#[async_trait::async_trait]
pub trait TokenSource: Send + Sync {
    /// A token valid for at least the next minute.
    async fn access_token(&self) -> Result<String, ProviderError>;
    /// The provider rejected `token` (401): refresh if it is still the current one.
    async fn invalidate(&self, token: &str) -> Result<(), ProviderError>;
}

/// A fixed token (tests, and connections without refresh).
pub struct StaticToken(pub String);

#[async_trait::async_trait]
impl TokenSource for StaticToken {
    async fn access_token(&self) -> Result<String, ProviderError> {
        Ok(self.0.clone())
    }
    async fn invalidate(&self, _token: &str) -> Result<(), ProviderError> {
        Err(ProviderError::Auth(
            "access token rejected and cannot be refreshed".into(),
        ))
    }
}
