//! A job that leaves to wait out a provider's rate limit: its run keeps its lease for the wait and
//! records which provider it waits on and until when (`GET /v1/syncs/{id}` → `waiting`).

use fluxcascade_core::ProviderKind;
use fluxcascade_queue::JobError;
use tracing::debug;
use uuid::Uuid;

use crate::handler::WorkerHandler;

/// A job's failure and the provider it was talking to when it failed, if one: a `Deferred`
/// failure with a provider is that provider's rate limit (see `classify::provider`).
#[derive(Debug)]
pub(crate) struct Stalled {
    pub error: JobError,
    pub provider: Option<ProviderKind>,
}

impl From<JobError> for Stalled {
    fn from(error: JobError) -> Stalled {
        Stalled {
            error,
            provider: None,
        }
    }
}

impl Stalled {
    /// Attributes a failure to calls to `provider` (for `map_err`).
    pub fn at(provider: ProviderKind) -> impl FnOnce(JobError) -> Stalled {
        move |error| Stalled {
            error,
            provider: Some(provider),
        }
    }
}

impl WorkerHandler {
    /// A job of the run leaving to wait keeps the run's lease for the wait, so the reaper does
    /// not resume the run meanwhile, and — waiting on a provider's rate limit — records the
    /// provider and the end of the wait on the run: one UPDATE per deferral. Best effort: a
    /// resume would only be redundant, and a missing `waiting` only less informative.
    pub(crate) async fn hold_run_while_deferred(&self, sync_id: Uuid, stalled: &Stalled) {
        let JobError::Deferred { wait, .. } = &stalled.error else {
            return;
        };
        let held = match stalled.provider {
            Some(provider) => {
                debug!(%sync_id, provider = provider.as_str(), wait_ms = wait.as_millis() as u64,
                       "run waits on the provider's rate limit");
                self.store
                    .run_waiting(sync_id, provider, *wait, self.run_lease)
                    .await
            }
            None => {
                self.store
                    .hold_run_lease(sync_id, *wait + self.run_lease)
                    .await
            }
        };
        if let Err(err) = held {
            debug!(error = %err, %sync_id, "could not hold the run's lease while deferred");
        }
    }
}
