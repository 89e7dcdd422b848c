//! Outbound webhooks: subscriptions (secret sealed at rest), the delivery outbox written in the
//! transaction that produced an event (`events`), publishing claims, leased delivery attempts
//! (`attempts`) and the delivery log.

mod attempts;
mod events;

pub use attempts::{AttemptOutcome, Claim, DeliveryAttempt, LEASE_SECONDS};
pub(crate) use events::{emit_connection_expired, emit_sync_event};

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use ring::rand::{SecureRandom, SystemRandom};
use serde_json::Value;
use uuid::Uuid;

use crate::{MasterKey, Store, StoreError};

use events::{insert_deliveries, subscribers};

/// The events a webhook can subscribe to.
pub const EVENT_TYPES: [&str; 4] = [
    "sync.completed",
    "sync.partial",
    "sync.failed",
    "connection.expired",
];

/// A subscription as the API shows it (never with its secret).
#[derive(Debug, Clone)]
pub struct WebhookRow {
    pub id: Uuid,
    pub url: String,
    pub events: Vec<String>,
    pub created_at: DateTime<Utc>,
}

/// One attempt to deliver an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptRow {
    pub attempt: i32,
    pub at: DateTime<Utc>,
    pub response_status: Option<i32>,
    pub error: Option<String>,
    pub duration_ms: i32,
}

/// One event for one subscription, with its attempts (oldest first).
#[derive(Debug, Clone)]
pub struct DeliveryRow {
    pub id: Uuid,
    pub webhook_id: Uuid,
    pub event_id: Uuid,
    pub event_type: String,
    /// `pending`, `delivered` or `failed`.
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub attempts: Vec<AttemptRow>,
}

/// A delivery whose job should be (re)published.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnpublishedDelivery {
    pub id: Uuid,
    pub org_id: Uuid,
}

const COLUMNS: &str = "id, url, events, created_at";

fn row_to_webhook(r: &tokio_postgres::Row) -> WebhookRow {
    WebhookRow {
        id: r.get(0),
        url: r.get(1),
        events: r.get(2),
        created_at: r.get(3),
    }
}

pub(crate) fn secret_aad(id: Uuid) -> String {
    format!("{id}:webhook")
}

fn new_secret() -> Result<String, StoreError> {
    let mut raw = [0u8; 32];
    SystemRandom::new()
        .fill(&mut raw)
        .map_err(|_| StoreError::Crypto("RNG failure".into()))?;
    Ok(format!("whsec_{}", hex::encode(raw)))
}

impl Store {
    /// Creates a subscription; returns it and its signing secret (shown once, stored sealed).
    pub async fn create_webhook(
        &self,
        org_id: Uuid,
        key: &MasterKey,
        url: &str,
        events: &[String],
    ) -> Result<(WebhookRow, String), StoreError> {
        let id = Uuid::now_v7();
        let secret = new_secret()?;
        let sealed = key.seal_stored(&secret_aad(id), &secret)?;
        let row = self
            .client()
            .await?
            .query_one(
                &format!(
                    "INSERT INTO webhooks (id, org_id, url, events, secret)
                     VALUES ($1, $2, $3, $4, $5) RETURNING {COLUMNS}"
                ),
                &[&id, &org_id, &url, &events, &sealed],
            )
            .await?;
        Ok((row_to_webhook(&row), secret))
    }

    pub async fn get_webhook(
        &self,
        org_id: Uuid,
        id: Uuid,
    ) -> Result<Option<WebhookRow>, StoreError> {
        let row = self
            .client()
            .await?
            .query_opt(
                &format!("SELECT {COLUMNS} FROM webhooks WHERE org_id = $1 AND id = $2"),
                &[&org_id, &id],
            )
            .await?;
        Ok(row.as_ref().map(row_to_webhook))
    }

    /// A page of subscriptions in creation order; `after` is the last id of the previous page.
    pub async fn list_webhooks(
        &self,
        org_id: Uuid,
        limit: i64,
        after: Option<Uuid>,
    ) -> Result<Vec<WebhookRow>, StoreError> {
        let rows = self
            .client()
            .await?
            .query(
                &format!(
                    "SELECT {COLUMNS} FROM webhooks WHERE org_id = $1 AND ($2::uuid IS NULL OR id > $2)
                     ORDER BY id LIMIT $3"
                ),
                &[&org_id, &after, &limit],
            )
            .await?;
        Ok(rows.iter().map(row_to_webhook).collect())
    }

    /// Deletes a subscription with its deliveries and their log; pending deliveries stop.
    pub async fn delete_webhook(&self, org_id: Uuid, id: Uuid) -> Result<bool, StoreError> {
        let n = self
            .client()
            .await?
            .execute(
                "DELETE FROM webhooks WHERE org_id = $1 AND id = $2",
                &[&org_id, &id],
            )
            .await?;
        Ok(n == 1)
    }

