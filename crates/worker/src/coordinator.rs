//! The sync job: pages through the source from the run's cursor and fans out one batch job per page.

use std::collections::HashSet;

use fluxcascade_core::{Cursor, Direction, OnDelete, Record, RunLeg, SyncMode, SyncStatus};
use fluxcascade_proto::v1::{BatchJob, JobEnvelope, JobKind, SyncJob};
use fluxcascade_providers::{ListQuery, Provider};
use fluxcascade_queue::{JobError, Reason};
use fluxcascade_store::syncs::Checkpoint;
use prost::Message;
use tracing::{info, warn};
use uuid::Uuid;

use crate::classify;
use crate::error::WorkerError;
use crate::handler::{parse_uuid, WorkerHandler};

/// The two legs of a run: source → target, and (bidirectional, target_to_source) target → source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Leg {
    Forward,
    Reverse,
}

impl Leg {
    /// The run's stored leg while this leg is being read.
    fn stored(self) -> RunLeg {
        match self {
            Leg::Forward => RunLeg::Forward,
            Leg::Reverse => RunLeg::Reverse,
        }
    }
}

/// What a leg's pages are published under.
struct LegRead {
    sync_id: Uuid,
    mapping_id: Uuid,
    org_id: Uuid,
    leg: Leg,
    last_leg: bool,
    until: chrono::DateTime<chrono::Utc>,
    /// The coordinator epoch this job works under (fenced at every checkpoint).
    epoch: i32,
    /// The mapping acts on deletions: read with tombstones (`Provider::list_with_tombstones`).
    tombstones: bool,
}

/// How reading a leg ended.
enum LegEnd {
    /// Every page was read; this many batches are published in all.
    Read(i32),
    /// A newer coordinator took over the run (or it ended): stop here.
    Superseded,
}

/// Rounds `t` down to a multiple of `resolution` (the provider's timestamp precision).
pub fn floor_to(
    t: chrono::DateTime<chrono::Utc>,
    resolution: std::time::Duration,
) -> chrono::DateTime<chrono::Utc> {
    let step = i64::try_from(resolution.as_micros()).unwrap_or(1).max(1);
    let micros = t.timestamp_micros();
    chrono::DateTime::from_timestamp_micros(micros - micros.rem_euclid(step)).unwrap_or(t)
}

/// Keeps the records a run should process: changed after its starting cursor (compound
/// `(updated_at, id)`, the adapter re-reads a look-back window) and before the run was created
/// (later changes belong to the next run, so the cursor never skips them).
pub fn in_window(
    record: &Record,
    from: Option<&Cursor>,
    until: chrono::DateTime<chrono::Utc>,
) -> bool {
    let after_from = match from {
        Some(c) => (record.updated_at, record.id.as_str()) > (c.updated_at, c.id.as_str()),
        None => true,
    };
    after_from && record.updated_at < until
}

impl WorkerHandler {
    pub(crate) async fn handle_sync(&self, env: &JobEnvelope) -> Result<(), JobError> {
        let job = SyncJob::decode(env.payload.as_slice()).map_err(|e| JobError::Permanent {
            message: format!("undecodable sync job: {e}"),
        })?;
        let org_id = parse_uuid(&env.org_id, "org_id")?;
        let sync_id = parse_uuid(&job.sync_id, "sync_id")?;
        let epoch = i32::try_from(job.epoch).unwrap_or(i32::MAX);
        let Err(e) = self.coordinate(org_id, sync_id, epoch).await else {
            return Ok(());
        };
        let provider = e.provider();
        let e = JobError::from(e);
        if self.is_final_attempt(env, &e) {
            return self.give_up_run(env, org_id, sync_id, &e).await;
        }
        self.hold_run_while_deferred(sync_id, &e, provider).await;
        Err(e)
    }

    /// A job of the run cannot proceed, for good: the run is failed with the reason (its mapping
    /// is free again) and the job is dead-lettered, so it can be replayed once the cause is fixed.
    /// If the failure cannot be recorded (the database is down), the job is retried instead.
    pub(crate) async fn give_up_run(
        &self,
        env: &JobEnvelope,
        org_id: Uuid,
        sync_id: Uuid,
        e: &JobError,
    ) -> Result<(), JobError> {
        let reason = classify::reason(e);
        warn!(job_id = %env.job_id, %sync_id, error = %Reason::new(&reason), "run cannot proceed; failing it");
        let failed = self
            .store
            .fail_sync(org_id, sync_id, &reason)
            .await
            .map_err(|e| classify::store(&e))?;
        if failed {
            count_finished(SyncStatus::Failed);
        }
        crate::deliveries::publish_for_subject(&self.store, &self.publisher, sync_id).await;
        self.after_run_finished(org_id, sync_id).await;
        Err(JobError::Permanent { message: reason })
    }

