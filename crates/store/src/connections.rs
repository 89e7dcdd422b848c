//! Connections: provider accounts with tokens sealed at rest, and the row lock that serialises refreshes.

use chrono::{DateTime, Utc};
use deadpool_postgres::Object;
use uuid::Uuid;

use crate::{MasterKey, Store, StoreError};

/// A connection as the API shows it (never with tokens).
#[derive(Debug, Clone)]
pub struct ConnectionRow {
    pub id: Uuid,
    pub provider: String,
    pub status: String,
    pub account_name: String,
    pub external_account_id: String,
    pub status_message: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// Plaintext credentials, only ever in the memory of the process using them.
#[derive(Clone)]
pub struct Credentials {
    pub connection_id: Uuid,
    pub provider: String,
    pub status: String,
    pub access_token: String,
    pub refresh_token: Option<String>,
    pub expires_at: Option<DateTime<Utc>>,
    pub instance_url: Option<String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("connection_id", &self.connection_id)
            .field("provider", &self.provider)
            .field("access_token", &"[redacted]")
            .field(
                "refresh_token",
                &self.refresh_token.as_ref().map(|_| "[redacted]"),
            )
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// What a new connection is made of.
pub struct NewConnection {
    pub provider: String,
    pub account_name: String,
    pub external_account_id: String,
    pub access_token: String,
    pub refresh_token: Option<String>,
    pub expires_at: Option<DateTime<Utc>>,
    pub instance_url: Option<String>,
}

pub(crate) const COLUMNS: &str =
    "id, provider, status, account_name, external_account_id, status_message, created_at";

pub(crate) fn row_to_connection(r: &tokio_postgres::Row) -> ConnectionRow {
    ConnectionRow {
        id: r.get(0),
        provider: r.get(1),
        status: r.get(2),
        account_name: r.get(3),
        external_account_id: r.get(4),
        status_message: r.get(5),
        created_at: r.get(6),
    }
}

/// The AAD of a connection's access token.
pub(crate) fn access_aad(id: Uuid) -> String {
    id.to_string()
}

/// The AAD of a connection's refresh token.
pub(crate) fn refresh_aad(id: Uuid) -> String {
    format!("{id}:refresh")
}

fn open_credentials(key: &MasterKey, r: &tokio_postgres::Row) -> Result<Credentials, StoreError> {
    let id: Uuid = r.get("id");
    let aad = id.to_string();
    let access: Vec<u8> = r.get("access_token");
    let refresh: Option<Vec<u8>> = r.get("refresh_token");
    Ok(Credentials {
        connection_id: id,
        provider: r.get("provider"),
        status: r.get("status"),
        access_token: key.open_stored(&aad, &access)?,
        refresh_token: match refresh {
            Some(stored) => Some(key.open_stored(&refresh_aad(id), &stored)?),
            None => None,
        },
        expires_at: r.get("expires_at"),
        instance_url: r.get("instance_url"),
    })
}

impl Store {
    pub async fn create_connection(
        &self,
        org_id: Uuid,
        key: &MasterKey,
        new: NewConnection,
    ) -> Result<ConnectionRow, StoreError> {
        let id = Uuid::now_v7();
        let access = key.seal_stored(&access_aad(id), &new.access_token)?;
        let refresh = match &new.refresh_token {
            Some(t) => Some(key.seal_stored(&refresh_aad(id), t)?),
            None => None,
        };
        let row = self
            .client()
            .await?
            .query_one(
                &format!(
                    "INSERT INTO connections (id, org_id, provider, account_name, external_account_id,
                        access_token, refresh_token, expires_at, instance_url)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING {COLUMNS}"
                ),
                &[
                    &id,
                    &org_id,
                    &new.provider,
                    &new.account_name,
                    &new.external_account_id,
                    &access,
                    &refresh,
                    &new.expires_at,
                    &new.instance_url,
                ],
            )
            .await?;
        Ok(row_to_connection(&row))
    }

    pub async fn get_connection(
        &self,
        org_id: Uuid,
        id: Uuid,
    ) -> Result<Option<ConnectionRow>, StoreError> {
        let row = self
            .client()
            .await?
            .query_opt(
                &format!("SELECT {COLUMNS} FROM connections WHERE org_id = $1 AND id = $2 AND deleted_at IS NULL"),
                &[&org_id, &id],
            )
            .await?;
        Ok(row.as_ref().map(row_to_connection))
    }

    /// A page of connections ordered by creation; `after` is the last id of the previous page.
    pub async fn list_connections(
        &self,
        org_id: Uuid,
        limit: i64,
        after: Option<Uuid>,
    ) -> Result<Vec<ConnectionRow>, StoreError> {
        let rows = self
            .client()
            .await?
            .query(
                &format!(
                    "SELECT {COLUMNS} FROM connections WHERE org_id = $1 AND deleted_at IS NULL
                       AND ($2::uuid IS NULL OR id > $2) ORDER BY id LIMIT $3"
                ),
                &[&org_id, &after, &limit],
            )
            .await?;
        Ok(rows.iter().map(row_to_connection).collect())
    }

