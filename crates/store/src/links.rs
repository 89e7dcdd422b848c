//! Record links `(mapping, source id) ↔ target id`, create intents, and the atomic commit of a batch.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use deadpool_postgres::Object;
use fluxcascade_core::{Counts, Cursor, RecordError};
use uuid::Uuid;

use crate::{Store, StoreError};

#[derive(Debug, Clone, PartialEq)]
pub struct LinkRow {
    pub source_id: String,
    /// None while a create is in flight (a write-ahead intent).
    pub target_id: Option<String>,
    pub source_updated_at: Option<DateTime<Utc>>,
    pub target_updated_at: Option<DateTime<Utc>>,
    pub hash: String,
    pub pending_since: Option<DateTime<Utc>>,
}

/// A link to store when a batch commits.
#[derive(Debug, Clone)]
pub struct LinkWrite {
    pub source_id: String,
    pub target_id: String,
    pub source_updated_at: Option<DateTime<Utc>>,
    pub target_updated_at: Option<DateTime<Utc>>,
    pub hash: String,
}

/// Everything one batch job commits, in one transaction.
#[derive(Debug, Clone)]
pub struct BatchCommit {
    pub org_id: Uuid,
    pub sync_id: Uuid,
    pub mapping_id: Uuid,
    pub batch_no: i32,
    /// Which side the batch's records came from: `source` (forward leg) or `target` (reverse leg).
    pub side: &'static str,
    pub worker: String,
    pub counts: Counts,
    pub max_cursor: Option<Cursor>,
    pub links: Vec<LinkWrite>,
    /// Intents whose create failed: removed so a later run creates again.
    pub dropped_intents: Vec<String>,
    pub errors: Vec<RecordError>,
}

/// A held advisory lock on one batch of one run; released when the transaction ends
/// (or when the process dies and Postgres closes its connection).
pub struct BatchLock {
    pub(crate) client: Option<Object>,
}

impl BatchLock {
    pub async fn release(mut self) {
        if let Some(c) = self.client.take() {
            if c.batch_execute("ROLLBACK").await.is_err() {
                drop(Object::take(c));
            }
        }
    }
}

impl Drop for BatchLock {
    fn drop(&mut self) {
        if let Some(c) = self.client.take() {
            drop(Object::take(c));
        }
    }
}

const LINK_COLUMNS: &str =
    "source_id, target_id, source_updated_at, target_updated_at, hash, pending_since";

fn row_to_link(r: &tokio_postgres::Row) -> LinkRow {
    LinkRow {
        source_id: r.get(0),
        target_id: r.get(1),
        source_updated_at: r.get(2),
        target_updated_at: r.get(3),
        hash: r.get(4),
        pending_since: r.get(5),
    }
}

fn lock_keys(sync_id: Uuid, batch_no: i32) -> (i32, i32) {
    let b = sync_id.as_bytes();
    let mut h = [0u8; 4];
    for (i, byte) in b.iter().enumerate() {
        h[i % 4] ^= byte;
    }
    (i32::from_be_bytes(h), batch_no)
}

impl Store {
    /// Tries to take the batch's lock. None: another worker is processing the same batch right now.
    #[tracing::instrument(level = "debug", name = "store.try_lock_batch", skip_all, fields(otel.kind = "client", db.system = "postgresql", db.operation.name = "try_lock_batch", sync_id = %sync_id, batch_no))]
    pub async fn try_lock_batch(
        &self,
        sync_id: Uuid,
        batch_no: i32,
    ) -> Result<Option<BatchLock>, StoreError> {
        let client = self.client().await?;
        let (k1, k2) = lock_keys(sync_id, batch_no);
        client.batch_execute("BEGIN").await?;
        let stmt = client
            .prepare_cached("SELECT pg_try_advisory_xact_lock($1, $2)")
            .await?;
        let got: bool = client.query_one(&stmt, &[&k1, &k2]).await?.get(0);
        let lock = BatchLock {
            client: Some(client),
        };
        if got {
            Ok(Some(lock))
        } else {
            lock.release().await;
            Ok(None)
        }
    }

