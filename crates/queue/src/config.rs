//! Configuration of the queue layer: broker address, name prefix, retry delays,
//! and the consumer's concurrency/attempt/shutdown options.

use std::time::Duration;

use fluxcascade_proto::JobKind;

use crate::error::QueueError;
use crate::retry::{RetryPolicy, DEFAULT_RETRY_WINDOW};

/// The production retry tier delays (1 s, 10 s, 1 min, 10 min).
pub const DEFAULT_RETRY_DELAYS: [Duration; 4] = [
    Duration::from_secs(1),
    Duration::from_secs(10),
    Duration::from_secs(60),
    Duration::from_secs(600),
];

/// Where the broker is and how our queues are named.
#[derive(Clone, Debug)]
pub struct QueueConfig {
    /// e.g. `amqp://guest:guest@127.0.0.1:5672/%2f`, or the nodes of a cluster separated by
    /// commas (`amqp://u:p@h1:5672/%2f,amqp://u:p@h2:5672/%2f`): every connection starts at the
    /// next node in turn and fails over to the others (see [`crate::parse_amqp_urls`]).
    pub amqp_url: String,
    /// Name prefix of every exchange and queue, e.g. `fluxcascade` (tests use a unique one).
    pub prefix: String,
    /// Consumer prefetch; `0` means "same as the consumer's concurrency".
    pub prefetch: u16,
    /// Delays of the four retry tiers (`retry.1s|10s|1m|10m`); `None` = [`DEFAULT_RETRY_DELAYS`].
    /// Tests shorten them. All processes sharing a prefix must agree on them.
    pub retry_delays: Option<Vec<Duration>>,
    /// How long infrastructure and provider-transient faults are retried, counted from a job's
    /// first failure (`FLUXCASCADE_RETRY_WINDOW`, default 1 h).
    pub retry_window: Duration,
}

impl QueueConfig {
    /// A config with default prefetch and production retry delays.
    pub fn new(amqp_url: impl Into<String>, prefix: impl Into<String>) -> QueueConfig {
        QueueConfig {
            amqp_url: amqp_url.into(),
            prefix: prefix.into(),
            prefetch: 0,
            retry_delays: None,
            retry_window: DEFAULT_RETRY_WINDOW,
        }
    }

    /// The retry policy: the tier delays and the retry window, validated.
    pub fn retry_policy(&self) -> Result<RetryPolicy, QueueError> {
        if self.retry_window.is_zero() {
            return Err(QueueError::Config("retry_window must be non-zero".into()));
        }
        Ok(RetryPolicy {
            delays: self.tier_delays()?,
            window: self.retry_window,
        })
    }

    /// The four retry tier delays, validated.
    pub fn tier_delays(&self) -> Result<[Duration; 4], QueueError> {
        match &self.retry_delays {
            None => Ok(DEFAULT_RETRY_DELAYS),
            Some(delays) => {
                let tiers: [Duration; 4] = delays.as_slice().try_into().map_err(|_| {
                    QueueError::Config(format!(
                        "retry_delays needs exactly 4 delays, got {}",
                        delays.len()
                    ))
                })?;
                if tiers.iter().any(|d| d.is_zero()) || tiers.windows(2).any(|w| w[0] > w[1]) {
                    return Err(QueueError::Config(
                        "retry_delays must be non-zero and non-decreasing".into(),
                    ));
                }
                Ok(tiers)
            }
        }
    }
}

/// How `run_consumer` consumes.
#[derive(Clone, Debug)]
pub struct ConsumerOptions {
    /// Kinds (queues) to consume.
    pub kinds: Vec<JobKind>,
    /// Jobs in flight per process.
    pub concurrency: usize,
    /// A message delivered this many times without being settled (its worker died holding it, or
    /// the broker refused its republish) is dead-lettered without running again (default 8).
    /// Failures the handler reports are governed by the retry policy instead (retry window).
    pub max_unsettled: u32,
    /// How long shutdown waits for in-flight jobs before closing the connection.
    pub shutdown_grace: Duration,
}

impl ConsumerOptions {
    /// Options for `kinds` with concurrency 16, 8 unsettled deliveries and a 30 s grace.
    pub fn new(kinds: Vec<JobKind>) -> ConsumerOptions {
        ConsumerOptions {
            kinds,
            ..ConsumerOptions::default()
        }
    }
}

impl Default for ConsumerOptions {
    fn default() -> Self {
        ConsumerOptions {
            kinds: JobKind::ALL.to_vec(),
            concurrency: 16,
            max_unsettled: 8,
            shutdown_grace: Duration::from_secs(30),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_delays_default_and_validation() {
        let mut config = QueueConfig::new("amqp://x", "p");
        assert_eq!(config.tier_delays().unwrap(), DEFAULT_RETRY_DELAYS);
        config.retry_delays = Some(vec![Duration::from_millis(100); 3]);
        assert!(matches!(config.tier_delays(), Err(QueueError::Config(_))));
        config.retry_delays = Some(vec![
            Duration::from_millis(200),
            Duration::from_millis(100),
            Duration::from_millis(300),
            Duration::from_millis(400),
        ]);
        assert!(config.tier_delays().is_err());
        config.retry_delays = Some(vec![Duration::from_millis(100); 4]);
        assert_eq!(config.tier_delays().unwrap()[3], Duration::from_millis(100));
    }
}