    /// Soft-deletes a connection; refuses (Conflict) while a live mapping uses it.
    pub async fn delete_connection(&self, org_id: Uuid, id: Uuid) -> Result<bool, StoreError> {
        let client = self.client().await?;
        let used = client
            .query_opt(
                "SELECT id FROM mappings WHERE org_id = $1 AND deleted_at IS NULL
                   AND (source_connection_id = $2 OR target_connection_id = $2) LIMIT 1",
                &[&org_id, &id],
            )
            .await?;
        if let Some(m) = used {
            let mapping: Uuid = m.get(0);
            return Err(StoreError::Conflict(format!(
                "connection is used by mapping {mapping}; delete it first"
            )));
        }
        let n = client
            .execute(
                "UPDATE connections SET deleted_at = now(), access_token = '\\x'::bytea, refresh_token = NULL
                 WHERE org_id = $1 AND id = $2 AND deleted_at IS NULL",
                &[&org_id, &id],
            )
            .await?;
        Ok(n == 1)
    }

    /// Decrypted credentials for a connection (worker only).
    pub async fn load_credentials(
        &self,
        org_id: Uuid,
        id: Uuid,
        key: &MasterKey,
    ) -> Result<Credentials, StoreError> {
        let row = self
            .client()
            .await?
            .query_opt(
                "SELECT * FROM connections WHERE org_id = $1 AND id = $2 AND deleted_at IS NULL",
                &[&org_id, &id],
            )
            .await?
            .ok_or(StoreError::NotFound)?;
        open_credentials(key, &row)
    }

    /// Locks the connection row (`FOR UPDATE`) so only one process refreshes its tokens at a time,
    /// and returns the freshest credentials. Finish with `store_tokens`, `mark_expired` or `release`.
    pub async fn lock_credentials(
        &self,
        org_id: Uuid,
        id: Uuid,
        key: &MasterKey,
    ) -> Result<LockedCredentials, StoreError> {
        let client = self.client().await?;
        client.batch_execute("BEGIN").await?;
        let lock = CredentialLock {
            client: Some(client),
            org_id,
            id,
        };
        let row = lock
            .client()?
            .query_opt(
                "SELECT * FROM connections WHERE org_id = $1 AND id = $2 AND deleted_at IS NULL FOR UPDATE",
                &[&org_id, &id],
            )
            .await?
            .ok_or(StoreError::NotFound)?;
        let creds = open_credentials(key, &row)?;
        lock.finish_check(creds)
    }
}

/// A held row lock on one connection. Dropping it without finishing closes the
/// database connection, so the transaction rolls back and the lock is released.
pub struct CredentialLock {
    client: Option<Object>,
    org_id: Uuid,
    id: Uuid,
}

/// Credentials read under the lock, with the lock.
pub struct LockedCredentials {
    pub lock: CredentialLock,
    pub credentials: Credentials,
}

impl CredentialLock {
    fn client(&self) -> Result<&Object, StoreError> {
        self.client
            .as_ref()
            .ok_or_else(|| StoreError::Corrupt("credential lock already finished".into()))
    }

    fn finish_check(self, credentials: Credentials) -> Result<LockedCredentials, StoreError> {
        Ok(LockedCredentials {
            lock: self,
            credentials,
        })
    }

    /// Stores refreshed tokens (a rotated refresh token replaces the old one atomically) and commits.
    /// A kept refresh token keeps its own ciphertext and the key id inside it (`admin reseal`
    /// moves it to the current key).
    pub async fn store_tokens(
        mut self,
        key: &MasterKey,
        access_token: &str,
        refresh_token: Option<&str>,
        expires_at: Option<DateTime<Utc>>,
        instance_url: Option<&str>,
    ) -> Result<(), StoreError> {
        let access = key.seal_stored(&access_aad(self.id), access_token)?;
        let refresh = match refresh_token {
            Some(t) => Some(key.seal_stored(&refresh_aad(self.id), t)?),
            None => None,
        };
        let client = self.client()?;
        client
            .execute(
                "UPDATE connections SET access_token = $3,
                    refresh_token = COALESCE($4, refresh_token), expires_at = $5,
                    instance_url = COALESCE($6, instance_url), status = 'active', status_message = NULL,
                    updated_at = now()
                 WHERE org_id = $1 AND id = $2",
                &[&self.org_id, &self.id, &access, &refresh, &expires_at, &instance_url],
            )
            .await?;
        client.batch_execute("COMMIT").await?;
        self.client.take();
        Ok(())
    }

    /// Marks the connection expired (refresh token revoked or invalid) and commits.
    pub async fn mark_expired(mut self, message: &str) -> Result<(), StoreError> {
        let client = self.client()?;
        client
            .execute(
                "UPDATE connections SET status = 'expired', status_message = $3, updated_at = now()
                 WHERE org_id = $1 AND id = $2",
                &[&self.org_id, &self.id, &message],
            )
            .await?;
        crate::deliveries::emit_connection_expired(client, self.org_id, self.id).await?;
        client.batch_execute("COMMIT").await?;
        self.client.take();
        Ok(())
    }

    /// Releases the lock without changes.
    pub async fn release(mut self) -> Result<(), StoreError> {
        self.client()?.batch_execute("ROLLBACK").await?;
        self.client.take();
        Ok(())
    }
}

impl Drop for CredentialLock {
    fn drop(&mut self) {
        if let Some(obj) = self.client.take() {
            // Mid-transaction: detach from the pool so the connection closes and Postgres rolls back.
            drop(Object::take(obj));
        }
    }
}
