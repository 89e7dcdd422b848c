//! Error types: `QueueError` for broker/publishing failures, `JobError` for handler outcomes.

use std::time::Duration;

/// A failure of the queue layer itself.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("AMQP error: {0}")]
    Amqp(#[from] lapin::Error),
    #[error("broker nacked job {job_id}")]
    Nacked { job_id: String },
    #[error(
        "job {job_id} was unroutable (routing key {routing_key:?}); is the topology declared?"
    )]
    Unroutable { job_id: String, routing_key: String },
    #[error("no confirm from the broker for job {job_id} within {timeout:?}")]
    ConfirmTimeout { job_id: String, timeout: Duration },
    #[error("could not connect to the broker within {0:?}")]
    ConnectTimeout(Duration),
    #[error("invalid job: {0}")]
    InvalidJob(String),
    #[error("invalid queue configuration: {0}")]
    Config(String),
}

/// What a handler reports when a job did not succeed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JobError {
    /// Worth retrying later (timeouts, 5xx, 429); `retry_after` honours a `Retry-After`.
    #[error("transient: {message}")]
    Transient {
        message: String,
        retry_after: Option<Duration>,
    },
    /// Retrying cannot help; the job goes to the dead-letter queue at once.
    #[error("permanent: {message}")]
    Permanent { message: String },
}

impl JobError {
    /// A transient error without a retry hint.
    pub fn transient(message: impl Into<String>) -> JobError {
        JobError::Transient {
            message: message.into(),
            retry_after: None,
        }
    }

    /// A permanent error.
    pub fn permanent(message: impl Into<String>) -> JobError {
        JobError::Permanent {
            message: message.into(),
        }
    }
}
