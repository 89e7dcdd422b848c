//! Usage per organization: counters per UTC day and mapping (`usage_daily`), bumped by one upsert
//! inside each transaction that commits the work, and the read behind `GET /v1/usage`.
//!
//! Every bump is the last statement of its transaction (the row lock lives until the commit), and a
//! transaction bumping several rows does so in (org, mapping) order, so two never deadlock on them.
//! Batch commits, the hot path, spread over [`SHARDS`] rows per (org, day, mapping), and the
//! organization-wide counters over as many (each transaction takes at most one shard of a key).

use std::collections::BTreeMap;

use chrono::NaiveDate;
use deadpool_postgres::GenericClient;
use fluxcascade_core::{Counts, SyncTrigger};
use uuid::Uuid;

use crate::{Store, StoreError};

/// The `mapping_id` of what belongs to the organization as a whole (webhook events received,
/// outbound deliveries).
pub const ORG_WIDE: Uuid = Uuid::nil();

/// Rows a mapping's day is spread over for batch commits (`shard` = batch number modulo this),
/// and the organization-wide row for webhook events and deliveries ([`CONNECTION_SHARD`]).
/// Concurrent commits of one run's batches mostly take different rows: with one row each commit
/// waited for the previous one's WAL flush (16 committers on one mapping: ~350 batches/s against
/// ~700 with no usage at all, ~670 with 8 rows; 100-record batches, local Postgres). Reads sum
/// the shards.
pub const SHARDS: i32 = 8;

/// The shard a batch's records are counted in.
pub(crate) fn batch_shard(batch_no: i32) -> Option<i16> {
    // rem_euclid keeps it in 0..SHARDS, which fits an i16.
    Some(batch_no.rem_euclid(SHARDS) as i16)
}

/// The shard of the organization-wide row, which every webhook-intake and finalising transaction
/// of the org bumps: the connection's (`pg_backend_pid()` mod [`SHARDS`]), so concurrent
/// transactions (on different connections) mostly take different rows while one transaction
/// always takes the same one, keeping the (org, mapping) lock order.
pub(crate) const CONNECTION_SHARD: Option<i16> = None;

/// What was used (or, negated, given back): one row's worth of counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Usage {
    pub records_read: i64,
    pub records_created: i64,
    pub records_updated: i64,
    /// Tombstones applied (twin archived or link removed).
    pub records_deleted: i64,
    pub records_skipped: i64,
    pub records_failed: i64,
    pub runs_manual: i64,
    pub runs_schedule: i64,
    pub runs_webhook: i64,
    pub webhook_events: i64,
    pub deliveries: i64,
}

impl Usage {
    /// A committed batch's record counts.
    pub fn records(c: &Counts) -> Usage {
        let n = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        Usage {
            records_read: n(c.read),
            records_created: n(c.created),
            records_updated: n(c.updated),
            records_skipped: n(c.skipped),
            records_failed: n(c.failed),
            records_deleted: n(c.deleted),
            ..Usage::default()
        }
    }

    /// `n` runs of one trigger.
    pub fn runs(trigger: SyncTrigger, n: i64) -> Usage {
        let mut u = Usage::default();
        match trigger {
            SyncTrigger::Manual => u.runs_manual = n,
            SyncTrigger::Schedule => u.runs_schedule = n,
            SyncTrigger::Webhook => u.runs_webhook = n,
        }
        u
    }

    pub fn webhook_events(n: i64) -> Usage {
        Usage {
            webhook_events: n,
            ..Usage::default()
        }
    }

    pub fn deliveries(n: i64) -> Usage {
        Usage {
            deliveries: n,
            ..Usage::default()
        }
    }

    /// Runs of every trigger.
    pub fn runs_total(&self) -> i64 {
        self.runs_manual + self.runs_schedule + self.runs_webhook
    }

    pub fn add(&mut self, o: &Usage) {
        self.records_read += o.records_read;
        self.records_created += o.records_created;
        self.records_updated += o.records_updated;
        self.records_deleted += o.records_deleted;
        self.records_skipped += o.records_skipped;
        self.records_failed += o.records_failed;
        self.runs_manual += o.runs_manual;
        self.runs_schedule += o.runs_schedule;
        self.runs_webhook += o.runs_webhook;
        self.webhook_events += o.webhook_events;
        self.deliveries += o.deliveries;
    }

