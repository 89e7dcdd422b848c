//! Fleet-wide caps on concurrent batch work: a batch runs only while it holds one of its org's
//! `per_org` slots and one of its written connection's `per_connection` slots. A slot is a
//! transaction-level advisory lock taken on the batch's own lock connection (no extra database
//! connection), so it is released when the batch ends — or by Postgres when its worker dies.

use uuid::Uuid;

use crate::links::BatchLock;
use crate::StoreError;

/// How many batches of one org, and of one written connection, may run at once across every
/// worker; 0 turns a cap off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchCaps {
    pub per_org: u32,
    pub per_connection: u32,
}

impl BatchCaps {
    /// The largest cap a slot key has room for.
    pub const MAX: u32 = 4096;

    /// No cap at all.
    pub const OFF: BatchCaps = BatchCaps {
        per_org: 0,
        per_connection: 0,
    };
}

/// Advisory lock keys use the one-`bigint` form, which never meets the two-`int4` keys of the
/// batch locks: 48 bits of `md5('<scope>:<id>')` followed by 12 bits of slot number. A capped
/// slot is the first free key of its range; CASE skips a cap set to 0.
const TAKE_SLOTS: &str = "
    WITH m AS (
        SELECT CASE WHEN $3 THEN source_connection_id ELSE target_connection_id END AS conn
        FROM mappings WHERE id = $2 AND org_id = $1)
    SELECT
        CASE WHEN $4::int = 0 THEN -1 ELSE (
            SELECT i FROM generate_series(0, $4::int - 1) i
            WHERE pg_try_advisory_xact_lock(
                (('x' || substr(md5('org:' || $1::text), 1, 12))::bit(48)::bigint << 12) + i)
            LIMIT 1) END,
        CASE WHEN $5::int = 0 THEN -1 ELSE (
            SELECT i FROM m, generate_series(0, $5::int - 1) i
            WHERE pg_try_advisory_xact_lock(
                (('x' || substr(md5('connection:' || m.conn::text), 1, 12))::bit(48)::bigint << 12) + i)
            LIMIT 1) END,
        EXISTS (SELECT 1 FROM m)";

impl BatchLock {
    /// Takes one of `org_id`'s batch slots and one of the slots of the connection the batch
    /// writes (the mapping's target, or its source for a `reverse` batch), held until this lock
    /// is released. `None` when either cap is full: the lock (and any slot taken) is released.
    /// A mapping that no longer exists takes no connection slot (the batch fails on its own).
    pub async fn take_batch_slots(
        self,
        org_id: Uuid,
        mapping_id: Uuid,
        reverse: bool,
        caps: BatchCaps,
    ) -> Result<Option<BatchLock>, StoreError> {
        if caps == BatchCaps::OFF {
            return Ok(Some(self));
        }
        let per_org = caps.per_org.min(BatchCaps::MAX) as i32;
        let per_connection = caps.per_connection.min(BatchCaps::MAX) as i32;
        let Some(client) = self.client.as_ref() else {
            return Ok(None);
        };
        let stmt = client.prepare_cached(TAKE_SLOTS).await?;
        let row = client
            .query_one(
                &stmt,
                &[&org_id, &mapping_id, &reverse, &per_org, &per_connection],
            )
            .await?;
        let org_slot: Option<i32> = row.get(0);
        let connection_slot: Option<i32> = row.get(1);
        let mapped: bool = row.get(2);
        if org_slot.is_some() && (connection_slot.is_some() || !mapped) {
            Ok(Some(self))
        } else {
            self.release().await;
            Ok(None)
        }
    }
}
