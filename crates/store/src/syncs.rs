//! Sync runs: creation (one active per mapping), coordinator progress, finalisation and the cursor.

use chrono::{DateTime, Utc};
use fluxcascade_core::{
    final_status, Counts, Cursor, Progress, ProviderKind, RecordError, RunLeg, RunTotals, SyncMode,
    SyncStatus, SyncTrigger, WaitReason, Waiting,
};
use uuid::Uuid;

use crate::usage::{self, Usage};
use crate::{Store, StoreError};

#[derive(Debug, Clone)]
pub struct SyncRow {
    pub id: Uuid,
    pub org_id: Uuid,
    pub mapping_id: Uuid,
    pub status: String,
    pub trigger: String,
    pub mode: String,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub counts: Counts,
    pub error: Option<String>,
    /// Read and done out of the known or estimated total (`core::progress`).
    pub progress: Progress,
    /// What the run waits on, while it is running and the wait is not over.
    pub waiting: Option<Waiting>,
}

/// What the coordinator needs to (re)start a run.
#[derive(Debug, Clone)]
pub struct RunState {
    pub sync_id: Uuid,
    pub org_id: Uuid,
    pub mapping_id: Uuid,
    pub status: SyncStatus,
    pub mode: SyncMode,
    pub created_at: DateTime<Utc>,
    pub page_token: Option<String>,
    pub batches_published: i32,
    pub coordinator_done: bool,
    /// Read records strictly after this cursor (None: from the beginning).
    pub from: Option<Cursor>,
    /// The leg the coordinator is in.
    pub leg: RunLeg,
    /// The reverse leg reads target records strictly after this cursor.
    pub reverse_from: Option<Cursor>,
    /// A webhook run: the changed (source, target) record ids it syncs instead of a cursor read.
    pub webhook_ids: Option<(Vec<String>, Vec<String>)>,
    /// The coordinator epoch: a sync job published for an older one is stale.
    pub epoch: i32,
    /// Records published in batches so far (over both legs); a resumed coordinator goes on from it.
    pub records_published: i64,
}

const COLUMNS: &str =
    "id, org_id, mapping_id, status, trigger, mode, created_at, started_at, finished_at,
    read_count, created_count, updated_count, skipped_count, failed_count, error, deleted_count,
    coordinator_done, records_published, total_estimate, NULL::text, NULL::timestamptz";

/// Live counts come from the batches until the run is final.
const LIVE_COLUMNS: &str =
    "r.id, r.org_id, r.mapping_id, r.status, r.trigger, r.mode, r.created_at, r.started_at,
    r.finished_at,
    CASE WHEN r.finished_at IS NULL THEN COALESCE(b.read, 0) ELSE r.read_count END,
    CASE WHEN r.finished_at IS NULL THEN COALESCE(b.created, 0) ELSE r.created_count END,
    CASE WHEN r.finished_at IS NULL THEN COALESCE(b.updated, 0) ELSE r.updated_count END,
    CASE WHEN r.finished_at IS NULL THEN COALESCE(b.skipped, 0) ELSE r.skipped_count END,
    CASE WHEN r.finished_at IS NULL THEN COALESCE(b.failed, 0) ELSE r.failed_count END,
    r.error,
    CASE WHEN r.finished_at IS NULL THEN COALESCE(b.deleted, 0) ELSE r.deleted_count END,
    r.coordinator_done, r.records_published, r.total_estimate,
    CASE WHEN r.status = 'running' AND r.waiting_until > now()
              AND (b.last_commit IS NULL OR b.last_commit < r.waiting_since)
         THEN r.waiting_provider END,
    r.waiting_until";

const LIVE_JOIN: &str = "LEFT JOIN LATERAL (
        SELECT sum(read_count)::bigint AS read, sum(created_count)::bigint AS created,
               sum(updated_count)::bigint AS updated, sum(skipped_count)::bigint AS skipped,
               sum(failed_count)::bigint AS failed, sum(deleted_count)::bigint AS deleted,
               max(finished_at) AS last_commit
        FROM sync_batches WHERE sync_id = r.id) b ON true";

