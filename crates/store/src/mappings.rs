//! Mappings: the submitted spec (field pairs, match, schedule) stored as JSON beside its connections.

use chrono::{DateTime, Utc};
use fluxcascade_core::MappingSpec;
use uuid::Uuid;

use crate::{Store, StoreError};

#[derive(Debug, Clone)]
pub struct MappingRow {
    pub id: Uuid,
    pub org_id: Uuid,
    pub spec: MappingSpec,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl MappingRow {
    pub fn source_connection(&self) -> Result<Uuid, StoreError> {
        Uuid::parse_str(&self.spec.source.connection_id)
            .map_err(|e| StoreError::Corrupt(e.to_string()))
    }
    pub fn target_connection(&self) -> Result<Uuid, StoreError> {
        Uuid::parse_str(&self.spec.target.connection_id)
            .map_err(|e| StoreError::Corrupt(e.to_string()))
    }
}

const COLUMNS: &str = "id, org_id, spec, created_at, updated_at";

fn row_to_mapping(r: &tokio_postgres::Row) -> Result<MappingRow, StoreError> {
    let spec: serde_json::Value = r.get(2);
    Ok(MappingRow {
        id: r.get(0),
        org_id: r.get(1),
        spec: serde_json::from_value(spec)
            .map_err(|e| StoreError::Corrupt(format!("mapping spec: {e}")))?,
        created_at: r.get(3),
        updated_at: r.get(4),
    })
}

/// Whether the scheduler must look at the mapping: enabled with a schedule. A mapping whose
/// schedule is set, changed or enabled gets `next_fire_at = now()` (the next tick computes its fire
/// times); one without gets NULL and is never read by the scheduler.
fn is_scheduled(spec: &MappingSpec) -> bool {
    spec.enabled && spec.schedule.is_some()
}

fn parse_ids(spec: &MappingSpec) -> Result<(Uuid, Uuid), StoreError> {
    let s = Uuid::parse_str(&spec.source.connection_id).map_err(|_| StoreError::NotFound)?;
    let t = Uuid::parse_str(&spec.target.connection_id).map_err(|_| StoreError::NotFound)?;
    Ok((s, t))
}

impl Store {
    /// Stores a validated spec. The caller has checked both connections belong to `org_id`.
    pub async fn create_mapping(
        &self,
        org_id: Uuid,
        spec: &MappingSpec,
    ) -> Result<MappingRow, StoreError> {
        let (source, target) = parse_ids(spec)?;
        let json = serde_json::to_value(spec).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let row = self
            .client()
            .await?
            .query_one(
                &format!(
                    "INSERT INTO mappings (id, org_id, name, source_connection_id, target_connection_id, spec, enabled,
                        next_fire_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, CASE WHEN $8 THEN now() END) RETURNING {COLUMNS}"
                ),
                &[&Uuid::now_v7(), &org_id, &spec.name, &source, &target, &json, &spec.enabled, &is_scheduled(spec)],
            )
            .await?;
        row_to_mapping(&row)
    }

    /// Replaces a mapping's spec (PATCH merges on the caller's side). The scheduler's wake-up
    /// time is reset only when the schedule or `enabled` changes.
    pub async fn update_mapping(
        &self,
        org_id: Uuid,
        id: Uuid,
        spec: &MappingSpec,
    ) -> Result<MappingRow, StoreError> {
        let (source, target) = parse_ids(spec)?;
        let json = serde_json::to_value(spec).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let row = self
            .client()
            .await?
            .query_opt(
                &format!(
                    "UPDATE mappings SET name = $3, source_connection_id = $4, target_connection_id = $5, spec = $6,
                        enabled = $7, updated_at = now(),
                        next_fire_at = CASE
                            WHEN NOT $8 THEN NULL
                            WHEN next_fire_at IS NULL OR spec->'schedule' IS DISTINCT FROM $6::jsonb->'schedule' THEN now()
                            ELSE next_fire_at END
                     WHERE org_id = $1 AND id = $2 AND deleted_at IS NULL RETURNING {COLUMNS}"
                ),
                &[&org_id, &id, &spec.name, &source, &target, &json, &spec.enabled, &is_scheduled(spec)],
            )
            .await?
            .ok_or(StoreError::NotFound)?;
        row_to_mapping(&row)
    }

    pub async fn get_mapping(
        &self,
        org_id: Uuid,
        id: Uuid,
    ) -> Result<Option<MappingRow>, StoreError> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM mappings WHERE org_id = $1 AND id = $2 AND deleted_at IS NULL"
            ))
            .await?;
        let row = client.query_opt(&stmt, &[&org_id, &id]).await?;
        row.as_ref().map(row_to_mapping).transpose()
    }

    pub async fn list_mappings(
        &self,
        org_id: Uuid,
        limit: i64,
        after: Option<Uuid>,
    ) -> Result<Vec<MappingRow>, StoreError> {
        let rows = self
            .client()
            .await?
            .query(
                &format!(
                    "SELECT {COLUMNS} FROM mappings WHERE org_id = $1 AND deleted_at IS NULL
                       AND ($2::uuid IS NULL OR id > $2) ORDER BY id LIMIT $3"
                ),
                &[&org_id, &after, &limit],
            )
            .await?;
        rows.iter().map(row_to_mapping).collect()
    }

    /// Soft-deletes a mapping; refuses (Conflict) while one of its syncs is running.
    pub async fn delete_mapping(&self, org_id: Uuid, id: Uuid) -> Result<bool, StoreError> {
        let client = self.client().await?;
        let active = client
            .query_opt(
                "SELECT id FROM sync_runs WHERE org_id = $1 AND mapping_id = $2 AND status IN ('pending', 'running')",
                &[&org_id, &id],
            )
            .await?;
        if active.is_some() {
            return Err(StoreError::Conflict(
                "a sync of this mapping is running; try again when it ends".into(),
            ));
        }
        let n = client
            .execute(
                "UPDATE mappings SET deleted_at = now(), enabled = false, next_fire_at = NULL WHERE org_id = $1 AND id = $2 AND deleted_at IS NULL",
                &[&org_id, &id],
            )
            .await?;
        Ok(n == 1)
    }
}
