//! The coordinator of a webhook run: instead of paging from the cursor it reads just the changed
//! ids (`get_many`) and writes them as batches (a single batch in place, more as batch jobs); the
//! run never moves the mapping's cursor (the store's finalisation skips it for `trigger =
//! webhook`), so a scheduled run still sees everything after the cursor.

use std::collections::HashSet;

use fluxcascade_core::{Direction, OnDelete, Record, RunLeg};
use fluxcascade_proto::v1::{BatchJob, JobEnvelope, JobKind};
use fluxcascade_queue::JobError;
use fluxcascade_store::mappings::MappingRow;
use fluxcascade_store::syncs::RunState;
use fluxcascade_store::BatchCaps;
use prost::Message;
use tracing::info;

use crate::batch::BatchKey;
use crate::error::WorkerError;
use crate::handler::{Compiled, WorkerHandler};
use fluxcascade_store::syncs::Checkpoint;

impl WorkerHandler {
    /// One leg per coordinator job, like a cursor run: source ids (forward leg) first, then — once
    /// every forward batch is committed — target ids (reverse leg).
    pub(crate) async fn coordinate_webhook_run(
        &self,
        run: &RunState,
        mapping: &MappingRow,
        compiled: &Compiled,
        (source_ids, target_ids): (Vec<String>, Vec<String>),
        epoch: i32,
    ) -> Result<(), WorkerError> {
        let (org_id, sync_id) = (run.org_id, run.sync_id);
        let reverse_allowed = mapping.spec.direction != Direction::SourceToTarget;
        let target_ids = if reverse_allowed {
            target_ids
        } else {
            Vec::new()
        };
        if run.leg == RunLeg::ForwardDone {
            return self
                .start_reverse_leg(org_id, sync_id, run.mapping_id)
                .await;
        }
        let reverse = run.leg == RunLeg::Reverse || source_ids.is_empty();
        let last_leg = reverse || target_ids.is_empty();
        // get_many reads the fields the mapping needs, as a cursor run's `list` does (a property
        // outside the adapter's defaults is asked for by name).
        let (connection, object, ids, fields) = if reverse {
            (
                mapping.target_connection(),
                &mapping.spec.target.object,
                target_ids,
                &compiled.target_fields,
            )
        } else {
            (
                mapping.source_connection(),
                &mapping.spec.source.object,
                source_ids,
                &compiled.source_fields,
            )
        };
        let connection = connection?;
        let adapter = self.adapters.get(org_id, connection).await?;
        let mut records = Vec::new();
        let chunk = adapter.provider.max_batch(object).clamp(1, 100);
        for part in ids.chunks(chunk) {
            let found = adapter
                .provider
                .get_many(object, part, fields)
                .await
                .map_err(WorkerError::at(adapter.kind))?;
            records.extend(found);
        }
        if mapping.spec.on_delete != OnDelete::Ignore {
            // An id the provider no longer returns was deleted (or archived): a tombstone, which
            // the write path turns into the mapping's `onDelete` action.
            let found: HashSet<&str> = records.iter().map(|r| r.id.as_str()).collect();
            let gone: Vec<Record> = ids
                .iter()
                .filter(|id| !found.contains(id.as_str()))
                .map(|id| Record::tombstone(id.clone(), chrono::Utc::now()))
                .collect();
            records.extend(gone);
        }
        // Numbered from where the leg starts, so a redelivered coordinator republishes the same
        // batch numbers (committed batches are skipped by their key).
        let mut batch_no = run.batches_published;
        let mut published = run.records_published;
        let page = usize::try_from(self.page_size).unwrap_or(100).max(1);
        let pages: Vec<&[Record]> = records.chunks(page).collect();
        let batches = pages.len();
        if let [only] = pages.as_slice() {
            // The usual webhook run is one page: written here, saving a queue hop (the records
            // are not encoded, and this coordinator job's attempts are the ones that count). A
            // failure fails this job, whose retry redoes it (a batch commits once). It is not
            // held to the org's bulk batch cap: webhook jobs have their own consumer and slots
            // (FLUXCASCADE_WEBHOOK_CONCURRENCY), so a bulk import never delays a change.
            let key = BatchKey {
                org_id,
                sync_id,
                mapping_id: run.mapping_id,
                batch_no,
                reverse,
            };
            self.run_page(key, only, BatchCaps::OFF).await?;
            batch_no += 1;
            published += only.len() as i64;
        } else {
            let mut jobs = Vec::with_capacity(batches);
            for part in pages {
                let batch = BatchJob {
                    sync_id: sync_id.to_string(),
                    mapping_id: run.mapping_id.to_string(),
                    batch_no: u32::try_from(batch_no).unwrap_or_default(),
                    records_json: serde_json::to_vec(part).map_err(|e| JobError::Permanent {
                        message: format!("encoding records: {e}"),
                    })?,
                    reverse,
                };
                published += part.len() as i64;
                jobs.push(JobEnvelope::new(
                    JobKind::Batch,
                    org_id.to_string(),
                    batch.encode_to_vec(),
                ));
                batch_no += 1;
            }
            self.publisher
                .publish_many(&jobs)
                .await
                .map_err(WorkerError::publish("publishing batches"))?;
        }
        let leg = if reverse {
            RunLeg::Reverse
        } else {
            RunLeg::Forward
        };
        info!(%sync_id, records = records.len(), batches, leg = leg.as_str(), "webhook run read");
        let current = self
            .store
            .checkpoint_sync(&Checkpoint {
                sync_id,
                epoch,
                leg,
                page_token: None,
                batches_published: batch_no,
                records_published: published,
                done: last_leg,
                lease: self.run_lease,
            })
            .await?;
        if !current {
            info!(%sync_id, epoch, "a newer coordinator took over; stopping");
        } else if last_leg {
            self.finalize(org_id, sync_id).await;
        } else {
            self.store.forward_leg_read(sync_id, batch_no).await?;
            self.start_reverse_leg(org_id, sync_id, run.mapping_id)
                .await?;
        }
        Ok(())
    }
}
