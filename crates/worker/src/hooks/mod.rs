//! The webhook job: find the connections a verified delivery is for, route each event to every
//! enabled mapping reading that connection and object, and start webhook runs (`trigger =
//! webhook`) that sync just the changed ids.
//!
//! Exactly-once intent: the dedupe rows `(connection, event id)` and the runs are committed in one
//! transaction; then the job runs them in place (a failure there publishes the run as a sync job).
//! A retried job republishes the runs it created that are still pending or running, so dying
//! between commit and the end of the run loses nothing. Several events of one
//! mapping in a delivery become one run; events arriving while a webhook run of the mapping is still
//! pending join it. While any other run of the mapping is going (one run per mapping at a time), the
//! ids are deferred and a webhook run takes them when that run finishes. Deletions are ignored (the
//! only deletion policy so far); the target record stays.

mod route;
mod run;

use fluxcascade_proto::v1::{JobEnvelope, JobKind, SyncJob, WebhookJob};
use fluxcascade_queue::{JobError, Reason};
use fluxcascade_store::hook_events::RunToPublish;
use prost::Message;
use tracing::{debug, info, warn};
use uuid::Uuid;

use crate::classify;
use crate::handler::{parse_uuid, WorkerHandler};

impl WorkerHandler {
    pub(crate) async fn handle_webhook(&self, env: &JobEnvelope) -> Result<(), JobError> {
        let job = WebhookJob::decode(env.payload.as_slice()).map_err(|e| JobError::Permanent {
            message: format!("undecodable webhook job: {e}"),
        })?;
        let events = route::events_of(&job)?;
        if env.attempt > 1 {
            // An earlier attempt may have committed runs and died before publishing them.
            let pending = self
                .store
                .pending_runs_of_job(&env.job_id)
                .await
                .map_err(|e| classify::store(&e))?;
            self.publish_runs(&pending).await?;
        }
        let connections = if job.connection_id.is_empty() {
            route::connections_by_account(&self.store, &job.provider, &events).await?
        } else {
            let org_id = parse_uuid(&env.org_id, "org_id")?;
            let id = parse_uuid(&job.connection_id, "connection_id")?;
            route::single_connection(org_id, id, &events)
        };
        let routed = route::route(&self.store, &events, &connections).await?;
        if routed.is_empty() {
            debug!(provider = %job.provider, events = events.len(), "webhook for no known connection");
            return Ok(());
        }
        let outcome = self
            .store
            .record_hook_events(&env.job_id, &routed)
            .await
            .map_err(|e| classify::store(&e))?;
        info!(provider = %job.provider, fresh = outcome.fresh, duplicates = outcome.duplicates,
              runs = outcome.publish.len(), deferred = outcome.deferred.len(), "webhook routed");
        self.run_now(&outcome.publish).await?;
        // The run that made us defer may have finished before our commit: try to start now. A
        // retry also restarts ids an earlier attempt deferred when its publish failed.
        let mut retry_mappings: Vec<(Uuid, Uuid)> = Vec::new();
        if env.attempt > 1 {
            for e in &routed {
                for (mapping_id, _) in &e.routes {
                    if !retry_mappings.contains(&(e.org_id, *mapping_id)) {
                        retry_mappings.push((e.org_id, *mapping_id));
                    }
                }
            }
        }
        for (org_id, mapping_id) in outcome.deferred.into_iter().chain(retry_mappings) {
            self.start_deferred(org_id, mapping_id, &env.job_id).await?;
        }
        Ok(())
    }

    /// After a run finished: a webhook run takes the ids deferred while it was going.
    pub(crate) async fn after_run_finished(&self, org_id: Uuid, sync_id: Uuid) {
        let mapping_id = match self.store.get_sync(org_id, sync_id).await {
            Ok(Some(run)) => run.mapping_id,
            Ok(None) => return,
            Err(e) => {
                warn!(error = %e, %sync_id, "cannot look up the finished run; deferred webhook ids wait for the next event");
                return;
            }
        };
        let job_id = format!("deferred-{sync_id}");
        if let Err(e) = self.start_deferred(org_id, mapping_id, &job_id).await {
            warn!(error = %Reason::new(&classify::reason(&e)), %mapping_id, "deferred webhook ids not started; they wait for the next event");
        }
    }

    async fn start_deferred(
        &self,
        org_id: Uuid,
        mapping_id: Uuid,
        job_id: &str,
    ) -> Result<(), JobError> {
        let run = self
            .store
            .start_deferred_run(org_id, mapping_id, job_id)
            .await
            .map_err(|e| classify::store(&e))?;
        if let Some(run) = run {
            self.publish_runs(&[run]).await?;
        }
        Ok(())
    }

    /// Runs the new webhook runs right here instead of through a sync job: one queue hop less
    /// between a provider's change and the target write. This webhook job is acked only after, so
    /// if the worker dies meanwhile it is redelivered and its retry republishes the runs it
    /// created (pending or running) as sync jobs. A run that fails here is published as an
    /// ordinary sync job, so the queue's retry tiers and final-attempt handling take over.
    async fn run_now(&self, runs: &[RunToPublish]) -> Result<(), JobError> {
        for run in runs {
            if let Err(s) = self.coordinate(run.org_id, run.sync_id, 0).await {
                warn!(error = %Reason::new(&classify::reason(&s.error)), sync_id = %run.sync_id,
                      "webhook run failed in place; queued as a sync job for retry");
                self.publish_runs(std::slice::from_ref(run)).await?;
            }
        }
        Ok(())
    }

    /// Publishes the runs' sync jobs (confirmed). A run whose job cannot be published gives its ids
    /// back to the deferred list and is removed, so it never blocks its mapping.
    async fn publish_runs(&self, runs: &[RunToPublish]) -> Result<(), JobError> {
        for run in runs {
            let job = SyncJob {
                sync_id: run.sync_id.to_string(),
                mapping_id: run.mapping_id.to_string(),
                epoch: 0,
            };
            let env = JobEnvelope::new(JobKind::Sync, run.org_id.to_string(), job.encode_to_vec());
            if let Err(e) = self.publisher.publish(&env).await {
                warn!(error = %e, sync_id = %run.sync_id, "webhook run not enqueued; its ids are deferred");
                if let Err(e) = self
                    .store
                    .unpublished_webhook_run(run.org_id, run.sync_id)
                    .await
                {
                    warn!(error = %e, sync_id = %run.sync_id, "could not undo the unqueued webhook run");
                }
                return Err(classify::publish("publishing a webhook run", &e));
            }
            debug!(sync_id = %run.sync_id, mapping_id = %run.mapping_id, "webhook run enqueued");
        }
        Ok(())
    }
}
