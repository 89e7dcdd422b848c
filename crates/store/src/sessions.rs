//! Console sessions: an API key exchanged for a random cookie token. Only the token's SHA-256 is
//! stored. A session acts for the key it was created from, with that key's member's role *now*
//! (like [`Store::authenticate`]): revoking the key or demoting the member takes effect on the
//! session's next request.

use chrono::{DateTime, Utc};

use crate::orgs::{hash_secret, new_secret, Principal, Role};
use crate::{Store, StoreError};

/// A session just created: `token` goes into the cookie and is never stored.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub token: String,
    pub csrf_token: String,
    pub expires_at: DateTime<Utc>,
}

/// A live session, as a request finds it.
#[derive(Debug, Clone)]
pub struct SessionRow {
    pub principal: Principal,
    /// The token every state-changing request of this session must carry.
    pub csrf_token: String,
    pub expires_at: DateTime<Utc>,
}

/// How long a session lives.
#[derive(Debug, Clone, Copy)]
pub struct SessionLifetime {
    /// From creation, whatever the activity.
    pub absolute: chrono::Duration,
    /// Without any request.
    pub idle: chrono::Duration,
}

/// SHA-256 of a session (or OAuth binding) token, as stored.
pub fn token_hash(token: &str) -> Vec<u8> {
    hash_secret(token)
}

/// A random 256-bit token, base64url, with `prefix`.
pub fn random_token(prefix: &str) -> Result<String, StoreError> {
    new_secret(prefix)
}

impl Store {
    /// Creates a session for `principal` (expired sessions are swept on the way).
    pub async fn create_session(
        &self,
        principal: &Principal,
        lifetime: SessionLifetime,
    ) -> Result<NewSession, StoreError> {
        let token = new_secret("fcs_")?;
        let csrf_token = new_secret("")?;
        let expires_at = Utc::now() + lifetime.absolute;
        let client = self.client().await?;
        client
            .execute("DELETE FROM console_sessions WHERE expires_at < now()", &[])
            .await?;
        client
            .execute(
                "INSERT INTO console_sessions (id_hash, org_id, key_id, member_id, role, csrf_token, expires_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
                &[
                    &hash_secret(&token),
                    &principal.org_id,
                    &principal.key_id,
                    &principal.member_id,
                    &principal.role.as_str(),
                    &csrf_token,
                    &expires_at,
                ],
            )
            .await?;
        Ok(NewSession {
            token,
            csrf_token,
            expires_at,
        })
    }

    /// The live session of `token`: unknown, expired (absolute or idle), or of a revoked key is
    /// `None`. Marks it seen (at most once a minute).
    pub async fn session(
        &self,
        token: &str,
        idle: chrono::Duration,
    ) -> Result<Option<SessionRow>, StoreError> {
        let idle_secs = idle.num_seconds() as f64;
        let client = self.client().await?;
        let row = client
            .query_opt(
                "SELECT k.id, k.org_id, m.id, m.role, s.csrf_token, s.expires_at,
                        s.last_seen_at < now() - interval '1 minute'
                 FROM console_sessions s
                 JOIN api_keys k ON k.id = s.key_id AND k.revoked_at IS NULL
                 JOIN members m ON m.id = k.member_id
                 WHERE s.id_hash = $1 AND s.expires_at > now()
                   AND s.last_seen_at > now() - make_interval(secs => $2)",
                &[&hash_secret(token), &idle_secs],
            )
            .await?;
        let Some(r) = row else { return Ok(None) };
        if r.get::<_, bool>(6) {
            client
                .execute(
                    "UPDATE console_sessions SET last_seen_at = now() WHERE id_hash = $1",
                    &[&hash_secret(token)],
                )
                .await?;
        }
        Ok(Some(SessionRow {
            principal: Principal {
                key_id: r.get(0),
                org_id: r.get(1),
                member_id: r.get(2),
                role: Role::from_db(r.get(3)),
            },
            csrf_token: r.get(4),
            expires_at: r.get(5),
        }))
    }

    /// Ends the session of `token`; `false` when there was none.
    pub async fn delete_session(&self, token: &str) -> Result<bool, StoreError> {
        let n = self
            .client()
            .await?
            .execute(
                "DELETE FROM console_sessions WHERE id_hash = $1",
                &[&hash_secret(token)],
            )
            .await?;
        Ok(n > 0)
    }
}
