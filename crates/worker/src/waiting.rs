//! A job that leaves to wait out a provider's rate limit: its run keeps its lease for the wait and
//! records which provider it waits on and until when (`GET /v1/syncs/{id}` → `waiting`).

use fluxcascade_core::ProviderKind;
use fluxcascade_queue::JobError;
use tracing::debug;
use uuid::Uuid;

use crate::handler::WorkerHandler;

impl WorkerHandler {
    /// A job of the run leaving to wait keeps the run's lease for the wait, so the reaper does
    /// not resume the run meanwhile, and — waiting on a provider's rate limit — records the
    /// provider and the end of the wait on the run: one UPDATE per deferral. Best effort: a
    /// resume would only be redundant, and a missing `waiting` only less informative.
    /// `provider` is the one the failed job was calling ([`crate::error::WorkerError::provider`]).
    pub(crate) async fn hold_run_while_deferred(
        &self,
        sync_id: Uuid,
        e: &JobError,
        provider: Option<ProviderKind>,
    ) {
        let JobError::Deferred { wait, .. } = e else {
            return;
        };
        let held = match provider {
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
