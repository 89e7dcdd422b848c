//! The worker role: consumes sync and batch jobs, talks to providers through adapters, commits to Postgres.

mod adapters;
mod associations;
mod batch;
mod budget;
mod classify;
mod coordinator;
mod deliveries;
mod handler;
mod health;
mod matching;
mod plan;
mod project;
mod reconcile;
mod reverse;
mod tokens;
mod webhooks;
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
    /// Jobs in flight in this process (also the AMQP prefetch).
    pub concurrency: usize,
    pub queue: QueueConfig,
    pub providers: ProvidersConfig,
    /// Per-connection request budgets, shared by all replicas through Postgres.
    pub rate_budgets: RateBudgets,
    /// Health/metrics listener (`/healthz`, `/readyz`, `/metrics`); port 0 picks one.
    pub listen: String,
    /// Attempts before a job is dead-lettered (the last attempt ends the run or batch for good).
    pub max_attempts: u32,
    /// Records per page read from the source (one batch job per page).
    pub page_size: u32,
    /// How long in-flight jobs may take to finish on SIGTERM.
    pub shutdown_grace: Duration,
    /// Which addresses outbound webhook deliveries may reach (checked again at each delivery).
    pub webhook_urls: WebhookUrls,
}

pub struct Worker {
    config: WorkerConfig,
    handler: Arc<WorkerHandler>,
    deliveries: Arc<deliveries::DeliveryWorker>,
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
        let deliveries = Arc::new(deliveries::DeliveryWorker::new(
            store.clone(),
            publisher.clone(),
            Arc::clone(&master_key),
            config.max_attempts,
            &config.webhook_urls,
        )?);
        let adapters = adapters::Adapters::new(
            store.clone(),
            master_key,
            config.providers.clone(),
            config.rate_budgets.clone(),
            http,
        );
        let handler = Arc::new(WorkerHandler::new(
            store.clone(),
            publisher.clone(),
            adapters,
            name,
            config.max_attempts,
            config.page_size,
        ));
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
            health,
        })
    }

    pub fn health_addr(&self) -> std::net::SocketAddr {
        self.health.local_addr()
    }

    /// Consumes until `shutdown` fires, then drains in-flight jobs within the grace period.
    pub async fn run_until_stopped(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let options = ConsumerOptions {
            kinds: vec![JobKind::Sync, JobKind::Batch, JobKind::Webhook],
            concurrency: self.config.concurrency,
            max_attempts: self.config.max_attempts,
            shutdown_grace: self.config.shutdown_grace,
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
        let res = fluxcascade_queue::run_consumer(
            self.config.queue.clone(),
            options,
            self.handler,
            shutdown.clone(),
        )
        .await
        .context("job consumer");
        shutdown.cancel();
        let _ = delivering.await;
        let _ = health.await;
        res
    }
}
