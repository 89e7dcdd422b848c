//! Outbound webhooks: subscriptions (secret sealed at rest), the delivery outbox written in the
//! transaction that produced an event, publishing claims, leased delivery attempts and their log.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use ring::rand::{SecureRandom, SystemRandom};
use serde::Serialize;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::{MasterKey, SealedToken, Store, StoreError};

/// The events a webhook can subscribe to.
pub const EVENT_TYPES: [&str; 4] = [
    "sync.completed",
    "sync.partial",
    "sync.failed",
    "connection.expired",
];

/// How many per-record errors a `sync.*` event carries (as `GET /v1/syncs/{id}` does).
const INLINE_ERRORS: i64 = 100;

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

/// The body every delivery POSTs: `{id, type, createdAt, data}`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct EventBody<'a> {
    id: Uuid,
    #[serde(rename = "type")]
    kind: &'a str,
    created_at: DateTime<Utc>,
    data: &'a Value,
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

fn secret_aad(id: Uuid) -> String {
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
        let sealed = key.seal(&secret_aad(id), &secret)?;
        let row = self
            .client()
            .await?
            .query_one(
                &format!(
                    "INSERT INTO webhooks (id, org_id, url, events, key_id, secret)
                     VALUES ($1, $2, $3, $4, $5, $6) RETURNING {COLUMNS}"
                ),
                &[&id, &org_id, &url, &events, &sealed.key_id, &sealed.bytes],
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
                 RETURNING d.event_id, d.event_type, d.body, d.attempts, w.url, w.key_id, w.secret, w.id",
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
        let sealed = SealedToken {
            key_id: row.get(5),
            bytes: row.get(6),
        };
        Ok(Claim::Attempt(DeliveryAttempt {
            store: self.clone(),
            org_id,
            delivery_id: id,
            secret: key.open(&secret_aad(row.get(7)), &sealed)?,
            event_id: row.get(0),
            event_type: row.get(1),
            body: row.get(2),
            attempts: row.get(3),
            url: row.get(4),
        }))
    }
}

