//! Opening AMQP connections on the tokio runtime, with a timeout and reconnect backoff.

use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};
use lapin::{Connection, ConnectionProperties};

use crate::error::QueueError;

/// How long one connection attempt may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Opens a connection driven by the current tokio runtime.
pub(crate) async fn open_connection(amqp_url: &str) -> Result<Connection, QueueError> {
    let properties = ConnectionProperties::default()
        .with_executor(tokio_executor_trait::Tokio::current())
        .with_reactor(tokio_reactor_trait::Tokio);
    match tokio::time::timeout(CONNECT_TIMEOUT, Connection::connect(amqp_url, properties)).await {
        Ok(result) => Ok(result?),
        Err(_) => Err(QueueError::ConnectTimeout(CONNECT_TIMEOUT)),
    }
}

/// Delays between reconnect attempts: exponential from 100 ms to 10 s with jitter, endless.
pub(crate) fn reconnect_backoff() -> impl Iterator<Item = Duration> {
    ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(100))
        .with_max_delay(Duration::from_secs(10))
        .with_jitter()
        .without_max_times()
        .build()
}