    pub fn is_zero(&self) -> bool {
        *self == Usage::default()
    }

    fn from_row(r: &tokio_postgres::Row, first: usize) -> Usage {
        let n = |i: usize| r.get::<_, i64>(first + i);
        Usage {
            records_read: n(0),
            records_created: n(1),
            records_updated: n(2),
            records_deleted: n(3),
            records_skipped: n(4),
            records_failed: n(5),
            runs_manual: n(6),
            runs_schedule: n(7),
            runs_webhook: n(8),
            webhook_events: n(9),
            deliveries: n(10),
        }
    }
}

/// Adds `u` to the row of (`org_id`, `day`, `mapping_id`) in one statement; `day` None: today
/// (UTC, at the transaction's start). Call it last in the transaction.
pub(crate) async fn count_in<C: GenericClient>(
    c: &C,
    org_id: Uuid,
    mapping_id: Uuid,
    day: Option<NaiveDate>,
    u: &Usage,
) -> Result<(), StoreError> {
    count_in_shard(c, org_id, mapping_id, day, Some(0), u).await
}

/// [`count_in`] on one of the row's [`SHARDS`] (None: [`CONNECTION_SHARD`]).
pub(crate) async fn count_in_shard<C: GenericClient>(
    c: &C,
    org_id: Uuid,
    mapping_id: Uuid,
    day: Option<NaiveDate>,
    shard: Option<i16>,
    u: &Usage,
) -> Result<(), StoreError> {
    if u.is_zero() {
        return Ok(());
    }
    let stmt = c
        .prepare_cached(&format!(
            "INSERT INTO usage_daily (org_id, day, mapping_id, records_read, records_created,
                records_updated, records_deleted, records_skipped, records_failed, runs_manual,
                runs_schedule, runs_webhook, webhook_events, deliveries, shard)
             VALUES ($1, COALESCE($2::date, (now() AT TIME ZONE 'UTC')::date), $3, $4, $5, $6, $7, $8,
                $9, $10, $11, $12, $13, $14, COALESCE($15::smallint, (pg_backend_pid() % {SHARDS})::smallint))
             ON CONFLICT (org_id, day, mapping_id, shard) DO UPDATE SET
                records_read = usage_daily.records_read + EXCLUDED.records_read,
                records_created = usage_daily.records_created + EXCLUDED.records_created,
                records_updated = usage_daily.records_updated + EXCLUDED.records_updated,
                records_deleted = usage_daily.records_deleted + EXCLUDED.records_deleted,
                records_skipped = usage_daily.records_skipped + EXCLUDED.records_skipped,
                records_failed = usage_daily.records_failed + EXCLUDED.records_failed,
                runs_manual = usage_daily.runs_manual + EXCLUDED.runs_manual,
                runs_schedule = usage_daily.runs_schedule + EXCLUDED.runs_schedule,
                runs_webhook = usage_daily.runs_webhook + EXCLUDED.runs_webhook,
                webhook_events = usage_daily.webhook_events + EXCLUDED.webhook_events,
                deliveries = usage_daily.deliveries + EXCLUDED.deliveries",
        ))
        .await?;
    c.execute(
        &stmt,
        &[
            &org_id,
            &day,
            &mapping_id,
            &u.records_read,
            &u.records_created,
            &u.records_updated,
            &u.records_deleted,
            &u.records_skipped,
            &u.records_failed,
            &u.runs_manual,
            &u.runs_schedule,
            &u.runs_webhook,
            &u.webhook_events,
            &u.deliveries,
            &shard,
        ],
    )
    .await?;
    Ok(())
}

/// Today's usage of several (org, mapping) rows, bumped in key order (see the module docs).
#[derive(Debug, Default)]
pub(crate) struct Tally(BTreeMap<(Uuid, Uuid), Usage>);

impl Tally {
    pub fn add(&mut self, org_id: Uuid, mapping_id: Uuid, u: &Usage) {
        self.0.entry((org_id, mapping_id)).or_default().add(u);
    }

    pub async fn count_in<C: GenericClient>(&self, c: &C) -> Result<(), StoreError> {
        for ((org_id, mapping_id), u) in &self.0 {
            let shard = if *mapping_id == ORG_WIDE {
                CONNECTION_SHARD
            } else {
                Some(0)
            };
            count_in_shard(c, *org_id, *mapping_id, None, shard, u).await?;
        }
        Ok(())
    }
}