fn row_to_sync(r: &tokio_postgres::Row) -> SyncRow {
    let n = |i: usize| -> u64 { r.get::<_, i64>(i).max(0) as u64 };
    let counts = Counts {
        read: n(9),
        created: n(10),
        updated: n(11),
        skipped: n(12),
        failed: n(13),
        deleted: n(15),
    };
    let finished_at: Option<DateTime<Utc>> = r.get(8);
    let totals = RunTotals {
        finished: finished_at.is_some(),
        read_done: r.get(16),
        published: n(17),
        estimate: r.get::<_, Option<i64>>(18).map(|e| e.max(0) as u64),
    };
    // Column 19 is the provider only while the wait is visible (running, not over, no commit since).
    let waiting = match (r.get::<_, Option<&str>>(19), r.get(20)) {
        (Some(provider), Some(until)) => ProviderKind::parse(provider).map(|provider| Waiting {
            reason: WaitReason::RateLimit,
            provider,
            until,
        }),
        _ => None,
    };
    SyncRow {
        id: r.get(0),
        org_id: r.get(1),
        mapping_id: r.get(2),
        status: r.get(3),
        trigger: r.get(4),
        mode: r.get(5),
        created_at: r.get(6),
        started_at: r.get(7),
        finished_at,
        counts,
        error: r.get(14),
        progress: Progress::of(&counts, &totals),
        waiting,
    }
}

/// A coordinator's progress on a run (see [`Store::checkpoint_sync`]).
#[derive(Debug, Clone)]
pub struct Checkpoint<'a> {
    pub sync_id: Uuid,
    pub epoch: i32,
    pub leg: RunLeg,
    pub page_token: Option<&'a str>,
    pub batches_published: i32,
    /// Records published in batches so far, over the run's legs.
    pub records_published: i64,
    pub done: bool,
    /// How long the renewed lease lasts.
    pub lease: std::time::Duration,
}

/// Filters for listing runs.
#[derive(Debug, Default, Clone)]
pub struct SyncFilter {
    pub mapping_id: Option<Uuid>,
    pub status: Option<String>,
}

impl Store {
    /// Creates a pending run and counts it in the org's usage. `Conflict` when the mapping already
    /// has a pending or running sync.
    #[tracing::instrument(level = "debug", name = "store.create_sync", skip_all, fields(otel.kind = "client", db.system = "postgresql", db.operation.name = "create_sync", org_id = %org_id, mapping_id = %mapping_id))]
    pub async fn create_sync(
        &self,
        org_id: Uuid,
        mapping_id: Uuid,
        kind: SyncTrigger,
        mode: SyncMode,
    ) -> Result<SyncRow, StoreError> {
        let (trigger, mode) = (kind.as_str(), mode.as_str());
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let res = tx
            .query_one(
                &format!(
                    "INSERT INTO sync_runs (id, org_id, mapping_id, status, trigger, mode)
                     VALUES ($1, $2, $3, 'pending', $4, $5) RETURNING {COLUMNS}"
                ),
                &[&Uuid::now_v7(), &org_id, &mapping_id, &trigger, &mode],
            )
            .await;
        let row = match res {
            Ok(row) => row_to_sync(&row),
            Err(e) if StoreError::is_unique_violation(&e) => {
                return Err(StoreError::Conflict(
                    "a sync of this mapping is already pending or running".into(),
                ))
            }
            Err(e) => return Err(e.into()),
        };
        usage::count_in(&tx, org_id, mapping_id, None, &Usage::runs(kind, 1)).await?;
        tx.commit().await?;
        Ok(row)
    }

