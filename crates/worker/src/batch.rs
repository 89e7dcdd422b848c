//! The batch job: one page of either leg, written once (locks, caps, lease), then committed and
//! counted; the page itself is `page.rs`.

use fluxcascade_core::decide::Leg;
use fluxcascade_core::{Cursor, Record};
use fluxcascade_proto::v1::{BatchJob, JobEnvelope};
use fluxcascade_queue::JobError;
use fluxcascade_store::links::BatchCommit;
use fluxcascade_store::{BatchCaps, Store, StoreError};
use fluxcascade_telemetry::metrics;
use prost::Message;
use std::time::Duration;
use tracing::info;
use uuid::Uuid;

use crate::error::WorkerError;
use crate::handler::{parse_uuid, WorkerHandler};

/// Which batch of which run a job is, and which way its records flow.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BatchKey {
    pub org_id: Uuid,
    pub sync_id: Uuid,
    pub mapping_id: Uuid,
    pub batch_no: i32,
    /// Target records flowing to the source (the reverse leg).
    pub reverse: bool,
}

impl BatchKey {
    pub fn leg(&self) -> Leg {
        if self.reverse {
            Leg::Reverse
        } else {
            Leg::Forward
        }
    }
}

/// How long a batch that found its org's or connection's batch slots all taken waits before
/// it comes back (the shortest retry tier); it consumes no attempt.
pub(crate) const CAP_WAIT: Duration = Duration::from_secs(1);

impl WorkerHandler {
    /// A batch job from the queue: bulk work, held to the org's and connection's batch caps.
    pub(crate) async fn handle_batch(&self, env: &JobEnvelope) -> Result<(), JobError> {
        self.run_batch(env, self.batch_caps).await
    }

    /// Runs a batch job if it gets one of the slots `caps` allows (else `Deferred` by
    /// [`CAP_WAIT`]). Its last attempt fails the run.
    pub(crate) async fn run_batch(
        &self,
        env: &JobEnvelope,
        caps: BatchCaps,
    ) -> Result<(), JobError> {
        let job = BatchJob::decode(env.payload.as_slice()).map_err(|e| JobError::Permanent {
            message: format!("undecodable batch job: {e}"),
        })?;
        let org_id = parse_uuid(&env.org_id, "org_id")?;
        let sync_id = parse_uuid(&job.sync_id, "sync_id")?;
        let key = BatchKey {
            org_id,
            sync_id,
            mapping_id: parse_uuid(&job.mapping_id, "mapping_id")?,
            batch_no: i32::try_from(job.batch_no).map_err(|_| JobError::Permanent {
                message: "batch number out of range".into(),
            })?,
            reverse: job.reverse,
        };
        let records: Vec<Record> =
            serde_json::from_slice(&job.records_json).map_err(|e| JobError::Permanent {
                message: format!("undecodable batch records: {e}"),
            })?;
        match self
            .run_page(key, &records, caps)
            .await
            .map_err(JobError::from)
        {
            Err(e) if self.is_final_attempt(env, &e) => {
                self.give_up_run(env, org_id, sync_id, &e).await
            }
            result => result,
        }
    }

    /// Writes one page of a run unless it is committed already: under the batch's lock and one
    /// of the slots `caps` allows, keeping the run leased; then hands off (reverse leg, finalise).
    /// The caller owns the attempts: a batch job, or a webhook run's coordinator job writing its
    /// only page in place (the records never cross the queue, and its attempts are its own).
    pub(crate) async fn run_page(
        &self,
        key: BatchKey,
        records: &[Record],
        caps: BatchCaps,
    ) -> Result<(), WorkerError> {
        let BatchKey {
            org_id,
            sync_id,
            mapping_id,
            batch_no,
            reverse,
        } = key;
        if self.store.batch_done(sync_id, batch_no).await? {
            // A duplicate of a committed batch (or a retry after the hand-off below failed).
            return self.after_batch(org_id, sync_id, mapping_id, reverse).await;
        }
        let Some(lock) = self.store.try_lock_batch(sync_id, batch_no).await? else {
            return Err(JobError::Transient {
                message: "another worker holds this batch".into(),
                retry_after: Some(Duration::from_secs(1)),
            }
            .into());
        };
        // Fairness: one org (or one busy connection) never holds more than its share of the
        // fleet; a batch over the cap gives its worker slot back and comes back shortly.
        let Some(lock) = lock
            .take_batch_slots(org_id, mapping_id, reverse, caps)
            .await?
        else {
            return Err(JobError::Deferred {
                message: "the org's or connection's concurrent batch cap is reached".into(),
                wait: CAP_WAIT,
            }
            .into());
        };
        // Working on the run keeps it leased, so the reaper leaves it alone.
        if let Err(e) = self.store.renew_run_lease(sync_id, self.run_lease).await {
            lock.release().await;
            return Err(e.into());
        }
        let result = self.process_batch(&key, records).await;
        lock.release().await;
        if let Err(e) = result {
            let provider = e.provider();
            let e = JobError::from(e);
            self.hold_run_while_deferred(sync_id, &e, provider).await;
            return Err(e.into());
        }
        self.after_batch(org_id, sync_id, mapping_id, reverse).await
    }

    /// After a committed batch: a bidirectional run's last forward batch enqueues the reverse leg;
    /// the last batch of all finishes the run.
    async fn after_batch(
        &self,
        org_id: Uuid,
        sync_id: Uuid,
        mapping_id: Uuid,
        reverse: bool,
    ) -> Result<(), WorkerError> {
        if !reverse {
            self.start_reverse_leg(org_id, sync_id, mapping_id).await?;
        }
        self.finalize(org_id, sync_id).await;
        Ok(())
    }

    async fn process_batch(&self, key: &BatchKey, records: &[Record]) -> Result<(), WorkerError> {
        let (sync_id, batch_no) = (key.sync_id, key.batch_no);
        if self.store.batch_done(sync_id, batch_no).await? {
            return Ok(());
        }
        let ctx = self.leg_ctx(*key).await?;
        // A failure names the written side, the only provider a batch calls, so a rate-limited
        // run says which provider it waits on.
        let commit = self
            .write_page(&ctx, records)
            .await
            .map_err(WorkerError::at(ctx.adapter.kind))?;
        let fresh = commit_counted(&self.store, &commit).await?;
        if fresh {
            info!(%sync_id, batch_no, created = commit.counts.created, updated = commit.counts.updated,
                  skipped = commit.counts.skipped, failed = commit.counts.failed, "batch committed");
        }
        Ok(())
    }
}

pub(crate) fn max_cursor(records: &[Record]) -> Option<Cursor> {
    records.iter().map(Cursor::of).max()
}

/// Commits a batch and counts its records (`fluxcascade_records_synced_total`) once: a
/// duplicate job finds the batch committed (`false`) and counts nothing.
pub(crate) async fn commit_counted(
    store: &Store,
    commit: &BatchCommit,
) -> Result<bool, StoreError> {
    let fresh = store.commit_batch(commit).await?;
    if fresh {
        let c = &commit.counts;
        metrics().observe_records(c.created, c.updated, c.skipped, c.failed);
    }
    Ok(fresh)
}
