//! Provider webhooks: per-connection webhook secrets, routing look-ups, and the one transaction that
//! dedupes events by `(connection, event id)` and creates (or extends, or defers) webhook runs.
//!
//! Look-ups by provider account (`portalId`, Jobber `accountId`) and by connection id in a webhook
//! URL are the only queries here not scoped by an `org_id` the caller already has: they are how
//! a provider's call finds its tenant. Everything after them is scoped by the org they return.

use std::collections::BTreeMap;

use deadpool_postgres::Transaction;
use fluxcascade_core::{MappingSpec, SyncTrigger};
use uuid::Uuid;

use crate::usage::{self, Tally, Usage, ORG_WIDE};
use crate::{Store, StoreError};

/// A connection as a webhook receiver needs it (found by id, across orgs).
#[derive(Debug, Clone)]
pub struct HookConnection {
    pub id: Uuid,
    pub org_id: Uuid,
    pub provider: String,
    pub external_account_id: String,
    /// SHA-256 of the connection's webhook secret; None if it has none.
    pub secret_hash: Option<Vec<u8>>,
}

/// A live connection of a provider account (a portal can be connected by several orgs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccountConnection {
    pub id: Uuid,
    pub org_id: Uuid,
}

/// A mapping that touches one of the connections a delivery is for.
#[derive(Debug, Clone)]
pub struct HookMapping {
    pub id: Uuid,
    pub org_id: Uuid,
    pub spec: MappingSpec,
}

/// One provider event for one connection, with where it goes: `(mapping, side)` pairs, where side
/// `source` means the record is on the mapping's source (forward leg), `target` the reverse leg.
#[derive(Debug, Clone)]
pub struct RoutedEvent {
    pub connection_id: Uuid,
    pub org_id: Uuid,
    pub event_id: String,
    pub record_id: String,
    pub routes: Vec<(Uuid, &'static str)>,
}

/// A webhook run whose sync job must be published.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunToPublish {
    pub sync_id: Uuid,
    pub org_id: Uuid,
    pub mapping_id: Uuid,
}

/// What one delivery's transaction did.
#[derive(Debug, Default, Clone)]
pub struct WebhookOutcome {
    /// Events seen for the first time.
    pub fresh: usize,
    /// Events already recorded (redeliveries): nothing was done for them.
    pub duplicates: usize,
    /// Runs created, plus pending runs extended that waited too long to be started (republished).
    pub publish: Vec<RunToPublish>,
    /// Mappings whose ids were deferred because a run of theirs is going.
    pub deferred: Vec<(Uuid, Uuid)>,
}

/// Pending webhook runs older than this are republished when an event extends them (their first
/// publish may have been lost with a worker that died before it).
const STALE_PENDING_SECONDS: f64 = 10.0;

#[derive(Default)]
struct Ids {
    org_id: Uuid,
    source: Vec<String>,
    target: Vec<String>,
}

impl Store {
    /// Stores the SHA-256 of a connection's new webhook secret.
    pub async fn set_webhook_secret_hash(
        &self,
        org_id: Uuid,
        connection_id: Uuid,
        hash: &[u8],
    ) -> Result<(), StoreError> {
        self.client()
            .await?
            .execute(
                "UPDATE connections SET webhook_secret_hash = $3, updated_at = now()
                 WHERE org_id = $1 AND id = $2",
                &[&org_id, &connection_id, &hash],
            )
            .await?;
        Ok(())
    }

    /// Fills a connection's provider account id (portal id, Jobber account id) when it was empty.
    pub async fn fill_external_account_id(
        &self,
        org_id: Uuid,
        connection_id: Uuid,
        external_account_id: &str,
    ) -> Result<(), StoreError> {
        self.client()
            .await?
            .execute(
                "UPDATE connections SET external_account_id = $3, updated_at = now()
                 WHERE org_id = $1 AND id = $2 AND external_account_id = ''",
                &[&org_id, &connection_id, &external_account_id],
            )
            .await?;
        Ok(())
    }

