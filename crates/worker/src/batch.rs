//! The batch job: maps one page of source records and writes it to the target, idempotently.

use std::collections::HashMap;

use fluxcascade_core::{Counts, Cursor, Direction, Record};
use fluxcascade_proto::v1::{BatchJob, JobEnvelope};
use fluxcascade_queue::JobError;
use fluxcascade_store::links::{BatchCommit, LinkRow, LinkWrite};
use fluxcascade_store::{BatchCaps, Store, StoreError};
use fluxcascade_telemetry::metrics;
use prost::Message;
use std::time::Duration;
use tracing::info;
use uuid::Uuid;

use crate::associations;
use crate::classify;
use crate::handler::{parse_uuid, WorkerHandler};
use crate::matching;
use crate::plan::{plan, Planned};
use crate::writes::{self, Outcome};

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
    pub fn side(&self) -> &'static str {
        if self.reverse {
            "target"
        } else {
            "source"
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

    /// Runs a batch if it gets one of the slots `caps` allows (else `Deferred` by [`CAP_WAIT`]).
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
        let mapping_id = parse_uuid(&job.mapping_id, "mapping_id")?;
        let batch_no = i32::try_from(job.batch_no).map_err(|_| JobError::Permanent {
            message: "batch number out of range".into(),
        })?;
        let records: Vec<Record> =
            serde_json::from_slice(&job.records_json).map_err(|e| JobError::Permanent {
                message: format!("undecodable batch records: {e}"),
            })?;

        if self
            .store
            .batch_done(sync_id, batch_no)
            .await
            .map_err(|e| classify::store(&e))?
        {
            // A duplicate of a committed batch (or a retry after the hand-off below failed).
            return self
                .after_batch(org_id, sync_id, mapping_id, job.reverse)
                .await;
        }
        let Some(lock) = self
            .store
            .try_lock_batch(sync_id, batch_no)
            .await
            .map_err(|e| classify::store(&e))?
        else {
            return Err(JobError::Transient {
                message: "another worker holds this batch".into(),
                retry_after: Some(Duration::from_secs(1)),
            });
        };
        // Fairness: one org (or one busy connection) never holds more than its share of the
        // fleet; a batch over the cap gives its worker slot back and comes back shortly.
        let Some(lock) = lock
            .take_batch_slots(org_id, mapping_id, job.reverse, caps)
            .await
            .map_err(|e| classify::store(&e))?
        else {
            return Err(JobError::Deferred {
                message: "the org's or connection's concurrent batch cap is reached".into(),
                wait: CAP_WAIT,
            });
        };
        let key = BatchKey {
            org_id,
            sync_id,
            mapping_id,
            batch_no,
            reverse: job.reverse,
        };
        // Working on the run keeps it leased, so the reaper leaves it alone.
        if let Err(e) = self.store.renew_run_lease(sync_id, self.run_lease).await {
            lock.release().await;
            return Err(classify::store(&e));
        }
        let result = self.process_batch(&key, &records).await;
        lock.release().await;
        match result {
            Ok(()) => {}
            Err(e) if self.is_final_attempt(env, &e) => {
                return self.give_up_run(env, org_id, sync_id, &e).await;
            }
            Err(e) => {
                self.hold_lease_while_deferred(sync_id, &e).await;
                return Err(e);
            }
        }
        self.after_batch(org_id, sync_id, mapping_id, job.reverse)
            .await
    }

    /// After a committed batch: a bidirectional run's last forward batch enqueues the reverse leg;
    /// the last batch of all finishes the run.
    async fn after_batch(
        &self,
        org_id: Uuid,
        sync_id: Uuid,
        mapping_id: Uuid,
        reverse: bool,
    ) -> Result<(), JobError> {
        if !reverse {
            self.start_reverse_leg(org_id, sync_id, mapping_id).await?;
        }
        self.finalize(org_id, sync_id).await;
        Ok(())
    }

    async fn process_batch(&self, key: &BatchKey, records: &[Record]) -> Result<(), JobError> {
        let (sync_id, batch_no) = (key.sync_id, key.batch_no);
        if self
            .store
            .batch_done(sync_id, batch_no)
            .await
            .map_err(|e| classify::store(&e))?
        {
            return Ok(());
        }
        let outcome = if key.reverse {
            self.write_reverse_batch(key, records).await
        } else {
            self.write_batch(key, records).await
        };
        let commit = outcome?;
        let fresh = commit_counted(&self.store, &commit)
            .await
            .map_err(|e| classify::store(&e))?;
        if fresh {
            info!(%sync_id, batch_no, created = commit.counts.created, updated = commit.counts.updated,
                  skipped = commit.counts.skipped, failed = commit.counts.failed, "batch committed");
        }
        Ok(())
    }

    async fn write_batch(
        &self,
        key: &BatchKey,
        records: &[Record],
    ) -> Result<BatchCommit, JobError> {
        let BatchKey {
            org_id,
            sync_id,
            mapping_id,
            batch_no,
            ..
        } = *key;
        let mapping = self
            .store
            .get_mapping(org_id, mapping_id)
            .await
            .map_err(|e| classify::store(&e))?
            .ok_or_else(|| JobError::Permanent {
                message: "the mapping was deleted".into(),
            })?;
        let compiled = self.compile(&mapping)?;
        let target_conn = mapping
            .target_connection()
            .map_err(|e| classify::store(&e))?;
        let target = self
            .adapters
            .get(org_id, target_conn)
            .await
            .map_err(|e| classify::adapter(&e))?;
        let object = mapping.spec.target.object.as_str();

        let ids: Vec<String> = records.iter().map(|r| r.id.clone()).collect();
        let mut links = self
            .store
            .load_links(org_id, mapping_id, &ids)
            .await
            .map_err(|e| classify::store(&e))?;
        let reconciled = self
            .reconcile_intents(&compiled, target.provider.as_ref(), object, &mut links)
            .await?;

        let mut counts = Counts {
            read: records.len() as u64,
            ..Counts::default()
        };
        // Match rule: unlinked records look for an existing twin in the target before creating.
        if let Some(rule) = &mapping.spec.match_rule {
            let unlinked: Vec<&Record> = records
                .iter()
                .filter(|r| !links.contains_key(&r.id))
                .collect();
            if !unlinked.is_empty() {
                let twins = matching::find_twins(
                    target.provider.as_ref(),
                    object,
                    rule,
                    &unlinked,
                    &compiled.target_fields,
                )
                .await?;
                for (source_id, twin) in twins {
                    links.insert(
                        source_id.clone(),
                        LinkRow {
                            source_id,
                            target_id: Some(twin.id),
                            source_updated_at: None,
                            target_updated_at: Some(twin.updated_at),
                            hash: String::new(), // never written by us: the next decision updates it
                            pending_since: None,
                        },
                    );
                }
            }
        }
        // Bidirectional: the target's current version of linked records, to detect conflicts.
        let policy = (mapping.spec.direction == Direction::Bidirectional)
            .then_some(mapping.spec.conflict_resolution);
        let linked: Vec<String> = links.values().filter_map(|l| l.target_id.clone()).collect();
        let current_targets: HashMap<String, Record> = if policy.is_some() && !linked.is_empty() {
            let found = target
                .provider
                .get_many(object, &linked, &[])
                .await
                .map_err(|e| classify::provider(&e))?;
            found.into_iter().map(|r| (r.id.clone(), r)).collect()
        } else {
            HashMap::new()
        };
        let extras = if mapping.spec.associations.is_empty() {
            HashMap::new()
        } else {
            associations::resolve(
                &self.store,
                org_id,
                &mapping.spec.source.object,
                &mapping.spec.associations,
                records,
            )
            .await?
        };
        let mut errors = Vec::new();
        let mut planned_writes = Vec::new();
        for record in records {
            let link = links.get(&record.id);
            let conflict =
                policy.and_then(|p| Some((p, current_targets.get(link?.target_id.as_deref()?)?)));
            match plan(&compiled, record, link, conflict, extras.get(&record.id)) {
                Planned::Write(w) => planned_writes.push(w),
                Planned::Skipped => counts.skipped += 1,
                Planned::Failed(e) => {
                    counts.failed += 1;
                    errors.push(e);
                }
            }
        }
        let intents: Vec<(String, String)> = planned_writes
            .iter()
            .filter(|w| w.create)
            .map(|w| (w.record.id.clone(), w.hash.clone()))
            .collect();
        self.store
            .write_create_intents(org_id, mapping_id, &intents)
            .await
            .map_err(|e| classify::store(&e))?;

        // Reconciled creates are linked even if the record is now skipped as unchanged.
        let mut link_writes: HashMap<String, LinkWrite> = HashMap::new();
        for record in records.iter().filter(|r| reconciled.contains(&r.id)) {
            if let Some(LinkRow {
                target_id: Some(t),
                target_updated_at,
                hash,
                ..
            }) = links.get(&record.id)
            {
                link_writes.insert(
                    record.id.clone(),
                    LinkWrite {
                        source_id: record.id.clone(),
                        target_id: t.clone(),
                        source_updated_at: Some(record.updated_at),
                        target_updated_at: *target_updated_at,
                        hash: hash.clone(),
                    },
                );
            }
        }
        let mut dropped_intents = Vec::new();
        let outcomes = writes::execute(target.provider.as_ref(), object, &planned_writes).await?;
        for (w, outcome) in planned_writes.iter().zip(outcomes) {
            writes::count(&mut counts, w, &outcome);
            match outcome {
                Outcome::Written(written) => {
                    link_writes.insert(
                        w.record.id.clone(),
                        LinkWrite {
                            source_id: w.record.id.clone(),
                            target_id: written.id,
                            source_updated_at: Some(w.record.updated_at),
                            target_updated_at: Some(written.updated_at),
                            hash: w.hash.clone(),
                        },
                    );
                }
                Outcome::Failed(e) => {
                    if w.create {
                        dropped_intents.push(w.record.id.clone());
                    }
                    errors.push(e);
                }
            }
        }
        Ok(BatchCommit {
            org_id,
            sync_id,
            mapping_id,
            batch_no,
            side: key.side(),
            worker: self.name.clone(),
            counts,
            max_cursor: max_cursor(records),
            links: link_writes.into_values().collect(),
            dropped_intents,
            errors,
        })
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