/// Subscriptions of `org_id` to `event_type`.
async fn subscribers<C: GenericClient>(
    c: &C,
    org_id: Uuid,
    event_type: &str,
) -> Result<Vec<Uuid>, StoreError> {
    let rows = c
        .query(
            "SELECT id FROM webhooks WHERE org_id = $1 AND $2 = ANY(events) ORDER BY id",
            &[&org_id, &event_type],
        )
        .await?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// Writes one pending delivery per subscriber, all with the same event id and body.
async fn insert_deliveries<C: GenericClient>(
    c: &C,
    org_id: Uuid,
    event_type: &str,
    subject_id: Uuid,
    data: &Value,
    subscribers: &[Uuid],
) -> Result<Vec<Uuid>, StoreError> {
    if subscribers.is_empty() {
        return Ok(Vec::new());
    }
    let event_id = Uuid::now_v7();
    let body = serde_json::to_string(&EventBody {
        id: event_id,
        kind: event_type,
        created_at: Utc::now(),
        data,
    })
    .map_err(|e| StoreError::Corrupt(format!("encoding an event: {e}")))?;
    let mut ids = Vec::with_capacity(subscribers.len());
    for webhook_id in subscribers {
        let id = Uuid::now_v7();
        c.execute(
            "INSERT INTO webhook_deliveries (id, org_id, webhook_id, event_id, event_type, subject_id, body)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            &[&id, &org_id, webhook_id, &event_id, &event_type, &subject_id, &body],
        )
        .await?;
        ids.push(id);
    }
    tracing::info!(%org_id, %event_id, event_type, deliveries = ids.len(), "webhook event recorded");
    Ok(ids)
}

/// Inside the transaction that finalised a run: a `sync.<status>` event with the run as the API
/// shows it (`GET /v1/syncs/{id}`), for every subscriber.
pub(crate) async fn emit_sync_event<C: GenericClient>(
    c: &C,
    org_id: Uuid,
    sync_id: Uuid,
) -> Result<(), StoreError> {
    let Some(run) = c
        .query_opt(
            "SELECT id, mapping_id, status, trigger, mode, created_at, started_at, finished_at,
                    read_count, created_count, updated_count, skipped_count, failed_count, error
             FROM sync_runs WHERE org_id = $1 AND id = $2",
            &[&org_id, &sync_id],
        )
        .await?
    else {
        return Ok(());
    };
    let status: String = run.get(2);
    let event_type = format!("sync.{status}");
    let subs = subscribers(c, org_id, &event_type).await?;
    if subs.is_empty() {
        return Ok(());
    }
    let failed: i64 = run.get(12);
    let errors: Vec<Value> = if failed > 0 {
        c.query(
            "SELECT record_id, code, message FROM sync_errors WHERE org_id = $1 AND sync_id = $2
             ORDER BY id LIMIT $3",
            &[&org_id, &sync_id, &INLINE_ERRORS],
        )
        .await?
        .iter()
        .map(|e| {
            json!({"recordId": e.get::<_, String>(0), "code": e.get::<_, String>(1),
                   "message": e.get::<_, String>(2)})
        })
        .collect()
    } else {
        Vec::new()
    };
    let n = |i: usize| run.get::<_, i64>(i).max(0);
    let data = json!({
        "id": run.get::<_, Uuid>(0),
        "mappingId": run.get::<_, Uuid>(1),
        "status": status,
        "trigger": run.get::<_, String>(3),
        "mode": run.get::<_, String>(4),
        "createdAt": run.get::<_, DateTime<Utc>>(5),
        "startedAt": run.get::<_, Option<DateTime<Utc>>>(6),
        "finishedAt": run.get::<_, Option<DateTime<Utc>>>(7),
        "counts": {"read": n(8), "created": n(9), "updated": n(10), "skipped": n(11), "failed": n(12)},
        "error": run.get::<_, Option<String>>(13),
        "errors": errors,
    });
    insert_deliveries(c, org_id, &event_type, sync_id, &data, &subs).await?;
    Ok(())
}

/// Inside the transaction that marked a connection expired: a `connection.expired` event with
/// the connection as the API shows it (never its tokens), for every subscriber.
pub(crate) async fn emit_connection_expired<C: GenericClient>(
    c: &C,
    org_id: Uuid,
    connection_id: Uuid,
) -> Result<(), StoreError> {
    let event_type = "connection.expired";
    let subs = subscribers(c, org_id, event_type).await?;
    if subs.is_empty() {
        return Ok(());
    }
    let Some(r) = c
        .query_opt(
            "SELECT id, provider, status, account_name, external_account_id, status_message, created_at
             FROM connections WHERE org_id = $1 AND id = $2",
            &[&org_id, &connection_id],
        )
        .await?
    else {
        return Ok(());
    };
    let mut data = json!({
        "id": r.get::<_, Uuid>(0),
        "provider": r.get::<_, String>(1),
        "status": r.get::<_, String>(2),
        "accountName": r.get::<_, String>(3),
        "externalAccountId": r.get::<_, String>(4),
        "createdAt": r.get::<_, DateTime<Utc>>(6),
    });
    if let (Some(message), Some(obj)) = (r.get::<_, Option<String>>(5), data.as_object_mut()) {
        obj.insert("statusMessage".into(), Value::String(message));
    }
    insert_deliveries(c, org_id, event_type, connection_id, &data, &subs).await?;
    Ok(())
}

/// What one attempt produced.
#[derive(Debug, Clone)]
pub struct AttemptOutcome {
    pub at: DateTime<Utc>,
    /// The receiver's status, when it answered.
    pub response_status: Option<u16>,
    /// Why there was no answer.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_random_and_prefixed() {
        let (a, b) = (new_secret().unwrap(), new_secret().unwrap());
        assert!(a.starts_with("whsec_") && a.len() == 6 + 64, "{a}");
        assert_ne!(a, b);
    }

    #[test]
    fn event_body_has_the_documented_fields() {
        let data = json!({"id": "x"});
        let body = serde_json::to_value(EventBody {
            id: Uuid::nil(),
            kind: "sync.completed",
            created_at: Utc::now(),
            data: &data,
        })
        .unwrap();
        let mut keys: Vec<&str> = body
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        assert_eq!(keys, ["createdAt", "data", "id", "type"]);
        assert_eq!(body["type"], "sync.completed");
    }
}
