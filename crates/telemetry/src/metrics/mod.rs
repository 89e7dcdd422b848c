//! Prometheus metric families shared by every FluxCascade role.
//!
//! Names follow `fluxcascade_<noun>_<verb>_total` (counters), `_seconds` (durations) and plain
//! nouns for gauges; every label has a small, fixed set of values (never ids, URLs or user
//! input: see [`labels`]). README.md's "Metrics" section lists every family.

use std::sync::OnceLock;
use std::time::Duration;

use prometheus::core::Collector;
use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts, Registry,
    TextEncoder,
};

pub mod labels;
#[cfg(test)]
mod tests;

use labels::{http_method, http_status_class, status_class, JobOutcome, ReapAction, NO_RESPONSE};

/// Errors building or rendering the metrics registry.
#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    /// A metric could not be created or registered (bad name, duplicate).
    #[error("metric registration failed: {0}")]
    Register(#[from] prometheus::Error),
}

/// Buckets for job run time: 5 ms .. 5 min.
const JOB_DURATION_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0,
];
/// Buckets for time between enqueue and start, and for scheduler lag: 10 ms .. 30 min.
const WAIT_BUCKETS: &[f64] = &[
    0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0,
];
/// Buckets for HTTP requests served and sent: 1 ms .. 60 s.
const HTTP_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

/// The process-wide registry and every metric family FluxCascade records.
#[derive(Debug, Clone)]
pub struct Metrics {
    /// Registry holding all families below; [`Metrics::render`] encodes it.
    pub registry: Registry,
    /// `fluxcascade_http_requests_total{route, status}`; route is the route template
    /// (`/v1/syncs/{id}`, `unmatched` for none), status the exact code.
    pub http_requests: IntCounterVec,
    /// `fluxcascade_http_request_duration_seconds{route, method, status}`; status is the class
    /// (`2xx`..`5xx`). Recorded by [`Metrics::observe_http`].
    pub http_request_duration: HistogramVec,
    /// `fluxcascade_jobs_processed_total{kind, outcome}`; outcome: [`JobOutcome`].
    pub jobs_processed: IntCounterVec,
    /// `fluxcascade_job_duration_seconds{kind, outcome}`: handler run time.
    pub job_duration: HistogramVec,
    /// `fluxcascade_job_queue_wait_seconds{kind, outcome}`: the envelope's `created_at_unix_ms` to the
    /// start of its first handling (retried deliveries are not observed: their wait is the retry
    /// tier's delay).
    pub job_queue_wait: HistogramVec,
    /// `fluxcascade_jobs_retried_total{kind}`: jobs sent to a retry tier after a failure.
    pub jobs_retried: IntCounterVec,
    /// `fluxcascade_jobs_deferred_total{kind}`: jobs sent back to a tier to wait (rate limit, cap).
    pub jobs_deferred: IntCounterVec,
    /// `fluxcascade_jobs_dead_lettered_total{kind}`: messages sent to the dead-letter queue
    /// (`kind="unknown"` for a message that is not a job envelope).
    pub jobs_dead_lettered: IntCounterVec,
    /// `fluxcascade_records_synced_total{outcome}`; outcome: `created` | `updated` | `skipped` |
    /// `failed`, counted once per committed batch.
    pub records_synced: IntCounterVec,
    /// `fluxcascade_runs_finished_total{status}`; status: `completed` | `partial` | `failed`.
    pub runs_finished: IntCounterVec,
    /// `fluxcascade_runs_reaped_total{action}`; action: [`ReapAction`].
    pub runs_reaped: IntCounterVec,
    /// `fluxcascade_runs_unfinished`: runs `pending` or `running`, as the reaper last counted.
    pub runs_unfinished: IntGauge,
    /// `fluxcascade_runs_lease_expired`: unfinished runs whose lease has expired (nobody is
    /// working on them), counted by the reaper after its round: what it could not resume or fail.
    pub runs_lease_expired: IntGauge,
    /// `fluxcascade_runs_oldest_progress_age_seconds`: seconds since the unfinished run that
    /// progressed least recently last made progress (0: none unfinished), as the reaper last saw.
    pub runs_oldest_progress_age: IntGauge,
    /// `fluxcascade_provider_requests_total{provider, status}`; status: see [`status_class`].
    pub provider_requests: IntCounterVec,
    /// `fluxcascade_provider_request_duration_seconds{provider, status}`: request sent to body read.
    pub provider_request_duration: HistogramVec,
    /// `fluxcascade_provider_rate_limited_total{provider}`: answers that signalled a rate limit
    /// (429, Salesforce's `REQUEST_LIMIT_EXCEEDED`).
    pub provider_rate_limited: IntCounterVec,
    /// `fluxcascade_provider_budget_wait_seconds`: how long a request waited for its share of a
    /// connection's shared request budget (observed only when it had to wait).
    pub budget_wait_seconds: Histogram,
    /// `fluxcascade_token_refresh_failures_total{provider, reason}`; reason: `rejected` (the
    /// connection expired) | `error` (transient, retried).
    pub token_refresh_failures: IntCounterVec,
    /// `fluxcascade_scheduler_lag_seconds`: a schedule's fire (due) time to its job published.
    pub scheduler_lag: Histogram,
    /// `fluxcascade_webhooks_received_total{provider, outcome}`: verified provider deliveries;
    /// outcome `accepted` (job confirmed) | `empty` (no event to sync) | `unavailable` (503).
    /// Refused deliveries (bad signature) are in `fluxcascade_http_requests_total` by route.
    pub webhooks_received: IntCounterVec,
}

