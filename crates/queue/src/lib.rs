//! RabbitMQ layer of FluxCascade: topology, confirmed publisher, consumer runtime
//! with retry tiers and a dead-letter queue. The only crate that talks AMQP.

mod config;
mod connect;
mod consumer;
mod error;
mod job;
mod message;
mod publisher;
mod retry;
mod topology;

pub use config::{ConsumerOptions, QueueConfig, DEFAULT_RETRY_DELAYS};
pub use consumer::run_consumer;
pub use error::{JobError, QueueError};
pub use fluxcascade_proto::{JobEnvelope, JobKind};
pub use job::JobHandler;
pub use message::{
    current_traceparent, CONFIRM_TIMEOUT, CONTENT_TYPE, REASON_HEADER, TRACEPARENT_HEADER,
};
pub use publisher::Publisher;
pub use retry::retry_tier;
pub use topology::{Topology, RETRY_TIERS};

/// Re-exported so implementors of [`JobHandler`] use the same `async_trait`.
pub use async_trait::async_trait;
