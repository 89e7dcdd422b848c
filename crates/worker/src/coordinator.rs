//! The sync job: pages through the source from the run's cursor and fans out one batch job per page.

use std::collections::HashSet;

use fluxcascade_core::{Cursor, Record};
use fluxcascade_proto::v1::{BatchJob, JobEnvelope, JobKind, SyncJob};
use fluxcascade_providers::ListQuery;
use fluxcascade_queue::JobError;
use prost::Message;
use tracing::{info, warn};
use uuid::Uuid;

use crate::classify;
use crate::handler::{parse_uuid, WorkerHandler};

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
        let result = self.coordinate(org_id, sync_id).await;
        match result {
            Ok(()) => Ok(()),
            Err(e) if self.is_final_attempt(env, &e) => {
                let reason = classify::reason(&e);
                warn!(job_id = %env.job_id, %sync_id, error = %reason, "sync cannot proceed; run failed");
                self.store
                    .fail_sync(org_id, sync_id, &reason)
                    .await
                    .map_err(|e| classify::store(&e))?;
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    async fn coordinate(&self, org_id: Uuid, sync_id: Uuid) -> Result<(), JobError> {
        let Some(run) = self
            .store
            .start_sync(org_id, sync_id)
            .await
            .map_err(|e| classify::store(&e))?
        else {
            warn!(%sync_id, "sync job for an unknown run; dropped");
            return Ok(());
        };
        if run.status != "running" {
            return Ok(()); // already finished: a duplicate job
        }
        if run.coordinator_done {
            self.finalize(org_id, sync_id).await;
            return Ok(());
        }
        let mapping = self
            .store
            .get_mapping(org_id, run.mapping_id)
            .await
            .map_err(|e| classify::store(&e))?
            .ok_or_else(|| JobError::Permanent {
                message: "the mapping was deleted".into(),
            })?;
        let compiled = self.compile(&mapping)?;
        let source_conn = mapping
            .source_connection()
            .map_err(|e| classify::store(&e))?;
        let source = self
            .adapters
            .get(org_id, source_conn)
            .await
            .map_err(|e| classify::adapter(&e))?;
        let object = mapping.spec.source.object.clone();
        let from = if run.mode == "full" {
            None
        } else {
            run.from.clone()
        };
        let mut query = ListQuery {
            since: from.clone(),
            page: run.page_token.clone(),
            page_size: self.page_size,
            fields: compiled.source_fields.clone(),
        };
        let mut batch_no = run.batches_published;
        let mut seen: HashSet<String> = HashSet::new();
        loop {
            let page = source
                .provider
                .list(&object, &query)
                .await
                .map_err(|e| classify::provider(&e))?;
            let records: Vec<Record> = page
                .records
                .into_iter()
                .filter(|r| in_window(r, from.as_ref(), run.created_at))
                .filter(|r| seen.insert(r.id.clone()))
                .collect();
            if !records.is_empty() {
                let batch = BatchJob {
                    sync_id: sync_id.to_string(),
                    mapping_id: run.mapping_id.to_string(),
                    batch_no: batch_no as u32,
                    records_json: serde_json::to_vec(&records).map_err(|e| {
                        JobError::Permanent {
                            message: format!("encoding records: {e}"),
                        }
                    })?,
                };
                let env =
                    JobEnvelope::new(JobKind::Batch, org_id.to_string(), batch.encode_to_vec());
                self.publisher
                    .publish(&env)
                    .await
                    .map_err(|e| JobError::Transient {
                        message: format!("publishing batch: {e}"),
                        retry_after: None,
                    })?;
                batch_no += 1;
            }
            let done = page.next_page.is_none();
            self.store
                .checkpoint_sync(sync_id, page.next_page.as_deref(), batch_no, done)
                .await
                .map_err(|e| classify::store(&e))?;
            if done {
                break;
            }
            query.page = page.next_page;
        }
        info!(%sync_id, batches = batch_no, "sync read complete");
        self.finalize(org_id, sync_id).await;
        Ok(())
    }

    /// Finishes the run if every batch is in; logs rather than fails (another party will finish it).
    pub(crate) async fn finalize(&self, org_id: Uuid, sync_id: Uuid) {
        match self.store.try_finalize_sync(org_id, sync_id).await {
            Ok(Some(status)) => info!(%sync_id, status = status.as_str(), "sync finished"),
            Ok(None) => {}
            Err(e) => {
                warn!(error = %e, %sync_id, "finalising the sync failed; a later batch will retry")
            }
        }
    }
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
        }
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
