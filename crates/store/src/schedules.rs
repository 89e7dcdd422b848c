//! Schedule fires: claiming due schedules' fire times once across scheduler replicas, their runs and outcomes.
//!
//! Each mapping carries `next_fire_at`, the time its schedule must next be looked at (indexed).
//! A claim takes a batch of rows with `next_fire_at <= now` (`FOR NO KEY UPDATE SKIP LOCKED`, so
//! replicas split the batch instead of waiting on each other), lets the scheduler decide each
//! one's due fire time and next wake-up, and in the same transaction claims the fire times under
//! `UNIQUE(mapping_id, fire_at)`, creates their pending runs (or records them `skipped` while a
//! run of the mapping is still going) and moves `next_fire_at`.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use fluxcascade_core::{Schedule, SyncTrigger};
use uuid::Uuid;

use crate::usage::{Tally, Usage};
use crate::{Store, StoreError};

/// Why a claimed fire time started nothing.
pub const SKIP_REASON: &str = "the previous sync of this mapping is still pending or running";

/// An enabled mapping whose schedule is due to be looked at, and the latest fire time recorded for it.
#[derive(Debug, Clone)]
pub struct ScheduledMapping {
    pub org_id: Uuid,
    pub mapping_id: Uuid,
    pub schedule: Schedule,
    pub created_at: DateTime<Utc>,
    /// The newest `fire_at` in `schedule_fires` (claimed, fired or skipped).
    pub last_fire: Option<DateTime<Utc>>,
}

/// What the scheduler decided for a due mapping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScheduleStep {
    /// The fire time to claim now, if one is due.
    pub fire_at: Option<DateTime<Utc>>,
    /// When to look at the mapping again; `None` stops looking until its schedule is changed.
    pub next_fire_at: Option<DateTime<Utc>>,
}

/// What a claim did with a fire time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClaimOutcome {
    /// A pending run (`trigger = schedule`) was created; its sync job is to be published.
    Run(Uuid),
    /// The mapping's previous run is still pending or running: recorded `skipped`, no run.
    Skipped,
}

/// A fire time this replica claimed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClaimedFire {
    pub org_id: Uuid,
    pub mapping_id: Uuid,
    pub fire_at: DateTime<Utc>,
    pub outcome: ClaimOutcome,
}

/// One claim's result.
#[derive(Debug, Clone, Default)]
pub struct DueBatch {
    /// Due mappings locked and looked at (at most the limit; fewer means none are left due).
    pub looked_at: usize,
    pub claimed: Vec<ClaimedFire>,
}

/// Column arrays of `(org_id, mapping_id, fire_at)` triples, for `unnest` statements.
#[derive(Default)]
struct FireColumns {
    orgs: Vec<Uuid>,
    mappings: Vec<Uuid>,
    times: Vec<DateTime<Utc>>,
}

impl FireColumns {
    fn push(&mut self, org: Uuid, mapping: Uuid, at: DateTime<Utc>) {
        self.orgs.push(org);
        self.mappings.push(mapping);
        self.times.push(at);
    }
}

