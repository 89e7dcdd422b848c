//! `admin reseal`: moves every sealed value (connection access and refresh tokens, outbound webhook
//! secrets) that is not under the current master key to it, online.
//!
//! Each row is rewritten by a compare-and-swap on the ciphertexts it was read with, in its own
//! statement (so it commits at once): a token refresh or reconnect that wrote the row in between
//! makes the swap miss, and the row is read again instead of being overwritten. Rows are visited in
//! id order, a batch at a time ([`Store::reseal_connections_batch`], [`Store::reseal_webhooks_batch`]);
//! killing the command loses nothing and a rerun only finds what is still under an old key. This
//! is an operator's command over every organization, so it is not scoped by `org_id`; it never
//! reads or changes anything but the sealed columns (not `updated_at`: the plaintext is unchanged,
//! so the workers' adapter caches stay valid).

use uuid::Uuid;

use crate::connections::{access_aad, refresh_aad};
use crate::deliveries::secret_aad;
use crate::{MasterKey, SealedToken, Store, StoreError};

/// How often a row whose swap missed (written concurrently) is read and tried again.
const ATTEMPTS: usize = 3;

/// What one batch did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ResealBatch {
    /// The last row id the batch looked at: the next batch starts after it. `None`: no rows left.
    pub last_id: Option<Uuid>,
    /// Rows re-sealed under the current key.
    pub resealed: u64,
    /// Rows that were under the current key by the time they were swapped (a concurrent refresh
    /// or reconnect sealed them anew).
    pub already_current: u64,
    /// Rows that could not be re-sealed: the row id and why (a missing key names its id only).
    pub failed: Vec<(Uuid, String)>,
}

/// What to do with one stored value.
fn reseal_value(key: &MasterKey, aad: &str, stored: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
    if key.is_current(stored) {
        return Ok(None);
    }
    let plain = key.open(aad, &SealedToken::from_stored(stored)?)?;
    Ok(Some(key.seal_stored(aad, &plain)?))
}

impl Store {
    /// Re-seals up to `limit` connections after `after` (id order) whose access or refresh token is
    /// not under the current key. Soft-deleted connections hold no tokens and are skipped.
    pub async fn reseal_connections_batch(
        &self,
        key: &MasterKey,
        after: Option<Uuid>,
        limit: i64,
    ) -> Result<ResealBatch, StoreError> {
        let client = self.client().await?;
        let prefix = key.current_prefix();
        let len = prefix.len() as i32;
        let rows = client
            .query(
                "SELECT id, access_token, refresh_token FROM connections
                  WHERE ($1::uuid IS NULL OR id > $1) AND length(access_token) > 0
                    AND (substring(access_token FROM 1 FOR $2) <> $3
                         OR substring(refresh_token FROM 1 FOR $2) <> $3)
                  ORDER BY id LIMIT $4",
                &[&after, &len, &prefix, &limit],
            )
            .await?;
        let mut out = ResealBatch::default();
        for row in rows {
            let id: Uuid = row.get(0);
            out.last_id = Some(id);
            let (mut access, mut refresh): (Vec<u8>, Option<Vec<u8>>) = (row.get(1), row.get(2));
            let mut attempt = 0;
            loop {
                attempt += 1;
                let new_access = reseal_value(key, &access_aad(id), &access);
                let new_refresh = match &refresh {
                    Some(r) => reseal_value(key, &refresh_aad(id), r).map(Some),
                    None => Ok(None),
                };
                let (new_access, new_refresh) = match (new_access, new_refresh) {
                    (Ok(a), Ok(r)) => (a, r.flatten()),
                    (Err(e), _) | (_, Err(e)) => {
                        out.failed.push((id, e.to_string()));
                        break;
                    }
                };
                if new_access.is_none() && new_refresh.is_none() {
                    out.already_current += 1;
                    break;
                }
                let swapped = client
                    .execute(
                        "UPDATE connections SET access_token = COALESCE($4, access_token),
                                refresh_token = COALESCE($5, refresh_token)
                          WHERE id = $1 AND access_token = $2 AND refresh_token IS NOT DISTINCT FROM $3",
                        &[&id, &access, &refresh, &new_access, &new_refresh],
                    )
                    .await?;
                if swapped == 1 {
                    out.resealed += 1;
                    break;
                }
                // Written in between (a refresh, a reconnect, a delete): read it again.
                let Some(fresh) = client
                    .query_opt(
                        "SELECT access_token, refresh_token FROM connections
                          WHERE id = $1 AND length(access_token) > 0",
                        &[&id],
                    )
                    .await?
                else {
                    break;
                };
                (access, refresh) = (fresh.get(0), fresh.get(1));
                if attempt >= ATTEMPTS {
                    out.failed
                        .push((id, "changed on every attempt; run reseal again".into()));
                    break;
                }
            }
        }
        Ok(out)
    }

    /// Re-seals up to `limit` outbound webhook secrets after `after` (id order) that are not under
    /// the current key.
    pub async fn reseal_webhooks_batch(
        &self,
        key: &MasterKey,
        after: Option<Uuid>,
        limit: i64,
    ) -> Result<ResealBatch, StoreError> {
        let client = self.client().await?;
        let prefix = key.current_prefix();
        let len = prefix.len() as i32;
        let rows = client
            .query(
                "SELECT id, secret FROM webhooks
                  WHERE ($1::uuid IS NULL OR id > $1) AND substring(secret FROM 1 FOR $2) <> $3
                  ORDER BY id LIMIT $4",
                &[&after, &len, &prefix, &limit],
            )
            .await?;
        let mut out = ResealBatch::default();
        for row in rows {
            let id: Uuid = row.get(0);
            out.last_id = Some(id);
            let old: Vec<u8> = row.get(1);
            // A webhook secret never changes after creation, so one swap suffices; a miss means
            // the row was deleted or re-sealed by a concurrent reseal.
            match reseal_value(key, &secret_aad(id), &old) {
                Ok(Some(new)) => {
                    let n = client
                        .execute(
                            "UPDATE webhooks SET secret = $3 WHERE id = $1 AND secret = $2",
                            &[&id, &old, &new],
                        )
                        .await?;
                    if n == 1 {
                        out.resealed += 1;
                    } else {
                        out.already_current += 1;
                    }
                }
                Ok(None) => out.already_current += 1,
                Err(e) => out.failed.push((id, e.to_string())),
            }
        }
        Ok(out)
    }

    /// How many connections and webhooks still hold a value not under the current key.
    pub async fn count_not_current(&self, key: &MasterKey) -> Result<(i64, i64), StoreError> {
        let client = self.client().await?;
        let prefix = key.current_prefix();
        let len = prefix.len() as i32;
        let c = client
            .query_one(
                "SELECT count(*)::bigint FROM connections WHERE length(access_token) > 0
                   AND (substring(access_token FROM 1 FOR $1) <> $2
                        OR substring(refresh_token FROM 1 FOR $1) <> $2)",
                &[&len, &prefix],
            )
            .await?
            .get(0);
        let w = client
            .query_one(
                "SELECT count(*)::bigint FROM webhooks WHERE substring(secret FROM 1 FOR $1) <> $2",
                &[&len, &prefix],
            )
            .await?
            .get(0);
        Ok((c, w))
    }
}
