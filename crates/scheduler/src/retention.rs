//! Retention: every interval, purges finished runs (with their batches and record errors), provider
//! webhook events and finished outbound deliveries older than the retention, and audit entries
//! older than the audit retention, in batches (see `fluxcascade_store::retention` for what is kept).
//! Every replica may run it: batches take rows with `FOR UPDATE SKIP LOCKED`.

use std::time::Duration;

use fluxcascade_store::retention::PurgeTarget;
use fluxcascade_store::{Store, StoreError};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

/// Rows deleted per statement.
pub const DEFAULT_PURGE_BATCH: i64 = 500;

/// The retention settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetentionConfig {
    /// How often a round runs (`FLUXCASCADE_RETENTION_INTERVAL_SECONDS`, default 1 h).
    pub interval: Duration,
    /// Runs, webhook events and deliveries older than this go (`FLUXCASCADE_RETENTION_DAYS`, 30 d).
    pub history: Duration,
    /// Audit entries older than this go (`FLUXCASCADE_AUDIT_RETENTION_DAYS`, 365 d).
    pub audit: Duration,
    /// Rows per statement.
    pub batch: i64,
}

impl Default for RetentionConfig {
    fn default() -> RetentionConfig {
        RetentionConfig {
            interval: Duration::from_secs(3600),
            history: Duration::from_secs(30 * 86_400),
            audit: Duration::from_secs(365 * 86_400),
            batch: DEFAULT_PURGE_BATCH,
        }
    }
}

/// Rows one round deleted, per target.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Purged {
    pub sync_errors: u64,
    pub sync_runs: u64,
    pub webhook_events: u64,
    pub webhook_deliveries: u64,
    pub audit_entries: u64,
}

impl Purged {
    fn slot(&mut self, target: PurgeTarget) -> &mut u64 {
        match target {
            PurgeTarget::SyncErrors => &mut self.sync_errors,
            PurgeTarget::SyncRuns => &mut self.sync_runs,
            PurgeTarget::WebhookEvents => &mut self.webhook_events,
            PurgeTarget::WebhookDeliveries => &mut self.webhook_deliveries,
            PurgeTarget::AuditEntries => &mut self.audit_entries,
        }
    }

    pub fn total(&self) -> u64 {
        self.sync_errors
            + self.sync_runs
            + self.webhook_events
            + self.webhook_deliveries
            + self.audit_entries
    }
}

/// Purges every `config.interval` (the first round right away) until `shutdown`.
pub async fn run(config: RetentionConfig, store: Store, shutdown: CancellationToken) {
    info!(
        interval_s = config.interval.as_secs(),
        history_days = config.history.as_secs() / 86_400,
        audit_days = config.audit.as_secs() / 86_400,
        "retention started"
    );
    loop {
        match round(&config, &store, &shutdown).await {
            Ok(p) => info!(
                sync_runs = p.sync_runs,
                sync_errors = p.sync_errors,
                webhook_events = p.webhook_events,
                webhook_deliveries = p.webhook_deliveries,
                audit_entries = p.audit_entries,
                "retention round done"
            ),
            Err(e) => warn!(error = %e, "retention round failed; the next round retries"),
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(config.interval) => {}
        }
    }
}

/// One round: each target in batches until a batch comes back short (or `shutdown`).
pub async fn round(
    config: &RetentionConfig,
    store: &Store,
    shutdown: &CancellationToken,
) -> Result<Purged, StoreError> {
    let mut purged = Purged::default();
    for target in PurgeTarget::ALL {
        let age = match target {
            PurgeTarget::AuditEntries => config.audit,
            _ => config.history,
        };
        loop {
            if shutdown.is_cancelled() {
                return Ok(purged);
            }
            let n = store.purge_batch(target, age, config.batch).await?;
            *purged.slot(target) += n;
            if (n as i64) < config.batch {
                break;
            }
        }
    }
    Ok(purged)
}
