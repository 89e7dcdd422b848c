//! The reaper: no run is ever stuck. Every interval it resumes runs whose lease expired (their
//! coordinator died, or an outage kept anyone from renewing it) by re-publishing the coordinator
//! under a new epoch — it continues from its checkpoint, and an older coordinator still around is
//! fenced off at its next checkpoint — and fails those that made no progress for the retry window.
//! It also starts deferred webhook ids whose mapping has no run going any more. Every replica may
//! run it: runs are claimed with `FOR UPDATE SKIP LOCKED`, and a resumed run has a fresh lease.

use std::time::Duration;

use fluxcascade_proto::v1::{JobEnvelope, JobKind, SyncJob};
use fluxcascade_queue::Publisher;
use fluxcascade_store::leases::{ReapPolicy, Reaped};
use fluxcascade_store::{Store, StoreError};
use fluxcascade_telemetry::ReapAction;
use prost::Message;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

/// Runs (and orphaned deferrals) handled per round.
const REAP_BATCH: i64 = 100;

/// The reaper's settings.
#[derive(Debug, Clone, Copy)]
pub struct ReaperConfig {
    /// How often it looks.
    pub interval: Duration,
    pub policy: ReapPolicy,
}

/// Reaps every `config.interval` until `shutdown`.
pub async fn run(
    config: ReaperConfig,
    store: Store,
    publisher: Publisher,
    shutdown: CancellationToken,
) {
    info!(
        interval_s = config.interval.as_secs(),
        lease_s = config.policy.lease.as_secs(),
        window_s = config.policy.window.as_secs(),
        "reaper started"
    );
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(config.interval) => {}
        }
        if let Err(e) = round(&config.policy, &store, &publisher).await {
            warn!(error = %e, "reaper round failed; next round retries");
        }
    }
}

/// One round: expired leases, then orphaned deferrals.
pub async fn round(
    policy: &ReapPolicy,
    store: &Store,
    publisher: &Publisher,
) -> Result<(), StoreError> {
    loop {
        let reaped = store.reap_expired_runs(policy).await?;
        let full = reaped.len() as i64 >= policy.limit;
        for r in &reaped {
            match *r {
                Reaped::Resume {
                    org_id,
                    sync_id,
                    mapping_id,
                    epoch,
                } => {
                    let job = SyncJob {
                        sync_id: sync_id.to_string(),
                        mapping_id: mapping_id.to_string(),
                        epoch: u32::try_from(epoch).unwrap_or(0),
                    };
                    let env =
                        JobEnvelope::new(JobKind::Sync, org_id.to_string(), job.encode_to_vec());
                    fluxcascade_telemetry::metrics().observe_reaped(ReapAction::Resumed);
                    match publisher.publish(&env).await {
                        Ok(()) => info!(%sync_id, epoch, "run lease expired; coordinator resumed"),
                        // Its new lease expires in turn and the next round tries again.
                        Err(e) => {
                            warn!(error = %e, %sync_id, "run lease expired; resuming it failed")
                        }
                    }
                }
                Reaped::Failed { sync_id, .. } => {
                    let m = fluxcascade_telemetry::metrics();
                    m.observe_reaped(ReapAction::Failed);
                    m.runs_finished.with_label_values(&["failed"]).inc();
                    warn!(%sync_id, "run made no progress for the retry window; failed");
                }
            }
        }
        if !full {
            break;
        }
    }
    record_unfinished(store, policy).await?;
    for (org_id, mapping_id) in store.orphaned_deferrals(REAP_BATCH).await? {
        let job_id = format!(
            "reaper-{mapping_id}-{}",
            chrono::Utc::now().timestamp_millis()
        );
        let Some(run) = store
            .start_deferred_run(org_id, mapping_id, &job_id)
            .await?
        else {
            continue;
        };
        let job = SyncJob {
            sync_id: run.sync_id.to_string(),
            mapping_id: run.mapping_id.to_string(),
            epoch: 0,
        };
        let env = JobEnvelope::new(JobKind::Sync, org_id.to_string(), job.encode_to_vec());
        match publisher.publish(&env).await {
            Ok(()) => info!(sync_id = %run.sync_id, %mapping_id, "deferred webhook ids started"),
            Err(e) => {
                warn!(error = %e, %mapping_id, "deferred webhook run not enqueued; ids deferred again");
                if let Err(e) = store.unpublished_webhook_run(org_id, run.sync_id).await {
                    warn!(error = %e, sync_id = %run.sync_id, "could not undo the unqueued webhook run");
                }
            }
        }
    }
    Ok(())
}

/// Sets the run gauges after a round: what is left with an expired lease was not handled
/// (another replica holds it, or this round hit its limit); a run long without progress is stuck.
async fn record_unfinished(store: &Store, policy: &ReapPolicy) -> Result<(), StoreError> {
    let runs = store.unfinished_runs(policy.lease).await?;
    let m = fluxcascade_telemetry::metrics();
    m.runs_unfinished.set(runs.unfinished);
    m.runs_lease_expired.set(runs.lease_expired);
    m.runs_oldest_progress_age
        .set(runs.oldest_progress_age_secs);
    Ok(())
}

/// The default batch size, for callers building a [`ReapPolicy`].
pub const DEFAULT_REAP_BATCH: i64 = REAP_BATCH;
