//! The confirmed publisher: one connection with a confirm-select channel, shared by
//! cheap clones, reconnecting on its own on the next publish after an outage.
//!
//! A clone [`Publisher::with_deadline`] is for callers answering someone (the ingress): it
//! refuses at once while the broker blocks publishers (`connection.blocked`) and gives up when
//! connecting, sending and confirming take longer than its deadline, instead of waiting for
//! the broker's [`CONFIRM_TIMEOUT`].

use std::sync::Arc;
use std::time::Duration;

use fluxcascade_proto::{JobEnvelope, JobKind, Message};
use futures::future::try_join_all;
use lapin::options::ConfirmSelectOptions;
use lapin::{Channel, Connection};
use tokio::sync::Mutex;
use tracing::{debug, warn};

use crate::config::QueueConfig;
use crate::connect::open_connection;
use crate::error::QueueError;
use crate::message::{check_confirm, job_properties, send, TraceHeaders, CONFIRM_TIMEOUT};
use crate::topology::Topology;

/// How long `is_healthy` may spend (re)connecting.
const HEALTH_TIMEOUT: Duration = Duration::from_secs(3);

/// Publishes jobs to the work exchange with publisher confirms. Clone it freely.
#[derive(Clone)]
pub struct Publisher {
    inner: Arc<PublisherInner>,
    traceparent: Option<Arc<str>>,
    /// The whole publish must be confirmed within this (see [`Publisher::with_deadline`]).
    deadline: Option<Duration>,
}

impl std::fmt::Debug for Publisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Publisher")
            .field("prefix", &self.inner.prefix)
            .field("traceparent", &self.traceparent)
            .field("deadline", &self.deadline)
            .finish_non_exhaustive()
    }
}

struct PublisherInner {
    amqp_url: String,
    prefix: String,
    exchange: String,
    delays: [Duration; 4],
    link: Mutex<Option<Link>>,
}

struct Link {
    connection: Connection,
    channel: Channel,
}

impl Link {
    fn usable(&self) -> bool {
        self.connection.status().connected() && self.channel.status().connected()
    }
}

impl Publisher {
    /// Connects, opens a confirm channel and declares the topology.
    pub async fn connect(config: &QueueConfig) -> Result<Publisher, QueueError> {
        let publisher = Publisher::lazy(config)?;
        publisher.channel().await?;
        Ok(publisher)
    }

    /// A publisher that connects on first use (e.g. so a process can start while
    /// the broker is down and report unhealthy until it is back).
    pub fn lazy(config: &QueueConfig) -> Result<Publisher, QueueError> {
        let delays = config.tier_delays()?;
        Ok(Publisher {
            inner: Arc::new(PublisherInner {
                amqp_url: config.amqp_url.clone(),
                prefix: config.prefix.clone(),
                exchange: Topology::exchange(&config.prefix),
                delays,
                link: Mutex::new(None),
            }),
            traceparent: None,
            deadline: None,
        })
    }

    /// A clone that sends `traceparent` (W3C trace context) with every job it publishes.
    /// Without one, each job carries the context of its own `publish` span (a child of the
    /// current span) when OpenTelemetry export is on, and none when it is off.
    pub fn with_traceparent(&self, traceparent: impl Into<String>) -> Publisher {
        Publisher {
            inner: Arc::clone(&self.inner),
            traceparent: Some(Arc::from(traceparent.into())),
            deadline: self.deadline,
        }
    }

    /// A clone (sharing the connection) whose publishes fail fast instead of hanging: with
    /// [`QueueError::Blocked`] at once while the broker blocks publishers (a memory or disk
    /// alarm), and with [`QueueError::ConfirmTimeout`] when connecting, sending and the
    /// confirms take longer than `deadline` altogether. A job may still be confirmed after the
    /// deadline passed; callers treat the outcome as unknown (the worker dedupes).
    pub fn with_deadline(&self, deadline: Duration) -> Publisher {
        Publisher {
            inner: Arc::clone(&self.inner),
            traceparent: self.traceparent.clone(),
            deadline: Some(deadline),
        }
    }

