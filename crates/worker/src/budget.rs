//! `StoreBudget`: a connection's request budget kept in Postgres, so every worker replica draws
//! from the same sliding window and adding replicas does not multiply the request rate.
//!
//! A request waits inline only for a slot that frees within [`MAX_INLINE_WAIT`] (in total); when
//! the window is spent for longer it gets `ProviderError::RateLimited { retry_after }` (the time
//! until the oldest slot frees), which the worker turns into a deferred job: the slot goes back
//! to the fleet instead of sleeping while other tenants' jobs queue behind it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use fluxcascade_providers::{
    BudgetLimits, ProviderError, RequestBudget, RequestClass, WindowLimit, MAX_INLINE_WAIT,
};
use fluxcascade_store::Store;
use rand::Rng;
use tracing::debug;
use uuid::Uuid;

/// Requests leave the worker a moment before the provider counts them, and not always in the
/// order their slots were taken: a slot is reused only this long after a full window.
const GUARD: Duration = Duration::from_millis(100);

pub struct StoreBudget {
    store: Store,
    connection_id: Uuid,
    limits: BudgetLimits,
    seeded_general: AtomicBool,
    seeded_search: AtomicBool,
}

impl StoreBudget {
    pub fn new(store: Store, connection_id: Uuid, limits: BudgetLimits) -> StoreBudget {
        StoreBudget {
            store,
            connection_id,
            limits,
            seeded_general: AtomicBool::new(false),
            seeded_search: AtomicBool::new(false),
        }
    }

    fn seeded(&self, class: RequestClass) -> &AtomicBool {
        match class {
            RequestClass::General => &self.seeded_general,
            RequestClass::Search => &self.seeded_search,
        }
    }

    /// Takes one slot of `class`, waiting for it at most [`MAX_INLINE_WAIT`] in total; a slot
    /// further off is `RateLimited` with the time until it frees.
    async fn take(&self, class: RequestClass, limit: WindowLimit) -> Result<(), ProviderError> {
        let name = class.as_str();
        if !self.seeded(class).load(Ordering::Relaxed) {
            self.store
                .ensure_request_slots(self.connection_id, name, limit.requests)
                .await
                .map_err(store_err)?;
            self.seeded(class).store(true, Ordering::Relaxed);
        }
        let window = limit.window + GUARD;
        let mut waited = Duration::ZERO;
        loop {
            match self
                .store
                .take_request_slot(self.connection_id, name, limit.requests, window)
                .await
                .map_err(store_err)?
            {
                None => {
                    if !waited.is_zero() {
                        debug!(connection_id = %self.connection_id, class = name, waited_ms = waited.as_millis() as u64, "request budget waited");
                        fluxcascade_telemetry::metrics()
                            .budget_wait_seconds
                            .observe(waited.as_secs_f64());
                    }
                    return Ok(());
                }
                Some(wait) if waited + wait > MAX_INLINE_WAIT => {
                    debug!(connection_id = %self.connection_id, class = name, wait_ms = wait.as_millis() as u64, "request budget spent; giving the slot back");
                    return Err(ProviderError::RateLimited { retry_after: wait });
                }
                Some(wait) => {
                    // Replicas waiting on the same slot should not all wake at once.
                    let wait = wait + Duration::from_millis(rand::thread_rng().gen_range(0..15));
                    tokio::time::sleep(wait).await;
                    waited += wait;
                }
            }
        }
    }
}

#[async_trait::async_trait]
impl RequestBudget for StoreBudget {
    async fn acquire(&self, class: RequestClass) -> Result<(), ProviderError> {
        // A search also counts against the general window (HubSpot counts both).
        if class == RequestClass::Search {
            if let Some(limit) = self.limits.search {
                self.take(RequestClass::Search, limit).await?;
            }
        }
        if let Some(limit) = self.limits.general {
            self.take(RequestClass::General, limit).await?;
        }
        Ok(())
    }

    async fn back_off(&self, class: RequestClass, retry_after: Duration) {
        let Some(limit) = self.limits.limit(class) else {
            return;
        };
        if let Err(e) = self
            .store
            .hold_request_slots(
                self.connection_id,
                class.as_str(),
                limit.window + GUARD,
                retry_after,
            )
            .await
        {
            tracing::warn!(error = %e, connection_id = %self.connection_id, "could not hold the request budget after a 429");
        }
    }
}

fn store_err(e: fluxcascade_store::StoreError) -> ProviderError {
    ProviderError::Transient(format!("request budget: {e}"))
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;
    use crate::testdb;

    fn limits(requests: u32, window: Duration) -> BudgetLimits {
        BudgetLimits {
            general: Some(WindowLimit { requests, window }),
            search: None,
        }
    }

    #[tokio::test]
    async fn a_spent_window_gives_the_slot_back_with_the_time_it_frees() {
        let db = testdb::TestDb::new().await;
        let budget = StoreBudget::new(
            db.store.clone(),
            db.connection_id,
            limits(3, Duration::from_secs(300)),
        );
        for _ in 0..3 {
            budget.acquire(RequestClass::General).await.expect("a slot");
        }
        let started = Instant::now();
        match budget.acquire(RequestClass::General).await {
            Err(ProviderError::RateLimited { retry_after }) => {
                assert!(retry_after > Duration::from_secs(290), "{retry_after:?}");
                assert!(retry_after <= Duration::from_secs(301), "{retry_after:?}");
            }
            other => panic!("{other:?}"),
        }
        assert!(
            started.elapsed() < MAX_INLINE_WAIT,
            "{:?}",
            started.elapsed()
        );
    }

    #[tokio::test]
    async fn a_slot_freeing_within_a_moment_is_waited_for() {
        let db = testdb::TestDb::new().await;
        let budget = StoreBudget::new(
            db.store.clone(),
            db.connection_id,
            limits(1, Duration::from_millis(300)),
        );
        budget.acquire(RequestClass::General).await.expect("a slot");
        budget
            .acquire(RequestClass::General)
            .await
            .expect("the next slot frees within the inline wait");
    }

    #[tokio::test]
    async fn a_429_holds_every_replica_off_and_they_give_their_slots_back() {
        let db = testdb::TestDb::new().await;
        let budget = StoreBudget::new(
            db.store.clone(),
            db.connection_id,
            limits(10, Duration::from_secs(10)),
        );
        budget.acquire(RequestClass::General).await.expect("a slot");
        budget
            .back_off(RequestClass::General, Duration::from_secs(60))
            .await;
        let other_replica = StoreBudget::new(
            db.store.clone(),
            db.connection_id,
            limits(10, Duration::from_secs(10)),
        );
        match other_replica.acquire(RequestClass::General).await {
            Err(ProviderError::RateLimited { retry_after }) => {
                assert!(retry_after > Duration::from_secs(50), "{retry_after:?}")
            }
            other => panic!("{other:?}"),
        }
    }
}
