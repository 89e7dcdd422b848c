//! Run leases and the reaper's queries: whoever works on a run renews its lease; a run whose
//! lease expired is resumed under a new coordinator epoch, or failed once it has made no progress
//! for the retry window; deferred webhook ids whose mapping has no run going are started.

use std::time::Duration;

use fluxcascade_core::duration::human;
use fluxcascade_core::ProviderKind;
use uuid::Uuid;

use crate::syncs::fail_run_in;
use crate::{Store, StoreError};

/// What the reaper did with one run whose lease had expired.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reaped {
    /// Re-publish its coordinator (`SyncJob`) at `epoch`: it resumes from its checkpoint.
    Resume {
        org_id: Uuid,
        sync_id: Uuid,
        mapping_id: Uuid,
        epoch: i32,
    },
    /// It made no progress for the retry window and was failed; its mapping is free again.
    Failed {
        org_id: Uuid,
        sync_id: Uuid,
        mapping_id: Uuid,
    },
}

/// The reaper's knobs.
#[derive(Debug, Clone, Copy)]
pub struct ReapPolicy {
    /// How long a lease lasts (a pending run's implicit lease runs from its creation).
    pub lease: Duration,
    /// A run without progress for this long is failed instead of resumed.
    pub window: Duration,
    /// Runs handled per call.
    pub limit: i64,
}

/// Unfinished runs across every org, for the reaper's gauges (no tenant data leaves: counts).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct UnfinishedRuns {
    /// Runs `pending` or `running`.
    pub unfinished: i64,
    /// Of those, the ones whose lease has expired (a pending run's lease runs from its creation).
    pub lease_expired: i64,
    /// Seconds since the unfinished run that progressed least recently last made progress
    /// (its creation if it never did); 0 when there is none.
    pub oldest_progress_age_secs: i64,
}

