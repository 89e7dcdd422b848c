//! Handling one delivery: decode, run the handler inside a span, then ack,
//! send to a retry tier, or dead-letter — each republish confirmed before the ack.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use fluxcascade_proto::{JobEnvelope, JobKind, Message};
use fluxcascade_telemetry::{metrics, JobOutcome};
use futures::FutureExt;
use lapin::message::Delivery;
use lapin::options::{BasicAckOptions, BasicNackOptions};
use lapin::Channel;
use tracing::{debug, info_span, warn, Instrument};

use crate::error::{JobError, QueueError};
use crate::message::{
    delivery_count, job_properties, publish_confirmed, scope_trace, TraceHeaders,
};
use crate::reason::Reason;
use crate::retry::{Disposition, RetryPolicy};
use crate::topology::Topology;

/// Application code that runs jobs. Must be idempotent: delivery is at-least-once.
#[async_trait]
pub trait JobHandler: Send + Sync + 'static {
    async fn handle(&self, job: &JobEnvelope) -> Result<(), JobError>;
}

/// What is shared by the job tasks of one broker session.
pub(crate) struct JobContext {
    pub handler: Arc<dyn JobHandler>,
    /// Confirm channel for retries and dead letters.
    pub publish_channel: Channel,
    pub prefix: String,
    pub policy: RetryPolicy,
    pub max_unsettled: u32,
}

/// How a job task ended, as far as the broker is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TaskOutcome {
    /// The delivery was settled (acked after success, retry or dead-letter).
    Settled,
    /// Talking to the broker failed; the message will be redelivered.
    BrokerFailed,
}

/// The attempt a delivery stands for: the envelope's attempt (raised by each republish to a retry
/// tier) plus every earlier delivery of this very message that was never settled, so a job whose
/// republish the broker refused, or that killed its worker, still climbs the retry tiers.
pub(crate) fn delivered_attempt(envelope_attempt: u32, earlier_deliveries: u32) -> u32 {
    envelope_attempt.max(1).saturating_add(earlier_deliveries)
}

/// Processes one delivery to the end; never panics.
pub(crate) async fn process_delivery(delivery: Delivery, ctx: Arc<JobContext>) -> TaskOutcome {
    let trace = TraceHeaders::from_properties(&delivery.properties);
    let mut job = match JobEnvelope::from_bytes(&delivery.data) {
        Ok(job) if job.kind() != JobKind::Unspecified && !job.job_id.is_empty() => job,
        Ok(job) => {
            let reason = Reason::from(format!(
                "invalid envelope: kind {} job_id {:?}",
                job.kind, job.job_id
            ));
            metrics().observe_job("unknown", JobOutcome::Dead, Duration::ZERO, None);
            return dead_letter_raw(&delivery, &ctx, &reason, &trace).await;
        }
        Err(error) => {
            metrics().observe_job("unknown", JobOutcome::Dead, Duration::ZERO, None);
            let reason = Reason::from(format!("undecodable envelope: {error}"));
            return dead_letter_raw(&delivery, &ctx, &reason, &trace).await;
        }
    };
    let unsettled = delivery_count(&delivery.properties);
    let kind = job.kind().name();
    let queue_wait = first_queue_wait(&job, unsettled, now_unix_ms());
    let attempt = delivered_attempt(job.attempt, unsettled);
    job.attempt = attempt;
    let span = info_span!(
        "job",
        otel.name = %format_args!("process {}", job.kind().name()),
        otel.kind = "consumer",
        messaging.system = "rabbitmq",
        messaging.operation.type = "process",
        messaging.destination.name = %delivery.routing_key,
        messaging.message.id = %job.job_id,
        job_id = %job.job_id,
        kind = job.kind().name(),
        attempt
    );
    // The publisher's span is the parent; a job batching several triggers links to the others.
    if let Some(parent) = &trace.traceparent {
        fluxcascade_telemetry::otel::set_parent(&span, parent);
    }
    for link in &trace.links {
        fluxcascade_telemetry::otel::add_link(&span, link);
    }
    async {
        if unsettled >= ctx.max_unsettled {
            // Delivered again and again without being settled: the job kills its worker (or the
            // broker keeps refusing its republish). Do not run it again.
            let reason = Reason::from(format!(
                "gave up: delivered {} times without being settled (does the job crash its worker?); last reason: {}",
                unsettled + 1,
                job.reason
            ));
            warn!(%reason, "job keeps coming back unsettled, dead-lettering");
            metrics().observe_job(kind, JobOutcome::Dead, Duration::ZERO, queue_wait);
            return dead_letter(&delivery, &ctx, job, reason, &trace).await;
        }
        let started = Instant::now();
        let run = AssertUnwindSafe(ctx.handler.handle(&job)).catch_unwind();
        let result = scope_trace(trace.clone(), run)
            .await
            .unwrap_or_else(|_| Err(JobError::transient("job handler panicked")));
        let error = match result {
            Ok(()) => {
                metrics().observe_job(kind, JobOutcome::Ok, started.elapsed(), queue_wait);
                return ack(&delivery, &job.job_id).await;
            }
            Err(error) => error,
        };
        // From here on the reason is bounded: it goes into headers, envelopes and logs.
        let disposition =
            ctx.policy
                .decide(&error, attempt, job.first_failed_at_unix_ms, now_unix_ms());
        metrics().observe_job(
            kind,
            outcome_of(&disposition, &error),
            started.elapsed(),
            queue_wait,
        );
        match disposition {
            Disposition::DeadLetter { why } => {
                let reason = Reason::from(format!("{why}{}", error.message()));
                warn!(%reason, "job failed for good, dead-lettering");
                dead_letter(&delivery, &ctx, job, reason, &trace).await
            }
            Disposition::Retry {
                tier,
                expiration_ms,
                attempt,
                first_failed_at_ms,
            } => {
                job.attempt = attempt;
                job.first_failed_at_unix_ms = first_failed_at_ms;
                let retry = Retry {
                    tier,
                    expiration_ms,
                    reason: Reason::from(error.message().to_owned()),
                    deferred: matches!(error, JobError::Deferred { .. }),
                };
                retry.send(&delivery, &ctx, job, &trace).await
            }
        }
    }
    .instrument(span)
    .await
}

