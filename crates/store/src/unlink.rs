//! Removing record links when a deletion is applied (`onDelete: archive | unlink`).

use uuid::Uuid;

use crate::{Store, StoreError};

/// Which side of the links the ids name: a tombstone read forward names the source record, one
/// read in the reverse leg names the target record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkSide {
    Source,
    Target,
}

impl Store {
    /// Removes the mapping's links of these records (by source or target id); returns how many
    /// went. Idempotent: a link already gone is not an error, so a redelivered batch may run it
    /// again.
    #[tracing::instrument(level = "debug", name = "store.remove_links", skip_all, fields(otel.kind = "client", db.system = "postgresql", db.operation.name = "remove_links", org_id = %org_id, mapping_id = %mapping_id, ids = ids.len()))]
    pub async fn remove_links(
        &self,
        org_id: Uuid,
        mapping_id: Uuid,
        side: LinkSide,
        ids: &[String],
    ) -> Result<u64, StoreError> {
        if ids.is_empty() {
            return Ok(0);
        }
        let sql = match side {
            LinkSide::Source => {
                "DELETE FROM record_links WHERE org_id = $1 AND mapping_id = $2 AND source_id = ANY($3)"
            }
            LinkSide::Target => {
                "DELETE FROM record_links WHERE org_id = $1 AND mapping_id = $2 AND target_id = ANY($3)"
            }
        };
        let client = self.client().await?;
        let stmt = client.prepare_cached(sql).await?;
        Ok(client.execute(&stmt, &[&org_id, &mapping_id, &ids]).await?)
    }
}
