//! The worker role: consumes sync and batch jobs, talks to providers through adapters, commits to Postgres.

mod adapters;
mod associations;
mod batch;
mod budget;
#[cfg(test)]
mod caps_tests;
mod classify;
mod coordinator;
mod dead_letters;
mod deletes;
mod deliveries;
mod error;
mod handler;
mod health;
mod hooks;
mod leg;
mod matching;
#[cfg(test)]
mod metrics_tests;
mod page;
mod plan;
mod project;
mod reconcile;
mod reverse;
#[cfg(test)]
mod testdb;
mod tokens;
mod waiting;
#[cfg(test)]
mod waiting_tests;
mod writes;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use fluxcascade_providers::egress::{self, WebhookUrls};
use fluxcascade_providers::{ProvidersConfig, RateBudgets};
use fluxcascade_queue::{ConsumerOptions, JobKind, Publisher, QueueConfig};
use fluxcascade_store::{MasterKey, Store};
use tokio_util::sync::CancellationToken;
use tracing::info;

pub use handler::WorkerHandler;

/// Worker settings, loaded once at start.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Sync and batch jobs in flight in this process (also their AMQP prefetch).
    pub concurrency: usize,
    /// Webhook jobs in flight in this process: their own consumer and slots, so a change from a
    /// provider never waits behind bulk batch work.
    pub webhook_concurrency: usize,
    pub queue: QueueConfig,
    pub providers: ProvidersConfig,
    /// Per-connection request budgets, shared by all replicas through Postgres.
    pub rate_budgets: RateBudgets,
    /// Health/metrics listener (`/healthz`, `/readyz`, `/metrics`); port 0 picks one.
    pub listen: String,
    /// Attempts of an outbound webhook delivery; also how often any job may come back unsettled
    /// (its worker died holding it) before it is dead-lettered without running. Failures the
    /// handlers report are retried by time instead (`queue.retry_window`).
    pub max_attempts: u32,
    /// How long a sync run's lease lasts after whoever works on it renewed it; a run whose lease
    /// expired is resumed by the scheduler's reaper.
    pub run_lease: Duration,
    /// Records per page read from the source (one batch job per page).
    pub page_size: u32,
    /// Fleet-wide caps on concurrent batch jobs per org and per written connection
    /// (`FLUXCASCADE_ORG_MAX_BATCHES`, `FLUXCASCADE_CONNECTION_MAX_BATCHES`).
    pub batch_caps: fluxcascade_store::BatchCaps,
    /// How long in-flight jobs may take to finish on SIGTERM.
    pub shutdown_grace: Duration,
    /// Which addresses outbound webhook deliveries may reach (checked again at each delivery).
    pub webhook_urls: WebhookUrls,
}

pub struct Worker {
    config: WorkerConfig,
    handler: Arc<WorkerHandler>,
    deliveries: Arc<deliveries::DeliveryWorker>,
    dead_letters: Arc<dead_letters::StoreSink>,
    health: fluxcascade_telemetry::HealthServer,
}

impl Worker {
    pub async fn build(
        config: WorkerConfig,
        store: Store,
        master_key: Arc<MasterKey>,
    ) -> anyhow::Result<Worker> {
        let publisher = Publisher::connect(&config.queue)
            .await
            .context("connecting the job publisher")?;
        // Provider calls: no redirects followed (egress policy).
        let http =
            egress::provider_client(Duration::from_secs(60)).context("building the HTTP client")?;
        let name = format!(
            "{}-{}",
            std::env::var("HOSTNAME").unwrap_or_else(|_| "worker".into()),
            std::process::id()
        );
        // The worker's collaborators share one relay signal: a token source that records an
        // expiry wakes this worker's outbox relay (no process-wide state).
        let relay = deliveries::RelaySignal::default();
        let deliveries = Arc::new(deliveries::DeliveryWorker::new(
            store.clone(),
            publisher.clone(),
            Arc::clone(&master_key),
            config.max_attempts,
            &config.webhook_urls,
            relay.clone(),
        )?);
        let adapters = adapters::Adapters::new(
            store.clone(),
            master_key,
            config.providers.clone(),
            config.rate_budgets.clone(),
            http,
            relay,
        );
        let handler = Arc::new(
            WorkerHandler::new(
                store.clone(),
                publisher.clone(),
                adapters,
                name,
                config.queue.retry_policy()?,
                config.page_size,
                config.run_lease,
            )
            .with_batch_caps(config.batch_caps),
        );
        let dead_letters = Arc::new(dead_letters::StoreSink::new(store.clone()));
        let health = fluxcascade_telemetry::HealthServer::bind(
            &config.listen,
            health::readiness(store, publisher),
        )
        .await
        .with_context(|| format!("binding the health listener {}", config.listen))?;
        Ok(Worker {
            config,
            handler,
            deliveries,
            dead_letters,
            health,
        })
    }

    pub fn health_addr(&self) -> std::net::SocketAddr {
        self.health.local_addr()
    }

    /// Consumes until `shutdown` fires, then drains in-flight jobs within the grace period.
    pub async fn run_until_stopped(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let options = ConsumerOptions {
            kinds: vec![JobKind::Sync, JobKind::Batch],
            concurrency: self.config.concurrency,
            max_unsettled: self.config.max_attempts,
            shutdown_grace: self.config.shutdown_grace,
        };
        let webhook_options = ConsumerOptions {
            kinds: vec![JobKind::Webhook],
            concurrency: self.config.webhook_concurrency.max(1),
            ..options.clone()
        };
        let health = tokio::spawn(self.health.run(shutdown.clone()));
        info!(concurrency = self.config.concurrency, "worker consuming");
        // Deliveries get their own consumer so slow receivers never hold sync or batch slots.
        let delivering = tokio::spawn(self.deliveries.run(
            self.config.queue.clone(),
            self.config.concurrency,
            self.config.shutdown_grace,
            shutdown.clone(),
        ));
        // Webhook jobs too: a backlog of batch jobs never delays a provider's change.
        let mut webhook_queue = self.config.queue.clone();
        webhook_queue.prefetch = 0; // = its own concurrency
        let webhooks = tokio::spawn(fluxcascade_queue::run_consumer(
            webhook_queue,
            webhook_options,
            Arc::clone(&self.handler) as Arc<dyn fluxcascade_queue::JobHandler>,
            shutdown.clone(),
        ));
        // Every worker records what reaches {prefix}.dead (once per job id).
        let recording = tokio::spawn(fluxcascade_queue::run_dead_letter_consumer(
            self.config.queue.clone(),
            self.dead_letters,
            shutdown.clone(),
        ));
        let res = fluxcascade_queue::run_consumer(
            self.config.queue.clone(),
            options,
            self.handler,
            shutdown.clone(),
        )
        .await
        .context("job consumer");
        shutdown.cancel();
        let _ = webhooks.await;
        let _ = delivering.await;
        let _ = recording.await;
        let _ = health.await;
        res
    }
}
