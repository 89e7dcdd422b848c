//! Organizations, their members and API keys (random 32 bytes shown once, stored as SHA-256).
//!
//! Architecture invariant: a key's rights are its member's role *now*: [`Store::authenticate`]
//! reads the role through the member on every request, so demoting a member or revoking a key
//! takes effect on the next request on every ingress replica (nothing is cached).

use base64::Engine;
use ring::rand::{SecureRandom, SystemRandom};
use uuid::Uuid;

use crate::{Store, StoreError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    Member,
    Admin,
    Owner,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Member => "member",
            Role::Admin => "admin",
            Role::Owner => "owner",
        }
    }

    /// The role of its wire name (`owner`, `admin`, `member`), if it is one.
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "owner" => Some(Role::Owner),
            "admin" => Some(Role::Admin),
            "member" => Some(Role::Member),
            _ => None,
        }
    }

    /// A stored role (the column's CHECK allows only the three names).
    pub(crate) fn from_db(s: &str) -> Role {
        Role::parse(s).unwrap_or(Role::Member)
    }
}

/// Who is calling: the org, the key, the member the key acts for and that member's role now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Principal {
    pub org_id: Uuid,
    pub key_id: Uuid,
    pub member_id: Uuid,
    pub role: Role,
}

/// A key just created: its secret is returned this once and stored only as a hash.
#[derive(Debug, Clone)]
pub struct NewApiKey {
    pub id: Uuid,
    pub secret: String,
    pub prefix: String,
}

/// SHA-256 of a secret (API keys and invite tokens are stored only so).
pub(crate) fn hash_secret(secret: &str) -> Vec<u8> {
    ring::digest::digest(&ring::digest::SHA256, secret.as_bytes())
        .as_ref()
        .to_vec()
}

/// `fc_` + 32 random bytes, base64url.
pub(crate) fn new_secret(prefix: &str) -> Result<String, StoreError> {
    let mut raw = [0u8; 32];
    SystemRandom::new()
        .fill(&mut raw)
        .map_err(|_| StoreError::Crypto("RNG failure".into()))?;
    Ok(format!(
        "{prefix}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
    ))
}

/// How much of a key is shown in lists: `fc_` and 8 characters (48 of its 256 bits).
pub const KEY_PREFIX_CHARS: usize = 11;

/// Inserts a key for a member inside `tx`.
pub(crate) async fn insert_api_key(
    tx: &impl deadpool_postgres::GenericClient,
    org_id: Uuid,
    member_id: Uuid,
    name: &str,
) -> Result<NewApiKey, StoreError> {
    let secret = new_secret("fc_")?;
    let prefix: String = secret.chars().take(KEY_PREFIX_CHARS).collect();
    let id = Uuid::now_v7();
    tx.execute(
        "INSERT INTO api_keys (id, org_id, member_id, key_hash, name, prefix)
         VALUES ($1, $2, $3, $4, $5, $6)",
        &[
            &id,
            &org_id,
            &member_id,
            &hash_secret(&secret),
            &name,
            &prefix,
        ],
    )
    .await?;
    Ok(NewApiKey { id, secret, prefix })
}

/// Inserts a member inside `tx`; `None` when the org already has a member with that email.
pub(crate) async fn insert_member(
    tx: &impl deadpool_postgres::GenericClient,
    org_id: Uuid,
    email: &str,
    role: Role,
) -> Result<Option<Uuid>, StoreError> {
    let id = Uuid::now_v7();
    let n = tx
        .execute(
            "INSERT INTO members (id, org_id, email, role) VALUES ($1, $2, $3, $4)
             ON CONFLICT (org_id, lower(email)) DO NOTHING",
            &[&id, &org_id, &email, &role.as_str()],
        )
        .await?;
    Ok((n == 1).then_some(id))
}

impl Store {
    /// Creates an org with its owner member and the owner's first key; returns the org id and
    /// the key (shown once, stored hashed).
    pub async fn create_org(&self, name: &str, owner: &str) -> Result<(Uuid, String), StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let org_id = Uuid::now_v7();
        tx.execute(
            "INSERT INTO organizations (id, name) VALUES ($1, $2)",
            &[&org_id, &name],
        )
        .await?;
        let member = insert_member(&tx, org_id, owner, Role::Owner)
            .await?
            .ok_or_else(|| StoreError::Conflict("owner already a member".into()))?;
        let key = insert_api_key(&tx, org_id, member, "owner").await?;
        tx.commit().await?;
        Ok((org_id, key.secret))
    }

    /// Adds a member with `email` and `role` (or finds the existing one) and creates a key for
    /// it; returns the key once. For bootstrap and tests; the API adds members through invites.
    pub async fn create_api_key(
        &self,
        org_id: Uuid,
        role: Role,
        email: &str,
    ) -> Result<String, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let member = match insert_member(&tx, org_id, email, role).await? {
            Some(id) => id,
            None => tx
                .query_one(
                    "SELECT id FROM members WHERE org_id = $1 AND lower(email) = lower($2)",
                    &[&org_id, &email],
                )
                .await?
                .get(0),
        };
        let key = insert_api_key(&tx, org_id, member, email).await?;
        tx.commit().await?;
        Ok(key.secret)
    }

    /// The principal for an API key, or None if the key is unknown or revoked. The role is the
    /// member's at this moment; `last_used_at` is written at most once a minute per key.
    #[tracing::instrument(level = "debug", name = "store.authenticate", skip_all, fields(otel.kind = "client", db.system = "postgresql", db.operation.name = "authenticate"))]
    pub async fn authenticate(&self, key: &str) -> Result<Option<Principal>, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                "SELECT k.id, k.org_id, m.id, m.role,
                        k.last_used_at IS NULL OR k.last_used_at < now() - interval '1 minute'
                 FROM api_keys k JOIN members m ON m.id = k.member_id
                 WHERE k.key_hash = $1 AND k.revoked_at IS NULL",
                &[&hash_secret(key)],
            )
            .await?;
        let Some(r) = row else { return Ok(None) };
        let principal = Principal {
            key_id: r.get(0),
            org_id: r.get(1),
            member_id: r.get(2),
            role: Role::from_db(r.get(3)),
        };
        if r.get::<_, bool>(4) {
            client
                .execute(
                    "UPDATE api_keys SET last_used_at = now() WHERE id = $1",
                    &[&principal.key_id],
                )
                .await?;
        }
        Ok(Some(principal))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_round_trip_and_order() {
        for role in [Role::Member, Role::Admin, Role::Owner] {
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
        assert_eq!(Role::parse("Owner"), None);
        assert!(Role::Owner > Role::Admin && Role::Admin > Role::Member);
    }

    #[test]
    fn secrets_are_prefixed_random_and_hashed() {
        let a = new_secret("fc_").unwrap();
        let b = new_secret("fc_").unwrap();
        assert!(a.starts_with("fc_") && a.len() == 3 + 43);
        assert_ne!(a, b);
        assert_eq!(hash_secret(&a).len(), 32);
        assert_ne!(hash_secret(&a), hash_secret(&b));
    }
}
