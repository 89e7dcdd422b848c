//! Handling one delivery: decode, run the handler inside a span, then ack,
//! send to a retry tier, or dead-letter — each republish confirmed before the ack.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use fluxcascade_proto::{JobEnvelope, JobKind, Message};
use futures::FutureExt;
use lapin::message::Delivery;
use lapin::options::{BasicAckOptions, BasicNackOptions};
use lapin::Channel;
use tracing::{info_span, warn, Instrument};

use crate::error::{JobError, QueueError};
use crate::message::{
    delivery_count, header_string, job_properties, publish_confirmed, scope_traceparent,
    TRACEPARENT_HEADER,
};
use crate::reason::Reason;
use crate::retry::{jittered_expiration_ms, retry_tier};
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
    pub delays: [Duration; 4],
    pub max_attempts: u32,
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
/// tier) plus every earlier delivery of this very message that was never settled. A job whose
/// republish the broker refused, or that killed its worker, thereby still climbs toward
/// `max_attempts` instead of being redelivered forever at the same attempt.
pub(crate) fn delivered_attempt(envelope_attempt: u32, earlier_deliveries: u32) -> u32 {
    envelope_attempt.max(1).saturating_add(earlier_deliveries)
}

/// Processes one delivery to the end; never panics.
pub(crate) async fn process_delivery(delivery: Delivery, ctx: Arc<JobContext>) -> TaskOutcome {
    let traceparent = header_string(&delivery.properties, TRACEPARENT_HEADER);
    let mut job = match JobEnvelope::from_bytes(&delivery.data) {
        Ok(job) if job.kind() != JobKind::Unspecified && !job.job_id.is_empty() => job,
        Ok(job) => {
            let reason = Reason::from(format!(
                "invalid envelope: kind {} job_id {:?}",
                job.kind, job.job_id
            ));
            return dead_letter_raw(&delivery, &ctx, &reason, traceparent.as_deref()).await;
        }
        Err(error) => {
            let reason = Reason::from(format!("undecodable envelope: {error}"));
            return dead_letter_raw(&delivery, &ctx, &reason, traceparent.as_deref()).await;
        }
    };
    let attempt = delivered_attempt(job.attempt, delivery_count(&delivery.properties));
    job.attempt = attempt;
    let span = info_span!("job", job_id = %job.job_id, kind = job.kind().name(), attempt);
    async {
        if attempt > ctx.max_attempts {
            // The last attempt was delivered but never settled (its worker died, or the broker
            // refused the dead letter): do not run it again.
            let reason = Reason::from(format!(
                "gave up after {} attempts: the job was delivered again without being settled; last reason: {}",
                ctx.max_attempts, job.reason
            ));
            warn!(%reason, "job is past its attempts, dead-lettering");
            return dead_letter(&delivery, &ctx, job, reason, traceparent.as_deref()).await;
        }
        let run = AssertUnwindSafe(ctx.handler.handle(&job)).catch_unwind();
        let result = scope_traceparent(traceparent.clone(), run)
            .await
            .unwrap_or_else(|_| Err(JobError::transient("job handler panicked")));
        // From here on the reason is bounded: it goes into headers, envelopes and logs.
        match result {
            Ok(()) => ack(&delivery, &job.job_id).await,
            Err(JobError::Permanent { message }) => {
                let reason = Reason::from(message);
                warn!(%reason, "job failed permanently, dead-lettering");
                dead_letter(&delivery, &ctx, job, reason, traceparent.as_deref()).await
            }
            Err(JobError::Transient { message, .. }) if attempt >= ctx.max_attempts => {
                let reason = Reason::from(format!("gave up after {attempt} attempts: {message}"));
                warn!(%reason, "job exhausted its attempts, dead-lettering");
                dead_letter(&delivery, &ctx, job, reason, traceparent.as_deref()).await
            }
            Err(JobError::Transient {
                message,
                retry_after,
            }) => {
                let reason = Reason::from(message);
                retry(
                    &delivery,
                    &ctx,
                    job,
                    reason,
                    retry_after,
                    traceparent,
                )
                .await
            }
        }
    }
    .instrument(span)
    .await
}

async fn retry(
    delivery: &Delivery,
    ctx: &JobContext,
    mut job: JobEnvelope,
    reason: Reason,
    retry_after: Option<Duration>,
    traceparent: Option<String>,
) -> TaskOutcome {
    let attempt = job.attempt;
    let tier = retry_tier(attempt, retry_after, &ctx.delays);
    let delay = ctx.delays.get(tier).copied().unwrap_or_default();
    warn!(%reason, ?delay, "job failed, scheduling a retry");
    job.attempt = attempt.saturating_add(1);
    let properties = job_properties(
        &job.job_id,
        traceparent.as_deref(),
        Some(&reason),
        jittered_expiration_ms(delay, retry_after),
    );
    job.reason = reason.into_string();
    let exchange = Topology::retry_queue(&ctx.prefix, tier);
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

async fn dead_letter(
    delivery: &Delivery,
    ctx: &JobContext,
    mut job: JobEnvelope,
    reason: Reason,
    traceparent: Option<&str>,
) -> TaskOutcome {
    let properties = job_properties(&job.job_id, traceparent, Some(&reason), None);
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
    traceparent: Option<&str>,
) -> TaskOutcome {
    let message_id = delivery
        .properties
        .message_id()
        .as_ref()
        .map(|id| id.as_str().to_owned())
        .unwrap_or_default();
    warn!(%reason, message_id = %message_id, "dead-lettering a message that is not a job");
    let properties = job_properties(&message_id, traceparent, Some(reason), None);
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

async fn ack(delivery: &Delivery, job_id: &str) -> TaskOutcome {
    match delivery.acker.ack(BasicAckOptions::default()).await {
        Ok(()) => TaskOutcome::Settled,
        Err(error) => {
            warn!(error = %error, job_id, "ack failed; the broker will redeliver");
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
}
