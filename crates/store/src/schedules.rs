//! Schedule fires: which mappings are scheduled, claiming a fire time once across scheduler replicas, its outcome.

use chrono::{DateTime, Utc};
use fluxcascade_core::Schedule;
use uuid::Uuid;

use crate::{Store, StoreError};

/// An enabled, non-deleted mapping with a schedule, and the latest fire time recorded for it.
#[derive(Debug, Clone)]
pub struct ScheduledMapping {
    pub org_id: Uuid,
    pub mapping_id: Uuid,
    pub schedule: Schedule,
    pub created_at: DateTime<Utc>,
    /// The newest `fire_at` in `schedule_fires` (claimed, fired or skipped).
    pub last_fire: Option<DateTime<Utc>>,
}

impl Store {
    /// Every scheduled mapping across all orgs (the scheduler is a system role). Rows whose
    /// schedule does not parse are left out and logged.
    pub async fn list_scheduled_mappings(&self) -> Result<Vec<ScheduledMapping>, StoreError> {
        let rows = self
            .client()
            .await?
            .query(
                "SELECT m.org_id, m.id, m.spec->'schedule', m.created_at,
                        (SELECT max(f.fire_at) FROM schedule_fires f WHERE f.mapping_id = m.id)
                 FROM mappings m
                 WHERE m.enabled AND m.deleted_at IS NULL
                   AND jsonb_typeof(m.spec->'schedule') = 'object'
                 ORDER BY m.id",
                &[],
            )
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let mapping_id: Uuid = r.get(1);
            let schedule: serde_json::Value = r.get(2);
            match serde_json::from_value::<Schedule>(schedule) {
                Ok(schedule) => out.push(ScheduledMapping {
                    org_id: r.get(0),
                    mapping_id,
                    schedule,
                    created_at: r.get(3),
                    last_fire: r.get(4),
                }),
                Err(e) => {
                    tracing::warn!(mapping_id = %mapping_id, error = %e, "stored schedule does not parse")
                }
            }
        }
        Ok(out)
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

    /// The claimed fire started run `sync_id`.
    pub async fn record_fire_fired(
        &self,
        org_id: Uuid,
        mapping_id: Uuid,
        fire_at: DateTime<Utc>,
        sync_id: Uuid,
    ) -> Result<(), StoreError> {
        self.client()
            .await?
            .execute(
                "UPDATE schedule_fires SET status = 'fired', sync_id = $4
                 WHERE org_id = $1 AND mapping_id = $2 AND fire_at = $3",
                &[&org_id, &mapping_id, &fire_at, &sync_id],
            )
            .await?;
        Ok(())
    }

    /// The claimed fire started nothing, for `reason`.
    pub async fn record_fire_skipped(
        &self,
        org_id: Uuid,
        mapping_id: Uuid,
        fire_at: DateTime<Utc>,
        reason: &str,
    ) -> Result<(), StoreError> {
        self.client()
            .await?
            .execute(
                "UPDATE schedule_fires SET status = 'skipped', reason = $4
                 WHERE org_id = $1 AND mapping_id = $2 AND fire_at = $3",
                &[&org_id, &mapping_id, &fire_at, &reason],
            )
            .await?;
        Ok(())
    }

    /// Gives a claim back (its job could not be enqueued) so a later tick retries the fire time.
    pub async fn release_fire(
        &self,
        org_id: Uuid,
        mapping_id: Uuid,
        fire_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.client()
            .await?
            .execute(
                "DELETE FROM schedule_fires
                 WHERE org_id = $1 AND mapping_id = $2 AND fire_at = $3 AND status = 'claimed'",
                &[&org_id, &mapping_id, &fire_at],
            )
            .await?;
        Ok(())
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