fn counter_vec(
    registry: &Registry,
    name: &str,
    help: &str,
    labels: &[&str],
) -> Result<IntCounterVec, MetricsError> {
    let metric = IntCounterVec::new(Opts::new(name, help), labels)?;
    registry.register(Box::new(metric.clone()))?;
    Ok(metric)
}

fn histogram_vec(
    registry: &Registry,
    name: &str,
    help: &str,
    labels: &[&str],
    buckets: &[f64],
) -> Result<HistogramVec, MetricsError> {
    let opts = HistogramOpts::new(name, help).buckets(buckets.to_vec());
    let metric = HistogramVec::new(opts, labels)?;
    registry.register(Box::new(metric.clone()))?;
    Ok(metric)
}

fn histogram(
    registry: &Registry,
    name: &str,
    help: &str,
    buckets: &[f64],
) -> Result<Histogram, MetricsError> {
    let metric = Histogram::with_opts(HistogramOpts::new(name, help).buckets(buckets.to_vec()))?;
    registry.register(Box::new(metric.clone()))?;
    Ok(metric)
}

fn gauge(registry: &Registry, name: &str, help: &str) -> Result<IntGauge, MetricsError> {
    let metric = IntGauge::new(name, help)?;
    registry.register(Box::new(metric.clone()))?;
    Ok(metric)
}