    /// A live connection by id (one primary-key read), whatever its org: a webhook URL names it.
    pub async fn hook_connection(&self, id: Uuid) -> Result<Option<HookConnection>, StoreError> {
        let client = self.client().await?;
        // Read on every Pipedrive/Salesforce delivery: the cached statement makes it one round trip.
        let stmt = client
            .prepare_cached(
                "SELECT id, org_id, provider, external_account_id, webhook_secret_hash
                 FROM connections WHERE id = $1 AND deleted_at IS NULL",
            )
            .await?;
        let row = client.query_opt(&stmt, &[&id]).await?;
        Ok(row.map(|r| HookConnection {
            id: r.get(0),
            org_id: r.get(1),
            provider: r.get(2),
            external_account_id: r.get(3),
            secret_hash: r.get(4),
        }))
    }

    /// Live connections of a provider account; `account_ids` are the forms the id may take.
    #[tracing::instrument(level = "debug", name = "store.connections_for_account", skip_all, fields(otel.kind = "client", db.system = "postgresql", db.operation.name = "connections_for_account", provider = %provider))]
    pub async fn connections_for_account(
        &self,
        provider: &str,
        account_ids: &[String],
    ) -> Result<Vec<AccountConnection>, StoreError> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(
                "SELECT id, org_id FROM connections
                 WHERE provider = $1 AND external_account_id = ANY($2) AND external_account_id <> ''
                   AND deleted_at IS NULL",
            )
            .await?;
        let rows = client.query(&stmt, &[&provider, &account_ids]).await?;
        Ok(rows
            .iter()
            .map(|r| AccountConnection {
                id: r.get(0),
                org_id: r.get(1),
            })
            .collect())
    }

    /// The live mappings of `org_id` whose source or target is one of `connections`.
    #[tracing::instrument(level = "debug", name = "store.mappings_touching", skip_all, fields(otel.kind = "client", db.system = "postgresql", db.operation.name = "mappings_touching", org_id = %org_id))]
    pub async fn mappings_touching(
        &self,
        org_id: Uuid,
        connections: &[Uuid],
    ) -> Result<Vec<HookMapping>, StoreError> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(
                "SELECT id, org_id, spec FROM mappings
                 WHERE org_id = $1 AND deleted_at IS NULL AND enabled
                   AND (source_connection_id = ANY($2) OR target_connection_id = ANY($2))",
            )
            .await?;
        let rows = client.query(&stmt, &[&org_id, &connections]).await?;
        rows.iter()
            .map(|r| {
                Ok(HookMapping {
                    id: r.get(0),
                    org_id: r.get(1),
                    spec: serde_json::from_value(r.get(2))
                        .map_err(|e| StoreError::Corrupt(format!("mapping spec: {e}")))?,
                })
            })
            .collect()
    }

    /// In one transaction: records every event (a redelivered one is a duplicate and ignored), then
    /// for each mapping gives the fresh events' ids (and any deferred ids) to its pending webhook
    /// run, or to a new pending run `trigger = webhook` created by `job_id`, or — while a run of the
    /// mapping is going — defers them. The caller publishes `publish` after the commit.
    #[tracing::instrument(level = "debug", name = "store.record_hook_events", skip_all, fields(otel.kind = "client", db.system = "postgresql", db.operation.name = "record_hook_events", events = events.len()))]
    pub async fn record_hook_events(
        &self,
        job_id: &str,
        events: &[RoutedEvent],
    ) -> Result<WebhookOutcome, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let mut out = WebhookOutcome::default();
        let mut per_mapping: BTreeMap<Uuid, Ids> = BTreeMap::new();
        let mut usage = Tally::default();
        let conns: Vec<Uuid> = events.iter().map(|e| e.connection_id).collect();
        let event_ids: Vec<&str> = events.iter().map(|e| e.event_id.as_str()).collect();
        let orgs: Vec<Uuid> = events.iter().map(|e| e.org_id).collect();
        let insert = tx
            .prepare_cached(
                "INSERT INTO webhook_events (connection_id, event_id, org_id, job_id)
                 SELECT c, e, o, $4 FROM unnest($1::uuid[], $2::text[], $3::uuid[]) AS t(c, e, o)
                 ON CONFLICT DO NOTHING RETURNING connection_id, event_id",
            )
            .await?;
        let inserted = tx
            .query(&insert, &[&conns, &event_ids, &orgs, &job_id])
            .await?;
        let mut fresh: std::collections::HashSet<(Uuid, String)> =
            inserted.iter().map(|r| (r.get(0), r.get(1))).collect();
        for e in events {
            // A key counts once: a second copy in the same delivery is a duplicate too.
            if !fresh.remove(&(e.connection_id, e.event_id.clone())) {
                out.duplicates += 1;
                continue;
            }
            out.fresh += 1;
            usage.add(e.org_id, ORG_WIDE, &Usage::webhook_events(1));
            for (mapping_id, side) in &e.routes {
                let ids = per_mapping.entry(*mapping_id).or_default();
                ids.org_id = e.org_id;
                let list = if *side == "target" {
                    &mut ids.target
                } else {
                    &mut ids.source
                };
                if !list.contains(&e.record_id) {
                    list.push(e.record_id.clone());
                }
            }
        }
        for (mapping_id, mut ids) in per_mapping {
            take_deferred(&tx, mapping_id, &mut ids).await?;
            let given = give_to_run(&tx, job_id, mapping_id, &ids).await?;
            if let Given::Created(_) = given {
                usage.add(
                    ids.org_id,
                    mapping_id,
                    &Usage::runs(SyncTrigger::Webhook, 1),
                );
            }
            match given {
                Given::Created(sync_id) | Given::Stale(sync_id) => out.publish.push(RunToPublish {
                    sync_id,
                    org_id: ids.org_id,
                    mapping_id,
                }),
                Given::Extended => {}
                Given::Busy => {
                    defer(&tx, mapping_id, &ids).await?;
                    out.deferred.push((ids.org_id, mapping_id));
                }
            }
        }
        usage.count_in(&tx).await?;
        tx.commit().await?;
        Ok(out)
    }

    /// Unfinished webhook runs created by `job_id` (a retried job republishes them: its first
    /// attempt may have died after the commit, before or while running them).
    pub async fn pending_runs_of_job(&self, job_id: &str) -> Result<Vec<RunToPublish>, StoreError> {
        let rows = self
            .client()
            .await?
            .query(
                "SELECT id, org_id, mapping_id FROM sync_runs
                 WHERE webhook_job_id = $1 AND status IN ('pending', 'running')",
                &[&job_id],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| RunToPublish {
                sync_id: r.get(0),
                org_id: r.get(1),
                mapping_id: r.get(2),
            })
            .collect())
    }

    /// Starts a webhook run with the mapping's deferred ids, if it has any and no run is going.
    pub async fn start_deferred_run(
        &self,
        org_id: Uuid,
        mapping_id: Uuid,
        job_id: &str,
    ) -> Result<Option<RunToPublish>, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let mut ids = Ids {
            org_id,
            ..Ids::default()
        };
        take_deferred(&tx, mapping_id, &mut ids).await?;
        if ids.source.is_empty() && ids.target.is_empty() {
            return Ok(None);
        }
        let sync_id = match give_to_run(&tx, job_id, mapping_id, &ids).await? {
            Given::Created(id) => {
                let run = Usage::runs(SyncTrigger::Webhook, 1);
                usage::count_in(&tx, org_id, mapping_id, None, &run).await?;
                Some(id)
            }
            Given::Stale(id) => Some(id),
            Given::Extended => None,
            Given::Busy => return Ok(None), // rolled back: the ids stay deferred
        };
        tx.commit().await?;
        Ok(sync_id.map(|sync_id| RunToPublish {
            sync_id,
            org_id,
            mapping_id,
        }))
    }

    /// Undoes a webhook run whose job could not be published: its ids go back to the deferred
    /// list and the pending run is removed, so the mapping is not blocked by a run nobody starts.
    pub async fn unpublished_webhook_run(
        &self,
        org_id: Uuid,
        sync_id: Uuid,
    ) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let row = tx
            .query_opt(
                "DELETE FROM sync_runs WHERE org_id = $1 AND id = $2 AND status = 'pending'
                 RETURNING mapping_id, trigger, (created_at AT TIME ZONE 'UTC')::date,
                    webhook_source_ids, webhook_target_ids",
                &[&org_id, &sync_id],
            )
            .await?;
        if let Some(r) = row {
            let ids = Ids {
                org_id,
                source: r.get::<_, Option<Vec<String>>>(3).unwrap_or_default(),
                target: r.get::<_, Option<Vec<String>>>(4).unwrap_or_default(),
            };
            defer(&tx, r.get(0), &ids).await?;
            crate::syncs::uncount_run(&tx, org_id, &r).await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

enum Given {
    Created(Uuid),
    /// Extended a pending run that has waited long enough to be republished.
    Stale(Uuid),
    Extended,
    Busy,
}

async fn take_deferred(
    tx: &Transaction<'_>,
    mapping_id: Uuid,
    ids: &mut Ids,
) -> Result<(), StoreError> {
    let stmt = tx
        .prepare_cached(
            "DELETE FROM webhook_deferred WHERE mapping_id = $1 RETURNING side, record_id",
        )
        .await?;
    let rows = tx.query(&stmt, &[&mapping_id]).await?;
    for r in rows {
        let (side, id): (String, String) = (r.get(0), r.get(1));
        let list = if side == "target" {
            &mut ids.target
        } else {
            &mut ids.source
        };
        if !list.contains(&id) {
            list.push(id);
        }
    }
    Ok(())
}

/// Extends the mapping's pending webhook run, or creates one; Busy if another run is going.
async fn give_to_run(
    tx: &Transaction<'_>,
    job_id: &str,
    mapping_id: Uuid,
    ids: &Ids,
) -> Result<Given, StoreError> {
    let select = tx
        .prepare_cached(
            "SELECT id, extract(epoch FROM now() - created_at)::float8 FROM sync_runs
             WHERE mapping_id = $1 AND status = 'pending' AND trigger = 'webhook' FOR UPDATE",
        )
        .await?;
    let pending = tx.query_opt(&select, &[&mapping_id]).await?;
    if let Some(r) = pending {
        let sync_id: Uuid = r.get(0);
        let age: f64 = r.get(1);
        tx.execute(
            "UPDATE sync_runs SET
                webhook_source_ids = ARRAY(SELECT DISTINCT unnest(COALESCE(webhook_source_ids, '{}') || $2::text[])),
                webhook_target_ids = ARRAY(SELECT DISTINCT unnest(COALESCE(webhook_target_ids, '{}') || $3::text[]))
             WHERE id = $1",
            &[&sync_id, &ids.source, &ids.target],
        )
        .await?;
        return Ok(if age > STALE_PENDING_SECONDS {
            Given::Stale(sync_id)
        } else {
            Given::Extended
        });
    }
    tx.batch_execute("SAVEPOINT webhook_run").await?;
    let sync_id = Uuid::now_v7();
    let insert = tx
        .prepare_cached(
            "INSERT INTO sync_runs (id, org_id, mapping_id, status, trigger, mode,
                webhook_source_ids, webhook_target_ids, webhook_job_id)
             VALUES ($1, $2, $3, 'pending', 'webhook', 'incremental', $4, $5, $6)",
        )
        .await?;
    let res = tx
        .execute(
            &insert,
            &[
                &sync_id,
                &ids.org_id,
                &mapping_id,
                &ids.source,
                &ids.target,
                &job_id,
            ],
        )
        .await;
    match res {
        Ok(_) => {
            tx.batch_execute("RELEASE SAVEPOINT webhook_run").await?;
            Ok(Given::Created(sync_id))
        }
        Err(e) if StoreError::is_unique_violation(&e) => {
            tx.batch_execute("ROLLBACK TO SAVEPOINT webhook_run")
                .await?;
            Ok(Given::Busy)
        }
        Err(e) => Err(e.into()),
    }
}

async fn defer(tx: &Transaction<'_>, mapping_id: Uuid, ids: &Ids) -> Result<(), StoreError> {
    for (side, list) in [("source", &ids.source), ("target", &ids.target)] {
        if list.is_empty() {
            continue;
        }
        tx.execute(
            "INSERT INTO webhook_deferred (org_id, mapping_id, side, record_id)
             SELECT $1, $2, $3, unnest($4::text[]) ON CONFLICT DO NOTHING",
            &[&ids.org_id, &mapping_id, &side, list],
        )
        .await?;
    }
    Ok(())
}
