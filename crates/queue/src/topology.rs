//! Names and idempotent declaration of the exchanges and queues of one prefix:
//! the jobs exchange, a quorum queue per kind, TTL retry tiers and the dead-letter queue.

use std::time::Duration;

use fluxcascade_proto::JobKind;
use lapin::options::{
    ExchangeDeclareOptions, ExchangeDeleteOptions, QueueBindOptions, QueueDeclareOptions,
    QueueDeleteOptions,
};
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::{Channel, ExchangeKind};

use crate::config::DEFAULT_RETRY_DELAYS;
use crate::connect::open_connection;
use crate::error::QueueError;

/// Names of the four retry tiers, shortest first.
pub const RETRY_TIERS: [&str; 4] = ["1s", "10s", "1m", "10m"];

/// The broker objects of a prefix.
///
/// - exchange `{prefix}.jobs` (durable, direct), routing key = kind name;
/// - quorum queues `{prefix}.sync|batch|webhook|delivery`;
/// - per retry tier a fanout exchange and a durable classic queue, both named
///   `{prefix}.retry.<tier>`, with `x-message-ttl` and `x-dead-letter-exchange = {prefix}.jobs`,
///   so an expired message goes back to its work queue under its original routing key;
/// - quorum queue `{prefix}.dead` (published to through the default exchange).
#[derive(Debug, Clone, Copy)]
pub struct Topology;

impl Topology {
    /// The work exchange.
    pub fn exchange(prefix: &str) -> String {
        format!("{prefix}.jobs")
    }

    /// The work queue of a kind.
    pub fn queue(prefix: &str, kind: JobKind) -> String {
        format!("{prefix}.{}", kind.name())
    }

    /// The exchange and queue name of retry tier `tier` (0..=3).
    pub fn retry_queue(prefix: &str, tier: usize) -> String {
        let name = RETRY_TIERS.get(tier).copied().unwrap_or("10m");
        format!("{prefix}.retry.{name}")
    }

    /// The dead-letter queue.
    pub fn dead_queue(prefix: &str) -> String {
        format!("{prefix}.dead")
    }

    /// Declares everything with the production retry delays (idempotent).
    pub async fn declare(channel: &Channel, prefix: &str) -> Result<(), QueueError> {
        Topology::declare_with_delays(channel, prefix, &DEFAULT_RETRY_DELAYS).await
    }

    /// Declares everything with the given retry tier delays (idempotent as long
    /// as every process of the prefix uses the same delays).
    pub async fn declare_with_delays(
        channel: &Channel,
        prefix: &str,
        delays: &[Duration; 4],
    ) -> Result<(), QueueError> {
        let durable_exchange = ExchangeDeclareOptions {
            durable: true,
            ..ExchangeDeclareOptions::default()
        };
        let durable_queue = QueueDeclareOptions {
            durable: true,
            ..QueueDeclareOptions::default()
        };
        let exchange = Topology::exchange(prefix);
        channel
            .exchange_declare(
                &exchange,
                ExchangeKind::Direct,
                durable_exchange,
                FieldTable::default(),
            )
            .await?;

        for kind in JobKind::ALL {
            let queue = Topology::queue(prefix, kind);
            channel
                .queue_declare(&queue, durable_queue, quorum_args())
                .await?;
            channel
                .queue_bind(
                    &queue,
                    &exchange,
                    kind.name(),
                    QueueBindOptions::default(),
                    FieldTable::default(),
                )
                .await?;
        }

        for (tier, delay) in delays.iter().enumerate() {
            let name = Topology::retry_queue(prefix, tier);
            channel
                .exchange_declare(
                    &name,
                    ExchangeKind::Fanout,
                    durable_exchange,
                    FieldTable::default(),
                )
                .await?;
            let mut args = FieldTable::default();
            let ttl_ms = i64::try_from(delay.as_millis()).unwrap_or(i64::MAX);
            args.insert("x-message-ttl".into(), AMQPValue::LongLongInt(ttl_ms));
            args.insert(
                "x-dead-letter-exchange".into(),
                AMQPValue::LongString(LongString::from(exchange.clone())),
            );
            channel.queue_declare(&name, durable_queue, args).await?;
            channel
                .queue_bind(
                    &name,
                    &name,
                    "",
                    QueueBindOptions::default(),
                    FieldTable::default(),
                )
                .await?;
        }

        channel
            .queue_declare(&Topology::dead_queue(prefix), durable_queue, quorum_args())
            .await?;
        Ok(())
    }

    /// Deletes every queue and exchange of `prefix` (for tests and benchmarks).
    pub async fn delete(amqp_url: &str, prefix: &str) -> Result<(), QueueError> {
        let connection = open_connection(amqp_url).await?;
        let channel = connection.create_channel().await?;
        let mut queues: Vec<String> = JobKind::ALL
            .into_iter()
            .map(|kind| Topology::queue(prefix, kind))
            .collect();
        let retries: Vec<String> = (0..RETRY_TIERS.len())
            .map(|tier| Topology::retry_queue(prefix, tier))
            .collect();
        queues.extend(retries.iter().cloned());
        queues.push(Topology::dead_queue(prefix));
        for queue in &queues {
            channel
                .queue_delete(queue, QueueDeleteOptions::default())
                .await?;
        }
        let mut exchanges = retries;
        exchanges.push(Topology::exchange(prefix));
        for exchange in &exchanges {
            channel
                .exchange_delete(exchange, ExchangeDeleteOptions::default())
                .await?;
        }
        let _ = connection.close(200, "topology deleted").await;
        Ok(())
    }
}

fn quorum_args() -> FieldTable {
    let mut args = FieldTable::default();
    args.insert(
        ShortString::from("x-queue-type"),
        AMQPValue::LongString("quorum".into()),
    );
    args
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_prefix() {
        assert_eq!(Topology::exchange("fc"), "fc.jobs");
        assert_eq!(Topology::queue("fc", JobKind::Batch), "fc.batch");
        assert_eq!(Topology::retry_queue("fc", 0), "fc.retry.1s");
        assert_eq!(Topology::retry_queue("fc", 3), "fc.retry.10m");
        assert_eq!(Topology::dead_queue("fc"), "fc.dead");
    }
}
