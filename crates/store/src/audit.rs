//! The audit log: who (member, key) did what (`mapping.updated`) to which target, with the names
//! of the fields an update changed — never their values, so no secret can land here.

use uuid::Uuid;

use crate::orgs::Principal;
use crate::{Store, StoreError};

/// One change to record. `action` is `<target type>.<verb>`, e.g. `mapping.updated`.
#[derive(Debug, Clone)]
pub struct AuditEvent<'a> {
    pub action: &'a str,
    pub target_type: &'a str,
    pub target_id: Option<Uuid>,
    /// For updates: the names of the fields that changed (sorted by the caller or not; stored as given).
    pub changed_fields: Vec<String>,
}

impl<'a> AuditEvent<'a> {
    /// An event on a target without changed fields (created, deleted, triggered, ...).
    pub fn new(action: &'a str, target_type: &'a str, target_id: Option<Uuid>) -> AuditEvent<'a> {
        AuditEvent {
            action,
            target_type,
            target_id,
            changed_fields: Vec::new(),
        }
    }

    /// The same event naming the fields an update changed.
    pub fn with_changed_fields(mut self, fields: Vec<String>) -> AuditEvent<'a> {
        self.changed_fields = fields;
        self
    }
}

/// Inserts an audit entry inside an open transaction (so the entry commits with the change).
pub async fn record_in(
    tx: &impl deadpool_postgres::GenericClient,
    actor: &Principal,
    event: &AuditEvent<'_>,
) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO audit_entries
           (id, org_id, actor_member_id, actor_key_id, action, target_type, target_id, changed_fields)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        &[
            &Uuid::now_v7(),
            &actor.org_id,
            &actor.member_id,
            &actor.key_id,
            &event.action,
            &event.target_type,
            &event.target_id,
            &event.changed_fields,
        ],
    )
    .await?;
    Ok(())
}

impl Store {
    /// Records an audit entry on its own (after the change committed).
    pub async fn record_audit(
        &self,
        actor: &Principal,
        event: &AuditEvent<'_>,
    ) -> Result<(), StoreError> {
        let client = self.client().await?;
        record_in(&client, actor, event).await
    }
}

/// One recorded entry, as `GET /v1/audit` shows it.
#[derive(Debug, Clone)]
pub struct AuditRow {
    pub id: Uuid,
    pub at: chrono::DateTime<chrono::Utc>,
    pub actor_member_id: Option<Uuid>,
    pub actor_key_id: Option<Uuid>,
    pub action: String,
    pub target_type: String,
    pub target_id: Option<Uuid>,
    pub changed_fields: Vec<String>,
}

/// Which entries a list shows.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub action: Option<String>,
    pub target_id: Option<Uuid>,
}

impl Store {
    /// Records an entry for a change no request's key made itself (an OAuth callback): the
    /// actor is `(member, key)` when known, else none.
    pub async fn record_audit_as(
        &self,
        org_id: Uuid,
        actor: Option<(Uuid, Uuid)>,
        event: &AuditEvent<'_>,
    ) -> Result<(), StoreError> {
        self.client()
            .await?
            .execute(
                "INSERT INTO audit_entries
                   (id, org_id, actor_member_id, actor_key_id, action, target_type, target_id, changed_fields)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                &[
                    &Uuid::now_v7(),
                    &org_id,
                    &actor.map(|a| a.0),
                    &actor.map(|a| a.1),
                    &event.action,
                    &event.target_type,
                    &event.target_id,
                    &event.changed_fields,
                ],
            )
            .await?;
        Ok(())
    }

    /// One page of the org's audit entries, newest first (`before`: the last id of the previous page).
    pub async fn list_audit(
        &self,
        org_id: Uuid,
        filter: &AuditFilter,
        limit: i64,
        before: Option<Uuid>,
    ) -> Result<Vec<AuditRow>, StoreError> {
        let rows = self
            .client()
            .await?
            .query(
                "SELECT id, at, actor_member_id, actor_key_id, action, target_type, target_id,
                        changed_fields
                 FROM audit_entries
                 WHERE org_id = $1 AND ($2::text IS NULL OR action = $2)
                   AND ($3::uuid IS NULL OR target_id = $3)
                   AND ($4::uuid IS NULL OR id < $4)
                 ORDER BY id DESC LIMIT $5",
                &[&org_id, &filter.action, &filter.target_id, &before, &limit],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| AuditRow {
                id: r.get(0),
                at: r.get(1),
                actor_member_id: r.get(2),
                actor_key_id: r.get(3),
                action: r.get(4),
                target_type: r.get(5),
                target_id: r.get(6),
                changed_fields: r.get(7),
            })
            .collect())
    }
}