impl Store {
    /// Counts unfinished runs (over the `sync_runs_unfinished` partial index) for the metrics.
    pub async fn unfinished_runs(&self, lease: Duration) -> Result<UnfinishedRuns, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_one(
                "SELECT count(*),
                        count(*) FILTER (WHERE COALESCE(lease_until, created_at + make_interval(secs => $1)) < now()),
                        COALESCE(EXTRACT(EPOCH FROM now() - min(COALESCE(progress_at, created_at)))::bigint, 0)
                 FROM sync_runs WHERE status IN ('pending', 'running')",
                &[&lease.as_secs_f64()],
            )
            .await?;
        Ok(UnfinishedRuns {
            unfinished: row.get(0),
            lease_expired: row.get(1),
            oldest_progress_age_secs: row.get::<_, i64>(2).max(0),
        })
    }

    /// Renews a running run's lease for `lease` (a batch starting work on it). Cheap when called
    /// often: the row is written only once half the lease has gone.
    pub async fn renew_run_lease(&self, sync_id: Uuid, lease: Duration) -> Result<(), StoreError> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(
                "UPDATE sync_runs SET lease_until = now() + make_interval(secs => $2::float8), progress_at = now()
                 WHERE id = $1 AND status = 'running'
                   AND (lease_until IS NULL OR lease_until < now() + make_interval(secs => $2::float8 / 2))",
            )
            .await?;
        client
            .execute(&stmt, &[&sync_id, &lease.as_secs_f64()])
            .await?;
        Ok(())
    }

    /// Holds a running run's lease for at least `hold` without counting it as progress: its job is
    /// waiting for a provider's rate-limit window, so the reaper need not resume it meanwhile.
    pub async fn hold_run_lease(&self, sync_id: Uuid, hold: Duration) -> Result<(), StoreError> {
        self.client()
            .await?
            .execute(
                "UPDATE sync_runs SET lease_until = GREATEST(lease_until, now() + make_interval(secs => $2::float8))
                 WHERE id = $1 AND status = 'running'",
                &[&sync_id, &hold.as_secs_f64()],
            )
            .await?;
        Ok(())
    }

    /// A job of a running run leaves for `wait` because `provider`'s rate limit is spent: holds
    /// the run's lease like [`Store::hold_run_lease`] (for the wait plus `lease`) and records
    /// which provider it waits on and until when, which `GET /v1/syncs/{id}` shows until the
    /// wait is over or a batch of the run commits. One statement per deferral.
    pub async fn run_waiting(
        &self,
        sync_id: Uuid,
        provider: ProviderKind,
        wait: Duration,
        lease: Duration,
    ) -> Result<(), StoreError> {
        self.client()
            .await?
            .execute(
                "UPDATE sync_runs SET
                    lease_until = GREATEST(lease_until, now() + make_interval(secs => $3::float8 + $4::float8)),
                    waiting_provider = $2, waiting_until = now() + make_interval(secs => $3::float8),
                    waiting_since = now()
                 WHERE id = $1 AND status = 'running'",
                &[&sync_id, &provider.as_str(), &wait.as_secs_f64(), &lease.as_secs_f64()],
            )
            .await?;
        Ok(())
    }

    /// Claims up to `policy.limit` unfinished runs whose lease expired (`FOR UPDATE SKIP LOCKED`:
    /// any number of reapers split the rows) and, in the same transaction, fails those without
    /// progress for the window and moves the others to a new epoch with a fresh lease. The
    /// caller publishes a coordinator for each `Resume`; a lost publish is retried when the new
    /// lease expires.
    pub async fn reap_expired_runs(&self, policy: &ReapPolicy) -> Result<Vec<Reaped>, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let lease = policy.lease.as_secs_f64();
        let rows = tx
            .query(
                "SELECT id, org_id, mapping_id,
                        COALESCE(progress_at, created_at) < now() - make_interval(secs => $2) AS stale
                 FROM sync_runs
                 WHERE status IN ('pending', 'running')
                   AND COALESCE(lease_until, created_at + make_interval(secs => $1)) < now()
                 ORDER BY created_at
                 LIMIT $3
                 FOR UPDATE SKIP LOCKED",
                &[&lease, &policy.window.as_secs_f64(), &policy.limit],
            )
            .await?;
        // Failing a run may count deliveries in its org's usage row: taken in org order, like
        // every transaction touching several usage rows (see `usage`), so two reapers never
        // deadlock on them. The runs themselves are locked already.
        let mut rows = rows;
        rows.sort_by_key(|r| r.get::<_, Uuid>(1));
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let (sync_id, org_id, mapping_id): (Uuid, Uuid, Uuid) =
                (row.get(0), row.get(1), row.get(2));
            if row.get::<_, bool>(3) {
                let reason = format!(
                    "the run made no progress for {} (its jobs kept failing or were lost; see GET /v1/dead-letters) and was given up",
                    human(policy.window)
                );
                if fail_run_in(&tx, org_id, sync_id, &reason).await? {
                    out.push(Reaped::Failed {
                        org_id,
                        sync_id,
                        mapping_id,
                    });
                }
                continue;
            }
            let epoch: i32 = tx
                .query_one(
                    "UPDATE sync_runs SET coordinator_epoch = coordinator_epoch + 1,
                        lease_until = now() + make_interval(secs => $2), resumed_count = resumed_count + 1
                     WHERE id = $1 RETURNING coordinator_epoch",
                    &[&sync_id, &lease],
                )
                .await?
                .get(0);
            out.push(Reaped::Resume {
                org_id,
                sync_id,
                mapping_id,
                epoch,
            });
        }
        tx.commit().await?;
        Ok(out)
    }

    /// Mappings holding deferred webhook ids while no run of theirs is pending or running (the
    /// run they waited for ended without starting them, e.g. it was failed by the reaper).
    pub async fn orphaned_deferrals(&self, limit: i64) -> Result<Vec<(Uuid, Uuid)>, StoreError> {
        let rows = self
            .client()
            .await?
            .query(
                "SELECT DISTINCT d.org_id, d.mapping_id FROM webhook_deferred d
                 WHERE NOT EXISTS (SELECT 1 FROM sync_runs r
                                   WHERE r.mapping_id = d.mapping_id AND r.status IN ('pending', 'running'))
                 LIMIT $1",
                &[&limit],
            )
            .await?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }
}
