//! The dead-letter recorder's consumer: takes messages off `{prefix}.dead`, hands each to a
//! [`DeadLetterSink`] (the store) and acks it only once the sink recorded it.
//!
//! A sink failure (the database is down) never loses a dead letter: the message stays unacked
//! and the sink is asked again with backoff, in order, until it succeeds or the consumer stops
//! (then closing the connection returns it to the queue). The message is never nacked, so a
//! long outage cannot run it into a quorum queue's delivery limit.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use fluxcascade_proto::{JobEnvelope, JobKind};
use futures::StreamExt;
use lapin::message::Delivery;
use lapin::options::{BasicAckOptions, BasicConsumeOptions, BasicQosOptions};
use lapin::types::FieldTable;
use lapin::{Channel, Connection, Consumer};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::config::QueueConfig;
use crate::connect::{open_connection, reconnect_backoff};
use crate::error::QueueError;
use crate::message::{header_string, REASON_HEADER};
use crate::reason::Reason;
use crate::topology::Topology;

/// Dead letters taken off the queue but not yet recorded, per consumer (the broker's prefetch).
const DEAD_LETTER_PREFETCH: u16 = 16;
/// The longest pause between two attempts to record the same dead letter.
const MAX_SINK_BACKOFF: Duration = Duration::from_secs(30);

/// One message of the dead-letter queue.
#[derive(Debug, Clone, PartialEq)]
pub struct DeadLetter {
    /// The envelope's job id; for a message that is not a job, its AMQP message id (may be empty).
    pub job_id: String,
    /// The job, when the bytes are a usable envelope (a kind and a job id).
    pub envelope: Option<JobEnvelope>,
    /// The bytes exactly as they were dead-lettered.
    pub raw: Vec<u8>,
    /// Why it was dead-lettered: the envelope's reason, else the `x-fluxcascade-reason` header.
    pub reason: String,
}

impl DeadLetter {
    /// Reads a dead-lettered message: its bytes, AMQP message id and reason header.
    pub fn from_message(
        raw: Vec<u8>,
        message_id: Option<String>,
        reason_header: Option<String>,
    ) -> DeadLetter {
        let envelope = decode_envelope(&raw);
        let job_id = match &envelope {
            Some(envelope) => envelope.job_id.clone(),
            None => message_id.unwrap_or_default(),
        };
        let reason = envelope
            .as_ref()
            .map(|e| e.reason.clone())
            .filter(|r| !r.is_empty())
            .or(reason_header)
            .unwrap_or_default();
        DeadLetter {
            job_id,
            envelope,
            raw,
            reason: Reason::from(reason).into_string(),
        }
    }

    fn from_delivery(delivery: &Delivery) -> DeadLetter {
        let message_id = delivery
            .properties
            .message_id()
            .as_ref()
            .map(|id| id.as_str().to_owned());
        DeadLetter::from_message(
            delivery.data.clone(),
            message_id,
            header_string(&delivery.properties, REASON_HEADER),
        )
    }
}

/// The bytes as a job envelope, if they are one a consumer would run (a kind and a job id).
pub fn decode_envelope(bytes: &[u8]) -> Option<JobEnvelope> {
    JobEnvelope::from_bytes(bytes)
        .ok()
        .filter(|e| e.kind() != JobKind::Unspecified && !e.job_id.is_empty())
}

/// The job that replays a dead-lettered one: the same kind, org, payload and creation time under
/// a new job id, at attempt 1, never failed, without a reason.
pub fn replay_job(original: &JobEnvelope) -> JobEnvelope {
    let fresh = JobEnvelope::new(
        original.kind(),
        original.org_id.clone(),
        original.payload.clone(),
    );
    JobEnvelope {
        created_at_unix_ms: original.created_at_unix_ms,
        ..fresh
    }
}

/// Why a sink could not record a dead letter (it will be asked again).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SinkError(pub String);

/// Where dead letters are recorded. Must be idempotent on `job_id`: after a crash or a lost ack
/// the same dead letter is delivered again.
#[async_trait]
pub trait DeadLetterSink: Send + Sync + 'static {
    async fn record(&self, letter: &DeadLetter) -> Result<(), SinkError>;
}

/// Consumes `{prefix}.dead` until `shutdown` is cancelled, recording each message through `sink`
/// and acking it only after the sink returned `Ok`. Reconnects with backoff after a broker
/// outage. Returns `Err` only for an invalid configuration.
pub async fn run_dead_letter_consumer(
    config: QueueConfig,
    sink: Arc<dyn DeadLetterSink>,
    shutdown: CancellationToken,
) -> Result<(), QueueError> {
    let delays = config.tier_delays()?;
    let mut backoff = reconnect_backoff();
    while !shutdown.is_cancelled() {
        let opened = tokio::select! {
            opened = open_session(&config, &delays) => opened,
            _ = shutdown.cancelled() => break,
        };
        let (connection, _channel, consumer) = match opened {
            Ok(session) => session,
            Err(error) => {
                let delay = backoff.next().unwrap_or(Duration::from_secs(10));
                warn!(error = %error, ?delay, prefix = %config.prefix, "dead-letter recorder cannot connect, retrying");
                tokio::select! {
                    _ = tokio::time::sleep(delay) => continue,
                    _ = shutdown.cancelled() => break,
                }
            }
        };
        backoff = reconnect_backoff();
        info!(prefix = %config.prefix, "dead-letter recorder consuming");
        let lost = consume(consumer, sink.as_ref(), &shutdown).await;
        if connection.status().connected() {
            // Unacked dead letters (one being retried, the prefetched ones) return to the queue.
            if let Err(error) = connection.close(200, "dead-letter recorder closing").await {
                warn!(error = %error, "closing the broker connection failed");
            }
        }
        match lost {
            None => break,
            Some(reason) => {
                warn!(error = %reason, prefix = %config.prefix, "dead-letter recorder lost its broker connection, reconnecting");
                let delay = backoff.next().unwrap_or(Duration::from_secs(1));
                tokio::select! {
                    _ = tokio::time::sleep(delay) => {}
                    _ = shutdown.cancelled() => break,
                }
            }
        }
    }
    info!(prefix = %config.prefix, "dead-letter recorder stopped");
    Ok(())
}

