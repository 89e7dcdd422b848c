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
    /// The broker blocks publishers (a memory or disk alarm: AMQP `connection.blocked`).
    #[error("the broker is blocking publishers (resource alarm)")]
    Blocked,
    #[error("invalid job: {0}")]
    InvalidJob(String),
    #[error("invalid queue configuration: {0}")]
    Config(String),
}

/// What a handler reports when a job did not succeed — the failure classes of the retry policy.
///
/// Record-level failures are not job errors: a handler records them and succeeds.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JobError {
    /// A provider's 5xx, timeout or dropped connection (or a race worth retrying): retried with
    /// escalating, jittered delays until the retry window has passed since the job first failed;
    /// `retry_after` only raises the floor of the delay.
    #[error("transient: {message}")]
    Transient {
        message: String,
        retry_after: Option<Duration>,
    },
    /// Our own infrastructure (Postgres, RabbitMQ) is unreachable or exhausted: retried with
    /// escalating delays and never dead-lettered by the queue, because the handler could not
    /// record anything. The handler gives up (with `Permanent`) once it can record why.
    #[error("infrastructure: {message}")]
    Infrastructure { message: String },
    /// The job must wait (a provider's rate-limit window, a concurrency cap): it gives its worker
    /// slot back and comes back after about `wait`, consuming no attempt.
    #[error("deferred: {message}")]
    Deferred { message: String, wait: Duration },
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

    /// An infrastructure error (database or broker unreachable).
    pub fn infrastructure(message: impl Into<String>) -> JobError {
        JobError::Infrastructure {
            message: message.into(),
        }
    }

    /// A permanent error.
    pub fn permanent(message: impl Into<String>) -> JobError {
        JobError::Permanent {
            message: message.into(),
        }
    }

    /// The failure text, whatever the class.
    pub fn message(&self) -> &str {
        match self {
            JobError::Transient { message, .. }
            | JobError::Infrastructure { message }
            | JobError::Deferred { message, .. }
            | JobError::Permanent { message } => message,
        }
    }
}
