//! The worker's one error type: a job's I/O failures (store, provider, adapter, queue, a job that
//! cannot be read) convert into [`WorkerError`] with `?`, and it becomes the queue's [`JobError`]
//! once, through `classify`, where a job's outcome is decided.

use fluxcascade_core::ProviderKind;
use fluxcascade_providers::ProviderError;
use fluxcascade_queue::{JobError, QueueError};
use fluxcascade_store::StoreError;

use crate::adapters::AdapterError;
use crate::classify;

#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Provider(#[from] ProviderError),
    #[error(transparent)]
    Adapter(#[from] AdapterError),
    /// A publish the broker did not confirm.
    #[error("{what}: {source}")]
    Publish {
        what: &'static str,
        #[source]
        source: QueueError,
    },
    /// A job that cannot be decoded or names nothing valid: retrying cannot help.
    #[error("{0}")]
    BadJob(String),
    /// Already classified (a concurrency cap's deferral, a reason carried on).
    #[error(transparent)]
    Job(#[from] JobError),
    /// A failure while calling `provider`: a rate limit there is that provider's to wait out
    /// (`GET /v1/syncs/{id}` → `waiting.provider`).
    #[error("{source}")]
    At {
        provider: ProviderKind,
        #[source]
        source: Box<WorkerError>,
    },
}

impl WorkerError {
    /// A publish of `what` the broker did not confirm.
    pub fn publish(what: &'static str) -> impl FnOnce(QueueError) -> WorkerError {
        move |source| WorkerError::Publish { what, source }
    }

    /// Attributes a failure to calls to `provider` (for `map_err`).
    pub fn at<E: Into<WorkerError>>(provider: ProviderKind) -> impl FnOnce(E) -> WorkerError {
        move |e| WorkerError::At {
            provider,
            source: Box::new(e.into()),
        }
    }

    /// The provider the failing job was calling, where known.
    pub fn provider(&self) -> Option<ProviderKind> {
        match self {
            WorkerError::At { provider, .. } => Some(*provider),
            _ => None,
        }
    }

    /// A job that cannot be read: `message` says what is wrong with it.
    pub fn bad_job(message: impl Into<String>) -> WorkerError {
        WorkerError::BadJob(message.into())
    }
}

impl From<WorkerError> for JobError {
    fn from(e: WorkerError) -> JobError {
        match e {
            WorkerError::Store(s) => classify::store(&s),
            WorkerError::Provider(p) => classify::provider(&p),
            WorkerError::Adapter(a) => classify::adapter(&a),
            WorkerError::Publish { what, source } => classify::publish(what, &source),
            WorkerError::BadJob(message) => JobError::Permanent { message },
            WorkerError::Job(j) => j,
            WorkerError::At { source, .. } => JobError::from(*source),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// Whether a classified error is of the expected class.
    type IsClass = fn(&JobError) -> bool;

    /// Each source of failure lands in the class the retry policy needs, and only through here.
    #[test]
    fn every_failure_is_classified_once() {
        let cases: Vec<(WorkerError, IsClass)> = vec![
            (
                ProviderError::RateLimited {
                    retry_after: Duration::from_secs(3),
                }
                .into(),
                |j| matches!(j, JobError::Deferred { wait, .. } if *wait == Duration::from_secs(3)),
            ),
            (ProviderError::Transient("503".into()).into(), |j| {
                matches!(j, JobError::Transient { .. })
            }),
            (ProviderError::Auth("revoked".into()).into(), |j| {
                matches!(j, JobError::Permanent { .. })
            }),
            (
                AdapterError::Provider(ProviderError::Permanent("400".into())).into(),
                |j| matches!(j, JobError::Permanent { .. }),
            ),
            (
                AdapterError::Gone(uuid::Uuid::nil()).into(),
                |j| matches!(j, JobError::Permanent { message } if message.contains("deleted")),
            ),
            (
                WorkerError::bad_job("not protobuf"),
                |j| matches!(j, JobError::Permanent { message } if message == "not protobuf"),
            ),
            (
                WorkerError::publish("publishing a batch")(QueueError::Nacked {
                    job_id: "j".into(),
                }),
                |j| matches!(j, JobError::Infrastructure { message } if message.starts_with("publishing a batch: ")),
            ),
            (
                WorkerError::at(ProviderKind::Jobber)(ProviderError::RateLimited {
                    retry_after: Duration::from_secs(7),
                }),
                |j| matches!(j, JobError::Deferred { wait, .. } if *wait == Duration::from_secs(7)),
            ),
            (
                JobError::Deferred {
                    message: "cap".into(),
                    wait: Duration::from_secs(1),
                }
                .into(),
                |j| matches!(j, JobError::Deferred { .. }),
            ),
        ];
        assert_eq!(
            WorkerError::at(ProviderKind::Hubspot)(ProviderError::Transient("x".into())).provider(),
            Some(ProviderKind::Hubspot)
        );
        assert_eq!(WorkerError::bad_job("x").provider(), None);
        for (e, class) in cases {
            let shown = e.to_string();
            let j = JobError::from(e);
            assert!(class(&j), "{shown} became {j:?}");
        }
    }
}
