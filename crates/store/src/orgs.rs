//! Organizations and API keys (random 32 bytes shown once, stored as SHA-256).

use base64::Engine;
use ring::rand::{SecureRandom, SystemRandom};
use uuid::Uuid;

use crate::{Store, StoreError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
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
    fn parse(s: &str) -> Role {
        match s {
            "owner" => Role::Owner,
            "admin" => Role::Admin,
            _ => Role::Member,
        }
    }
}

/// Who is calling: the org a key belongs to and the key's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Principal {
    pub org_id: Uuid,
    pub key_id: Uuid,
    pub role: Role,
}

fn hash_key(key: &str) -> Vec<u8> {
    ring::digest::digest(&ring::digest::SHA256, key.as_bytes())
        .as_ref()
        .to_vec()
}

fn new_key() -> Result<String, StoreError> {
    let mut raw = [0u8; 32];
    SystemRandom::new()
        .fill(&mut raw)
        .map_err(|_| StoreError::Crypto("RNG failure".into()))?;
    Ok(format!(
        "fc_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
    ))
}

impl Store {
    /// Creates an org with an owner key; returns the org id and the key (shown once, stored hashed).
    pub async fn create_org(&self, name: &str, owner: &str) -> Result<(Uuid, String), StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let org_id = Uuid::now_v7();
        tx.execute(
            "INSERT INTO organizations (id, name) VALUES ($1, $2)",
            &[&org_id, &name],
        )
        .await?;
        let key = new_key()?;
        tx.execute(
            "INSERT INTO api_keys (id, org_id, key_hash, role, label) VALUES ($1, $2, $3, 'owner', $4)",
            &[&Uuid::now_v7(), &org_id, &hash_key(&key), &owner],
        )
        .await?;
        tx.commit().await?;
        Ok((org_id, key))
    }

    /// Creates another key for an org with the given role; returns the key once.
    pub async fn create_api_key(
        &self,
        org_id: Uuid,
        role: Role,
        label: &str,
    ) -> Result<String, StoreError> {
        let key = new_key()?;
        self.client()
            .await?
            .execute(
                "INSERT INTO api_keys (id, org_id, key_hash, role, label) VALUES ($1, $2, $3, $4, $5)",
                &[&Uuid::now_v7(), &org_id, &hash_key(&key), &role.as_str(), &label],
            )
            .await?;
        Ok(key)
    }

    /// The principal for an API key, or None if the key is unknown or revoked.
    pub async fn authenticate(&self, key: &str) -> Result<Option<Principal>, StoreError> {
        let row = self
            .client()
            .await?
            .query_opt(
                "SELECT id, org_id, role FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL",
                &[&hash_key(key)],
            )
            .await?;
        Ok(row.map(|r| Principal {
            key_id: r.get(0),
            org_id: r.get(1),
            role: Role::parse(r.get(2)),
        }))
    }
}
