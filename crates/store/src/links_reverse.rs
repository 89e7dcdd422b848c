//! Create intents of the reverse leg: target records about to be created on the source, keyed by
//! target id (the source id is unknown until the create), settled when their batch commits.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::{Store, StoreError};

/// A reverse create that an earlier attempt may have sent to the source provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReverseIntent {
    pub target_id: String,
    /// Hash, in the link's projection, of the values the created source record shows.
    pub match_hash: String,
    pub pending_since: DateTime<Utc>,
}

impl Store {
    /// Records, before creating them on the source, that these target records are about to be
    /// created with these match hashes. An existing intent keeps its (older) `pending_since`.
    #[tracing::instrument(level = "debug", name = "store.write_reverse_intents", skip_all, fields(otel.kind = "client", db.system = "postgresql", db.operation.name = "write_reverse_intents", org_id = %org_id, mapping_id = %mapping_id, intents = intents.len()))]
    pub async fn write_reverse_intents(
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
                "INSERT INTO reverse_create_intents (org_id, mapping_id, target_id, match_hash, pending_since)
                 SELECT $1, $2, t, h, now() FROM UNNEST($3::text[], $4::text[]) AS u(t, h)
                 ON CONFLICT (mapping_id, target_id) DO UPDATE SET match_hash = EXCLUDED.match_hash
                 WHERE reverse_create_intents.org_id = EXCLUDED.org_id",
                &[&org_id, &mapping_id, &ids, &hashes],
            )
            .await?;
        Ok(())
    }

    /// The unsettled reverse intents of these target records, by target id.
    #[tracing::instrument(level = "debug", name = "store.load_reverse_intents", skip_all, fields(otel.kind = "client", db.system = "postgresql", db.operation.name = "load_reverse_intents", org_id = %org_id, mapping_id = %mapping_id))]
    pub async fn load_reverse_intents(
        &self,
        org_id: Uuid,
        mapping_id: Uuid,
        target_ids: &[String],
    ) -> Result<HashMap<String, ReverseIntent>, StoreError> {
        let rows = self
            .client()
            .await?
            .query(
                "SELECT target_id, match_hash, pending_since FROM reverse_create_intents
                 WHERE org_id = $1 AND mapping_id = $2 AND target_id = ANY($3)",
                &[&org_id, &mapping_id, &target_ids],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| ReverseIntent {
                target_id: r.get(0),
                match_hash: r.get(1),
                pending_since: r.get(2),
            })
            .map(|i| (i.target_id.clone(), i))
            .collect())
    }

    /// Which of these source records are already linked (to any target record).
    #[tracing::instrument(level = "debug", name = "store.linked_sources", skip_all, fields(otel.kind = "client", db.system = "postgresql", db.operation.name = "linked_sources", org_id = %org_id, mapping_id = %mapping_id))]
    pub async fn linked_sources(
        &self,
        org_id: Uuid,
        mapping_id: Uuid,
        source_ids: &[String],
    ) -> Result<Vec<String>, StoreError> {
        let rows = self
            .client()
            .await?
            .query(
                "SELECT source_id FROM record_links
                 WHERE org_id = $1 AND mapping_id = $2 AND source_id = ANY($3)",
                &[&org_id, &mapping_id, &source_ids],
            )
            .await?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }
}

/// Settles the reverse intents of a committing target-side batch (inside its transaction): every
/// record of the batch was linked, failed or skipped, so none of its intents is in flight anymore.
pub(crate) async fn settle_reverse_intents(
    tx: &tokio_postgres::Transaction<'_>,
    org_id: Uuid,
    mapping_id: Uuid,
    target_ids: &[String],
) -> Result<(), StoreError> {
    if target_ids.is_empty() {
        return Ok(());
    }
    tx.execute(
        "DELETE FROM reverse_create_intents WHERE org_id = $1 AND mapping_id = $2 AND target_id = ANY($3)",
        &[&org_id, &mapping_id, &target_ids],
    )
    .await?;
    Ok(())
}
