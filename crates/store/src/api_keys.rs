//! API keys through the API: list (never the secret), create for a member (secret shown once),
//! revoke. A revoked key is refused by [`Store::authenticate`] on the next request on every
//! replica, which reads the key's row each time.

use chrono::{DateTime, Utc};
use tokio_postgres::Row;
use uuid::Uuid;

use crate::audit::{record_in, AuditEvent};
use crate::orgs::{insert_api_key, Principal, Role};
use crate::{Store, StoreError};

/// A key as lists show it.
#[derive(Debug, Clone)]
pub struct ApiKeyRow {
    pub id: Uuid,
    pub name: String,
    pub member_id: Uuid,
    pub member_email: String,
    pub role: Role,
    pub prefix: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
}

fn row_to_key(r: &Row) -> ApiKeyRow {
    ApiKeyRow {
        id: r.get("id"),
        name: r.get("name"),
        member_id: r.get("member_id"),
        member_email: r.get("email"),
        role: Role::from_db(r.get("role")),
        prefix: r.get("prefix"),
        created_at: r.get("created_at"),
        last_used_at: r.get("last_used_at"),
    }
}

const SELECT: &str = "SELECT k.id, k.name, k.member_id, m.email, m.role, k.prefix, k.created_at,
        k.last_used_at
     FROM api_keys k JOIN members m ON m.id = k.member_id";

impl Store {
    /// One page of the org's live keys, oldest first; `member`: only that member's.
    pub async fn list_api_keys(
        &self,
        org_id: Uuid,
        member: Option<Uuid>,
        limit: i64,
        after: Option<Uuid>,
    ) -> Result<Vec<ApiKeyRow>, StoreError> {
        let rows = self
            .client()
            .await?
            .query(
                &format!(
                    "{SELECT}
                     WHERE k.org_id = $1 AND k.revoked_at IS NULL
                       AND ($2::uuid IS NULL OR k.member_id = $2)
                       AND ($3::uuid IS NULL OR k.id > $3)
                     ORDER BY k.id LIMIT $4"
                ),
                &[&org_id, &member, &after, &limit],
            )
            .await?;
        Ok(rows.iter().map(row_to_key).collect())
    }

    /// Creates a key for `member_id` of the actor's org, recording `api_key.created`; the
    /// secret is returned this once. `NotFound` when the org has no such member.
    pub async fn create_member_api_key(
        &self,
        actor: &Principal,
        member_id: Uuid,
        name: &str,
    ) -> Result<(ApiKeyRow, String), StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        tx.query_opt(
            "SELECT 1 FROM members WHERE org_id = $1 AND id = $2 FOR SHARE",
            &[&actor.org_id, &member_id],
        )
        .await?
        .ok_or(StoreError::NotFound)?;
        let key = insert_api_key(&tx, actor.org_id, member_id, name).await?;
        let row = tx
            .query_one(&format!("{SELECT} WHERE k.id = $1"), &[&key.id])
            .await?;
        record_in(
            &tx,
            actor,
            &AuditEvent::new("api_key.created", "api_key", Some(key.id)),
        )
        .await?;
        tx.commit().await?;
        Ok((row_to_key(&row), key.secret))
    }

    /// Revokes a live key of the actor's org (`only_member`: only if it is that member's),
    /// recording `api_key.revoked`; false when no such key is visible.
    pub async fn revoke_api_key(
        &self,
        actor: &Principal,
        id: Uuid,
        only_member: Option<Uuid>,
    ) -> Result<bool, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let n = tx
            .execute(
                "UPDATE api_keys SET revoked_at = now()
                 WHERE org_id = $1 AND id = $2 AND revoked_at IS NULL
                   AND ($3::uuid IS NULL OR member_id = $3)",
                &[&actor.org_id, &id, &only_member],
            )
            .await?;
        if n == 0 {
            return Ok(false);
        }
        record_in(
            &tx,
            actor,
            &AuditEvent::new("api_key.revoked", "api_key", Some(id)),
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }
}