    /// Removes a pending run whose job could not be enqueued (the API answered 503), and takes it
    /// back out of the usage of the day it was counted in.
    pub async fn discard_pending_sync(&self, org_id: Uuid, id: Uuid) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let row = tx
            .query_opt(
                "DELETE FROM sync_runs WHERE org_id = $1 AND id = $2 AND status = 'pending'
                 RETURNING mapping_id, trigger, (created_at AT TIME ZONE 'UTC')::date",
                &[&org_id, &id],
            )
            .await?;
        if let Some(r) = row {
            uncount_run(&tx, org_id, &r).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn get_sync(&self, org_id: Uuid, id: Uuid) -> Result<Option<SyncRow>, StoreError> {
        let row = self
            .client()
            .await?
            .query_opt(
                &format!("SELECT {LIVE_COLUMNS} FROM sync_runs r {LIVE_JOIN} WHERE r.org_id = $1 AND r.id = $2"),
                &[&org_id, &id],
            )
            .await?;
        Ok(row.as_ref().map(row_to_sync))
    }

    /// Newest first; `after` is the last id of the previous page (ids are time-ordered UUIDv7).
    pub async fn list_syncs(
        &self,
        org_id: Uuid,
        filter: &SyncFilter,
        limit: i64,
        after: Option<Uuid>,
    ) -> Result<Vec<SyncRow>, StoreError> {
        let rows = self
            .client()
            .await?
            .query(
                &format!(
                    "SELECT {LIVE_COLUMNS} FROM sync_runs r {LIVE_JOIN}
                     WHERE r.org_id = $1 AND ($2::uuid IS NULL OR r.mapping_id = $2)
                       AND ($3::text IS NULL OR r.status = $3) AND ($4::uuid IS NULL OR r.id < $4)
                     ORDER BY r.id DESC LIMIT $5"
                ),
                &[&org_id, &filter.mapping_id, &filter.status, &after, &limit],
            )
            .await?;
        Ok(rows.iter().map(row_to_sync).collect())
    }

    /// Per-record errors of a run, oldest first; `after` is the last error id seen.
    pub async fn list_sync_errors(
        &self,
        org_id: Uuid,
        sync_id: Uuid,
        limit: i64,
        after: Option<i64>,
    ) -> Result<Vec<(i64, RecordError)>, StoreError> {
        let rows = self
            .client()
            .await?
            .query(
                "SELECT id, record_id, code, message FROM sync_errors
                 WHERE org_id = $1 AND sync_id = $2 AND ($3::bigint IS NULL OR id > $3) ORDER BY id LIMIT $4",
                &[&org_id, &sync_id, &after, &limit],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| {
                (
                    r.get(0),
                    RecordError {
                        record_id: r.get(1),
                        code: r.get(2),
                        message: r.get(3),
                    },
                )
            })
            .collect())
    }

    /// Marks a run running (first start fixes the cursor it reads from) and returns its state.
    /// None if the run does not exist; a finished run is returned as is.
    ///
    /// Starting takes the run's lease for `lease`.
    #[tracing::instrument(level = "debug", name = "store.start_sync", skip_all, fields(otel.kind = "client", db.system = "postgresql", db.operation.name = "start_sync", org_id = %org_id, sync_id = %sync_id))]
    pub async fn start_sync(
        &self,
        org_id: Uuid,
        sync_id: Uuid,
        lease: std::time::Duration,
    ) -> Result<Option<RunState>, StoreError> {
        let client = self.client().await?;
        let start = client
            .prepare_cached(
                "UPDATE sync_runs SET status = 'running', started_at = now(),
                    from_updated_at = (SELECT cursor_updated_at FROM mapping_cursors c WHERE c.mapping_id = sync_runs.mapping_id AND c.side = 'source'),
                    from_id = (SELECT cursor_id FROM mapping_cursors c WHERE c.mapping_id = sync_runs.mapping_id AND c.side = 'source'),
                    reverse_from_updated_at = (SELECT cursor_updated_at FROM mapping_cursors c WHERE c.mapping_id = sync_runs.mapping_id AND c.side = 'target'),
                    reverse_from_id = (SELECT cursor_id FROM mapping_cursors c WHERE c.mapping_id = sync_runs.mapping_id AND c.side = 'target'),
                    lease_until = now() + make_interval(secs => $3), progress_at = now(),
                    total_estimate = CASE WHEN trigger <> 'webhook' AND (mode = 'full' OR NOT EXISTS
                        (SELECT 1 FROM mapping_cursors c WHERE c.mapping_id = sync_runs.mapping_id))
                      THEN COALESCE(
                        (SELECT p.read_count FROM sync_runs p
                         WHERE p.org_id = sync_runs.org_id AND p.mapping_id = sync_runs.mapping_id
                           AND p.status IN ('completed', 'partial') AND p.trigger <> 'webhook'
                           AND (p.mode = 'full' OR (p.from_updated_at IS NULL AND p.reverse_from_updated_at IS NULL))
                         ORDER BY p.created_at DESC LIMIT 1),
                        (SELECT count(*) FROM record_links l
                         WHERE l.org_id = sync_runs.org_id AND l.mapping_id = sync_runs.mapping_id
                           AND l.target_id IS NOT NULL))
                    END
                 WHERE org_id = $1 AND id = $2 AND status = 'pending'",
            )
            .await?;
        client
            .execute(&start, &[&org_id, &sync_id, &lease.as_secs_f64()])
            .await?;
        let select = client
            .prepare_cached(
                "SELECT id, org_id, mapping_id, status, mode, created_at, page_token, batches_published,
                        coordinator_done, from_updated_at, from_id, leg, reverse_from_updated_at, reverse_from_id,
                        webhook_source_ids, webhook_target_ids, coordinator_epoch, records_published
                 FROM sync_runs WHERE org_id = $1 AND id = $2",
            )
            .await?;
        let row = client.query_opt(&select, &[&org_id, &sync_id]).await?;
        row.map(|r| {
            let from_at: Option<DateTime<Utc>> = r.get(9);
            let from_id: Option<String> = r.get(10);
            Ok(RunState {
                sync_id: r.get(0),
                org_id: r.get(1),
                mapping_id: r.get(2),
                status: stored(r.get(3), SyncStatus::parse, "status")?,
                mode: stored(r.get(4), SyncMode::parse, "mode")?,
                created_at: r.get(5),
                page_token: r.get(6),
                batches_published: r.get(7),
                coordinator_done: r.get(8),
                from: match (from_at, from_id) {
                    (Some(updated_at), Some(id)) => Some(Cursor { updated_at, id }),
                    _ => None,
                },
                leg: stored(r.get(11), RunLeg::parse, "leg")?,
                reverse_from: match (
                    r.get::<_, Option<DateTime<Utc>>>(12),
                    r.get::<_, Option<String>>(13),
                ) {
                    (Some(updated_at), Some(id)) => Some(Cursor { updated_at, id }),
                    _ => None,
                },
                webhook_ids: match (
                    r.get::<_, Option<Vec<String>>>(14),
                    r.get::<_, Option<Vec<String>>>(15),
                ) {
                    (None, None) => None,
                    (s, t) => Some((s.unwrap_or_default(), t.unwrap_or_default())),
                },
                epoch: r.get(16),
                records_published: r.get(17),
            })
        })
        .transpose()
    }

