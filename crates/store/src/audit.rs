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
