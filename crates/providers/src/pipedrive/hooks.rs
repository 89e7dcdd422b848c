//! Pipedrive webhook subscriptions (API v1 `/webhooks`): created per connection with HTTP Basic
//! credentials, since Pipedrive signs nothing; events arrive in the v2 format.

use reqwest::Method;
use serde_json::{json, Value};

use super::PipedriveClient;
use crate::ProviderError;

impl PipedriveClient {
    fn webhooks_url(&self) -> String {
        format!("{}/api/v1/webhooks", self.base)
    }

    /// `POST /api/v1/webhooks` for webhooks v2; returns the subscription id.
    /// `event_action`: `create`, `change`, `delete` or `*`; `event_object`: `person`,
    /// `organization`, `deal`, ... or `*`.
    pub async fn create_webhook(
        &self,
        subscription_url: &str,
        event_action: &str,
        event_object: &str,
        http_auth_user: &str,
        http_auth_password: &str,
    ) -> Result<String, ProviderError> {
        let body = json!({
            "subscription_url": subscription_url,
            "event_action": event_action,
            "event_object": event_object,
            "http_auth_user": http_auth_user,
            "http_auth_password": http_auth_password,
            "version": "2.0",
        });
        let resp = self
            .call(Method::POST, self.webhooks_url(), Some(&body))
            .await?;
        match resp.pointer("/data/id") {
            Some(Value::Number(n)) => Ok(n.to_string()),
            Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
            _ => Err(ProviderError::Permanent(
                "Pipedrive created a webhook but named no id".into(),
            )),
        }
    }

    /// `DELETE /api/v1/webhooks/{id}` (a connection that goes away stops its events).
    pub async fn delete_webhook(&self, id: &str) -> Result<(), ProviderError> {
        let segment: String = url::form_urlencoded::byte_serialize(id.as_bytes()).collect();
        self.call(
            Method::DELETE,
            format!("{}/{segment}", self.webhooks_url()),
            None,
        )
        .await
        .map(|_| ())
    }
}
