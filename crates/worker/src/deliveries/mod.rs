//! Outbound webhooks on the worker side: publishing the outbox's delivery jobs (right after the
//! event's transaction, and a relay that republishes whatever was not confirmed), and the
//! delivery job itself (a signed POST per attempt, every attempt logged, retried by the queue).
//!
//! Deliveries run on their own consumer (own channel, prefetch and concurrency), so a slow
//! receiver occupies delivery slots only and never delays sync or batch jobs.

mod attempt;
pub mod signing;

use std::sync::Arc;
use std::time::Duration;

use fluxcascade_proto::v1::{DeliveryJob, JobEnvelope, JobKind};
use fluxcascade_providers::egress::WebhookUrls;
use fluxcascade_queue::{ConsumerOptions, JobError, JobHandler, Publisher, QueueConfig};
use fluxcascade_store::deliveries::{Claim, UnpublishedDelivery};
use fluxcascade_store::{MasterKey, Store, StoreError};
use prost::Message;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};
use uuid::Uuid;

use crate::handler::parse_uuid;

/// How often the relay looks for deliveries whose job was never confirmed.
pub const RELAY_INTERVAL: Duration = Duration::from_secs(5);
/// How long a publisher's claim on an unpublished delivery holds (a publisher that died frees
/// its claims after this).
const CLAIM_SECONDS: f64 = 60.0;
/// Deliveries claimed per relay query.
const CLAIM_BATCH: i64 = 100;

/// Wakes a worker's relay at once, after an event was recorded by code that holds no publisher
/// (the token source marking a connection expired). One per worker, handed to whoever records
/// such events ([`crate::Worker::build`]); clones share it.
#[derive(Debug, Clone, Default)]
pub struct RelaySignal(Arc<Notify>);

impl RelaySignal {
    pub fn nudge(&self) {
        self.0.notify_one();
    }

    async fn nudged(&self) {
        self.0.notified().await;
    }
}

/// Publishes the delivery jobs of the events just recorded about `subject` (a sync run or a
/// connection). Failures are logged: the relay publishes whatever is left.
pub(crate) async fn publish_for_subject(store: &Store, publisher: &Publisher, subject: Uuid) {
    match store
        .claim_unpublished_deliveries(Some(subject), CLAIM_BATCH, CLAIM_SECONDS)
        .await
    {
        Ok(claimed) => {
            publish_claimed(store, publisher, &claimed).await;
        }
        Err(e) => {
            warn!(error = %e, subject_id = %subject, "claiming webhook deliveries failed; the relay will publish them")
        }
    }
}

/// Publishes each claimed delivery's job with a broker confirm; returns how many were confirmed.
async fn publish_claimed(
    store: &Store,
    publisher: &Publisher,
    claimed: &[UnpublishedDelivery],
) -> usize {
    let mut confirmed = 0;
    for d in claimed {
        let job = DeliveryJob {
            delivery_id: d.id.to_string(),
        };
        let env = JobEnvelope::new(JobKind::Delivery, d.org_id.to_string(), job.encode_to_vec());
        match publisher.publish(&env).await {
            Ok(()) => {
                confirmed += 1;
                if let Err(e) = store.delivery_published(d.org_id, d.id).await {
                    // The job is queued; at worst the relay publishes a duplicate, which the
                    // delivery's row lock and status turn into a no-op.
                    warn!(error = %e, delivery_id = %d.id, "could not mark a delivery published");
                }
            }
            Err(e) => {
                warn!(error = %e, delivery_id = %d.id, "could not enqueue a webhook delivery; the relay retries");
                if let Err(e) = store.delivery_unclaimed(d.org_id, d.id).await {
                    warn!(error = %e, delivery_id = %d.id, "could not release a delivery claim");
                }
            }
        }
    }
    confirmed
}

/// The outbox relay: every [`RELAY_INTERVAL`] (or at once when nudged) publishes pending
/// deliveries whose job was never confirmed — the publish after the event's commit was lost
/// (broker down, process killed) or never made. Any number of workers run it; claims keep them
/// from publishing the same delivery twice.
async fn relay(
    store: Store,
    publisher: Publisher,
    signal: RelaySignal,
    shutdown: CancellationToken,
) {
    loop {
        match store
            .claim_unpublished_deliveries(None, CLAIM_BATCH, CLAIM_SECONDS)
            .await
        {
            Ok(claimed) if !claimed.is_empty() => {
                let n = publish_claimed(&store, &publisher, &claimed).await;
                info!(
                    claimed = claimed.len(),
                    published = n,
                    "webhook outbox relayed"
                );
                if n == claimed.len() && claimed.len() as i64 == CLAIM_BATCH {
                    continue; // more may be waiting
                }
            }
            Ok(_) => {}
            Err(e) => warn!(error = %e, "webhook outbox relay could not claim deliveries"),
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(RELAY_INTERVAL) => {}
            _ = signal.nudged() => {}
        }
    }
}