impl Metrics {
    /// Builds a fresh registry with every family registered. Most code should
    /// use the shared [`metrics()`]; a private instance is useful in tests.
    pub fn new() -> Result<Self, MetricsError> {
        let registry = Registry::new();
        let r = &registry;
        Ok(Self {
            http_requests: counter_vec(
                r,
                "fluxcascade_http_requests_total",
                "HTTP requests served, by route template and status code",
                &["route", "status"],
            )?,
            http_request_duration: histogram_vec(
                r,
                "fluxcascade_http_request_duration_seconds",
                "Time to answer an HTTP request, by route template, method and status class",
                &["route", "method", "status"],
                HTTP_BUCKETS,
            )?,
            jobs_processed: counter_vec(
                r,
                "fluxcascade_jobs_processed_total",
                "Jobs handled, by kind and outcome (ok, retry, deferred, dead)",
                &["kind", "outcome"],
            )?,
            job_duration: histogram_vec(
                r,
                "fluxcascade_job_duration_seconds",
                "Time spent handling a job, by kind and outcome",
                &["kind", "outcome"],
                JOB_DURATION_BUCKETS,
            )?,
            job_queue_wait: histogram_vec(
                r,
                "fluxcascade_job_queue_wait_seconds",
                "Time from a job's creation to the start of its first handling, by kind and outcome",
                &["kind", "outcome"],
                WAIT_BUCKETS,
            )?,
            jobs_retried: counter_vec(
                r,
                "fluxcascade_jobs_retried_total",
                "Failed jobs sent to a retry tier",
                &["kind"],
            )?,
            jobs_deferred: counter_vec(
                r,
                "fluxcascade_jobs_deferred_total",
                "Jobs sent back to a retry tier to wait for a rate limit or a cap",
                &["kind"],
            )?,
            jobs_dead_lettered: counter_vec(
                r,
                "fluxcascade_jobs_dead_lettered_total",
                "Messages sent to the dead-letter queue, by job kind",
                &["kind"],
            )?,
            records_synced: counter_vec(
                r,
                "fluxcascade_records_synced_total",
                "Records in committed batches, by outcome (created, updated, skipped, failed)",
                &["outcome"],
            )?,
            runs_finished: counter_vec(
                r,
                "fluxcascade_runs_finished_total",
                "Sync runs that ended, by final status (completed, partial, failed)",
                &["status"],
            )?,
            runs_reaped: counter_vec(
                r,
                "fluxcascade_runs_reaped_total",
                "Runs whose lease expired, by what the reaper did (resumed, failed)",
                &["action"],
            )?,
            runs_unfinished: gauge(
                r,
                "fluxcascade_runs_unfinished",
                "Sync runs pending or running, as the reaper last counted",
            )?,
            runs_lease_expired: gauge(
                r,
                "fluxcascade_runs_lease_expired",
                "Unfinished sync runs whose lease had expired, as the reaper last counted",
            )?,
            runs_oldest_progress_age: gauge(
                r,
                "fluxcascade_runs_oldest_progress_age_seconds",
                "Seconds since the least recently progressing unfinished run made progress",
            )?,
            provider_requests: counter_vec(
                r,
                "fluxcascade_provider_requests_total",
                "HTTP requests to provider APIs, by provider and status class",
                &["provider", "status"],
            )?,
            provider_request_duration: histogram_vec(
                r,
                "fluxcascade_provider_request_duration_seconds",
                "Time of one HTTP request to a provider API, by provider and status class",
                &["provider", "status"],
                HTTP_BUCKETS,
            )?,
            provider_rate_limited: counter_vec(
                r,
                "fluxcascade_provider_rate_limited_total",
                "Provider responses that signalled a rate limit",
                &["provider"],
            )?,
            budget_wait_seconds: histogram(
                r,
                "fluxcascade_provider_budget_wait_seconds",
                "Time a provider request waited for the connection's shared request budget",
                WAIT_BUCKETS,
            )?,
            token_refresh_failures: counter_vec(
                r,
                "fluxcascade_token_refresh_failures_total",
                "OAuth token refreshes that failed, by provider and reason (rejected, error)",
                &["provider", "reason"],
            )?,
            scheduler_lag: histogram(
                r,
                "fluxcascade_scheduler_lag_seconds",
                "Delay between a schedule's fire time and its sync job being published",
                WAIT_BUCKETS,
            )?,
            webhooks_received: counter_vec(
                r,
                "fluxcascade_webhooks_received_total",
                "Provider webhooks received, by provider and outcome",
                &["provider", "outcome"],
            )?,
            registry,
        })
    }

    /// Records one HTTP request served: the counter by exact status and the duration histogram
    /// by status class. `route` must be a route template (or `unmatched`), never a raw path.
    pub fn observe_http(&self, route: &str, method: &str, status: u16, elapsed: Duration) {
        self.http_requests
            .with_label_values(&[route, &status.to_string()])
            .inc();
        self.http_request_duration
            .with_label_values(&[route, http_method(method), http_status_class(status)])
            .observe(elapsed.as_secs_f64());
    }

