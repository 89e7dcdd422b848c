//! The organization itself (name) and its members: list, change a role, remove.
//!
//! Architecture invariant: an org always keeps at least one Owner. Every change that could take
//! the last Owner away locks the org's Owner rows (`FOR UPDATE`, in id order) in its
//! transaction and counts them under the lock, so two Owners demoting each other at once are
//! serialised and the second is refused (`last_owner`).

use chrono::{DateTime, Utc};
use tokio_postgres::Row;
use uuid::Uuid;

use crate::audit::{record_in, AuditEvent};
use crate::orgs::{Principal, Role};
use crate::{Store, StoreError};

/// An organization as the API shows it.
#[derive(Debug, Clone)]
pub struct OrgRow {
    pub id: Uuid,
    pub name: String,
    pub created_at: DateTime<Utc>,
}

/// A member of an organization.
#[derive(Debug, Clone)]
pub struct MemberRow {
    pub id: Uuid,
    pub email: String,
    pub role: Role,
    pub created_at: DateTime<Utc>,
}

pub(crate) fn row_to_member(r: &Row) -> MemberRow {
    MemberRow {
        id: r.get("id"),
        email: r.get("email"),
        role: Role::from_db(r.get("role")),
        created_at: r.get("created_at"),
    }
}

/// Why a member change was refused.
#[derive(Debug, thiserror::Error)]
pub enum MemberError {
    #[error("no such member")]
    NotFound,
    #[error("the organization's last owner can be neither demoted nor removed")]
    LastOwner,
    #[error("only an owner may do this")]
    Forbidden,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<tokio_postgres::Error> for MemberError {
    fn from(e: tokio_postgres::Error) -> MemberError {
        MemberError::Store(e.into())
    }
}

/// Locks the org's Owner rows (in id order, so concurrent lockers cannot deadlock) and returns
/// their ids as they are once the lock is held.
async fn lock_owners(
    tx: &impl deadpool_postgres::GenericClient,
    org_id: Uuid,
) -> Result<Vec<Uuid>, StoreError> {
    Ok(tx
        .query(
            "SELECT id FROM members WHERE org_id = $1 AND role = 'owner' ORDER BY id FOR UPDATE",
            &[&org_id],
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect())
}

impl Store {
    pub async fn get_org(&self, org_id: Uuid) -> Result<Option<OrgRow>, StoreError> {
        let row = self
            .client()
            .await?
            .query_opt(
                "SELECT id, name, created_at FROM organizations WHERE id = $1",
                &[&org_id],
            )
            .await?;
        Ok(row.map(|r| OrgRow {
            id: r.get(0),
            name: r.get(1),
            created_at: r.get(2),
        }))
    }

    /// Renames the actor's org, recording `org.updated` (changed field `name`, when it changed).
    pub async fn rename_org(&self, actor: &Principal, name: &str) -> Result<OrgRow, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let old: String = tx
            .query_opt(
                "SELECT name FROM organizations WHERE id = $1 FOR UPDATE",
                &[&actor.org_id],
            )
            .await?
            .ok_or(StoreError::NotFound)?
            .get(0);
        let r = tx
            .query_one(
                "UPDATE organizations SET name = $2 WHERE id = $1 RETURNING id, name, created_at",
                &[&actor.org_id, &name],
            )
            .await?;
        let changed = if old == name {
            Vec::new()
        } else {
            vec!["name".to_string()]
        };
        let event =
            AuditEvent::new("org.updated", "org", Some(actor.org_id)).with_changed_fields(changed);
        record_in(&tx, actor, &event).await?;
        tx.commit().await?;
        Ok(OrgRow {
            id: r.get(0),
            name: r.get(1),
            created_at: r.get(2),
        })
    }

    /// One page of the org's members, oldest first (`after`: the last id of the previous page).
    pub async fn list_members(
        &self,
        org_id: Uuid,
        limit: i64,
        after: Option<Uuid>,
    ) -> Result<Vec<MemberRow>, StoreError> {
        let rows = self
            .client()
            .await?
            .query(
                "SELECT id, email, role, created_at FROM members
                 WHERE org_id = $1 AND ($2::uuid IS NULL OR id > $2)
                 ORDER BY id LIMIT $3",
                &[&org_id, &after, &limit],
            )
            .await?;
        Ok(rows.iter().map(row_to_member).collect())
    }

    /// Gives a member a new role (the actor must still be an Owner when the change commits).
    /// Demoting the last Owner is refused.
    pub async fn set_member_role(
        &self,
        actor: &Principal,
        member_id: Uuid,
        role: Role,
    ) -> Result<MemberRow, MemberError> {
        let mut client = self.client().await.map_err(MemberError::Store)?;
        let tx = client.transaction().await?;
        let owners = lock_owners(&tx, actor.org_id).await?;
        let current = tx
            .query_opt(
                "SELECT role FROM members WHERE org_id = $1 AND id = $2 FOR UPDATE",
                &[&actor.org_id, &member_id],
            )
            .await?
            .ok_or(MemberError::NotFound)?;
        let was = Role::from_db(current.get(0));
        if was == Role::Owner && role != Role::Owner && owners.len() <= 1 {
            return Err(MemberError::LastOwner);
        }
        // Checked under the lock: an Owner demoted meanwhile may no longer change roles.
        if !owners.contains(&actor.member_id) {
            return Err(MemberError::Forbidden);
        }
        let row = tx
            .query_one(
                "UPDATE members SET role = $3 WHERE org_id = $1 AND id = $2
                 RETURNING id, email, role, created_at",
                &[&actor.org_id, &member_id, &role.as_str()],
            )
            .await?;
        let changed = if was == role {
            Vec::new()
        } else {
            vec!["role".to_string()]
        };
        let event = AuditEvent::new("member.updated", "member", Some(member_id))
            .with_changed_fields(changed);
        record_in(&tx, actor, &event).await?;
        tx.commit().await?;
        Ok(row_to_member(&row))
    }

    /// Removes a member and with it its API keys (the actor is an Owner, or the member itself).
    /// Removing the last Owner is refused.
    pub async fn remove_member(
        &self,
        actor: &Principal,
        member_id: Uuid,
    ) -> Result<(), MemberError> {
        let mut client = self.client().await.map_err(MemberError::Store)?;
        let tx = client.transaction().await?;
        let owners = lock_owners(&tx, actor.org_id).await?;
        let current = tx
            .query_opt(
                "SELECT role FROM members WHERE org_id = $1 AND id = $2 FOR UPDATE",
                &[&actor.org_id, &member_id],
            )
            .await?
            .ok_or(MemberError::NotFound)?;
        if Role::from_db(current.get(0)) == Role::Owner && owners.len() <= 1 {
            return Err(MemberError::LastOwner);
        }
        if member_id != actor.member_id && !owners.contains(&actor.member_id) {
            return Err(MemberError::Forbidden);
        }
        // The member's keys go with it (`api_keys.member_id ON DELETE CASCADE`).
        tx.execute(
            "DELETE FROM members WHERE org_id = $1 AND id = $2",
            &[&actor.org_id, &member_id],
        )
        .await?;
        record_in(
            &tx,
            actor,
            &AuditEvent::new("member.removed", "member", Some(member_id)),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}
