//! AMQP message details shared by the publisher and the consumer: properties,
//! headers (W3C `traceparent` and trace links, failure reason), confirmed publishing.

use std::time::Duration;

use lapin::options::BasicPublishOptions;
use lapin::publisher_confirm::{Confirmation, PublisherConfirm};
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::{BasicProperties, Channel};

use crate::error::QueueError;
use crate::reason::Reason;

/// Content type of every job message.
pub const CONTENT_TYPE: &str = "application/x-protobuf";
/// AMQP header carrying the W3C trace context.
pub const TRACEPARENT_HEADER: &str = "traceparent";
/// AMQP header carrying the last failure reason on retried and dead-lettered messages.
pub const REASON_HEADER: &str = "x-fluxcascade-reason";
/// Header a quorum queue sets on a redelivered message: how often it was delivered before.
pub const DELIVERY_COUNT_HEADER: &str = "x-delivery-count";
/// AMQP header of a job that batches several triggers: the W3C `traceparent`s of the others,
/// comma-separated (the consumer's span links to them).
pub const TRACE_LINKS_HEADER: &str = "x-fluxcascade-trace-links";
/// A longer `traceparent` is not a W3C trace context (55 bytes) and is not forwarded.
const MAX_TRACEPARENT_BYTES: usize = 256;
/// At most this many links are carried (and read) per message.
pub const MAX_TRACE_LINKS: usize = 32;
/// How long a publish waits for the broker's confirm.
pub const CONFIRM_TIMEOUT: Duration = Duration::from_secs(30);

tokio::task_local! {
    static INCOMING: TraceHeaders;
}

/// The trace headers of the job being handled by the current task (empty outside a handler).
/// Read-only: what a handler publishes carries its own `publish` span's context.
pub fn incoming_trace() -> TraceHeaders {
    INCOMING.try_with(Clone::clone).unwrap_or_default()
}

/// Runs `future` with `trace` visible through [`incoming_trace`].
pub(crate) async fn scope_trace<F: std::future::Future>(
    trace: TraceHeaders,
    future: F,
) -> F::Output {
    INCOMING.scope(trace, future).await
}

/// The trace headers of a message: its parent context and, for a batching job, links.
/// Bounded on input and output: a `traceparent` over 256 bytes is dropped, at most
/// [`MAX_TRACE_LINKS`] links are kept.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TraceHeaders {
    pub traceparent: Option<String>,
    pub links: Vec<String>,
}

impl TraceHeaders {
    /// Just a parent.
    pub fn parent(traceparent: Option<String>) -> TraceHeaders {
        TraceHeaders {
            traceparent: traceparent.filter(|t| t.len() <= MAX_TRACEPARENT_BYTES),
            links: Vec::new(),
        }
    }

