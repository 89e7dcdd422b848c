//! One delivery attempt's bookkeeping: a lease on the delivery (no row lock held over HTTP), then
//! the attempt logged and the delivery's status set in one transaction.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::secret_aad;
use crate::{MasterKey, Store, StoreError};

impl Store {
    /// Takes a pending delivery for one attempt: a lease (`attempting_until`, [`LEASE_SECONDS`])
    /// rather than a row lock held over HTTP, so publishers and the log never wait for a slow
    /// receiver. [`Claim::Done`] when it is delivered, failed or deleted (a duplicate job);
    /// [`Claim::Busy`] while another worker's attempt holds the lease.
    pub async fn begin_delivery_attempt(
        &self,
        org_id: Uuid,
        id: Uuid,
        key: &MasterKey,
    ) -> Result<Claim, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                "UPDATE webhook_deliveries d SET attempting_until = now() + make_interval(secs => $3)
                 FROM webhooks w
                 WHERE w.id = d.webhook_id AND d.org_id = $1 AND d.id = $2 AND d.status = 'pending'
                   AND (d.attempting_until IS NULL OR d.attempting_until < now())
                 RETURNING d.event_id, d.event_type, d.body, d.attempts, w.url, w.secret, w.id",
                &[&org_id, &id, &LEASE_SECONDS],
            )
            .await?;
        let Some(row) = row else {
            let pending = client
                .query_opt(
                    "SELECT 1 FROM webhook_deliveries WHERE org_id = $1 AND id = $2 AND status = 'pending'",
                    &[&org_id, &id],
                )
                .await?;
            return Ok(if pending.is_some() {
                Claim::Busy
            } else {
                Claim::Done
            });
        };
        let sealed: Vec<u8> = row.get(5);
        Ok(Claim::Attempt(DeliveryAttempt {
            store: self.clone(),
            org_id,
            delivery_id: id,
            secret: key.open_stored(&secret_aad(row.get(6)), &sealed)?,
            event_id: row.get(0),
            event_type: row.get(1),
            body: row.get(2),
            attempts: row.get(3),
            url: row.get(4),
        }))
    }
}

/// What one attempt produced.
#[derive(Debug, Clone)]
pub struct AttemptOutcome {
    pub at: DateTime<Utc>,
    /// The receiver's status, when it answered.
    pub response_status: Option<u16>,
    /// Why the attempt failed, as a class (`connect_refused`, `timeout`, `tls`, `status`,
    /// `blocked_address`, `dns`, ...), never a raw socket error.
    pub error: Option<String>,
    pub duration_ms: i32,
}

/// How long an attempt's lease lasts: longer than the 10 s a receiver gets, so only a worker that
/// died mid-attempt lets it lapse (its job is redelivered and takes the lease again).
pub const LEASE_SECONDS: f64 = 60.0;

/// The outcome of [`Store::begin_delivery_attempt`].
#[derive(Debug)]
pub enum Claim {
    /// The lease is ours: make the attempt, then [`DeliveryAttempt::finish`].
    Attempt(DeliveryAttempt),
    /// Delivered, failed or deleted: nothing to do.
    Done,
    /// Another worker is attempting it right now.
    Busy,
}

/// A pending delivery leased for one attempt, with what the attempt needs.
pub struct DeliveryAttempt {
    store: Store,
    pub org_id: Uuid,
    pub delivery_id: Uuid,
    pub event_id: Uuid,
    pub event_type: String,
    pub url: String,
    /// The subscription's signing secret (plaintext only here, in the worker's memory).
    pub secret: String,
    /// The exact JSON to POST and sign.
    pub body: String,
    /// Attempts logged before this one.
    pub attempts: i32,
}

impl std::fmt::Debug for DeliveryAttempt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeliveryAttempt")
            .field("delivery_id", &self.delivery_id)
            .field("event_id", &self.event_id)
            .field("event_type", &self.event_type)
            .field("url", &self.url)
            .field("secret", &"[redacted]")
            .field("attempts", &self.attempts)
            .finish()
    }
}

impl DeliveryAttempt {
    /// Logs the attempt, sets the delivery's status (`pending` to try again, `delivered` or
    /// `failed`) and ends the lease, in one transaction.
    pub async fn finish(self, outcome: &AttemptOutcome, status: &str) -> Result<(), StoreError> {
        let attempt = self.attempts + 1;
        let mut client = self.store.client().await?;
        let tx = client.transaction().await?;
        tx.execute(
            "INSERT INTO webhook_attempts (delivery_id, attempt, org_id, at, response_status, error, duration_ms)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (delivery_id, attempt) DO NOTHING",
            &[
                &self.delivery_id,
                &attempt,
                &self.org_id,
                &outcome.at,
                &outcome.response_status.map(i32::from),
                &outcome.error,
                &outcome.duration_ms,
            ],
        )
        .await?;
        tx.execute(
            "UPDATE webhook_deliveries SET attempts = GREATEST(attempts, $3), status = $4,
                attempting_until = NULL, updated_at = now()
             WHERE org_id = $1 AND id = $2 AND status = 'pending'",
            &[&self.org_id, &self.delivery_id, &attempt, &status],
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}