    pub(crate) async fn coordinate(
        &self,
        org_id: Uuid,
        sync_id: Uuid,
        epoch: i32,
    ) -> Result<(), WorkerError> {
        let Some(run) = self
            .store
            .start_sync(org_id, sync_id, self.run_lease)
            .await?
        else {
            warn!(%sync_id, "sync job for an unknown run; dropped");
            return Ok(());
        };
        if run.status != SyncStatus::Running {
            return Ok(()); // already finished: a duplicate job
        }
        if epoch < run.epoch {
            // The reaper resumed this run under a newer coordinator; this copy is stale.
            info!(%sync_id, epoch, current = run.epoch, "superseded sync job; dropped");
            return Ok(());
        }
        if run.coordinator_done {
            self.finalize(org_id, sync_id).await;
            return Ok(());
        }
        let mapping = self
            .store
            .get_mapping(org_id, run.mapping_id)
            .await?
            .ok_or_else(|| JobError::Permanent {
                message: "the mapping was deleted".into(),
            })?;
        let compiled = self.compile(&mapping)?;
        if let Some(ids) = run.webhook_ids.clone() {
            return self
                .coordinate_webhook_run(&run, &mapping, &compiled, ids, epoch)
                .await;
        }
        // One leg per coordinator job. A bidirectional run reads its reverse leg only once every
        // forward batch is committed (the last one to commit enqueues this job again), so the
        // reverse leg never works from a snapshot the forward leg is about to overwrite.
        let bidirectional = mapping.spec.direction == Direction::Bidirectional;
        let leg = match (mapping.spec.direction, run.leg) {
            (_, RunLeg::ForwardDone) => {
                self.start_reverse_leg(org_id, sync_id, run.mapping_id)
                    .await?;
                return Ok(());
            }
            (Direction::TargetToSource, _) | (_, RunLeg::Reverse) => Leg::Reverse,
            _ => Leg::Forward,
        };
        let (connection, object, from, fields) = match leg {
            Leg::Forward => (
                mapping.source_connection(),
                &mapping.spec.source.object,
                run.from.clone(),
                compiled.source_fields.clone(),
            ),
            Leg::Reverse => (
                mapping.target_connection(),
                &mapping.spec.target.object,
                run.reverse_from.clone(),
                compiled.target_fields.clone(),
            ),
        };
        let connection = connection?;
        let from = if run.mode == SyncMode::Full {
            None
        } else {
            from
        };
        let adapter = self.adapters.get(org_id, connection).await?;
        let last_leg = !(bidirectional && leg == Leg::Forward);
        let until = floor_to(
            run.created_at,
            adapter.provider.timestamp_resolution(object),
        );
        let read = LegRead {
            sync_id,
            mapping_id: run.mapping_id,
            org_id,
            leg,
            last_leg,
            until,
            epoch,
            tombstones: mapping.spec.on_delete != OnDelete::Ignore,
        };
        let batches = match self
            .read_leg(
                &read,
                adapter.provider.as_ref(),
                object,
                from,
                fields,
                run.page_token.clone(),
                (run.batches_published, run.records_published),
            )
            .await
            .map_err(WorkerError::at(adapter.kind))?
        {
            LegEnd::Read(batches) => batches,
            LegEnd::Superseded => {
                info!(%sync_id, epoch, "a newer coordinator took over; stopping");
                return Ok(());
            }
        };
        info!(%sync_id, batches, leg = leg.stored().as_str(), "sync leg read");
        if last_leg {
            self.finalize(org_id, sync_id).await;
        } else {
            self.store.forward_leg_read(sync_id, batches).await?;
            self.start_reverse_leg(org_id, sync_id, run.mapping_id)
                .await?;
        }
        Ok(())
    }

    /// Moves a bidirectional run to its reverse leg once every forward batch is in, and enqueues
    /// the coordinator for it. Called by the coordinator and after every committed batch.
    pub(crate) async fn start_reverse_leg(
        &self,
        org_id: Uuid,
        sync_id: Uuid,
        mapping_id: Uuid,
    ) -> Result<(), WorkerError> {
        let Some(epoch) = self.store.try_start_reverse_leg(org_id, sync_id).await? else {
            return Ok(());
        };
        let job = SyncJob {
            sync_id: sync_id.to_string(),
            mapping_id: mapping_id.to_string(),
            epoch: u32::try_from(epoch).unwrap_or(0),
        };
        let env = JobEnvelope::new(JobKind::Sync, org_id.to_string(), job.encode_to_vec());
        if let Err(e) = self.publisher.publish(&env).await {
            let _ = self.store.reverse_leg_not_started(sync_id).await;
            return Err(WorkerError::publish("enqueueing the reverse leg")(e));
        }
        info!(%sync_id, "forward leg committed; reverse leg enqueued");
        Ok(())
    }