    /// Records coordinator progress after a batch job was confirmed by the broker, and renews the
    /// run's lease. `leg` is the leg the next page belongs to (a finished forward leg checkpoints
    /// `reverse` with no page token); `done` when the last leg has been read.
    ///
    /// Returns `false` when the coordinator of `checkpoint.epoch` was superseded (the reaper
    /// resumed the run under a newer epoch) or the run ended: that coordinator must stop.
    #[tracing::instrument(level = "debug", name = "store.checkpoint_sync", skip_all, fields(otel.kind = "client", db.system = "postgresql", db.operation.name = "checkpoint_sync"))]
    pub async fn checkpoint_sync(&self, checkpoint: &Checkpoint<'_>) -> Result<bool, StoreError> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(
                "UPDATE sync_runs SET leg = $2, page_token = $3, batches_published = $4, coordinator_done = $5,
                    lease_until = now() + make_interval(secs => $7), progress_at = now(), records_published = $8
                 WHERE id = $1 AND status = 'running' AND coordinator_epoch <= $6",
            )
            .await?;
        let n = client
            .execute(
                &stmt,
                &[
                    &checkpoint.sync_id,
                    &checkpoint.leg.as_str(),
                    &checkpoint.page_token,
                    &checkpoint.batches_published,
                    &checkpoint.done,
                    &checkpoint.epoch,
                    &checkpoint.lease.as_secs_f64(),
                    &checkpoint.records_published,
                ],
            )
            .await?;
        Ok(n == 1)
    }

    /// The forward leg of a bidirectional run has been read: it published `batches` batches so far.
    pub async fn forward_leg_read(&self, sync_id: Uuid, batches: i32) -> Result<(), StoreError> {
        self.client()
            .await?
            .execute(
                "UPDATE sync_runs SET leg = 'forward_done', page_token = NULL, batches_published = $2,
                    forward_batches = $2
                 WHERE id = $1 AND status = 'running' AND leg = 'forward'",
                &[&sync_id, &batches],
            )
            .await?;
        Ok(())
    }

    /// Once every forward batch is committed, moves the run to its reverse leg. `Some(epoch)` for
    /// exactly one caller, which then enqueues the coordinator for the reverse leg at that epoch.
    pub async fn try_start_reverse_leg(
        &self,
        org_id: Uuid,
        sync_id: Uuid,
    ) -> Result<Option<i32>, StoreError> {
        let row = self
            .client()
            .await?
            .query_opt(
                "UPDATE sync_runs SET leg = 'reverse'
                 WHERE org_id = $1 AND id = $2 AND status = 'running' AND leg = 'forward_done'
                   AND (SELECT count(*) FROM sync_batches WHERE sync_id = $2) >= forward_batches
                 RETURNING coordinator_epoch",
                &[&org_id, &sync_id],
            )
            .await?;
        Ok(row.map(|r| r.get(0)))
    }

    /// Undoes `try_start_reverse_leg` when the reverse job could not be enqueued, so a retry can.
    pub async fn reverse_leg_not_started(&self, sync_id: Uuid) -> Result<(), StoreError> {
        self.client()
            .await?
            .execute(
                "UPDATE sync_runs SET leg = 'forward_done'
                 WHERE id = $1 AND status = 'running' AND leg = 'reverse' AND page_token IS NULL
                   AND batches_published = forward_batches",
                &[&sync_id],
            )
            .await?;
        Ok(())
    }

    /// Ends a run as failed (it could not proceed). The cursor does not move.
    #[tracing::instrument(level = "debug", name = "store.fail_sync", skip_all, fields(otel.kind = "client", db.system = "postgresql", db.operation.name = "fail_sync", org_id = %org_id, sync_id = %sync_id))]
    pub async fn fail_sync(
        &self,
        org_id: Uuid,
        sync_id: Uuid,
        message: &str,
    ) -> Result<bool, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let failed = fail_run_in(&tx, org_id, sync_id, message).await?;
        tx.commit().await?;
        Ok(failed)
    }

    /// Finishes a run once the coordinator is done and every batch is accounted for; advances the
    /// mapping's cursor unless the run failed. Safe to call from every party: exactly one succeeds.
    #[tracing::instrument(level = "debug", name = "store.try_finalize_sync", skip_all, fields(otel.kind = "client", db.system = "postgresql", db.operation.name = "try_finalize_sync", org_id = %org_id, sync_id = %sync_id))]
    pub async fn try_finalize_sync(
        &self,
        org_id: Uuid,
        sync_id: Uuid,
    ) -> Result<Option<SyncStatus>, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let select = tx
            .prepare_cached(
                "SELECT mapping_id, batches_published, trigger = 'webhook' FROM sync_runs
                 WHERE org_id = $1 AND id = $2 AND status = 'running' AND coordinator_done FOR UPDATE",
            )
            .await?;
        let run = tx.query_opt(&select, &[&org_id, &sync_id]).await?;
        let Some(run) = run else { return Ok(None) };
        let mapping_id: Uuid = run.get(0);
        let published: i32 = run.get(1);
        let webhook_run: bool = run.get(2);
        let sums = tx
            .prepare_cached(
                "SELECT count(*)::bigint, COALESCE(sum(read_count), 0)::bigint, COALESCE(sum(created_count), 0)::bigint,
                        COALESCE(sum(updated_count), 0)::bigint, COALESCE(sum(skipped_count), 0)::bigint,
                        COALESCE(sum(failed_count), 0)::bigint, COALESCE(sum(deleted_count), 0)::bigint
                 FROM sync_batches WHERE sync_id = $1",
            )
            .await?;
        let agg = tx.query_one(&sums, &[&sync_id]).await?;
        let done: i64 = agg.get(0);
        if done < i64::from(published) {
            return Ok(None);
        }
        let n = |i: usize| -> u64 { agg.get::<_, i64>(i).max(0) as u64 };
        let counts = Counts {
            read: n(1),
            created: n(2),
            updated: n(3),
            skipped: n(4),
            failed: n(5),
            deleted: n(6),
        };
        let status = final_status(&counts, false);
        let finish = tx
            .prepare_cached(
                "UPDATE sync_runs SET status = $2, finished_at = now(), read_count = $3, created_count = $4,
                    updated_count = $5, skipped_count = $6, failed_count = $7, deleted_count = $8,
                    error = CASE WHEN $2 = 'failed' THEN 'every record failed; see the run''s errors' ELSE NULL END,
                    waiting_provider = NULL, waiting_until = NULL, waiting_since = NULL
                 WHERE id = $1",
            )
            .await?;
        tx.execute(
            &finish,
            &[
                &sync_id,
                &status.as_str(),
                &(counts.read as i64),
                &(counts.created as i64),
                &(counts.updated as i64),
                &(counts.skipped as i64),
                &(counts.failed as i64),
                &(counts.deleted as i64),
            ],
        )
        .await?;
        // A webhook run read a few ids, not everything after the cursor: it never moves it.
        if status != SyncStatus::Failed && !webhook_run {
            // Per side, the newest (updated_at, id) any batch processed becomes the mapping's cursor.
            tx.execute(
                "INSERT INTO mapping_cursors (mapping_id, org_id, side, cursor_updated_at, cursor_id)
                 SELECT DISTINCT ON (side) $1::uuid, $2::uuid, side, max_updated_at, max_id FROM sync_batches
                 WHERE sync_id = $3 AND max_updated_at IS NOT NULL
                 ORDER BY side, max_updated_at DESC, max_id DESC
                 ON CONFLICT (mapping_id, side) DO UPDATE SET
                    cursor_updated_at = EXCLUDED.cursor_updated_at, cursor_id = EXCLUDED.cursor_id, updated_at = now()
                 WHERE (mapping_cursors.cursor_updated_at, mapping_cursors.cursor_id)
                     < (EXCLUDED.cursor_updated_at, EXCLUDED.cursor_id)",
                &[&mapping_id, &org_id, &sync_id],
            )
            .await?;
        }
        crate::deliveries::emit_sync_event(&tx, org_id, sync_id).await?;
        tx.commit().await?;
        Ok(Some(status))
    }

    /// The mapping's current cursor.
    pub async fn mapping_cursor(
        &self,
        org_id: Uuid,
        mapping_id: Uuid,
    ) -> Result<Option<Cursor>, StoreError> {
        let row = self
            .client()
            .await?
            .query_opt(
                "SELECT cursor_updated_at, cursor_id FROM mapping_cursors
                 WHERE org_id = $1 AND mapping_id = $2 AND side = 'source'",
                &[&org_id, &mapping_id],
            )
            .await?;
        Ok(row.map(|r| Cursor {
            updated_at: r.get(0),
            id: r.get(1),
        }))
    }
}

