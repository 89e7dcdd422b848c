//! Invites: a single-use token (`fci_…`, shown once, stored as SHA-256) that makes its bearer a
//! member with the invited role and gives it its first API key.
//!
//! Accepting is single-use under concurrency: one `UPDATE … WHERE accepted_at IS NULL AND
//! revoked_at IS NULL AND expires_at > now() RETURNING` claims the invite, so of two concurrent
//! accepts exactly one gets a row.

use chrono::{DateTime, Utc};
use tokio_postgres::Row;
use uuid::Uuid;

use crate::audit::{record_in, AuditEvent};
use crate::members::{row_to_member, MemberRow};
use crate::orgs::{
    hash_secret, insert_api_key, insert_member, new_secret, NewApiKey, Principal, Role,
};
use crate::{Store, StoreError};

/// How long an invite can be accepted.
pub const INVITE_TTL_DAYS: i32 = 7;

/// A pending invite (never its token).
#[derive(Debug, Clone)]
pub struct InviteRow {
    pub id: Uuid,
    pub email: String,
    pub role: Role,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

fn row_to_invite(r: &Row) -> InviteRow {
    InviteRow {
        id: r.get("id"),
        email: r.get("email"),
        role: Role::from_db(r.get("role")),
        created_at: r.get("created_at"),
        expires_at: r.get("expires_at"),
    }
}

/// An invite just created, with its token (shown this once).
#[derive(Debug, Clone)]
pub struct NewInvite {
    pub invite: InviteRow,
    pub token: String,
}

/// What accepting an invite made: the member and its first key (secret shown once).
#[derive(Debug, Clone)]
pub struct Accepted {
    pub org_id: Uuid,
    pub member: MemberRow,
    pub key: NewApiKey,
    pub key_name: String,
}

/// Why an invite was not created or accepted.
#[derive(Debug, thiserror::Error)]
pub enum InviteError {
    /// Unknown, used, expired or revoked: one answer for all, so the API is no oracle.
    #[error("the invite is not valid")]
    Invalid,
    #[error("this email is already a member of the organization")]
    AlreadyMember,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<tokio_postgres::Error> for InviteError {
    fn from(e: tokio_postgres::Error) -> InviteError {
        InviteError::Store(e.into())
    }
}

const COLUMNS: &str = "id, email, role, created_at, expires_at";

impl Store {
    /// Creates an invite for `email` with `role`, recording `invite.created`.
    pub async fn create_invite(
        &self,
        actor: &Principal,
        email: &str,
        role: Role,
    ) -> Result<NewInvite, InviteError> {
        let mut client = self.client().await.map_err(InviteError::Store)?;
        let tx = client.transaction().await?;
        let member = tx
            .query_opt(
                "SELECT 1 FROM members WHERE org_id = $1 AND lower(email) = lower($2)",
                &[&actor.org_id, &email],
            )
            .await?;
        if member.is_some() {
            return Err(InviteError::AlreadyMember);
        }
        let token = new_secret("fci_")?;
        let id = Uuid::now_v7();
        let row = tx
            .query_one(
                &format!(
                    "INSERT INTO invites (id, org_id, email, role, token_hash, invited_by, expires_at)
                     VALUES ($1, $2, $3, $4, $5, $6, now() + make_interval(days => $7))
                     RETURNING {COLUMNS}"
                ),
                &[
                    &id,
                    &actor.org_id,
                    &email,
                    &role.as_str(),
                    &hash_secret(&token),
                    &actor.member_id,
                    &INVITE_TTL_DAYS,
                ],
            )
            .await?;
        record_in(
            &tx,
            actor,
            &AuditEvent::new("invite.created", "invite", Some(id)),
        )
        .await?;
        tx.commit().await?;
        Ok(NewInvite {
            invite: row_to_invite(&row),
            token,
        })
    }

    /// One page of the org's pending invites (not accepted, revoked or expired), oldest first.
    pub async fn list_invites(
        &self,
        org_id: Uuid,
        limit: i64,
        after: Option<Uuid>,
    ) -> Result<Vec<InviteRow>, StoreError> {
        let rows = self
            .client()
            .await?
            .query(
                &format!(
                    "SELECT {COLUMNS} FROM invites
                     WHERE org_id = $1 AND accepted_at IS NULL AND revoked_at IS NULL
                       AND expires_at > now() AND ($2::uuid IS NULL OR id > $2)
                     ORDER BY id LIMIT $3"
                ),
                &[&org_id, &after, &limit],
            )
            .await?;
        Ok(rows.iter().map(row_to_invite).collect())
    }

    /// Revokes a pending invite of the actor's org, recording `invite.revoked`; false when there
    /// is no such pending invite.
    pub async fn revoke_invite(&self, actor: &Principal, id: Uuid) -> Result<bool, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let n = tx
            .execute(
                "UPDATE invites SET revoked_at = now()
                 WHERE org_id = $1 AND id = $2 AND accepted_at IS NULL AND revoked_at IS NULL",
                &[&actor.org_id, &id],
            )
            .await?;
        if n == 0 {
            return Ok(false);
        }
        record_in(
            &tx,
            actor,
            &AuditEvent::new("invite.revoked", "invite", Some(id)),
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Accepts an invite: claims it (once), adds the member and its first key, and records
    /// `invite.accepted` by the new member and key. An email already a member leaves the
    /// invite unused.
    pub async fn accept_invite(
        &self,
        token: &str,
        key_name: &str,
    ) -> Result<Accepted, InviteError> {
        let mut client = self.client().await.map_err(InviteError::Store)?;
        let tx = client.transaction().await?;
        let claimed = tx
            .query_opt(
                "UPDATE invites SET accepted_at = now()
                 WHERE token_hash = $1 AND accepted_at IS NULL AND revoked_at IS NULL
                   AND expires_at > now()
                 RETURNING id, org_id, email, role",
                &[&hash_secret(token)],
            )
            .await?
            .ok_or(InviteError::Invalid)?;
        let (invite_id, org_id): (Uuid, Uuid) = (claimed.get(0), claimed.get(1));
        let email: String = claimed.get(2);
        let role = Role::from_db(claimed.get(3));
        let member_id = insert_member(&tx, org_id, &email, role)
            .await?
            .ok_or(InviteError::AlreadyMember)?;
        let key = insert_api_key(&tx, org_id, member_id, key_name).await?;
        let member = tx
            .query_one(
                "SELECT id, email, role, created_at FROM members WHERE id = $1",
                &[&member_id],
            )
            .await?;
        let actor = Principal {
            org_id,
            key_id: key.id,
            member_id,
            role,
        };
        record_in(
            &tx,
            &actor,
            &AuditEvent::new("invite.accepted", "invite", Some(invite_id)),
        )
        .await?;
        tx.commit().await?;
        Ok(Accepted {
            org_id,
            member: row_to_member(&member),
            key,
            key_name: key_name.to_string(),
        })
    }
}
