//! RabbitMQ layer of FluxCascade: topology, confirmed publisher, consumer runtime
//! with retry tiers and a dead-letter queue. The only crate that talks AMQP.
//!
//! ```no_run
//! use std::sync::Arc;
//! use fluxcascade_queue::{
//!     async_trait, run_consumer, ConsumerOptions, JobEnvelope, JobError, JobHandler, JobKind,
//!     Publisher, QueueConfig,
//! };
//! use tokio_util::sync::CancellationToken;
//!
//! struct Worker;
//!
//! #[async_trait]
//! impl JobHandler for Worker {
//!     async fn handle(&self, job: &JobEnvelope) -> Result<(), JobError> {
//!         // Idempotent work here; Err(JobError::transient(..)) retries later,
//!         // Err(JobError::permanent(..)) dead-letters at once.
//!         Ok(())
//!     }
//! }
//!
//! # async fn demo() -> Result<(), fluxcascade_queue::QueueError> {
//! let config = QueueConfig::new("amqp://guest:guest@127.0.0.1:5672/%2f", "fluxcascade");
//! let publisher = Publisher::connect(&config).await?;
//! let job = JobEnvelope::new(JobKind::Sync, "org-1", Vec::new());
//! publisher.publish(&job).await?; // returns once the broker confirmed it
//!
//! let shutdown = CancellationToken::new();
//! let options = ConsumerOptions { concurrency: 8, ..ConsumerOptions::new(vec![JobKind::Sync]) };
//! run_consumer(config, options, Arc::new(Worker), shutdown).await?;
//! # Ok(()) }
//! ```

mod config;
mod connect;
mod consumer;
mod dead;
mod error;
mod job;
mod message;
mod publisher;
mod reason;
mod retry;
mod topology;

pub use config::{ConsumerOptions, QueueConfig, DEFAULT_RETRY_DELAYS};
pub use connect::{parse_amqp_urls, AmqpNode, CONNECT_TIMEOUT};
pub use consumer::run_consumer;
pub use dead::{
    decode_envelope, replay_job, run_dead_letter_consumer, DeadLetter, DeadLetterSink, SinkError,
};
pub use error::{JobError, QueueError};
pub use fluxcascade_proto::{JobEnvelope, JobKind};
pub use job::JobHandler;
pub use message::{
    incoming_trace, TraceHeaders, CONFIRM_TIMEOUT, CONTENT_TYPE, DELIVERY_COUNT_HEADER,
    MAX_TRACE_LINKS, REASON_HEADER, TRACEPARENT_HEADER, TRACE_LINKS_HEADER,
};
pub use publisher::Publisher;
pub use reason::{truncate_text, Reason, MAX_REASON_BYTES};
pub use retry::{retry_tier, wait_tier, Disposition, RetryPolicy, DEFAULT_RETRY_WINDOW};
pub use topology::{Topology, RETRY_TIERS};

/// Re-exported so implementors of [`JobHandler`] use the same `async_trait`.
pub use async_trait::async_trait;
