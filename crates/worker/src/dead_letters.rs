//! The dead-letter recorder: every worker records what reaches `{prefix}.dead` in the
//! `dead_letters` table (once per job id), so operators can list and replay it.

use chrono::{DateTime, Utc};
use fluxcascade_proto::v1::{BatchJob, JobEnvelope, JobKind, SyncJob};
use fluxcascade_queue::{async_trait, DeadLetter, DeadLetterSink, SinkError};
use fluxcascade_store::dead_letters::{DeadLetterKind, NewDeadLetter};
use fluxcascade_store::Store;
use tracing::{info, warn};
use uuid::Uuid;

/// Records dead letters through the store.
pub(crate) struct StoreSink {
    store: Store,
}

impl StoreSink {
    pub(crate) fn new(store: Store) -> StoreSink {
        StoreSink { store }
    }
}

#[async_trait]
impl DeadLetterSink for StoreSink {
    async fn record(&self, letter: &DeadLetter) -> Result<(), SinkError> {
        let row = to_row(letter);
        match self.store.record_dead_letter(&row).await {
            Ok(true) => {
                info!(job_id = %row.job_id, kind = row.kind.as_str(), org_id = ?row.org_id, reason = %row.reason, "dead letter recorded");
                Ok(())
            }
            Ok(false) => Ok(()),
            Err(error) => {
                warn!(error = %error, job_id = %row.job_id, "cannot record a dead letter");
                Err(SinkError(error.to_string()))
            }
        }
    }
}

/// What the table holds of a dead letter. A message without any id is named by its bytes
/// (`raw-<sha256>`), so a redelivery still finds its row.
fn to_row(letter: &DeadLetter) -> NewDeadLetter {
    let job_id = if letter.job_id.is_empty() {
        let digest = ring::digest::digest(&ring::digest::SHA256, &letter.raw);
        format!("raw-{}", hex::encode(digest.as_ref()))
    } else {
        letter.job_id.clone()
    };
    let mut row = NewDeadLetter {
        org_id: None,
        job_id,
        kind: DeadLetterKind::Unknown,
        mapping_id: None,
        sync_id: None,
        reason: letter.reason.clone(),
        attempts: 0,
        first_failed_at: None,
        message: letter.raw.clone(),
    };
    if let Some(envelope) = &letter.envelope {
        describe(envelope, &mut row);
    }
    row
}

/// Fills in what the envelope and its payload say: org, kind, attempts, the run it belongs to.
fn describe(envelope: &JobEnvelope, row: &mut NewDeadLetter) {
    row.org_id = Uuid::parse_str(&envelope.org_id).ok();
    row.attempts = i32::try_from(envelope.attempt).unwrap_or(i32::MAX);
    row.first_failed_at = (envelope.first_failed_at_unix_ms > 0)
        .then(|| DateTime::<Utc>::from_timestamp_millis(envelope.first_failed_at_unix_ms))
        .flatten();
    let uuid = |s: &str| Uuid::parse_str(s).ok();
    row.kind = match envelope.kind() {
        JobKind::Sync => {
            if let Ok(job) = envelope.decode_payload::<SyncJob>() {
                row.sync_id = uuid(&job.sync_id);
                row.mapping_id = uuid(&job.mapping_id);
            }
            DeadLetterKind::Sync
        }
        JobKind::Batch => {
            if let Ok(job) = envelope.decode_payload::<BatchJob>() {
                row.sync_id = uuid(&job.sync_id);
                row.mapping_id = uuid(&job.mapping_id);
            }
            DeadLetterKind::Batch
        }
        JobKind::Webhook => DeadLetterKind::Webhook,
        JobKind::Delivery => DeadLetterKind::Delivery,
        JobKind::Unspecified => DeadLetterKind::Unknown,
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use fluxcascade_proto::Message;

    #[test]
    fn a_batch_job_names_its_org_run_and_mapping() {
        let (org, sync, mapping) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        let payload = BatchJob {
            sync_id: sync.to_string(),
            mapping_id: mapping.to_string(),
            batch_no: 3,
            records_json: b"[]".to_vec(),
            reverse: false,
        };
        let mut job = JobEnvelope::with_message(JobKind::Batch, org.to_string(), &payload);
        job.attempt = 8;
        job.first_failed_at_unix_ms = 1_700_000_000_000;
        job.reason = "gave up".into();
        let bytes = job.encode_to_vec();
        let row = to_row(&DeadLetter::from_message(bytes.clone(), None, None));
        assert_eq!(row.job_id, job.job_id);
        assert_eq!(row.kind, DeadLetterKind::Batch);
        assert_eq!(
            (row.org_id, row.sync_id, row.mapping_id),
            (Some(org), Some(sync), Some(mapping))
        );
        assert_eq!(row.attempts, 8);
        assert_eq!(
            row.first_failed_at.map(|t| t.timestamp_millis()),
            Some(1_700_000_000_000)
        );
        assert_eq!(row.reason, "gave up");
        assert_eq!(row.message, bytes);
    }

    #[test]
    fn a_job_of_no_org_and_no_failure_time_leaves_them_empty() {
        let job = JobEnvelope::new(JobKind::Webhook, "", b"x".to_vec());
        let row = to_row(&DeadLetter::from_message(job.encode_to_vec(), None, None));
        assert_eq!(row.kind, DeadLetterKind::Webhook);
        assert_eq!((row.org_id, row.first_failed_at), (None, None));
    }

    #[test]
    fn raw_bytes_without_an_id_are_named_by_their_hash() {
        let letter = DeadLetter::from_message(b"\xff junk".to_vec(), None, Some("bad".into()));
        let a = to_row(&letter);
        assert_eq!(a.kind, DeadLetterKind::Unknown);
        assert_eq!(a.attempts, 0);
        assert!(a.job_id.starts_with("raw-"), "{}", a.job_id);
        assert_eq!(
            a.job_id,
            to_row(&letter).job_id,
            "the same bytes, the same id"
        );
        let named = DeadLetter::from_message(b"\xff junk".to_vec(), Some("m-1".into()), None);
        assert_eq!(to_row(&named).job_id, "m-1");
    }
}
