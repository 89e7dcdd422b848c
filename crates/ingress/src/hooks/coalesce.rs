//! `HookBatcher`: concurrent webhook deliveries for the same (provider, org, connection) share one
//! `webhook` job, one publish and one confirm. A delivery still gets its 2xx only after the job
//! holding its events is confirmed; under load many ride on one confirm instead of one each.
//!
//! Batching adapts to load and adds no wait of its own: a delivery is published as soon as one of
//! [`MAX_IN_FLIGHT`] publish slots is free; while all are busy, the deliveries that arrive queue up
//! and leave together with the next free slot. The job's `publish` span continues the first
//! delivery's trace and links to the others' (see `fluxcascade_queue::TraceHeaders`).

use std::collections::BTreeMap;
use std::sync::Arc;

use fluxcascade_proto::v1::{JobEnvelope, JobKind, WebhookJob};
use fluxcascade_queue::{Publisher, TraceHeaders, MAX_TRACE_LINKS};
use prost::Message;
use tokio::sync::{mpsc, oneshot, Semaphore};

use super::HookEvent;

/// Publishes (each of one or more jobs) awaiting their confirm at the same time.
pub const MAX_IN_FLIGHT: usize = 4;
/// Deliveries taken into one batch at most.
pub const MAX_BATCH: usize = 256;

/// What a delivery's events are routed by in the worker; deliveries only merge when equal.
type Key = (String, String, String);

struct Pending {
    key: Key,
    events: Vec<HookEvent>,
    /// The delivery's trace context (its request span), when spans are exported.
    traceparent: Option<String>,
    done: oneshot::Sender<Result<String, String>>,
}

/// The handle the receivers submit deliveries to; cheap to clone.
#[derive(Clone)]
pub struct HookBatcher {
    tx: mpsc::UnboundedSender<Pending>,
}

impl std::fmt::Debug for HookBatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HookBatcher").finish_non_exhaustive()
    }
}

impl HookBatcher {
    /// Starts the batching task (needs a Tokio runtime); it ends when every handle is dropped.
    pub fn start(publisher: Publisher) -> HookBatcher {
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(run(publisher, rx));
        HookBatcher { tx }
    }

    /// Publishes `events` (with whatever else is waiting for the same key) and resolves once the
    /// broker confirmed them: `Ok(job id)`, or why not.
    pub async fn submit(
        &self,
        provider: &str,
        org: String,
        connection: String,
        events: Vec<HookEvent>,
    ) -> Result<String, String> {
        let (done, result) = oneshot::channel();
        let pending = Pending {
            key: (provider.to_owned(), org, connection),
            events,
            traceparent: fluxcascade_telemetry::otel::traceparent_of(&tracing::Span::current()),
            done,
        };
        if self.tx.send(pending).is_err() {
            return Err("the webhook publisher stopped".into());
        }
        result
            .await
            .unwrap_or_else(|_| Err("the webhook publish was dropped".into()))
    }
}

async fn run(publisher: Publisher, mut rx: mpsc::UnboundedReceiver<Pending>) {
    let slots = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    while let Some(first) = rx.recv().await {
        let Ok(permit) = slots.clone().acquire_owned().await else {
            return;
        };
        // Whatever queued while we waited for a slot leaves with this batch.
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(p) => batch.push(p),
                Err(_) => break,
            }
        }
        let publisher = publisher.clone();
        tokio::spawn(async move {
            publish_batch(&publisher, batch).await;
            drop(permit);
        });
    }
}

/// One job per key, all published pipelined; every delivery learns its job's outcome.
async fn publish_batch(publisher: &Publisher, batch: Vec<Pending>) {
    let mut groups: BTreeMap<Key, Vec<Pending>> = BTreeMap::new();
    for p in batch {
        groups.entry(p.key.clone()).or_default().push(p);
    }
    let mut jobs = Vec::with_capacity(groups.len());
    let mut traces = Vec::with_capacity(groups.len());
    let mut waiters = Vec::with_capacity(groups.len());
    for ((provider, org, connection), pending) in groups {
        let events: Vec<HookEvent> = pending
            .iter()
            .flat_map(|p| p.events.iter().cloned())
            .collect();
        let job = WebhookJob {
            provider,
            connection_id: connection,
            events_json: Vec::new(),
            events,
            received_at_unix_ms: chrono::Utc::now().timestamp_millis(),
        };
        jobs.push(JobEnvelope::new(JobKind::Webhook, org, job.encode_to_vec()));
        // The job continues its first delivery's trace and links to the others'.
        let mut contexts = pending.iter().filter_map(|p| p.traceparent.clone());
        traces.push(TraceHeaders {
            traceparent: contexts.next(),
            links: contexts.take(MAX_TRACE_LINKS).collect(),
        });
        waiters.push(pending);
    }
    let outcome = publisher
        .publish_many_traced(&jobs, &traces)
        .await
        .map_err(|e| e.to_string());
    for (job, pending) in jobs.iter().zip(waiters) {
        for p in pending {
            let _ = p.done.send(match &outcome {
                Ok(()) => Ok(job.job_id.clone()),
                Err(e) => Err(e.clone()),
            });
        }
    }
}