/// One day of an organization's usage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageDay {
    pub day: NaiveDate,
    pub usage: Usage,
}

/// One mapping's usage over a range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappingUsage {
    pub mapping_id: Uuid,
    /// None only once the mapping's row was purged (a deleted mapping keeps it; its usage stays).
    pub mapping_name: Option<String>,
    pub usage: Usage,
}

/// An organization's usage over `from..=to`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageReport {
    /// Every day of the range, oldest first, zero where nothing was used.
    pub days: Vec<UsageDay>,
    pub total: Usage,
    /// Mappings that used anything in the range, by name.
    pub by_mapping: Vec<MappingUsage>,
}

const SUMS: &str =
    "COALESCE(sum(records_read), 0)::bigint, COALESCE(sum(records_created), 0)::bigint,
    COALESCE(sum(records_updated), 0)::bigint, COALESCE(sum(records_deleted), 0)::bigint,
    COALESCE(sum(records_skipped), 0)::bigint, COALESCE(sum(records_failed), 0)::bigint,
    COALESCE(sum(runs_manual), 0)::bigint, COALESCE(sum(runs_schedule), 0)::bigint,
    COALESCE(sum(runs_webhook), 0)::bigint, COALESCE(sum(webhook_events), 0)::bigint,
    COALESCE(sum(deliveries), 0)::bigint";

impl Store {
    /// `org_id`'s usage from `from` through `to` (UTC days, both included).
    pub async fn usage(
        &self,
        org_id: Uuid,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<UsageReport, StoreError> {
        let client = self.client().await?;
        let per_day = client
            .query(
                &format!(
                    "SELECT day, {SUMS} FROM usage_daily
                     WHERE org_id = $1 AND day BETWEEN $2 AND $3 GROUP BY day"
                ),
                &[&org_id, &from, &to],
            )
            .await?;
        let mut by_day: BTreeMap<NaiveDate, Usage> = per_day
            .iter()
            .map(|r| (r.get(0), Usage::from_row(r, 1)))
            .collect();
        let per_mapping = client
            .query(
                &format!(
                    "SELECT u.mapping_id, (SELECT m.name FROM mappings m WHERE m.org_id = $1 AND m.id = u.mapping_id), {SUMS}
                     FROM usage_daily u
                     WHERE u.org_id = $1 AND u.day BETWEEN $2 AND $3 AND u.mapping_id <> $4
                     GROUP BY u.mapping_id"
                ),
                &[&org_id, &from, &to, &ORG_WIDE],
            )
            .await?;
        let mut by_mapping: Vec<MappingUsage> = per_mapping
            .iter()
            .map(|r| MappingUsage {
                mapping_id: r.get(0),
                mapping_name: r.get(1),
                usage: Usage::from_row(r, 2),
            })
            .collect();
        by_mapping.sort_by(|a, b| {
            (a.mapping_name.is_none(), &a.mapping_name, a.mapping_id).cmp(&(
                b.mapping_name.is_none(),
                &b.mapping_name,
                b.mapping_id,
            ))
        });
        let mut total = Usage::default();
        let mut days = Vec::new();
        for day in from.iter_days().take_while(|d| *d <= to) {
            let usage = by_day.remove(&day).unwrap_or_default();
            total.add(&usage);
            days.push(UsageDay { day, usage });
        }
        Ok(UsageReport {
            days,
            total,
            by_mapping,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_counts_its_records_and_nothing_else() {
        let u = Usage::records(&Counts {
            read: 10,
            created: 4,
            updated: 3,
            skipped: 2,
            failed: 1,
            deleted: 5,
        });
        assert_eq!(
            (
                u.records_read,
                u.records_created,
                u.records_updated,
                u.records_skipped,
                u.records_failed
            ),
            (10, 4, 3, 2, 1)
        );
        assert_eq!((u.records_deleted, u.runs_total(), u.deliveries), (5, 0, 0));
    }

    #[test]
    fn runs_count_under_their_trigger() {
        let mut u = Usage::runs(SyncTrigger::Schedule, 2);
        u.add(&Usage::runs(SyncTrigger::Webhook, 1));
        u.add(&Usage::runs(SyncTrigger::Manual, -1));
        assert_eq!((u.runs_manual, u.runs_schedule, u.runs_webhook), (-1, 2, 1));
        assert_eq!(u.runs_total(), 2);
    }
}
