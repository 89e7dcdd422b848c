//! Request slots: a connection's provider request budget shared by every worker replica, as a
//! sliding window of `limit` rows whose `used_at` is the last time each slot was spent.

use std::time::Duration;

use uuid::Uuid;

use crate::{Store, StoreError};

/// The longest wait `take_request_slot` reports (an hour), whatever a provider asked for.
const MAX_WAIT_MS: f64 = 3_600_000.0;

impl Store {
    /// Makes sure slots `1..=limit` exist for `(connection, class)` (idempotent).
    pub async fn ensure_request_slots(
        &self,
        connection_id: Uuid,
        class: &str,
        limit: u32,
    ) -> Result<(), StoreError> {
        self.client()
            .await?
            .execute(
                "INSERT INTO request_slots (connection_id, class, slot)
                 SELECT $1, $2, g FROM generate_series(1, $3::int) g
                 ON CONFLICT DO NOTHING",
                &[&connection_id, &class, &(limit as i32)],
            )
            .await?;
        Ok(())
    }

    /// Spends the oldest slot last used at least `window` ago. `Ok(None)` when one was taken;
    /// otherwise `Ok(Some(wait))`, the time until the oldest slot frees up (longer than the
    /// window while a 429 holds the slots off).
    pub async fn take_request_slot(
        &self,
        connection_id: Uuid,
        class: &str,
        limit: u32,
        window: Duration,
    ) -> Result<Option<Duration>, StoreError> {
        let window_ms = window.as_millis() as f64;
        let client = self.client().await?;
        let taken = client
            .query_opt(
                "WITH free AS (
                     SELECT slot FROM request_slots
                     WHERE connection_id = $1 AND class = $2 AND slot <= $3
                       AND used_at <= clock_timestamp() - $4 * interval '1 millisecond'
                     ORDER BY used_at LIMIT 1
                     FOR UPDATE SKIP LOCKED)
                 UPDATE request_slots r SET used_at = clock_timestamp()
                 FROM free
                 WHERE r.connection_id = $1 AND r.class = $2 AND r.slot = free.slot
                 RETURNING r.slot",
                &[&connection_id, &class, &(limit as i32), &window_ms],
            )
            .await?;
        if taken.is_some() {
            return Ok(None);
        }
        let row = client
            .query_one(
                "SELECT (EXTRACT(EPOCH FROM (min(used_at) + $4 * interval '1 millisecond'
                                             - clock_timestamp())) * 1000)::float8
                 FROM request_slots
                 WHERE connection_id = $1 AND class = $2 AND slot <= $3",
                &[&connection_id, &class, &(limit as i32), &window_ms],
            )
            .await?;
        // Past the window when a 429 held the slots off (`hold_request_slots`); bounded anyway.
        let wait_ms: Option<f64> = row.get(0);
        Ok(Some(Duration::from_millis(
            wait_ms
                .unwrap_or(1.0)
                .clamp(1.0, MAX_WAIT_MS.max(window_ms)) as u64,
        )))
    }

    /// The provider answered 429 with `retry_after`: no slot of `(connection, class)` frees up
    /// before then, for every replica.
    pub async fn hold_request_slots(
        &self,
        connection_id: Uuid,
        class: &str,
        window: Duration,
        retry_after: Duration,
    ) -> Result<(), StoreError> {
        let shift_ms = retry_after.as_millis() as f64 - window.as_millis() as f64;
        self.client()
            .await?
            .execute(
                "UPDATE request_slots
                 SET used_at = GREATEST(used_at, clock_timestamp() + $3 * interval '1 millisecond')
                 WHERE connection_id = $1 AND class = $2",
                &[&connection_id, &class, &shift_ms],
            )
            .await?;
        Ok(())
    }
}
