//! Runtime configuration of the sandbox (`PUT /_sandbox/config`), with partial JSON merge.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Client id of the sandbox's registered app unless `secrets` says otherwise.
pub const DEFAULT_CLIENT_ID: &str = "sandbox-client";
/// Client secret of the sandbox's registered app unless `secrets` says otherwise.
pub const DEFAULT_CLIENT_SECRET: &str = "sandbox-secret";

/// Everything a test or benchmark can tune at runtime.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct SandboxConfig {
    /// Delay added to every provider API response (not the control plane).
    pub latency_ms: u64,
    /// Fraction (0..1) of provider data requests answered with the provider's 5xx.
    pub error_rate: f64,
    /// Provider rate limits.
    pub rate_limits: RateLimitConfig,
    /// Lifetime of issued access tokens.
    pub token_ttl_seconds: u64,
    /// Where record-change webhooks would be sent (stored, not used yet).
    pub webhook_url: Option<String>,
    /// Registered app credentials per provider (`hubspot`, `jobber`, ...).
    pub secrets: BTreeMap<String, AppSecret>,
}

/// Credentials of the registered OAuth app for one provider.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AppSecret {
    pub client_id: String,
    pub client_secret: String,
}

impl Default for AppSecret {
    fn default() -> Self {
        AppSecret {
            client_id: DEFAULT_CLIENT_ID.to_owned(),
            client_secret: DEFAULT_CLIENT_SECRET.to_owned(),
        }
    }
}

/// Rate limits as the providers enforce them; `enabled: false` turns all off.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct RateLimitConfig {
    pub enabled: bool,
    pub hubspot: HubspotRateLimitConfig,
    pub jobber: JobberRateLimitConfig,
    pub pipedrive: crate::pipedrive::limit::PipedriveRateLimitConfig,
    pub salesforce: crate::salesforce::limit::SalesforceRateLimitConfig,
}

/// HubSpot: rolling ten-second window per account plus the search secondly limit.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct HubspotRateLimitConfig {
    pub ten_secondly: u32,
    pub search_per_second: u32,
}

/// Jobber: query-cost leaky bucket plus a request cap per five minutes.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct JobberRateLimitConfig {
    pub maximum_available: u32,
    pub restore_rate: u32,
    pub requests_per_five_minutes: u32,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        let secrets = ["hubspot", "jobber", "pipedrive", "salesforce"]
            .into_iter()
            .map(|p| (p.to_owned(), AppSecret::default()))
            .collect();
        SandboxConfig {
            latency_ms: 0,
            error_rate: 0.0,
            rate_limits: RateLimitConfig::default(),
            token_ttl_seconds: 1800,
            webhook_url: None,
            secrets,
        }
    }
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        RateLimitConfig {
            enabled: true,
            hubspot: HubspotRateLimitConfig::default(),
            jobber: JobberRateLimitConfig::default(),
            pipedrive: Default::default(),
            salesforce: Default::default(),
        }
    }
}

impl Default for HubspotRateLimitConfig {
    fn default() -> Self {
        HubspotRateLimitConfig {
            ten_secondly: 100,
            search_per_second: 5,
        }
    }
}

impl Default for JobberRateLimitConfig {
    fn default() -> Self {
        JobberRateLimitConfig {
            maximum_available: 10_000,
            restore_rate: 500,
            requests_per_five_minutes: 2_500,
        }
    }
}

impl SandboxConfig {
    /// The app credentials for `provider` (the default app when not configured).
    pub fn app(&self, provider: &str) -> AppSecret {
        self.secrets.get(provider).cloned().unwrap_or_default()
    }

    /// Applies a partial JSON update (objects merge recursively, other values replace).
    pub fn merged(&self, patch: &serde_json::Value) -> Result<SandboxConfig, serde_json::Error> {
        let mut current = serde_json::to_value(self)?;
        merge_json(&mut current, patch);
        serde_json::from_value(current)
    }
}

fn merge_json(target: &mut serde_json::Value, patch: &serde_json::Value) {
    match (target, patch) {
        (serde_json::Value::Object(t), serde_json::Value::Object(p)) => {
            for (k, v) in p {
                match t.get_mut(k) {
                    Some(existing) if existing.is_object() && v.is_object() => {
                        merge_json(existing, v)
                    }
                    _ => {
                        t.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (t, p) => *t = p.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_update_keeps_other_fields() {
        let base = SandboxConfig::default();
        let patch = serde_json::json!({"latencyMs": 5, "rateLimits": {"enabled": false}});
        let merged = base.merged(&patch).unwrap();
        assert_eq!(merged.latency_ms, 5);
        assert!(!merged.rate_limits.enabled);
        assert_eq!(merged.rate_limits.hubspot.ten_secondly, 100);
        assert_eq!(merged.token_ttl_seconds, 1800);
    }
}
