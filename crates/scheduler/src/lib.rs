//! The scheduler role: every tick, fires each scheduled mapping's due fire time exactly once across replicas.
//!
//! A fire time is claimed with a row in `schedule_fires` (`UNIQUE(mapping_id, fire_at)`), so only
//! one replica acts on it. The claimant creates the run (`trigger = schedule`) and publishes its
//! sync job with a broker confirm, then records the fire as `fired`; when the mapping still has a
//! pending or running run the fire is recorded as `skipped`. If the job cannot be published, the
//! pending run is discarded and the claim deleted, so a later tick (on any replica) retries that
//! fire time. A replica that dies between claim and outcome leaves a `claimed` row: that fire
//! time is not retried (at most once), the next one fires normally.

mod due;
mod health;

use std::time::Duration;

use anyhow::Context;
use chrono::Utc;
use fluxcascade_proto::v1::{JobEnvelope, JobKind, SyncJob};
use fluxcascade_queue::{Publisher, QueueConfig};
use fluxcascade_store::schedules::ScheduledMapping;
use fluxcascade_store::{Store, StoreError};
use prost::Message;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

pub use due::due_fire;

/// Scheduler settings, loaded once at start.
#[derive(Debug, Clone)]
pub struct SchedulerConfig {
    /// How often due fire times are looked for (default 1 s).
    pub tick: Duration,
    /// After downtime, the latest missed fire time within this window runs once (default 1 h,
    /// `FLUXCASCADE_SCHEDULER_CATCH_UP_SECONDS`); older ones are dropped.
    pub catch_up_window: Duration,
    pub queue: QueueConfig,
    /// Health/metrics listener (`/healthz`, `/readyz`, `/metrics`); port 0 picks one.
    pub listen: String,
}

impl SchedulerConfig {
    pub fn new(queue: QueueConfig, listen: impl Into<String>) -> SchedulerConfig {
        SchedulerConfig {
            tick: Duration::from_secs(1),
            catch_up_window: Duration::from_secs(3600),
            queue,
            listen: listen.into(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum FireError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("publishing the sync job: {0}")]
    Publish(#[from] fluxcascade_queue::QueueError),
}

/// What happened to a due fire time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FireOutcome {
    /// Another replica (or an earlier tick) had claimed it.
    AlreadyClaimed,
    Fired(uuid::Uuid),
    Skipped,
}

pub struct Scheduler {
    config: SchedulerConfig,
    store: Store,
    publisher: Publisher,
    health: fluxcascade_telemetry::HealthServer,
}

const SKIP_REASON: &str = "the previous sync of this mapping is still pending or running";

impl Scheduler {
    /// Binds the health listener; `publisher` must publish with confirms (it always does).
    pub async fn build(
        config: SchedulerConfig,
        store: Store,
        publisher: Publisher,
    ) -> anyhow::Result<Scheduler> {
        let health = fluxcascade_telemetry::HealthServer::bind(
            &config.listen,
            health::readiness(store.clone(), publisher.clone()),
        )
        .await
        .with_context(|| format!("binding the health listener {}", config.listen))?;
        Ok(Scheduler {
            config,
            store,
            publisher,
            health,
        })
    }

    pub fn health_addr(&self) -> std::net::SocketAddr {
        self.health.local_addr()
    }

    /// Ticks until `shutdown` fires; a tick in progress finishes first (no claim is left half done).
    pub async fn run_until_stopped(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let Scheduler {
            config,
            store,
            publisher,
            health,
        } = self;
        let health = tokio::spawn(health.run(shutdown.clone()));
        let ticker = Ticker {
            config,
            store,
            publisher,
        };
        info!(
            tick_ms = ticker.config.tick.as_millis() as u64,
            catch_up_s = ticker.config.catch_up_window.as_secs(),
            "scheduler started"
        );
        let mut interval = tokio::time::interval(ticker.config.tick);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = interval.tick() => {}
            }
            if let Err(e) = ticker.tick().await {
                warn!(error = %e, "scheduler tick failed");
            }
        }
        shutdown.cancel();
        let _ = health.await;
        info!("scheduler stopped");
        Ok(())
    }
}

struct Ticker {
    config: SchedulerConfig,
    store: Store,
    publisher: Publisher,
}

impl Ticker {
    async fn tick(&self) -> Result<(), StoreError> {
        let window = chrono::Duration::from_std(self.config.catch_up_window)
            .unwrap_or(chrono::Duration::hours(1));
        for m in self.store.list_scheduled_mappings().await? {
            let due = due_fire(
                &m.schedule.cron,
                &m.schedule.timezone,
                m.last_fire,
                m.created_at,
                Utc::now(),
                window,
            );
            match due {
                Ok(Some(at)) => {
                    if let Err(e) = fire(&self.store, &self.publisher, &m, at).await {
                        warn!(error = %e, org_id = %m.org_id, mapping_id = %m.mapping_id, fire_at = %at, "schedule fire failed; a later tick retries");
                    }
                }
                Ok(None) => {}
                Err(e) => {
                    warn!(error = %e, org_id = %m.org_id, mapping_id = %m.mapping_id, "invalid schedule")
                }
            }
        }
        Ok(())
    }
}

/// Claims `at` for the mapping and acts on it (see the module docs).
pub async fn fire(
    store: &Store,
    publisher: &Publisher,
    m: &ScheduledMapping,
    at: chrono::DateTime<Utc>,
) -> Result<FireOutcome, FireError> {
    let (org_id, mapping_id) = (m.org_id, m.mapping_id);
    if !store.claim_fire(org_id, mapping_id, at).await? {
        return Ok(FireOutcome::AlreadyClaimed);
    }
    let run = match store
        .create_sync(org_id, mapping_id, "schedule", "incremental")
        .await
    {
        Ok(run) => run,
        Err(StoreError::Conflict(_)) => {
            store
                .record_fire_skipped(org_id, mapping_id, at, SKIP_REASON)
                .await?;
            info!(org_id = %org_id, mapping_id = %mapping_id, fire_at = %at, "schedule fire skipped: previous run still going");
            return Ok(FireOutcome::Skipped);
        }
        Err(e) => {
            release(store, m, at).await;
            return Err(e.into());
        }
    };
    let job = SyncJob {
        sync_id: run.id.to_string(),
        mapping_id: mapping_id.to_string(),
    };
    let envelope = JobEnvelope::new(JobKind::Sync, org_id.to_string(), job.encode_to_vec());
    if let Err(e) = publisher.publish(&envelope).await {
        if let Err(e) = store.discard_pending_sync(org_id, run.id).await {
            tracing::error!(error = %e, sync_id = %run.id, "could not discard the unqueued run");
        }
        release(store, m, at).await;
        return Err(e.into());
    }
    let lag = (Utc::now() - at).to_std().unwrap_or_default();
    fluxcascade_telemetry::metrics()
        .scheduler_lag
        .observe(lag.as_secs_f64());
    store
        .record_fire_fired(org_id, mapping_id, at, run.id)
        .await?;
    info!(org_id = %org_id, mapping_id = %mapping_id, sync_id = %run.id, fire_at = %at, lag_ms = lag.as_millis() as u64, "schedule fired");
    Ok(FireOutcome::Fired(run.id))
}

async fn release(store: &Store, m: &ScheduledMapping, at: chrono::DateTime<Utc>) {
    if let Err(e) = store.release_fire(m.org_id, m.mapping_id, at).await {
        tracing::error!(error = %e, mapping_id = %m.mapping_id, fire_at = %at, "could not release the schedule claim");
    }
}