impl Store {
    /// Claims up to `limit` mappings whose `next_fire_at <= now`, oldest first, across all orgs
    /// (the scheduler is a system role). `decide` (pure, no I/O: it runs inside the transaction)
    /// says per mapping which fire time is due and when to look again. Rows whose stored schedule
    /// does not parse are logged and not looked at again until their schedule changes.
    pub async fn claim_due_schedules(
        &self,
        now: DateTime<Utc>,
        limit: i64,
        mut decide: impl FnMut(&ScheduledMapping) -> ScheduleStep,
    ) -> Result<DueBatch, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let select = tx
            .prepare_cached(
                "SELECT m.org_id, m.id, m.spec->'schedule', m.created_at,
                        (SELECT max(f.fire_at) FROM schedule_fires f WHERE f.mapping_id = m.id)
                 FROM mappings m
                 WHERE m.next_fire_at <= $1 AND m.enabled AND m.deleted_at IS NULL
                 ORDER BY m.next_fire_at
                 LIMIT $2
                 FOR NO KEY UPDATE OF m SKIP LOCKED",
            )
            .await?;
        let rows = tx.query(&select, &[&now, &limit]).await?;
        let mut due = FireColumns::default();
        let (mut orgs, mut ids, mut next) = (Vec::new(), Vec::new(), Vec::new());
        for r in &rows {
            let (org_id, mapping_id): (Uuid, Uuid) = (r.get(0), r.get(1));
            let step = match serde_json::from_value::<Schedule>(r.get(2)) {
                Ok(schedule) => decide(&ScheduledMapping {
                    org_id,
                    mapping_id,
                    schedule,
                    created_at: r.get(3),
                    last_fire: r.get(4),
                }),
                Err(e) => {
                    tracing::warn!(org_id = %org_id, mapping_id = %mapping_id, error = %e, "stored schedule does not parse");
                    ScheduleStep {
                        fire_at: None,
                        next_fire_at: None,
                    }
                }
            };
            if let Some(at) = step.fire_at {
                due.push(org_id, mapping_id, at);
            }
            orgs.push(org_id);
            ids.push(mapping_id);
            next.push(step.next_fire_at);
        }
        let claimed = claim(&tx, &due).await?;
        let mut usage = Tally::default();
        let mut out = Vec::with_capacity(claimed.mappings.len());
        if !claimed.mappings.is_empty() {
            let run_ids: Vec<Uuid> = claimed.mappings.iter().map(|_| Uuid::now_v7()).collect();
            let insert = tx
                .prepare_cached(
                    "INSERT INTO sync_runs (id, org_id, mapping_id, status, trigger, mode)
                     SELECT u.id, u.o, u.m, 'pending', 'schedule', 'incremental'
                     FROM unnest($1::uuid[], $2::uuid[], $3::uuid[]) AS u(id, o, m)
                     ON CONFLICT DO NOTHING RETURNING id",
                )
                .await?;
            let created: HashSet<Uuid> = tx
                .query(&insert, &[&run_ids, &claimed.orgs, &claimed.mappings])
                .await?
                .iter()
                .map(|r| r.get(0))
                .collect();
            let mut skipped = FireColumns::default();
            for (i, run) in run_ids.iter().enumerate() {
                let (org_id, mapping_id, fire_at) =
                    (claimed.orgs[i], claimed.mappings[i], claimed.times[i]);
                let outcome = if created.contains(run) {
                    usage.add(org_id, mapping_id, &Usage::runs(SyncTrigger::Schedule, 1));
                    ClaimOutcome::Run(*run)
                } else {
                    skipped.push(org_id, mapping_id, fire_at);
                    ClaimOutcome::Skipped
                };
                out.push(ClaimedFire {
                    org_id,
                    mapping_id,
                    fire_at,
                    outcome,
                });
            }
            if !skipped.mappings.is_empty() {
                let skip = tx
                    .prepare_cached(
                        "UPDATE schedule_fires f SET status = 'skipped', reason = $4, recorded_at = clock_timestamp()
                         FROM unnest($1::uuid[], $2::uuid[], $3::timestamptz[]) AS u(o, m, t)
                         WHERE f.org_id = u.o AND f.mapping_id = u.m AND f.fire_at = u.t",
                    )
                    .await?;
                tx.execute(
                    &skip,
                    &[
                        &skipped.orgs,
                        &skipped.mappings,
                        &skipped.times,
                        &SKIP_REASON,
                    ],
                )
                .await?;
            }
        }
        if !ids.is_empty() {
            let advance = tx
                .prepare_cached(
                    "UPDATE mappings m SET next_fire_at = u.n
                     FROM unnest($1::uuid[], $2::uuid[], $3::timestamptz[]) AS u(o, id, n)
                     WHERE m.org_id = u.o AND m.id = u.id",
                )
                .await?;
            tx.execute(&advance, &[&orgs, &ids, &next]).await?;
        }
        usage.count_in(&tx).await?;
        tx.commit().await?;
        Ok(DueBatch {
            looked_at: rows.len(),
            claimed: out,
        })
    }

    /// The runs of these claimed fires were published: each fire is `fired` with its run.
    pub async fn record_fires_fired(&self, fires: &[ClaimedFire]) -> Result<(), StoreError> {
        let mut cols = FireColumns::default();
        let mut runs = Vec::new();
        for f in fires {
            if let ClaimOutcome::Run(run) = f.outcome {
                cols.push(f.org_id, f.mapping_id, f.fire_at);
                runs.push(run);
            }
        }
        if runs.is_empty() {
            return Ok(());
        }
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(
                "UPDATE schedule_fires f SET status = 'fired', sync_id = u.s, recorded_at = clock_timestamp()
                 FROM unnest($1::uuid[], $2::uuid[], $3::timestamptz[], $4::uuid[]) AS u(o, m, t, s)
                 WHERE f.org_id = u.o AND f.mapping_id = u.m AND f.fire_at = u.t",
            )
            .await?;
        client
            .execute(&stmt, &[&cols.orgs, &cols.mappings, &cols.times, &runs])
            .await?;
        Ok(())
    }

    /// Gives claims back because their jobs could not be published: their pending runs are
    /// discarded, the claims deleted, and each mapping is due again at the released fire time, so
    /// a later tick (on any replica) retries it.
    pub async fn release_fires(&self, fires: &[ClaimedFire]) -> Result<(), StoreError> {
        let mut cols = FireColumns::default();
        let (mut run_orgs, mut runs) = (Vec::new(), Vec::new());
        for f in fires {
            cols.push(f.org_id, f.mapping_id, f.fire_at);
            if let ClaimOutcome::Run(run) = f.outcome {
                run_orgs.push(f.org_id);
                runs.push(run);
            }
        }
        if cols.mappings.is_empty() {
            return Ok(());
        }
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let discarded = tx
            .query(
                "DELETE FROM sync_runs r USING unnest($1::uuid[], $2::uuid[]) AS u(o, id)
                 WHERE r.org_id = u.o AND r.id = u.id AND r.status = 'pending'
                 RETURNING r.mapping_id, r.trigger, (r.created_at AT TIME ZONE 'UTC')::date, r.org_id",
                &[&run_orgs, &runs],
            )
            .await?;
        tx.execute(
            "DELETE FROM schedule_fires f USING unnest($1::uuid[], $2::uuid[], $3::timestamptz[]) AS u(o, m, t)
             WHERE f.org_id = u.o AND f.mapping_id = u.m AND f.fire_at = u.t AND f.status = 'claimed'",
            &[&cols.orgs, &cols.mappings, &cols.times],
        )
        .await?;
        tx.execute(
            "UPDATE mappings m SET next_fire_at = LEAST(m.next_fire_at, u.t)
             FROM unnest($1::uuid[], $2::uuid[], $3::timestamptz[]) AS u(o, id, t)
             WHERE m.org_id = u.o AND m.id = u.id AND m.next_fire_at IS NOT NULL",
            &[&cols.orgs, &cols.mappings, &cols.times],
        )
        .await?;
        // The discarded runs leave the usage they were counted in, in key order (see `usage`).
        let mut discarded: Vec<_> = discarded.iter().collect();
        discarded.sort_by_key(|r| (r.get::<_, Uuid>(3), r.get::<_, Uuid>(0)));
        for r in discarded {
            crate::syncs::uncount_run(&tx, r.get(3), r).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Claims one fire time of a mapping; false when another replica (or an earlier tick) has it.
    pub async fn claim_fire(
        &self,
        org_id: Uuid,
        mapping_id: Uuid,
        fire_at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let n = self
            .client()
            .await?
            .execute(
                "INSERT INTO schedule_fires (org_id, mapping_id, fire_at, status)
                 VALUES ($1, $2, $3, 'claimed') ON CONFLICT (mapping_id, fire_at) DO NOTHING",
                &[&org_id, &mapping_id, &fire_at],
            )
            .await?;
        Ok(n == 1)
    }

    /// The newest fire time recorded for a mapping (any status).
    pub async fn last_fire(
        &self,
        org_id: Uuid,
        mapping_id: Uuid,
    ) -> Result<Option<DateTime<Utc>>, StoreError> {
        let row = self
            .client()
            .await?
            .query_one(
                "SELECT max(fire_at) FROM schedule_fires WHERE org_id = $1 AND mapping_id = $2",
                &[&org_id, &mapping_id],
            )
            .await?;
        Ok(row.get(0))
    }
}

/// Inserts the claims; returns the ones this transaction won (another replica or an earlier
/// tick may hold some already).
async fn claim(
    tx: &deadpool_postgres::Transaction<'_>,
    due: &FireColumns,
) -> Result<FireColumns, StoreError> {
    let mut won = FireColumns::default();
    if due.mappings.is_empty() {
        return Ok(won);
    }
    let stmt = tx
        .prepare_cached(
            "INSERT INTO schedule_fires (org_id, mapping_id, fire_at, status)
             SELECT u.o, u.m, u.t, 'claimed' FROM unnest($1::uuid[], $2::uuid[], $3::timestamptz[]) AS u(o, m, t)
             ON CONFLICT (mapping_id, fire_at) DO NOTHING
             RETURNING org_id, mapping_id, fire_at",
        )
        .await?;
    for r in tx
        .query(&stmt, &[&due.orgs, &due.mappings, &due.times])
        .await?
    {
        won.push(r.get(0), r.get(1), r.get(2));
    }
    Ok(won)
}