    /// Pages through one side, publishing a batch job per page and checkpointing after each.
    #[allow(clippy::too_many_arguments)]
    async fn read_leg(
        &self,
        read: &LegRead,
        provider: &dyn Provider,
        object: &str,
        from: Option<Cursor>,
        fields: Vec<String>,
        page: Option<String>,
        (mut batch_no, mut published): (i32, i64),
    ) -> Result<LegEnd, WorkerError> {
        let mut query = ListQuery {
            since: from.clone(),
            page,
            page_size: self.page_size,
            fields,
        };
        let mut seen: HashSet<String> = HashSet::new();
        loop {
            let page = if read.tombstones {
                provider.list_with_tombstones(object, &query).await
            } else {
                provider.list(object, &query).await
            }?;
            let records: Vec<Record> = page
                .records
                .into_iter()
                .filter(|r| in_window(r, from.as_ref(), read.until))
                .filter(|r| seen.insert(r.id.clone()))
                .collect();
            if !records.is_empty() {
                let batch = BatchJob {
                    sync_id: read.sync_id.to_string(),
                    mapping_id: read.mapping_id.to_string(),
                    batch_no: batch_no as u32,
                    records_json: serde_json::to_vec(&records).map_err(|e| {
                        JobError::Permanent {
                            message: format!("encoding records: {e}"),
                        }
                    })?,
                    reverse: read.leg == Leg::Reverse,
                };
                let env = JobEnvelope::new(
                    JobKind::Batch,
                    read.org_id.to_string(),
                    batch.encode_to_vec(),
                );
                self.publisher
                    .publish(&env)
                    .await
                    .map_err(WorkerError::publish("publishing a batch"))?;
                batch_no += 1;
                published += records.len() as i64;
            }
            let leg_done = page.next_page.is_none();
            let (leg, token) = (read.leg.stored(), page.next_page.as_deref());
            let current = self
                .store
                .checkpoint_sync(&Checkpoint {
                    sync_id: read.sync_id,
                    epoch: read.epoch,
                    leg,
                    page_token: token,
                    batches_published: batch_no,
                    records_published: published,
                    done: leg_done && read.last_leg,
                    lease: self.run_lease,
                })
                .await?;
            if !current {
                return Ok(LegEnd::Superseded);
            }
            if leg_done {
                return Ok(LegEnd::Read(batch_no));
            }
            query.page = page.next_page;
        }
    }

    /// Finishes the run if every batch is in; logs rather than fails (another party will finish it).
    pub(crate) async fn finalize(&self, org_id: Uuid, sync_id: Uuid) {
        match self.store.try_finalize_sync(org_id, sync_id).await {
            Ok(Some(status)) => {
                count_finished(status);
                info!(%sync_id, status = status.as_str(), "sync finished");
                crate::deliveries::publish_for_subject(&self.store, &self.publisher, sync_id).await;
                self.after_run_finished(org_id, sync_id).await;
            }
            Ok(None) => {}
            Err(e) => {
                warn!(error = %e, %sync_id, "finalising the sync failed; a later batch will retry")
            }
        }
    }
}

/// `fluxcascade_runs_finished_total{status}`: counted by whoever's transaction ended the run.
pub(crate) fn count_finished(status: SyncStatus) {
    fluxcascade_telemetry::metrics()
        .runs_finished
        .with_label_values(&[status.as_str()])
        .inc();
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    fn rec(id: &str, secs: i64) -> Record {
        Record {
            id: id.into(),
            updated_at: Utc.timestamp_opt(secs, 0).unwrap(),
            fields: serde_json::json!({}),
            deleted: false,
        }
    }

    #[test]
    fn run_start_is_floored_to_the_provider_timestamp_precision() {
        let t = Utc.timestamp_millis_opt(1_700_000_005_950).unwrap();
        assert_eq!(
            floor_to(t, std::time::Duration::from_secs(1)),
            Utc.timestamp_opt(1_700_000_005, 0).unwrap()
        );
        assert_eq!(floor_to(t, std::time::Duration::from_millis(1)), t);
    }

    #[test]
    fn window_is_strictly_after_the_compound_cursor_and_before_the_run() {
        let from = Cursor {
            updated_at: Utc.timestamp_opt(100, 0).unwrap(),
            id: "5".into(),
        };
        let until = Utc.timestamp_opt(200, 0).unwrap();
        let cases = [
            (rec("4", 100), false), // same time, smaller id: already synced
            (rec("5", 100), false), // the cursor itself
            (rec("6", 100), true),  // same time, larger id: not yet synced
            (rec("1", 99), false),  // look-back re-read
            (rec("1", 150), true),
            (rec("1", 200), false), // changed after the run was created: next run
        ];
        for (r, want) in cases {
            assert_eq!(
                in_window(&r, Some(&from), until),
                want,
                "{} @ {}",
                r.id,
                r.updated_at
            );
        }
        assert!(in_window(&rec("1", 1), None, until));
    }
}