    /// Whether the broker told our connection it blocks publishers (`connection.blocked`, until
    /// `connection.unblocked`). `false` while the link is busy (re)connecting.
    pub fn is_blocked(&self) -> bool {
        match self.inner.link.try_lock() {
            Ok(link) => link
                .as_ref()
                .is_some_and(|l| l.connection.status().blocked()),
            Err(_) => false,
        }
    }

    /// Publishes one job; returns once the broker confirmed it.
    pub async fn publish(&self, job: &JobEnvelope) -> Result<(), QueueError> {
        self.publish_many(std::slice::from_ref(job)).await
    }

    /// Publishes all jobs pipelined (all sent, then all confirms awaited);
    /// `Ok` means the broker confirmed every one of them.
    pub async fn publish_many(&self, jobs: &[JobEnvelope]) -> Result<(), QueueError> {
        self.publish_many_traced(jobs, &[]).await
    }

    /// [`Publisher::publish_many`] where job `i`'s `publish` span continues `traces[i]` (its
    /// parent, and links to the other triggers a batching job serves; the links also travel
    /// with the message) instead of the current span; jobs past `traces` use the current span.
    pub async fn publish_many_traced(
        &self,
        jobs: &[JobEnvelope],
        traces: &[TraceHeaders],
    ) -> Result<(), QueueError> {
        if jobs.is_empty() {
            return Ok(());
        }
        let Some(deadline) = self.deadline else {
            return self.publish_all(jobs, traces).await;
        };
        if self.is_blocked() {
            return Err(QueueError::Blocked);
        }
        match tokio::time::timeout(deadline, self.publish_all(jobs, traces)).await {
            Ok(result) => result,
            Err(_) if self.is_blocked() => Err(QueueError::Blocked),
            Err(_) => Err(QueueError::ConfirmTimeout {
                job_id: jobs[0].job_id.clone(),
                timeout: deadline,
            }),
        }
    }

    async fn publish_all(
        &self,
        jobs: &[JobEnvelope],
        traces: &[TraceHeaders],
    ) -> Result<(), QueueError> {
        let encoded = jobs
            .iter()
            .map(|job| Ok((job, routing_key(job)?, job.encode_to_vec())))
            .collect::<Result<Vec<_>, QueueError>>()?;
        let spans = self.publish_spans(&encoded, traces);
        let headers: Vec<TraceHeaders> = spans
            .iter()
            .enumerate()
            .map(|(i, span)| match &self.traceparent {
                Some(explicit) => TraceHeaders::parent(Some(explicit.to_string())),
                None => TraceHeaders {
                    links: traces.get(i).map(|t| t.links.clone()).unwrap_or_default(),
                    ..TraceHeaders::parent(fluxcascade_telemetry::otel::traceparent_of(span))
                },
            })
            .collect();
        let result = match self.try_publish(&encoded, &headers).await {
            Err(QueueError::Amqp(error)) => {
                // The link broke under us (broker restart, connection cut):
                // one more try on a fresh connection before giving up.
                warn!(error = %error, prefix = %self.inner.prefix, "publish failed, reconnecting");
                self.try_publish(&encoded, &headers).await
            }
            other => other,
        };
        if result.is_err() {
            for span in &spans {
                span.record("otel.status_code", "ERROR");
            }
        }
        result
    }

