//! The scheduler role: every tick, fires each scheduled mapping's due fire time exactly once across replicas.
//!
//! Each mapping stores `next_fire_at`, when its schedule must next be looked at. A tick claims
//! batches of mappings with `next_fire_at <= now` (index scan, `FOR NO KEY UPDATE SKIP LOCKED`, so
//! replicas split a busy minute instead of queueing behind each other) and, in that transaction,
//! claims each due fire time with a row in `schedule_fires` (`UNIQUE(mapping_id, fire_at)`, so
//! only one replica ever acts on it), creates its run (`trigger = schedule`) — or records the fire
//! `skipped` while the mapping still has a pending or running run — and moves `next_fire_at` to the
//! following fire time. After the commit the sync jobs are published with broker confirms and the
//! fires recorded `fired`. If the jobs cannot be published, their pending runs are discarded, the
//! claims deleted and `next_fire_at` set back to the fire time, so a later tick (on any replica)
//! retries it. A replica that dies between claim and outcome leaves a `claimed` row: that fire
//! time is not retried (at most once), the next one fires normally. Nothing is evaluated for
//! schedules that are not due, so a tick costs the same with 10 or 100,000 schedules.

mod due;
mod health;
pub mod reaper;
pub mod retention;

use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, Utc};
use fluxcascade_proto::v1::{JobEnvelope, JobKind, SyncJob};
use fluxcascade_queue::{Publisher, QueueConfig};
use fluxcascade_store::leases::ReapPolicy;
use fluxcascade_store::schedules::{ClaimOutcome, ClaimedFire, ScheduleStep, ScheduledMapping};
use fluxcascade_store::{Store, StoreError};
use prost::Message;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

pub use due::{due_fire, due_step, DueStep};

/// Due mappings claimed per transaction; a tick claims batches until fewer are left.
const CLAIM_BATCH: i64 = 250;

/// Claim loops per replica in a tick: while one batch's jobs wait for the broker's confirms, the
/// next batch is being claimed (`SKIP LOCKED` keeps them, and other replicas, on disjoint rows).
const CLAIMERS: usize = 4;

/// How long after a tick boundary (whole seconds, where fire times fall) a tick starts, so its
/// clock reading is past the boundary.
const TICK_OFFSET: Duration = Duration::from_millis(5);

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
    /// A run whose lease is older than this is resumed by the reaper (`FLUXCASCADE_RUN_LEASE_SECONDS`).
    pub run_lease: Duration,
    /// How often the reaper looks (`FLUXCASCADE_REAPER_INTERVAL_SECONDS`, default 15 s).
    pub reaper_interval: Duration,
    /// What ages out of the database, and how often it is purged.
    pub retention: retention::RetentionConfig,
}

impl SchedulerConfig {
    pub fn new(queue: QueueConfig, listen: impl Into<String>) -> SchedulerConfig {
        SchedulerConfig {
            tick: Duration::from_secs(1),
            catch_up_window: Duration::from_secs(3600),
            queue,
            listen: listen.into(),
            run_lease: Duration::from_secs(120),
            reaper_interval: Duration::from_secs(15),
            retention: retention::RetentionConfig::default(),
        }
    }
}

pub struct Scheduler {
    config: SchedulerConfig,
    store: Store,
    publisher: Publisher,
    health: fluxcascade_telemetry::HealthServer,
}

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
        let reaper = tokio::spawn(reaper::run(
            reaper::ReaperConfig {
                interval: config.reaper_interval,
                policy: ReapPolicy {
                    lease: config.run_lease,
                    window: config.queue.retry_window,
                    limit: reaper::DEFAULT_REAP_BATCH,
                },
            },
            store.clone(),
            publisher.clone(),
            shutdown.clone(),
        ));
        let retention = tokio::spawn(retention::run(
            config.retention,
            store.clone(),
            shutdown.clone(),
        ));
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
        loop {
            let wait = until_next_tick(Utc::now(), ticker.config.tick);
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = tokio::time::sleep(wait) => {}
            }
            if let Err(e) = ticker.tick().await {
                warn!(error = %e, "scheduler tick failed");
            }
        }
        shutdown.cancel();
        let _ = reaper.await;
        let _ = retention.await;
        let _ = health.await;
        info!("scheduler stopped");
        Ok(())
    }
}

/// Time until the next multiple of `tick` since the epoch, plus [`TICK_OFFSET`]: ticks fall just
/// after the whole seconds fire times are on, whatever the process's start time.
fn until_next_tick(now: DateTime<Utc>, tick: Duration) -> Duration {
    let tick_ms = i64::try_from(tick.as_millis()).unwrap_or(1000).max(1);
    let into = now.timestamp_millis().rem_euclid(tick_ms);
    Duration::from_millis(u64::try_from(tick_ms - into).unwrap_or(0)) + TICK_OFFSET
}

struct Ticker {
    config: SchedulerConfig,
    store: Store,
    publisher: Publisher,
}

impl Ticker {
    /// Claims and fires due schedules until none is left due: one batch, and when that was full
    /// (a busy second) [`CLAIMERS`] concurrent loops for the rest.
    async fn tick(&self) -> Result<(), StoreError> {
        let window = chrono::Duration::from_std(self.config.catch_up_window)
            .unwrap_or(chrono::Duration::hours(1));
        if !self.claim_batch(window).await? {
            return Ok(());
        }
        let loops = (0..CLAIMERS).map(|_| self.drain(window));
        futures::future::join_all(loops).await.into_iter().collect()
    }

    /// Claims and fires batches until one is not full.
    async fn drain(&self, window: chrono::Duration) -> Result<(), StoreError> {
        while self.claim_batch(window).await? {}
        Ok(())
    }