/// The `JobKind::Delivery` handler.
pub struct DeliveryWorker {
    store: Store,
    publisher: Publisher,
    key: Arc<MasterKey>,
    http: reqwest::Client,
    urls: WebhookUrls,
    max_attempts: u32,
    signal: RelaySignal,
}

impl DeliveryWorker {
    pub fn new(
        store: Store,
        publisher: Publisher,
        key: Arc<MasterKey>,
        max_attempts: u32,
        urls: &WebhookUrls,
        signal: RelaySignal,
    ) -> anyhow::Result<DeliveryWorker> {
        Ok(DeliveryWorker {
            store,
            publisher,
            key,
            http: attempt::client(urls)?,
            urls: urls.clone(),
            max_attempts,
            signal,
        })
    }

    /// Runs the delivery consumer (`concurrency` deliveries in flight) and the outbox relay until
    /// `shutdown`.
    pub async fn run(
        self: Arc<Self>,
        queue: QueueConfig,
        concurrency: usize,
        shutdown_grace: Duration,
        shutdown: CancellationToken,
    ) -> anyhow::Result<()> {
        let relay = tokio::spawn(relay(
            self.store.clone(),
            self.publisher.clone(),
            self.signal.clone(),
            shutdown.clone(),
        ));
        let options = ConsumerOptions {
            kinds: vec![JobKind::Delivery],
            concurrency,
            max_unsettled: self.max_attempts,
            shutdown_grace,
        };
        let res = fluxcascade_queue::run_consumer(queue, options, self, shutdown).await;
        let _ = relay.await;
        res.map_err(anyhow::Error::from)
    }

    async fn deliver(&self, env: &JobEnvelope) -> Result<(), JobError> {
        let job = DeliveryJob::decode(env.payload.as_slice()).map_err(|e| JobError::Permanent {
            message: format!("undecodable delivery job: {e}"),
        })?;
        let org_id = parse_uuid(&env.org_id, "org_id")?;
        let delivery_id = parse_uuid(&job.delivery_id, "delivery_id")?;
        let locked = match self
            .store
            .begin_delivery_attempt(org_id, delivery_id, &self.key)
            .await
            .map_err(|e| store_error(&e))?
        {
            Claim::Attempt(attempt) => attempt,
            // Delivered, failed, or deleted with its webhook: a duplicate job.
            Claim::Done => return Ok(()),
            // A duplicate job while another worker's attempt is in progress: look again later
            // (it is done by then, or that worker died and its lease lapsed).
            Claim::Busy => {
                return Err(JobError::Transient {
                    message: "another worker is attempting this delivery".into(),
                    retry_after: Some(attempt::TIMEOUT),
                })
            }
        };
        let outcome = attempt::post(&self.http, &self.urls, &locked).await;
        let attempt_no = locked.attempts + 1;
        let last = u32::try_from(attempt_no).unwrap_or(u32::MAX) >= self.max_attempts
            || env.attempt >= self.max_attempts;
        let status = match (outcome.delivered(), last) {
            (true, _) => "delivered",
            (false, true) => "failed",
            (false, false) => "pending",
        };
        let (event_id, url) = (locked.event_id, locked.url.clone());
        locked
            .finish(&outcome.row, status)
            .await
            .map_err(|e| store_error(&e))?;
        match status {
            "pending" => {
                warn!(%delivery_id, %event_id, attempt = attempt_no, result = %outcome.summary(), "webhook delivery failed; retrying with backoff");
                Err(JobError::transient(format!(
                    "webhook receiver: {}",
                    outcome.summary()
                )))
            }
            "failed" => {
                warn!(%delivery_id, %event_id, attempt = attempt_no, %url, result = %outcome.summary(), "webhook delivery failed for good");
                Ok(())
            }
            _ => {
                info!(%delivery_id, %event_id, attempt = attempt_no, "webhook delivered");
                Ok(())
            }
        }
    }
}

fn store_error(e: &StoreError) -> JobError {
    match e {
        StoreError::Crypto(_) | StoreError::UnknownKey(_) => JobError::permanent(e.to_string()),
        _ => JobError::Transient {
            message: e.to_string(),
            retry_after: e.is_transient().then_some(Duration::from_secs(1)),
        },
    }
}

#[async_trait::async_trait]
impl JobHandler for DeliveryWorker {
    async fn handle(&self, job: &JobEnvelope) -> Result<(), JobError> {
        // The queue's consumer times the job and counts its outcome (`observe_job`).
        match JobKind::try_from(job.kind).unwrap_or(JobKind::Unspecified) {
            JobKind::Delivery => self.deliver(job).await,
            other => Err(JobError::permanent(format!(
                "the delivery consumer does not handle {other:?} jobs"
            ))),
        }
    }
}