    /// The trace headers of a received message.
    pub(crate) fn from_properties(properties: &BasicProperties) -> TraceHeaders {
        let links = header_string(properties, TRACE_LINKS_HEADER)
            .map(|all| {
                all.split(',')
                    .map(str::trim)
                    .filter(|t| !t.is_empty() && t.len() <= MAX_TRACEPARENT_BYTES)
                    .take(MAX_TRACE_LINKS)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        TraceHeaders {
            links,
            ..TraceHeaders::parent(header_string(properties, TRACEPARENT_HEADER))
        }
    }

    fn insert_into(&self, headers: &mut FieldTable) {
        if let Some(traceparent) = self
            .traceparent
            .as_deref()
            .filter(|t| t.len() <= MAX_TRACEPARENT_BYTES)
        {
            headers.insert(
                ShortString::from(TRACEPARENT_HEADER),
                AMQPValue::LongString(LongString::from(traceparent)),
            );
        }
        let links: Vec<&str> = self
            .links
            .iter()
            .map(String::as_str)
            .filter(|t| !t.is_empty() && t.len() <= MAX_TRACEPARENT_BYTES && !t.contains(','))
            .take(MAX_TRACE_LINKS)
            .collect();
        if !links.is_empty() {
            headers.insert(
                ShortString::from(TRACE_LINKS_HEADER),
                AMQPValue::LongString(LongString::from(links.join(","))),
            );
        }
    }
}

/// Properties of a persistent job message. Every header is bounded in size (the reason by
/// [`Reason`]), so the headers always fit in one AMQP frame.
pub(crate) fn job_properties(
    message_id: &str,
    trace: &TraceHeaders,
    reason: Option<&Reason>,
    expiration_ms: Option<u64>,
) -> BasicProperties {
    let mut headers = FieldTable::default();
    trace.insert_into(&mut headers);
    if let Some(reason) = reason {
        headers.insert(
            ShortString::from(REASON_HEADER),
            AMQPValue::LongString(LongString::from(reason.as_str())),
        );
    }
    let mut properties = BasicProperties::default()
        .with_delivery_mode(2)
        .with_content_type(ShortString::from(CONTENT_TYPE));
    if !headers.inner().is_empty() {
        properties = properties.with_headers(headers);
    }
    if !message_id.is_empty() {
        properties = properties.with_message_id(ShortString::from(message_id));
    }
    if let Some(ms) = expiration_ms {
        properties = properties.with_expiration(ShortString::from(ms.to_string()));
    }
    properties
}

/// A string header of a received message.
pub(crate) fn header_string(properties: &BasicProperties, name: &str) -> Option<String> {
    let headers = properties.headers().as_ref()?;
    match headers.inner().get(name)? {
        AMQPValue::LongString(value) => {
            Some(String::from_utf8_lossy(value.as_bytes()).into_owned())
        }
        AMQPValue::ShortString(value) => Some(value.as_str().to_owned()),
        _ => None,
    }
}

/// How many times a quorum queue delivered this message before without it being settled
/// (RabbitMQ's `x-delivery-count`: a nack with requeue, or a channel or connection that
/// closed with the message unacked); 0 on a first delivery.
pub(crate) fn delivery_count(properties: &BasicProperties) -> u32 {
    let value = properties
        .headers()
        .as_ref()
        .and_then(|headers| headers.inner().get(DELIVERY_COUNT_HEADER).cloned());
    let count: i64 = match value {
        Some(AMQPValue::LongLongInt(n)) => n,
        Some(AMQPValue::LongInt(n)) => n.into(),
        Some(AMQPValue::ShortInt(n)) => n.into(),
        Some(AMQPValue::ShortShortInt(n)) => n.into(),
        Some(AMQPValue::LongUInt(n)) => n.into(),
        Some(AMQPValue::ShortUInt(n)) => n.into(),
        Some(AMQPValue::ShortShortUInt(n)) => n.into(),
        _ => 0,
    };
    u32::try_from(count.max(0)).unwrap_or(u32::MAX)
}

/// Sends one message as mandatory (an unroutable message is an error, not a silent loss);
/// returns the pending confirm.
pub(crate) async fn send(
    channel: &Channel,
    exchange: &str,
    routing_key: &str,
    payload: &[u8],
    properties: BasicProperties,
) -> Result<PublisherConfirm, QueueError> {
    let options = BasicPublishOptions {
        mandatory: true,
        ..BasicPublishOptions::default()
    };
    Ok(channel
        .basic_publish(exchange, routing_key, options, payload, properties)
        .await?)
}

/// Waits for the broker to confirm one message.
pub(crate) async fn await_confirm(
    confirm: PublisherConfirm,
    job_id: &str,
    routing_key: &str,
) -> Result<(), QueueError> {
    tokio::time::timeout(CONFIRM_TIMEOUT, check_confirm(confirm, job_id, routing_key))
        .await
        .map_err(|_| QueueError::ConfirmTimeout {
            job_id: job_id.to_owned(),
            timeout: CONFIRM_TIMEOUT,
        })?
}

/// Waits (without a timeout of its own) for one confirm and checks it was a plain ack.
pub(crate) async fn check_confirm(
    confirm: PublisherConfirm,
    job_id: &str,
    routing_key: &str,
) -> Result<(), QueueError> {
    match confirm.await? {
        Confirmation::Ack(None) | Confirmation::NotRequested => Ok(()),
        Confirmation::Ack(Some(_)) => Err(QueueError::Unroutable {
            job_id: job_id.to_owned(),
            routing_key: routing_key.to_owned(),
        }),
        Confirmation::Nack(_) => Err(QueueError::Nacked {
            job_id: job_id.to_owned(),
        }),
    }
}

/// Sends one message and waits for its confirm.
pub(crate) async fn publish_confirmed(
    channel: &Channel,
    exchange: &str,
    routing_key: &str,
    payload: &[u8],
    properties: BasicProperties,
    job_id: &str,
) -> Result<(), QueueError> {
    let confirm = send(channel, exchange, routing_key, payload, properties).await?;
    await_confirm(confirm, job_id, routing_key).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn properties_carry_persistence_id_and_headers() {
        let reason = Reason::new("boom");
        let trace = TraceHeaders {
            traceparent: Some("00-abc-def-01".into()),
            links: vec!["00-l1-x-01".into(), "00-l2-y-01".into()],
        };
        let props = job_properties("job-1", &trace, Some(&reason), Some(800));
        assert_eq!(props.delivery_mode(), &Some(2));
        assert_eq!(
            props.message_id().as_ref().map(|s| s.as_str()),
            Some("job-1")
        );
        assert_eq!(
            props.content_type().as_ref().map(|s| s.as_str()),
            Some(CONTENT_TYPE)
        );
        assert_eq!(
            header_string(&props, TRACEPARENT_HEADER).as_deref(),
            Some("00-abc-def-01")
        );
        assert_eq!(
            header_string(&props, REASON_HEADER).as_deref(),
            Some("boom")
        );
        assert_eq!(props.expiration().as_ref().map(|s| s.as_str()), Some("800"));
        assert_eq!(TraceHeaders::from_properties(&props), trace);
        let bare = job_properties("job-2", &TraceHeaders::default(), None, None);
        assert_eq!(header_string(&bare, TRACEPARENT_HEADER), None);
        assert_eq!(header_string(&bare, TRACE_LINKS_HEADER), None);
        let huge = "0".repeat(100_000);
        let dropped = job_properties(
            "job-3",
            &TraceHeaders {
                traceparent: Some(huge.clone()),
                links: vec![huge; 3],
            },
            None,
            None,
        );
        assert_eq!(header_string(&dropped, TRACEPARENT_HEADER), None);
        assert_eq!(header_string(&dropped, TRACE_LINKS_HEADER), None);
    }

    #[test]
    fn delivery_count_reads_any_integer_and_defaults_to_zero() {
        assert_eq!(delivery_count(&BasicProperties::default()), 0);
        for (value, expected) in [
            (AMQPValue::LongLongInt(3), 3),
            (AMQPValue::LongInt(2), 2),
            (AMQPValue::ShortShortUInt(1), 1),
            (AMQPValue::LongLongInt(-4), 0),
            (AMQPValue::LongString("7".into()), 0),
        ] {
            let mut headers = FieldTable::default();
            headers.insert(ShortString::from(DELIVERY_COUNT_HEADER), value);
            let props = BasicProperties::default().with_headers(headers);
            assert_eq!(delivery_count(&props), expected);
        }
    }

    #[test]
    fn links_are_bounded_in_number() {
        let many = TraceHeaders {
            traceparent: None,
            links: (0..100).map(|i| format!("00-{i}-x-01")).collect(),
        };
        let props = job_properties("job-4", &many, None, None);
        assert_eq!(
            TraceHeaders::from_properties(&props).links.len(),
            MAX_TRACE_LINKS
        );
    }
}
