//! The consumer runtime: consumes the configured kinds with bounded prefetch, runs
//! jobs concurrently, reconnects with backoff after an outage, shuts down gracefully.

use std::sync::Arc;
use std::time::Duration;

use std::pin::Pin;

use futures::stream::{self, select_all, SelectAll, Stream, StreamExt};
use lapin::message::Delivery;
use lapin::options::{
    BasicCancelOptions, BasicConsumeOptions, BasicQosOptions, ConfirmSelectOptions,
};
use lapin::types::FieldTable;
use lapin::{Channel, Connection, Consumer};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use crate::config::{ConsumerOptions, QueueConfig};
use crate::connect::{open_connection, reconnect_backoff};
use crate::error::QueueError;
use crate::job::{process_delivery, JobContext, JobHandler, TaskOutcome};
use crate::retry::RetryPolicy;
use crate::topology::Topology;

/// Consumes jobs of `options.kinds` until `shutdown` is cancelled.
///
/// A job is acked only after `handler` returned `Ok`; transient failures go to a
/// retry tier, permanent ones (and exhausted or undecodable jobs) to `{prefix}.dead`.
/// Returns `Ok` after a graceful shutdown; `Err` only for an invalid configuration.
pub async fn run_consumer(
    config: QueueConfig,
    options: ConsumerOptions,
    handler: Arc<dyn JobHandler>,
    shutdown: CancellationToken,
) -> Result<(), QueueError> {
    let policy = config.retry_policy()?;
    if options.kinds.is_empty() || options.concurrency == 0 {
        return Err(QueueError::Config(
            "consumer needs at least one kind and a concurrency of at least 1".into(),
        ));
    }
    if options
        .kinds
        .contains(&fluxcascade_proto::JobKind::Unspecified)
    {
        return Err(QueueError::Config("cannot consume kind unspecified".into()));
    }
    let mut tasks: JoinSet<TaskOutcome> = JoinSet::new();
    let mut backoff = reconnect_backoff();
    while !shutdown.is_cancelled() {
        let opened = tokio::select! {
            opened = Session::open(&config, &options, &policy, &handler) => opened,
            _ = shutdown.cancelled() => break,
        };
        let mut session = match opened {
            Ok(session) => session,
            Err(error) => {
                let delay = backoff.next().unwrap_or(Duration::from_secs(10));
                warn!(error = %error, ?delay, prefix = %config.prefix, "consumer cannot connect, retrying");
                tokio::select! {
                    _ = tokio::time::sleep(delay) => continue,
                    _ = shutdown.cancelled() => break,
                }
            }
        };
        backoff = reconnect_backoff();
        info!(prefix = %config.prefix, kinds = ?options.kinds, "consumer connected");
        match session
            .run(&mut tasks, options.concurrency, &shutdown)
            .await
        {
            SessionEnd::Shutdown => {
                session.stop_consuming().await;
                drain(&mut tasks, options.shutdown_grace).await;
                session.close().await;
                info!(prefix = %config.prefix, "consumer stopped");
                return Ok(());
            }
            SessionEnd::Lost(reason) => {
                warn!(error = %reason, prefix = %config.prefix, "consumer lost its broker connection, reconnecting");
                session.close().await;
                let delay = backoff.next().unwrap_or(Duration::from_secs(1));
                tokio::select! {
                    _ = tokio::time::sleep(delay) => {}
                    _ = shutdown.cancelled() => break,
                }
            }
        }
    }
    drain(&mut tasks, options.shutdown_grace).await;
    info!(prefix = %config.prefix, "consumer stopped");
    Ok(())
}

/// How long a goodbye to the broker (basic.cancel, connection.close) may take. Past it the
/// consumer goes on without the reply: a link that broke half-way (the socket open, nothing
/// answering) must not keep a worker from shutting down or reconnecting.
const BROKER_GOODBYE: Duration = Duration::from_secs(3);

type DeliveryStream = Pin<Box<dyn Stream<Item = Result<Delivery, String>> + Send + Sync>>;

enum SessionEnd {
    Shutdown,
    Lost(String),
}

/// One broker connection with its consuming and confirm channels.
struct Session {
    connection: Connection,
    consume_channel: Channel,
    consumer_tags: Vec<String>,
    /// Deliveries of every consumer; an `Err` means the link broke or the broker
    /// cancelled one of our consumers (e.g. its queue was deleted).
    deliveries: SelectAll<DeliveryStream>,
    context: Arc<JobContext>,
}

impl Session {
    async fn open(
        config: &QueueConfig,
        options: &ConsumerOptions,
        policy: &RetryPolicy,
        handler: &Arc<dyn JobHandler>,
    ) -> Result<Session, QueueError> {
        let connection = open_connection(&config.amqp_url).await?;
        let (publish_channel, consume_channel, consumers) =
            match Session::setup(&connection, config, options, &policy.delays).await {
                Ok(parts) => parts,
                Err(error) => {
                    let _ = tokio::time::timeout(
                        BROKER_GOODBYE,
                        connection.close(200, "consumer setup failed"),
                    )
                    .await;
                    return Err(error);
                }
            };
        let consumer_tags = consumers.iter().map(|c| c.tag().to_string()).collect();
        let streams = consumers.into_iter().map(|consumer| {
            let queue = consumer.queue().to_string();
            let stream: DeliveryStream = Box::pin(
                consumer
                    .map(|delivery| delivery.map_err(|e| e.to_string()))
                    .chain(stream::once(async move {
                        Err(format!("the broker cancelled our consumer of {queue}"))
                    })),
            );
            stream
        });
        Ok(Session {
            connection,
            consume_channel,
            consumer_tags,
            deliveries: select_all(streams),
            context: Arc::new(JobContext {
                handler: Arc::clone(handler),
                publish_channel,
                prefix: config.prefix.clone(),
                policy: *policy,
                max_unsettled: options.max_unsettled.max(1),
            }),
        })
    }