async fn open_session(
    config: &QueueConfig,
    delays: &[Duration; 4],
) -> Result<(Connection, Channel, Consumer), QueueError> {
    let connection = open_connection(&config.amqp_url).await?;
    let setup = async {
        let channel = connection.create_channel().await?;
        Topology::declare_with_delays(&channel, &config.prefix, delays).await?;
        channel
            .basic_qos(DEAD_LETTER_PREFETCH, BasicQosOptions::default())
            .await?;
        let consumer = channel
            .basic_consume(
                &Topology::dead_queue(&config.prefix),
                "",
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await?;
        Ok::<_, QueueError>((channel, consumer))
    };
    match setup.await {
        Ok((channel, consumer)) => Ok((connection, channel, consumer)),
        Err(error) => {
            let _ = connection
                .close(200, "dead-letter recorder setup failed")
                .await;
            Err(error)
        }
    }
}

/// Records deliveries one by one; `None` after shutdown, `Some(reason)` when the link broke.
async fn consume(
    mut consumer: Consumer,
    sink: &dyn DeadLetterSink,
    shutdown: &CancellationToken,
) -> Option<String> {
    loop {
        let next = tokio::select! {
            biased;
            _ = shutdown.cancelled() => return None,
            next = consumer.next() => next,
        };
        let delivery = match next {
            Some(Ok(delivery)) => delivery,
            Some(Err(error)) => return Some(error.to_string()),
            None => return Some("the broker cancelled the dead-letter consumer".into()),
        };
        let letter = DeadLetter::from_delivery(&delivery);
        if !record_until_done(sink, &letter, shutdown).await {
            return None;
        }
        if let Err(error) = delivery.acker.ack(BasicAckOptions::default()).await {
            // Recorded but not acked: it comes back and the sink finds it recorded.
            return Some(format!(
                "ack of dead letter {} failed: {error}",
                letter.job_id
            ));
        }
    }
}

/// Asks the sink until it records `letter`; false if shutdown came first.
async fn record_until_done(
    sink: &dyn DeadLetterSink,
    letter: &DeadLetter,
    shutdown: &CancellationToken,
) -> bool {
    let mut backoff = reconnect_backoff();
    loop {
        match sink.record(letter).await {
            Ok(()) => return true,
            Err(error) => {
                let delay = backoff
                    .next()
                    .unwrap_or(MAX_SINK_BACKOFF)
                    .min(MAX_SINK_BACKOFF);
                warn!(error = %error, job_id = %letter.job_id, ?delay, "cannot record a dead letter yet; keeping it and retrying");
                tokio::select! {
                    _ = tokio::time::sleep(delay) => {}
                    _ = shutdown.cancelled() => return false,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fluxcascade_proto::Message;

    #[test]
    fn an_envelope_is_decoded_and_keeps_its_bytes() {
        let mut job = JobEnvelope::new(JobKind::Batch, "org-1", b"page".to_vec());
        job.reason = "gave up after 8 attempts: 503".into();
        job.attempt = 8;
        let bytes = job.encode_to_vec();
        let letter =
            DeadLetter::from_message(bytes.clone(), Some("other".into()), Some("header".into()));
        assert_eq!(letter.job_id, job.job_id);
        assert_eq!(letter.envelope.as_ref(), Some(&job));
        assert_eq!(letter.raw, bytes);
        assert_eq!(letter.reason, "gave up after 8 attempts: 503");
    }

    #[test]
    fn a_message_that_is_no_job_is_kept_raw_under_its_message_id() {
        let letter = DeadLetter::from_message(
            b"\xff\xfe not protobuf".to_vec(),
            Some("msg-7".into()),
            Some("undecodable envelope: x".into()),
        );
        assert_eq!(letter.job_id, "msg-7");
        assert!(letter.envelope.is_none());
        assert_eq!(letter.raw, b"\xff\xfe not protobuf");
        assert_eq!(letter.reason, "undecodable envelope: x");
        // An envelope without a kind is no job either.
        let no_kind = JobEnvelope {
            kind: 0,
            ..JobEnvelope::new(JobKind::Sync, "o", Vec::new())
        };
        assert!(decode_envelope(&no_kind.encode_to_vec()).is_none());
        let huge = "r".repeat(10_000);
        assert!(
            DeadLetter::from_message(Vec::new(), None, Some(huge))
                .reason
                .len()
                <= 1024
        );
    }

    #[test]
    fn a_replay_is_a_new_first_attempt_of_the_same_work() {
        let mut job = JobEnvelope::new(JobKind::Sync, "org-1", b"payload".to_vec());
        job.attempt = 8;
        job.reason = "boom".into();
        job.first_failed_at_unix_ms = 1234;
        job.created_at_unix_ms = 42;
        let replay = replay_job(&job);
        assert_ne!(replay.job_id, job.job_id);
        assert_eq!(
            (
                replay.kind(),
                replay.org_id.as_str(),
                replay.payload.as_slice()
            ),
            (JobKind::Sync, "org-1", b"payload".as_slice())
        );
        assert_eq!(replay.attempt, 1);
        assert_eq!(replay.first_failed_at_unix_ms, 0);
        assert_eq!(replay.reason, "");
        assert_eq!(replay.created_at_unix_ms, 42);
    }
}
