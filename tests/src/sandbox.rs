//! The sandbox's control plane as the tests use it: configuration, seeding, stored records and
//! write statistics.

use anyhow::bail;
use serde_json::{json, Value};

use crate::TestEnv;

impl TestEnv {
    pub async fn sandbox_config(&self, body: Value) -> anyhow::Result<Value> {
        let r = self
            .http
            .put(format!("{}/_sandbox/config", self.sandbox_url))
            .json(&body)
            .send()
            .await?;
        let status = r.status();
        let v: Value = r.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            bail!("sandbox config {status}: {v}");
        }
        Ok(v)
    }

    pub async fn seed(&self, provider: &str, object: &str, count: u64) -> anyhow::Result<()> {
        self.seed_account(provider, object, "default", count).await
    }

    /// Seeds `count` fake records into one sandbox account of `provider`.
    pub async fn seed_account(
        &self,
        provider: &str,
        object: &str,
        account: &str,
        count: u64,
    ) -> anyhow::Result<()> {
        self.http
            .post(format!(
                "{}/_sandbox/{provider}/{object}/seed",
                self.sandbox_url
            ))
            .query(&[("account", account)])
            .json(&json!({"count": count, "seed": 7}))
            .send()
            .await?
            .error_for_status()?;
        Ok(())
    }

    /// Records of a sandbox object as stored, in the provider's own shape (see [`fields`]).
    pub async fn sandbox_records(
        &self,
        provider: &str,
        object: &str,
    ) -> anyhow::Result<Vec<Value>> {
        let v: Value = self
            .http
            .get(format!("{}/_sandbox/{provider}/{object}", self.sandbox_url))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        Ok(v["data"].as_array().cloned().unwrap_or_default())
    }

    /// Records written through the provider APIs so far, for one provider and object.
    pub async fn sandbox_writes(&self, provider: &str, object: &str) -> anyhow::Result<u64> {
        let stats = self.sandbox_stats().await?;
        Ok(stats["writes"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|w| w["provider"] == provider && w["object"] == object)
            .filter_map(|w| w["count"].as_u64())
            .sum())
    }

    /// Requests the sandbox answered for `provider` so far (`requestsByProvider`).
    pub async fn sandbox_requests(&self, provider: &str) -> anyhow::Result<u64> {
        Ok(self.sandbox_stats().await?["requestsByProvider"][provider]
            .as_u64()
            .unwrap_or(0))
    }

    pub async fn sandbox_stats(&self) -> anyhow::Result<Value> {
        Ok(self
            .http
            .get(format!("{}/_sandbox/stats", self.sandbox_url))
            .send()
            .await?
            .json()
            .await?)
    }
}