    /// Opens the confirm and consuming channels, declares the topology, starts consuming.
    async fn setup(
        connection: &Connection,
        config: &QueueConfig,
        options: &ConsumerOptions,
        delays: &[Duration; 4],
    ) -> Result<(Channel, Channel, Vec<Consumer>), QueueError> {
        let publish_channel = connection.create_channel().await?;
        publish_channel
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        Topology::declare_with_delays(&publish_channel, &config.prefix, delays).await?;

        let consume_channel = connection.create_channel().await?;
        let prefetch = effective_prefetch(config.prefetch, options.concurrency);
        consume_channel
            .basic_qos(prefetch, BasicQosOptions::default())
            .await?;
        let mut consumers = Vec::with_capacity(options.kinds.len());
        for kind in &options.kinds {
            let consumer = consume_channel
                .basic_consume(
                    &Topology::queue(&config.prefix, *kind),
                    "",
                    BasicConsumeOptions::default(),
                    FieldTable::default(),
                )
                .await?;
            consumers.push(consumer);
        }
        Ok((publish_channel, consume_channel, consumers))
    }

    /// Dispatches deliveries to job tasks until shutdown or until the link breaks.
    async fn run(
        &mut self,
        tasks: &mut JoinSet<TaskOutcome>,
        concurrency: usize,
        shutdown: &CancellationToken,
    ) -> SessionEnd {
        loop {
            tokio::select! {
                biased;
                _ = shutdown.cancelled() => return SessionEnd::Shutdown,
                Some(joined) = tasks.join_next(), if !tasks.is_empty() => {
                    match joined {
                        Ok(TaskOutcome::Settled) => {}
                        Ok(TaskOutcome::BrokerFailed) => {
                            if !self.healthy() {
                                return SessionEnd::Lost("a job could not be settled".into());
                            }
                        }
                        Err(join_error) => error!(error = %join_error, "job task failed"),
                    }
                }
                next = self.deliveries.next(), if tasks.len() < concurrency => match next {
                    Some(Ok(delivery)) => {
                        tasks.spawn(process_delivery(delivery, Arc::clone(&self.context)));
                    }
                    Some(Err(reason)) => return SessionEnd::Lost(reason),
                    None => return SessionEnd::Lost("no consumer left".into()),
                },
            }
        }
    }

    fn healthy(&self) -> bool {
        self.connection.status().connected()
            && self.consume_channel.status().connected()
            && self.context.publish_channel.status().connected()
    }

    /// basic.cancel every consumer: no new deliveries, in-flight ones can still be acked.
    /// Each cancel waits at most [`BROKER_GOODBYE`] for the broker's reply.
    async fn stop_consuming(&self) {
        for tag in &self.consumer_tags {
            let cancel = self
                .consume_channel
                .basic_cancel(tag, BasicCancelOptions::default());
            match tokio::time::timeout(BROKER_GOODBYE, cancel).await {
                Ok(Ok(())) => {}
                Ok(Err(error)) => {
                    warn!(error = %error, consumer_tag = %tag, "basic.cancel failed");
                }
                Err(_) => warn!(consumer_tag = %tag, "basic.cancel got no reply in time"),
            }
        }
    }

    /// Closes the connection; unacked messages go back to their queues. Waits at most
    /// [`BROKER_GOODBYE`] for the broker's close-ok: a half-open link never answers, and dropping
    /// the connection closes the socket all the same.
    async fn close(&self) {
        if self.connection.status().connected() {
            let close = self.connection.close(200, "consumer closing");
            match tokio::time::timeout(BROKER_GOODBYE, close).await {
                Ok(Ok(())) => {}
                Ok(Err(error)) => warn!(error = %error, "closing the broker connection failed"),
                Err(_) => warn!("the broker did not answer our connection close in time"),
            }
        }
    }
}

/// Waits up to `grace` for in-flight jobs, then abandons the rest (their messages
/// are redelivered once the connection closes).
async fn drain(tasks: &mut JoinSet<TaskOutcome>, grace: Duration) {
    let wait_all = async { while tasks.join_next().await.is_some() {} };
    if tokio::time::timeout(grace, wait_all).await.is_err() {
        warn!(
            in_flight = tasks.len(),
            "shutdown grace elapsed, abandoning in-flight jobs"
        );
        tasks.abort_all();
        while tasks.join_next().await.is_some() {}
    }
}

/// The prefetch of each consumer: `configured` (0: the concurrency), never more than the
/// concurrency, so a worker never holds more unstarted jobs of a kind than it has slots for —
/// they stay in the queue for other replicas. (Quorum queues take no channel-wide `global`
/// prefetch, so it applies per consumed kind.)
fn effective_prefetch(configured: u16, concurrency: usize) -> u16 {
    let slots = u16::try_from(concurrency.max(1)).unwrap_or(u16::MAX);
    if configured == 0 {
        slots
    } else {
        configured.min(slots)
    }
}

#[cfg(test)]
mod tests {
    use super::effective_prefetch;

    #[test]
    fn prefetch_never_exceeds_the_concurrency() {
        assert_eq!(effective_prefetch(0, 8), 8);
        assert_eq!(effective_prefetch(4, 8), 4);
        assert_eq!(effective_prefetch(64, 8), 8);
        assert_eq!(effective_prefetch(0, 0), 1);
        assert_eq!(effective_prefetch(0, 1 << 20), u16::MAX);
    }
}