    /// Whether a batch of a run has already been committed.
    #[tracing::instrument(level = "debug", name = "store.batch_done", skip_all, fields(otel.kind = "client", db.system = "postgresql", db.operation.name = "batch_done", sync_id = %sync_id, batch_no))]
    pub async fn batch_done(&self, sync_id: Uuid, batch_no: i32) -> Result<bool, StoreError> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached("SELECT 1 FROM sync_batches WHERE sync_id = $1 AND batch_no = $2")
            .await?;
        Ok(client
            .query_opt(&stmt, &[&sync_id, &batch_no])
            .await?
            .is_some())
    }

    /// Links for these source records, by source id.
    #[tracing::instrument(level = "debug", name = "store.load_links", skip_all, fields(otel.kind = "client", db.system = "postgresql", db.operation.name = "load_links", org_id = %org_id, mapping_id = %mapping_id))]
    pub async fn load_links(
        &self,
        org_id: Uuid,
        mapping_id: Uuid,
        source_ids: &[String],
    ) -> Result<HashMap<String, LinkRow>, StoreError> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(&format!(
                "SELECT {LINK_COLUMNS} FROM record_links WHERE org_id = $1 AND mapping_id = $2 AND source_id = ANY($3)"
            ))
            .await?;
        let rows = client
            .query(&stmt, &[&org_id, &mapping_id, &source_ids])
            .await?;
        Ok(rows
            .iter()
            .map(row_to_link)
            .map(|l| (l.source_id.clone(), l))
            .collect())
    }

    /// Links for these target records, by target id (the reverse leg).
    #[tracing::instrument(level = "debug", name = "store.load_links_by_target", skip_all, fields(otel.kind = "client", db.system = "postgresql", db.operation.name = "load_links_by_target", org_id = %org_id, mapping_id = %mapping_id))]
    pub async fn load_links_by_target(
        &self,
        org_id: Uuid,
        mapping_id: Uuid,
        target_ids: &[String],
    ) -> Result<HashMap<String, LinkRow>, StoreError> {
        let rows = self
            .client()
            .await?
            .query(
                &format!(
                    "SELECT {LINK_COLUMNS} FROM record_links WHERE org_id = $1 AND mapping_id = $2 AND target_id = ANY($3)"
                ),
                &[&org_id, &mapping_id, &target_ids],
            )
            .await?;
        Ok(rows
            .iter()
            .map(row_to_link)
            .filter_map(|l| Some((l.target_id.clone()?, l)))
            .collect())
    }

    /// Records, before creating them, that these source records are about to be created with
    /// these value hashes. A crash after the create leaves the intent for the next attempt to reconcile.
    #[tracing::instrument(level = "debug", name = "store.write_create_intents", skip_all, fields(otel.kind = "client", db.system = "postgresql", db.operation.name = "write_create_intents", org_id = %org_id, mapping_id = %mapping_id))]
    pub async fn write_create_intents(
        &self,
        org_id: Uuid,
        mapping_id: Uuid,
        intents: &[(String, String)],
    ) -> Result<(), StoreError> {
        if intents.is_empty() {
            return Ok(());
        }
        let (ids, hashes): (Vec<String>, Vec<String>) = intents.iter().cloned().unzip();
        self.client()
            .await?
            .execute(
                "INSERT INTO record_links (org_id, mapping_id, source_id, target_id, hash, pending_since)
                 SELECT $1, $2, s, NULL, h, now() FROM UNNEST($3::text[], $4::text[]) AS t(s, h)
                 ON CONFLICT (mapping_id, source_id) DO UPDATE SET hash = EXCLUDED.hash,
                    pending_since = COALESCE(record_links.pending_since, EXCLUDED.pending_since), updated_at = now()
                 WHERE record_links.target_id IS NULL",
                &[&org_id, &mapping_id, &ids, &hashes],
            )
            .await?;
        Ok(())
    }

    /// Commits a batch: its counts, errors and links, once. Returns false if the batch was
    /// already committed (a duplicate job), in which case nothing changes.
    #[tracing::instrument(level = "debug", name = "store.commit_batch", skip_all, fields(otel.kind = "client", db.system = "postgresql", db.operation.name = "commit_batch", org_id = %c.org_id, sync_id = %c.sync_id, batch_no = c.batch_no, links = c.links.len()))]
    pub async fn commit_batch(&self, c: &BatchCommit) -> Result<bool, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let insert = tx
            .prepare_cached(
                "INSERT INTO sync_batches (sync_id, batch_no, org_id, worker, read_count, created_count, updated_count,
                    skipped_count, failed_count, max_updated_at, max_id, side, deleted_count)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) ON CONFLICT DO NOTHING",
            )
            .await?;
        let inserted = tx
            .execute(
                &insert,
                &[
                    &c.sync_id,
                    &c.batch_no,
                    &c.org_id,
                    &c.worker,
                    &(c.counts.read as i32),
                    &(c.counts.created as i32),
                    &(c.counts.updated as i32),
                    &(c.counts.skipped as i32),
                    &(c.counts.failed as i32),
                    &c.max_cursor.as_ref().map(|k| k.updated_at),
                    &c.max_cursor.as_ref().map(|k| k.id.clone()),
                    &c.side,
                    &(c.counts.deleted as i32),
                ],
            )
            .await?;
        if inserted == 0 {
            return Ok(false);
        }
        if !c.links.is_empty() {
            let sources: Vec<&str> = c.links.iter().map(|l| l.source_id.as_str()).collect();
            let targets: Vec<&str> = c.links.iter().map(|l| l.target_id.as_str()).collect();
            let s_at: Vec<Option<DateTime<Utc>>> =
                c.links.iter().map(|l| l.source_updated_at).collect();
            let t_at: Vec<Option<DateTime<Utc>>> =
                c.links.iter().map(|l| l.target_updated_at).collect();
            let hashes: Vec<&str> = c.links.iter().map(|l| l.hash.as_str()).collect();
            let upsert = tx
                .prepare_cached(
                    "INSERT INTO record_links (org_id, mapping_id, source_id, target_id, source_updated_at,
                        target_updated_at, hash, pending_since)
                     SELECT $1, $2, s, t, sa, ta, h, NULL
                     FROM UNNEST($3::text[], $4::text[], $5::timestamptz[], $6::timestamptz[], $7::text[]) AS u(s, t, sa, ta, h)
                     ON CONFLICT (mapping_id, source_id) DO UPDATE SET target_id = EXCLUDED.target_id,
                        source_updated_at = EXCLUDED.source_updated_at, target_updated_at = EXCLUDED.target_updated_at,
                        hash = EXCLUDED.hash, pending_since = NULL, updated_at = now()",
                )
                .await?;
            tx.execute(
                &upsert,
                &[
                    &c.org_id,
                    &c.mapping_id,
                    &sources,
                    &targets,
                    &s_at,
                    &t_at,
                    &hashes,
                ],
            )
            .await?;
        }
        if !c.dropped_intents.is_empty() {
            tx.execute(
                "DELETE FROM record_links WHERE org_id = $1 AND mapping_id = $2 AND source_id = ANY($3)
                   AND target_id IS NULL",
                &[&c.org_id, &c.mapping_id, &c.dropped_intents],
            )
            .await?;
        }
        if c.side == "target" {
            // Every created, reconciled or failed record of a reverse batch leaves its intent here.
            let settled: Vec<String> = c
                .links
                .iter()
                .map(|l| l.target_id.clone())
                .chain(c.errors.iter().map(|e| e.record_id.clone()))
                .collect();
            crate::links_reverse::settle_reverse_intents(&tx, c.org_id, c.mapping_id, &settled)
                .await?;
        }
        if !c.errors.is_empty() {
            let ids: Vec<&str> = c.errors.iter().map(|e| e.record_id.as_str()).collect();
            let codes: Vec<&str> = c.errors.iter().map(|e| e.code.as_str()).collect();
            let msgs: Vec<&str> = c.errors.iter().map(|e| e.message.as_str()).collect();
            tx.execute(
                "INSERT INTO sync_errors (sync_id, org_id, record_id, code, message)
                 SELECT $1, $2, r, c, m FROM UNNEST($3::text[], $4::text[], $5::text[]) AS u(r, c, m)",
                &[&c.sync_id, &c.org_id, &ids, &codes, &msgs],
            )
            .await?;
        }
        // Last, so the usage row (one of the few the concurrent batches of this mapping share
        // today, see `usage::SHARDS`) stays locked only until the commit.
        let usage = crate::usage::Usage::records(&c.counts);
        let shard = crate::usage::batch_shard(c.batch_no);
        crate::usage::count_in_shard(&tx, c.org_id, c.mapping_id, None, shard, &usage).await?;
        tx.commit().await?;
        Ok(true)
    }
}