    /// Records how the queue settled one job of `kind` (a `JobKind` name) after `elapsed`,
    /// and the time it waited in its queue before (`None`: not a first delivery, not observed).
    pub fn observe_job(
        &self,
        kind: &str,
        outcome: JobOutcome,
        elapsed: Duration,
        queue_wait: Option<Duration>,
    ) {
        let labels = [kind, outcome.as_str()];
        self.jobs_processed.with_label_values(&labels).inc();
        self.job_duration
            .with_label_values(&labels)
            .observe(elapsed.as_secs_f64());
        if let Some(wait) = queue_wait {
            self.job_queue_wait
                .with_label_values(&labels)
                .observe(wait.as_secs_f64());
        }
        match outcome {
            JobOutcome::Ok => {}
            JobOutcome::Retry => self.jobs_retried.with_label_values(&[kind]).inc(),
            JobOutcome::Deferred => self.jobs_deferred.with_label_values(&[kind]).inc(),
            JobOutcome::Dead => self.jobs_dead_lettered.with_label_values(&[kind]).inc(),
        }
    }

    /// Records one request to a provider's API: `status` is `None` when no response came.
    pub fn observe_provider_request(&self, provider: &str, status: Option<u16>, elapsed: Duration) {
        let class = status.map_or(NO_RESPONSE, status_class);
        self.provider_requests
            .with_label_values(&[provider, class])
            .inc();
        self.provider_request_duration
            .with_label_values(&[provider, class])
            .observe(elapsed.as_secs_f64());
    }

    /// Records the counts of one freshly committed batch.
    pub fn observe_records(&self, created: u64, updated: u64, skipped: u64, failed: u64) {
        for (outcome, n) in [
            ("created", created),
            ("updated", updated),
            ("skipped", skipped),
            ("failed", failed),
        ] {
            self.records_synced.with_label_values(&[outcome]).inc_by(n);
        }
    }

    /// Records one reaped run.
    pub fn observe_reaped(&self, action: ReapAction) {
        self.runs_reaped.with_label_values(&[action.as_str()]).inc();
    }

    /// Encodes every family in the Prometheus text exposition format
    /// (content type `text/plain; version=0.0.4`).
    pub fn render(&self) -> String {
        let families = self.registry.gather();
        let mut buf = Vec::new();
        if let Err(e) = TextEncoder::new().encode(&families, &mut buf) {
            tracing::warn!(error = %e, "failed to encode metrics");
        }
        String::from_utf8_lossy(&buf).into_owned()
    }

    /// The names of every registered family (a vector family with no child yet is not in
    /// [`Metrics::render`], but it is exported as soon as its first event happens).
    /// Histograms export `<name>_bucket`, `_sum` and `_count` series: see
    /// [`Metrics::histogram_names`].
    pub fn family_names(&self) -> Vec<String> {
        names_of(&self.histograms())
            .into_iter()
            .chain(names_of(&self.others()))
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect()
    }

    /// The names of the histogram families.
    pub fn histogram_names(&self) -> Vec<String> {
        names_of(&self.histograms())
    }

    // Keep both lists in step with the struct: the unit test
    // `family_lists_match_what_the_registry_exports` fails on a family missing here.
    fn histograms(&self) -> [&dyn Collector; 6] {
        [
            &self.http_request_duration,
            &self.job_duration,
            &self.job_queue_wait,
            &self.provider_request_duration,
            &self.budget_wait_seconds,
            &self.scheduler_lag,
        ]
    }

    fn others(&self) -> [&dyn Collector; 15] {
        [
            &self.http_requests,
            &self.jobs_processed,
            &self.jobs_retried,
            &self.jobs_deferred,
            &self.jobs_dead_lettered,
            &self.records_synced,
            &self.runs_finished,
            &self.runs_reaped,
            &self.runs_unfinished,
            &self.runs_lease_expired,
            &self.runs_oldest_progress_age,
            &self.provider_requests,
            &self.provider_rate_limited,
            &self.token_refresh_failures,
            &self.webhooks_received,
        ]
    }
}

fn names_of(collectors: &[&dyn Collector]) -> Vec<String> {
    collectors
        .iter()
        .flat_map(|c| c.desc().into_iter().map(|d| d.fq_name.clone()))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect()
}

/// The process-wide metrics, created on first use.
///
/// # Panics
/// Only if the constant metric definitions above were invalid; the unit tests
/// build them, so such a mistake fails `cargo test` rather than production.
pub fn metrics() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(|| {
        #[allow(clippy::expect_used)]
        Metrics::new().expect("constant metric definitions are valid")
    })
}