    /// A subscription's delivery log, newest first; `before` is the last id of the previous page.
    pub async fn list_deliveries(
        &self,
        org_id: Uuid,
        webhook_id: Uuid,
        limit: i64,
        before: Option<Uuid>,
    ) -> Result<Vec<DeliveryRow>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT id, webhook_id, event_id, event_type, status, created_at FROM webhook_deliveries
                 WHERE org_id = $1 AND webhook_id = $2 AND ($3::uuid IS NULL OR id < $3)
                 ORDER BY id DESC LIMIT $4",
                &[&org_id, &webhook_id, &before, &limit],
            )
            .await?;
        let ids: Vec<Uuid> = rows.iter().map(|r| r.get(0)).collect();
        let mut attempts: HashMap<Uuid, Vec<AttemptRow>> = HashMap::new();
        for r in client
            .query(
                "SELECT delivery_id, attempt, at, response_status, error, duration_ms FROM webhook_attempts
                 WHERE org_id = $1 AND delivery_id = ANY($2) ORDER BY delivery_id, attempt",
                &[&org_id, &ids],
            )
            .await?
        {
            attempts.entry(r.get(0)).or_default().push(AttemptRow {
                attempt: r.get(1),
                at: r.get(2),
                response_status: r.get(3),
                error: r.get(4),
                duration_ms: r.get(5),
            });
        }
        Ok(rows
            .iter()
            .map(|r| {
                let id: Uuid = r.get(0);
                DeliveryRow {
                    id,
                    webhook_id: r.get(1),
                    event_id: r.get(2),
                    event_type: r.get(3),
                    status: r.get(4),
                    created_at: r.get(5),
                    attempts: attempts.remove(&id).unwrap_or_default(),
                }
            })
            .collect())
    }

    /// Records an event outside any other transaction: one pending delivery per subscription to
    /// `event_type`. Returns the delivery ids (publish their jobs after this returns).
    pub async fn record_event(
        &self,
        org_id: Uuid,
        event_type: &str,
        subject_id: Uuid,
        data: &Value,
    ) -> Result<Vec<Uuid>, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let subscribers = subscribers(&tx, org_id, event_type).await?;
        let ids =
            insert_deliveries(&tx, org_id, event_type, subject_id, data, &subscribers).await?;
        tx.commit().await?;
        Ok(ids)
    }

    /// Claims up to `limit` pending deliveries whose job was never confirmed (only those about
    /// `subject`, when given) for `hold_seconds`; the claimer publishes them, then calls
    /// [`Store::delivery_published`] or [`Store::delivery_unclaimed`]. Across all orgs: this is
    /// the outbox relay, a system task.
    pub async fn claim_unpublished_deliveries(
        &self,
        subject: Option<Uuid>,
        limit: i64,
        hold_seconds: f64,
    ) -> Result<Vec<UnpublishedDelivery>, StoreError> {
        let rows = self
            .client()
            .await?
            .query(
                "UPDATE webhook_deliveries SET claimed_until = now() + make_interval(secs => $2)
                 WHERE id IN (
                    SELECT id FROM webhook_deliveries
                    WHERE status = 'pending' AND published_at IS NULL
                      AND (claimed_until IS NULL OR claimed_until < now())
                      AND ($1::uuid IS NULL OR subject_id = $1)
                    ORDER BY created_at LIMIT $3 FOR UPDATE SKIP LOCKED)
                 RETURNING id, org_id",
                &[&subject, &hold_seconds, &limit],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| UnpublishedDelivery {
                id: r.get(0),
                org_id: r.get(1),
            })
            .collect())
    }

    /// The broker confirmed the delivery's job.
    pub async fn delivery_published(&self, org_id: Uuid, id: Uuid) -> Result<(), StoreError> {
        self.client()
            .await?
            .execute(
                "UPDATE webhook_deliveries SET published_at = now(), claimed_until = NULL
                 WHERE org_id = $1 AND id = $2",
                &[&org_id, &id],
            )
            .await?;
        Ok(())
    }

    /// Publishing failed: release the claim so the next relay pass retries at once.
    pub async fn delivery_unclaimed(&self, org_id: Uuid, id: Uuid) -> Result<(), StoreError> {
        self.client()
            .await?
            .execute(
                "UPDATE webhook_deliveries SET claimed_until = NULL WHERE org_id = $1 AND id = $2",
                &[&org_id, &id],
            )
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_random_and_prefixed() {
        let (a, b) = (new_secret().unwrap(), new_secret().unwrap());
        assert!(a.starts_with("whsec_") && a.len() == 6 + 64, "{a}");
        assert_ne!(a, b);
    }
}