    /// Claims and fires one batch; true when it was full (more may be due).
    async fn claim_batch(&self, window: chrono::Duration) -> Result<bool, StoreError> {
        let now = Utc::now();
        let started = std::time::Instant::now();
        let batch = self
            .store
            .claim_due_schedules(now, CLAIM_BATCH, |m| decide(m, now, window))
            .await?;
        let claimed = started.elapsed();
        self.act(&batch.claimed).await;
        if batch.looked_at > 0 {
            debug!(
                looked_at = batch.looked_at,
                claimed = batch.claimed.len(),
                claim_ms = claimed.as_millis() as u64,
                act_ms = (started.elapsed() - claimed).as_millis() as u64,
                "schedule batch"
            );
        }
        Ok(batch.looked_at >= CLAIM_BATCH as usize)
    }

    /// Publishes the claimed runs' jobs (pipelined, confirmed) and records the outcome.
    async fn act(&self, claimed: &[ClaimedFire]) {
        for f in claimed
            .iter()
            .filter(|f| f.outcome == ClaimOutcome::Skipped)
        {
            info!(org_id = %f.org_id, mapping_id = %f.mapping_id, fire_at = %f.fire_at, "schedule fire skipped: previous run still going");
        }
        let runs: Vec<ClaimedFire> = claimed
            .iter()
            .filter(|f| f.outcome != ClaimOutcome::Skipped)
            .copied()
            .collect();
        if runs.is_empty() {
            return;
        }
        let (fires, jobs): (Vec<tracing::Span>, Vec<JobEnvelope>) = runs
            .iter()
            .filter_map(|f| sync_job(f).map(|job| (fire_span(f, &job), job)))
            .unzip();
        // Each fire is its own trace: its job's publish span is a child of the fire span.
        let traces: Vec<fluxcascade_queue::TraceHeaders> = fires
            .iter()
            .map(|span| {
                fluxcascade_queue::TraceHeaders::parent(
                    fluxcascade_telemetry::otel::traceparent_of(span),
                )
            })
            .collect();
        let published = self.publisher.publish_many_traced(&jobs, &traces).await;
        drop(fires);
        if let Err(e) = published {
            warn!(error = %e, fires = runs.len(), "publishing scheduled sync jobs failed; a later tick retries");
            if let Err(e) = self.store.release_fires(&runs).await {
                tracing::error!(error = %e, fires = runs.len(), "could not release the schedule claims");
            }
            return;
        }
        let published = Utc::now();
        let metrics = fluxcascade_telemetry::metrics();
        for f in &runs {
            let lag = (published - f.fire_at).to_std().unwrap_or_default();
            metrics.scheduler_lag.observe(lag.as_secs_f64());
            if let ClaimOutcome::Run(sync_id) = f.outcome {
                info!(org_id = %f.org_id, mapping_id = %f.mapping_id, sync_id = %sync_id, fire_at = %f.fire_at, lag_ms = lag.as_millis() as u64, "schedule fired");
            }
        }
        if let Err(e) = self.store.record_fires_fired(&runs).await {
            warn!(error = %e, fires = runs.len(), "recording published schedule fires failed; they stay claimed");
        }
    }
}

/// The root span of one schedule fire (only while spans are exported).
fn fire_span(f: &ClaimedFire, job: &JobEnvelope) -> tracing::Span {
    if !fluxcascade_telemetry::otel::enabled() {
        return tracing::Span::none();
    }
    tracing::info_span!(
        parent: None,
        "schedule fire",
        otel.kind = "internal",
        org_id = %f.org_id,
        mapping_id = %f.mapping_id,
        fire_at = %f.fire_at,
        job_id = %job.job_id,
    )
}

/// The due fire time and next wake-up of one mapping; an invalid stored schedule is not looked
/// at again until it is changed.
fn decide(m: &ScheduledMapping, now: DateTime<Utc>, window: chrono::Duration) -> ScheduleStep {
    match due_step(
        &m.schedule.cron,
        &m.schedule.timezone,
        m.last_fire,
        m.created_at,
        now,
        window,
    ) {
        Ok(step) => ScheduleStep {
            fire_at: step.due,
            next_fire_at: Some(step.next),
        },
        Err(e) => {
            warn!(error = %e, org_id = %m.org_id, mapping_id = %m.mapping_id, "invalid schedule; not fired until it is changed");
            ScheduleStep {
                fire_at: None,
                next_fire_at: None,
            }
        }
    }
}

/// The sync job of a claimed fire's run.
fn sync_job(f: &ClaimedFire) -> Option<JobEnvelope> {
    let ClaimOutcome::Run(sync_id) = f.outcome else {
        return None;
    };
    let job = SyncJob {
        sync_id: sync_id.to_string(),
        mapping_id: f.mapping_id.to_string(),
        epoch: 0,
    };
    Some(JobEnvelope::new(
        JobKind::Sync,
        f.org_id.to_string(),
        job.encode_to_vec(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn ticks_fall_just_after_whole_seconds() {
        let t = Utc.with_ymd_and_hms(2024, 3, 5, 12, 0, 0).unwrap();
        let second = Duration::from_secs(1);
        let ms = chrono::Duration::milliseconds;
        assert_eq!(
            until_next_tick(t + ms(300), second),
            Duration::from_millis(705)
        );
        assert_eq!(until_next_tick(t, second), Duration::from_millis(1005));
        assert_eq!(
            until_next_tick(t + ms(999), second),
            Duration::from_millis(6)
        );
        assert_eq!(
            until_next_tick(t + ms(1500), Duration::from_secs(2)),
            Duration::from_millis(505)
        );
    }
}