/// How a failed job's disposition counts in the job metrics.
fn outcome_of(disposition: &Disposition, error: &JobError) -> JobOutcome {
    match (disposition, error) {
        (Disposition::DeadLetter { .. }, _) => JobOutcome::Dead,
        (Disposition::Retry { .. }, JobError::Deferred { .. }) => JobOutcome::Deferred,
        (Disposition::Retry { .. }, _) => JobOutcome::Retry,
    }
}

/// The time a job waited in its queue before its first handling: now − the envelope's
/// `created_at_unix_ms` (set when it is published; a clock behind the publisher's counts 0).
/// `None` for a retried, deferred (both carry a `reason`; a deferral keeps its attempt) or
/// redelivered job, whose wait is mostly its retry tier's delay, and for an envelope without
/// a creation time.
pub(crate) fn first_queue_wait(job: &JobEnvelope, unsettled: u32, now_ms: i64) -> Option<Duration> {
    if job.attempt > 1 || !job.reason.is_empty() || unsettled > 0 || job.created_at_unix_ms <= 0 {
        return None;
    }
    let waited = now_ms.saturating_sub(job.created_at_unix_ms).max(0);
    Some(Duration::from_millis(u64::try_from(waited).unwrap_or(0)))
}

fn now_unix_ms() -> i64 {
    i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis(),
    )
    .unwrap_or(i64::MAX)
}

/// A republish to a retry tier.
struct Retry {
    tier: usize,
    expiration_ms: Option<u64>,
    reason: Reason,
    /// Waiting (rate limit, cap) rather than failing: logged quieter.
    deferred: bool,
}

impl Retry {
    async fn send(
        self,
        delivery: &Delivery,
        ctx: &JobContext,
        mut job: JobEnvelope,
        trace: &TraceHeaders,
    ) -> TaskOutcome {
        let delay = ctx
            .policy
            .delays
            .get(self.tier)
            .copied()
            .unwrap_or_default();
        if self.deferred {
            debug!(reason = %self.reason, ?delay, "job deferred");
        } else {
            warn!(reason = %self.reason, ?delay, "job failed, scheduling a retry");
        }
        let properties = job_properties(&job.job_id, trace, Some(&self.reason), self.expiration_ms);
        job.reason = self.reason.into_string();
        let exchange = Topology::retry_queue(&ctx.prefix, self.tier);
        let routing_key = job.kind().name();
        let sent = publish_confirmed(
            &ctx.publish_channel,
            &exchange,
            routing_key,
            &job.encode_to_vec(),
            properties,
            &job.job_id,
        )
        .await;
        settle_after_republish(delivery, ctx, &job.job_id, sent).await
    }
}

async fn dead_letter(
    delivery: &Delivery,
    ctx: &JobContext,
    mut job: JobEnvelope,
    reason: Reason,
    trace: &TraceHeaders,
) -> TaskOutcome {
    let properties = job_properties(&job.job_id, trace, Some(&reason), None);
    job.reason = reason.into_string();
    let sent = publish_confirmed(
        &ctx.publish_channel,
        "",
        &Topology::dead_queue(&ctx.prefix),
        &job.encode_to_vec(),
        properties,
        &job.job_id,
    )
    .await;
    settle_after_republish(delivery, ctx, &job.job_id, sent).await
}

