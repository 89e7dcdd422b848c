//! The reverse leg of a batch: target records written back to the source (target_to_source and
//! bidirectional mappings), with echo suppression and conflict resolution.

use std::collections::HashMap;

use fluxcascade_core::decide::{resolve_conflict, Side};
use fluxcascade_core::{Counts, Direction, Record, RecordError};
use fluxcascade_providers::WriteOp;
use fluxcascade_queue::JobError;
use fluxcascade_store::links::{BatchCommit, LinkWrite};

use crate::batch::{max_cursor, BatchKey};
use crate::classify;
use crate::handler::WorkerHandler;
use crate::writes::{self, Outcome, PlannedWrite};

impl WorkerHandler {
    /// Maps target records through the reversed mapping and writes them to the source.
    ///
    /// Link hashes always live in the target-side projection: a target record whose projection
    /// equals the link's hash is unchanged since the last sync, or our own forward write coming
    /// back (an echo), and is skipped. Creates on this leg write no intents: a worker killed
    /// between the provider's create and the commit can duplicate that record on the source.
    pub(crate) async fn write_reverse_batch(
        &self,
        key: &BatchKey,
        records: &[Record],
    ) -> Result<BatchCommit, JobError> {
        let mapping = self
            .store
            .get_mapping(key.org_id, key.mapping_id)
            .await
            .map_err(|e| classify::store(&e))?
            .ok_or_else(|| JobError::Permanent {
                message: "the mapping was deleted".into(),
            })?;
        let compiled = self.compile(&mapping)?;
        let reversed = compiled.engine.reversed();
        let source_conn = mapping
            .source_connection()
            .map_err(|e| classify::store(&e))?;
        let source = self
            .adapters
            .get(key.org_id, source_conn)
            .await
            .map_err(|e| classify::adapter(&e))?;
        let object = mapping.spec.source.object.as_str();

        let ids: Vec<String> = records.iter().map(|r| r.id.clone()).collect();
        let links = self
            .store
            .load_links_by_target(key.org_id, key.mapping_id, &ids)
            .await
            .map_err(|e| classify::store(&e))?;
        let bidirectional = mapping.spec.direction == Direction::Bidirectional;
        let linked: Vec<String> = links.values().map(|l| l.source_id.clone()).collect();
        let current_sources: HashMap<String, Record> = if bidirectional && !linked.is_empty() {
            let found = source
                .provider
                .get_many(object, &linked, &[])
                .await
                .map_err(|e| classify::provider(&e))?;
            found.into_iter().map(|r| (r.id.clone(), r)).collect()
        } else {
            HashMap::new()
        };

        let mut counts = Counts {
            read: records.len() as u64,
            ..Counts::default()
        };
        let mut errors = Vec::new();
        let mut planned = Vec::new();
        for record in records {
            let hash = compiled.projection.hash(&record.fields);
            let link = links.get(&record.id);
            if link.is_some_and(|l| l.hash == hash) {
                counts.skipped += 1; // unchanged, or our own write coming back
                continue;
            }
            let mapped = match reversed.apply(&record.fields) {
                Ok(v) => v,
                Err(e) => {
                    counts.failed += 1;
                    errors.push(RecordError {
                        record_id: record.id.clone(),
                        code: e.code,
                        message: e.message,
                    });
                    continue;
                }
            };
            if let Some(link) = link {
                // Changed on both sides since the last sync: the policy decides.
                if let Some(src) = current_sources.get(&link.source_id) {
                    let source_changed = link.source_updated_at.is_none_or(|t| src.updated_at > t)
                        && compiled
                            .engine
                            .apply(&src.fields)
                            .map(|v| compiled.projection.hash(&v))
                            .ok()
                            .as_ref()
                            != Some(&link.hash);
                    if source_changed
                        && resolve_conflict(
                            mapping.spec.conflict_resolution,
                            src.updated_at,
                            record.updated_at,
                        ) == Side::Source
                    {
                        counts.skipped += 1;
                        continue;
                    }
                }
            }
            let (op, create) = match link {
                Some(l) => (
                    WriteOp::Update {
                        id: l.source_id.clone(),
                        fields: mapped,
                    },
                    false,
                ),
                None => (WriteOp::Create { fields: mapped }, true),
            };
            planned.push(PlannedWrite {
                record: record.clone(),
                op,
                hash,
                create,
            });
        }

        let outcomes = writes::execute(source.provider.as_ref(), object, &planned).await?;
        let mut link_writes = Vec::new();
        for (w, outcome) in planned.iter().zip(outcomes) {
            writes::count(&mut counts, w, &outcome);
            match outcome {
                Outcome::Written(written) => link_writes.push(LinkWrite {
                    source_id: written.id,
                    target_id: w.record.id.clone(),
                    source_updated_at: Some(written.updated_at),
                    target_updated_at: Some(w.record.updated_at),
                    hash: w.hash.clone(),
                }),
                Outcome::Failed(e) => errors.push(e),
            }
        }
        Ok(BatchCommit {
            org_id: key.org_id,
            sync_id: key.sync_id,
            mapping_id: key.mapping_id,
            batch_no: key.batch_no,
            side: key.side(),
            worker: self.name.clone(),
            counts,
            max_cursor: max_cursor(records),
            links: link_writes,
            dropped_intents: Vec::new(),
            errors,
        })
    }
}