    /// One `publish` span per job (messaging semantic conventions), only while spans are
    /// exported: with OpenTelemetry off a publish costs no span.
    fn publish_spans(
        &self,
        jobs: &[(&JobEnvelope, &str, Vec<u8>)],
        traces: &[TraceHeaders],
    ) -> Vec<tracing::Span> {
        if !fluxcascade_telemetry::otel::enabled() {
            return vec![tracing::Span::none(); jobs.len()];
        }
        jobs.iter()
            .enumerate()
            .map(|(i, (job, key, _))| {
                let span = tracing::info_span!(
                    "publish",
                    otel.name = %format_args!("publish {key}"),
                    otel.kind = "producer",
                    otel.status_code = tracing::field::Empty,
                    messaging.system = "rabbitmq",
                    messaging.operation.type = "publish",
                    messaging.destination.name = %self.inner.exchange,
                    messaging.rabbitmq.destination.routing_key = *key,
                    messaging.message.id = %job.job_id,
                );
                if let Some(trace) = traces.get(i) {
                    if let Some(parent) = &trace.traceparent {
                        fluxcascade_telemetry::otel::set_parent(&span, parent);
                    }
                    for link in &trace.links {
                        fluxcascade_telemetry::otel::add_link(&span, link);
                    }
                }
                span
            })
            .collect()
    }

    /// Whether the broker is reachable (reconnecting if needed, within a few seconds).
    pub async fn is_healthy(&self) -> bool {
        matches!(
            tokio::time::timeout(HEALTH_TIMEOUT, self.channel()).await,
            Ok(Ok(_))
        )
    }

    async fn try_publish(
        &self,
        jobs: &[(&JobEnvelope, &str, Vec<u8>)],
        traces: &[TraceHeaders],
    ) -> Result<(), QueueError> {
        let channel = self.channel().await?;
        let sends = jobs.iter().zip(traces).map(|((job, key, payload), trace)| {
            let properties = job_properties(&job.job_id, trace, None, None);
            send(&channel, &self.inner.exchange, key, payload, properties)
        });
        let confirms = try_join_all(sends).await?;
        let waits = confirms
            .into_iter()
            .zip(jobs)
            .map(|(confirm, (job, key, _))| check_confirm(confirm, &job.job_id, key));
        // One timer for the whole batch rather than one per message.
        match tokio::time::timeout(CONFIRM_TIMEOUT, try_join_all(waits)).await {
            Ok(result) => result.map(|_| ()),
            Err(_) => Err(QueueError::ConfirmTimeout {
                job_id: jobs.first().map(|j| j.0.job_id.clone()).unwrap_or_default(),
                timeout: CONFIRM_TIMEOUT,
            }),
        }
    }

    /// The current confirm channel, (re)connecting first if the link is down.
    async fn channel(&self) -> Result<Channel, QueueError> {
        let mut link = self.inner.link.lock().await;
        if let Some(current) = link.as_ref() {
            if current.usable() {
                return Ok(current.channel.clone());
            }
        }
        if let Some(old) = link.take() {
            let _ = old.connection.close(200, "reconnecting").await;
        }
        debug!(prefix = %self.inner.prefix, "publisher connecting");
        let connection = open_connection(&self.inner.amqp_url).await?;
        let channel = match self.setup(&connection).await {
            Ok(channel) => channel,
            Err(error) => {
                let _ = connection.close(200, "publisher setup failed").await;
                return Err(error);
            }
        };
        *link = Some(Link {
            connection,
            channel: channel.clone(),
        });
        Ok(channel)
    }
}

impl Publisher {
    /// Opens the confirm channel and declares the topology.
    async fn setup(&self, connection: &Connection) -> Result<Channel, QueueError> {
        let channel = connection.create_channel().await?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        Topology::declare_with_delays(&channel, &self.inner.prefix, &self.inner.delays).await?;
        Ok(channel)
    }
}

fn routing_key(job: &JobEnvelope) -> Result<&'static str, QueueError> {
    if job.job_id.is_empty() {
        return Err(QueueError::InvalidJob("empty job_id".into()));
    }
    match job.kind() {
        JobKind::Unspecified => Err(QueueError::InvalidJob(format!(
            "job {} has no kind (value {})",
            job.job_id, job.kind
        ))),
        kind => Ok(kind.name()),
    }
}