/// Dead-letters a message that is not a usable envelope, keeping its bytes as they were.
async fn dead_letter_raw(
    delivery: &Delivery,
    ctx: &JobContext,
    reason: &Reason,
    trace: &TraceHeaders,
) -> TaskOutcome {
    let message_id = delivery
        .properties
        .message_id()
        .as_ref()
        .map(|id| id.as_str().to_owned())
        .unwrap_or_default();
    warn!(%reason, message_id = %message_id, "dead-lettering a message that is not a job");
    let properties = job_properties(&message_id, trace, Some(reason), None);
    let sent = publish_confirmed(
        &ctx.publish_channel,
        "",
        &Topology::dead_queue(&ctx.prefix),
        &delivery.data,
        properties,
        &message_id,
    )
    .await;
    settle_after_republish(delivery, ctx, &message_id, sent).await
}

/// Acks once the copy is confirmed; otherwise hands the message back to the broker, which
/// redelivers it with `x-delivery-count` raised: the next delivery is the next attempt (see
/// [`delivered_attempt`]), so a refused republish never loops uncounted.
async fn settle_after_republish(
    delivery: &Delivery,
    ctx: &JobContext,
    job_id: &str,
    sent: Result<(), QueueError>,
) -> TaskOutcome {
    let Err(error) = sent else {
        return ack(delivery, job_id).await;
    };
    if !ctx.publish_channel.status().connected() {
        // The broker closed the confirm channel (e.g. it refused the message): the session
        // ends and closing it returns the message. A nack now would hand it straight back to
        // this dying session, and that extra unsettled delivery would cost an attempt.
        warn!(error = %error, job_id, "republish failed, the job returns to its queue");
        return TaskOutcome::BrokerFailed;
    }
    warn!(error = %error, job_id, "republish failed, requeueing the job");
    let requeue = BasicNackOptions {
        requeue: true,
        ..BasicNackOptions::default()
    };
    if let Err(error) = delivery.acker.nack(requeue).await {
        warn!(error = %error, job_id, "nack failed; the broker will redeliver");
    }
    TaskOutcome::BrokerFailed
}

/// How long an ack may wait to be written. An ack has no reply; one that cannot even be
/// written within this is on a link that broke under it, and the broker redelivers the job once
/// that connection is gone. Without the bound, such a task would hold up the consumer's drain.
const ACK_WRITE: Duration = Duration::from_secs(5);

async fn ack(delivery: &Delivery, job_id: &str) -> TaskOutcome {
    match tokio::time::timeout(ACK_WRITE, delivery.acker.ack(BasicAckOptions::default())).await {
        Ok(Ok(())) => TaskOutcome::Settled,
        Ok(Err(error)) => {
            warn!(error = %error, job_id, "ack failed; the broker will redeliver");
            TaskOutcome::BrokerFailed
        }
        Err(_) => {
            warn!(
                job_id,
                "ack could not be written in time; the broker will redeliver"
            );
            TaskOutcome::BrokerFailed
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_unsettled_delivery_counts_as_an_attempt() {
        assert_eq!(delivered_attempt(0, 0), 1);
        assert_eq!(delivered_attempt(1, 0), 1);
        assert_eq!(delivered_attempt(1, 1), 2);
        assert_eq!(delivered_attempt(3, 2), 5);
        assert_eq!(delivered_attempt(u32::MAX, 9), u32::MAX);
    }

    #[test]
    fn queue_wait_is_measured_from_creation_on_first_deliveries_only() {
        let job = JobEnvelope {
            attempt: 1,
            created_at_unix_ms: 10_000,
            ..JobEnvelope::default()
        };
        assert_eq!(
            first_queue_wait(&job, 0, 12_500),
            Some(Duration::from_millis(2_500))
        );
        // A publisher's clock ahead of ours: no negative wait.
        assert_eq!(first_queue_wait(&job, 0, 9_000), Some(Duration::ZERO));
        // Redelivered after a crash, or republished to a retry tier: not a queue wait.
        assert_eq!(first_queue_wait(&job, 1, 12_500), None);
        let retried = JobEnvelope {
            attempt: 2,
            ..job.clone()
        };
        assert_eq!(first_queue_wait(&retried, 0, 12_500), None);
        let deferred = JobEnvelope {
            reason: "rate limited".into(),
            ..job.clone()
        };
        assert_eq!(first_queue_wait(&deferred, 0, 12_500), None);
        let unknown = JobEnvelope {
            created_at_unix_ms: 0,
            ..job
        };
        assert_eq!(first_queue_wait(&unknown, 0, 12_500), None);
    }

    #[test]
    fn failures_count_as_retry_deferred_or_dead() {
        let retry = Disposition::Retry {
            tier: 0,
            expiration_ms: None,
            attempt: 2,
            first_failed_at_ms: 1,
        };
        assert_eq!(
            outcome_of(&retry, &JobError::transient("x")),
            JobOutcome::Retry
        );
        let deferred = JobError::Deferred {
            message: "rate limited".into(),
            wait: Duration::from_secs(5),
        };
        assert_eq!(outcome_of(&retry, &deferred), JobOutcome::Deferred);
        let dead = Disposition::DeadLetter {
            why: "permanent: ".into(),
        };
        assert_eq!(
            outcome_of(&dead, &JobError::permanent("bad")),
            JobOutcome::Dead
        );
    }
}
