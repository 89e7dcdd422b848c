//! Retention: deletes old history in small batches so no statement holds many locks or runs long.
//!
//! Each call of [`Store::purge_batch`] deletes at most `limit` rows of one [`PurgeTarget`], picked
//! with `FOR UPDATE SKIP LOCKED`, so several scheduler replicas purging at once take disjoint rows
//! and never wait on each other (or on a worker). Ages are measured by the database clock.
//!
//! What is never purged: a run that is pending or running; a run a dead letter not yet replayed
//! belongs to (a replay reopens it); the latest run of each mapping (what its last outcome was);
//! an outbound delivery still pending; usage aggregates (not touched at all). A run's batches go
//! with it (`ON DELETE CASCADE`); its record errors are purged first, in their own batches, because
//! one run may have many thousands. This is a maintenance job over every organization, so its
//! statements are not scoped by `org_id`.

use std::time::Duration;

use crate::{Store, StoreError};

/// One kind of history that ages out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PurgeTarget {
    /// Record errors of purgeable runs.
    SyncErrors,
    /// Finished runs (with their batches and any errors left).
    SyncRuns,
    /// Provider webhook events (the inbound dedupe log).
    WebhookEvents,
    /// Delivered or failed outbound deliveries (with their attempts).
    WebhookDeliveries,
    /// Audit entries (their own, longer retention).
    AuditEntries,
}

impl PurgeTarget {
    /// Every target, in the order a round purges them (a run's errors before the run).
    pub const ALL: [PurgeTarget; 5] = [
        PurgeTarget::SyncErrors,
        PurgeTarget::SyncRuns,
        PurgeTarget::WebhookEvents,
        PurgeTarget::WebhookDeliveries,
        PurgeTarget::AuditEntries,
    ];

    /// The table's name, for logs.
    pub fn as_str(self) -> &'static str {
        match self {
            PurgeTarget::SyncErrors => "sync_errors",
            PurgeTarget::SyncRuns => "sync_runs",
            PurgeTarget::WebhookEvents => "webhook_events",
            PurgeTarget::WebhookDeliveries => "webhook_deliveries",
            PurgeTarget::AuditEntries => "audit_entries",
        }
    }

    fn statement(self) -> &'static str {
        match self {
            PurgeTarget::SyncErrors => {
                "DELETE FROM sync_errors WHERE id = ANY(ARRAY(
                   SELECT e.id FROM sync_runs r JOIN sync_errors e ON e.sync_id = r.id
                    WHERE {PURGEABLE_RUN}
                    LIMIT $2 FOR UPDATE OF e SKIP LOCKED))"
            }
            PurgeTarget::SyncRuns => {
                "DELETE FROM sync_runs WHERE id = ANY(ARRAY(
                   SELECT r.id FROM sync_runs r WHERE {PURGEABLE_RUN}
                    LIMIT $2 FOR UPDATE SKIP LOCKED))"
            }
            PurgeTarget::WebhookEvents => {
                "DELETE FROM webhook_events WHERE ctid = ANY(ARRAY(
                   SELECT ctid FROM webhook_events
                    WHERE received_at < now() - make_interval(secs => $1)
                    LIMIT $2 FOR UPDATE SKIP LOCKED))"
            }
            PurgeTarget::WebhookDeliveries => {
                "DELETE FROM webhook_deliveries WHERE id = ANY(ARRAY(
                   SELECT id FROM webhook_deliveries
                    WHERE created_at < now() - make_interval(secs => $1)
                      AND status IN ('delivered', 'failed')
                    LIMIT $2 FOR UPDATE SKIP LOCKED))"
            }
            PurgeTarget::AuditEntries => {
                "DELETE FROM audit_entries WHERE id = ANY(ARRAY(
                   SELECT id FROM audit_entries
                    WHERE at < now() - make_interval(secs => $1)
                    LIMIT $2 FOR UPDATE SKIP LOCKED))"
            }
        }
    }
}

/// A run old enough and needed by no one (`r` is the run; `$1` the age in seconds).
const PURGEABLE_RUN: &str = "r.status IN ('completed', 'partial', 'failed')
      AND COALESCE(r.finished_at, r.created_at) < now() - make_interval(secs => $1)
      AND NOT EXISTS (SELECT 1 FROM dead_letters d WHERE d.sync_id = r.id AND d.replayed_at IS NULL)
      AND EXISTS (SELECT 1 FROM sync_runs newer WHERE newer.mapping_id = r.mapping_id
                    AND (newer.created_at, newer.id) > (r.created_at, r.id))";

impl Store {
    /// Deletes at most `limit` rows of `target` older than `older_than`; how many it deleted
    /// (fewer than `limit`: nothing old is left that another purger has not locked).
    pub async fn purge_batch(
        &self,
        target: PurgeTarget,
        older_than: Duration,
        limit: i64,
    ) -> Result<u64, StoreError> {
        let sql = target.statement().replace("{PURGEABLE_RUN}", PURGEABLE_RUN);
        let secs = older_than.as_secs_f64();
        Ok(self.client().await?.execute(&sql, &[&secs, &limit]).await?)
    }
}