/// Ends an unfinished run as failed inside `tx` (counts from its committed batches, the
/// `sync.failed` delivery in the outbox); false if it had already finished.
pub(crate) async fn fail_run_in(
    tx: &deadpool_postgres::Transaction<'_>,
    org_id: Uuid,
    sync_id: Uuid,
    message: &str,
) -> Result<bool, StoreError> {
    let n = tx
        .execute(
            "UPDATE sync_runs r SET status = 'failed', finished_at = now(), error = $3, lease_until = NULL,
                waiting_provider = NULL, waiting_until = NULL, waiting_since = NULL,
                read_count = COALESCE(b.read, 0), created_count = COALESCE(b.created, 0),
                updated_count = COALESCE(b.updated, 0), skipped_count = COALESCE(b.skipped, 0),
                failed_count = COALESCE(b.failed, 0), deleted_count = COALESCE(b.deleted, 0)
             FROM (SELECT sum(read_count)::bigint AS read, sum(created_count)::bigint AS created,
                          sum(updated_count)::bigint AS updated, sum(skipped_count)::bigint AS skipped,
                          sum(failed_count)::bigint AS failed, sum(deleted_count)::bigint AS deleted
                   FROM sync_batches WHERE sync_id = $2) b
             WHERE r.org_id = $1 AND r.id = $2 AND r.status IN ('pending', 'running')",
            &[&org_id, &sync_id, &message],
        )
        .await?;
    if n == 1 {
        crate::deliveries::emit_sync_event(tx, org_id, sync_id).await?;
    }
    Ok(n == 1)
}

/// Takes a deleted pending run (`mapping_id, trigger, UTC day of created_at`, as `DELETE …
/// RETURNING` gave them) back out of the usage it was counted in when it was created.
pub(crate) async fn uncount_run(
    tx: &deadpool_postgres::Transaction<'_>,
    org_id: Uuid,
    deleted: &tokio_postgres::Row,
) -> Result<(), StoreError> {
    let trigger: String = deleted.get(1);
    let Some(kind) = SyncTrigger::parse(&trigger) else {
        return Err(StoreError::Corrupt(format!(
            "unknown sync trigger {trigger:?}"
        )));
    };
    usage::count_in(
        tx,
        org_id,
        deleted.get(0),
        Some(deleted.get(2)),
        &Usage::runs(kind, -1),
    )
    .await
}

/// A stored enum column parsed, or `Corrupt` naming the column and the value.
fn stored<T>(value: &str, parse: fn(&str) -> Option<T>, column: &str) -> Result<T, StoreError> {
    parse(value).ok_or_else(|| StoreError::Corrupt(format!("sync_runs.{column} = {value:?}")))
}
