//! Prometheus metric families shared by every FluxCascade role.
//!
//! Names follow `fluxcascade_<noun>_<verb>_total` / `_seconds`; every label has
//! a small, fixed set of values (never ids, URLs or user input).

use std::sync::OnceLock;

use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry, TextEncoder,
};

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

/// The process-wide registry and every metric family FluxCascade records.
#[derive(Debug, Clone)]
pub struct Metrics {
    /// Registry holding all families below; [`Metrics::render`] encodes it.
    pub registry: Registry,
    /// `fluxcascade_jobs_processed_total{kind, outcome}`; outcome: `ok` | `retry` | `dead`.
    pub jobs_processed: IntCounterVec,
    /// `fluxcascade_job_duration_seconds{kind}`: handler run time.
    pub job_duration: HistogramVec,
    /// `fluxcascade_job_queue_wait_seconds{kind}`: job created-at to handler start.
    pub job_queue_wait: HistogramVec,
    /// `fluxcascade_records_synced_total{outcome}`; outcome: `created` | `updated` | `skipped` | `failed`.
    pub records_synced: IntCounterVec,
    /// `fluxcascade_provider_requests_total{provider, status}`; status: see [`status_class`].
    pub provider_requests: IntCounterVec,
    /// `fluxcascade_provider_rate_limited_total{provider}`: 429/throttle answers.
    pub provider_rate_limited: IntCounterVec,
    /// `fluxcascade_jobs_retried_total{kind}`.
    pub jobs_retried: IntCounterVec,
    /// `fluxcascade_jobs_dead_lettered_total{kind}`.
    pub jobs_dead_lettered: IntCounterVec,
    /// `fluxcascade_scheduler_lag_seconds`: fire time to job published.
    pub scheduler_lag: Histogram,
    /// `fluxcascade_provider_budget_wait_seconds`: how long a request waited for its share of a
    /// connection's shared request budget (observed only when it had to wait).
    pub budget_wait_seconds: Histogram,
    /// `fluxcascade_http_requests_total{route, status}`; route is the route
    /// template (`/v1/syncs/{id}`), never the raw path.
    pub http_requests: IntCounterVec,
    /// `fluxcascade_webhooks_received_total{provider, outcome}`.
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

impl Metrics {
    /// Builds a fresh registry with every family registered. Most code should
    /// use the shared [`metrics()`]; a private instance is useful in tests.
    pub fn new() -> Result<Self, MetricsError> {
        let registry = Registry::new();
        let r = &registry;
        let scheduler_lag = Histogram::with_opts(
            HistogramOpts::new(
                "fluxcascade_scheduler_lag_seconds",
                "Delay between a schedule's fire time and its sync job being published",
            )
            .buckets(WAIT_BUCKETS.to_vec()),
        )?;
        registry.register(Box::new(scheduler_lag.clone()))?;
        let budget_wait_seconds = Histogram::with_opts(
            HistogramOpts::new(
                "fluxcascade_provider_budget_wait_seconds",
                "Time a provider request waited for the connection's shared request budget",
            )
            .buckets(WAIT_BUCKETS.to_vec()),
        )?;
        registry.register(Box::new(budget_wait_seconds.clone()))?;
        Ok(Self {
            budget_wait_seconds,
            jobs_processed: counter_vec(
                r,
                "fluxcascade_jobs_processed_total",
                "Jobs handled, by kind and outcome (ok, retry, dead)",
                &["kind", "outcome"],
            )?,
            job_duration: histogram_vec(
                r,
                "fluxcascade_job_duration_seconds",
                "Time spent handling a job",
                &["kind"],
                JOB_DURATION_BUCKETS,
            )?,
            job_queue_wait: histogram_vec(
                r,
                "fluxcascade_job_queue_wait_seconds",
                "Time from a job's creation to the start of its handling",
                &["kind"],
                WAIT_BUCKETS,
            )?,
            records_synced: counter_vec(
                r,
                "fluxcascade_records_synced_total",
                "Records processed by syncs, by outcome (created, updated, skipped, failed)",
                &["outcome"],
            )?,
            provider_requests: counter_vec(
                r,
                "fluxcascade_provider_requests_total",
                "HTTP requests to provider APIs, by provider and status class",
                &["provider", "status"],
            )?,
            provider_rate_limited: counter_vec(
                r,
                "fluxcascade_provider_rate_limited_total",
                "Provider responses that signalled a rate limit",
                &["provider"],
            )?,
            jobs_retried: counter_vec(
                r,
                "fluxcascade_jobs_retried_total",
                "Jobs sent to a retry tier",
                &["kind"],
            )?,
            jobs_dead_lettered: counter_vec(
                r,
                "fluxcascade_jobs_dead_lettered_total",
                "Jobs sent to the dead-letter queue",
                &["kind"],
            )?,
            scheduler_lag,
            http_requests: counter_vec(
                r,
                "fluxcascade_http_requests_total",
                "HTTP requests served, by route template and status code",
                &["route", "status"],
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

/// Maps an HTTP status code to the low-cardinality `status` label of
/// `provider_requests`: `2xx`, `429`, `4xx`, `5xx`; any other code (1xx, 3xx,
/// or out of range) is `other`. Use `"error"` for requests that got no response.
pub fn status_class(status: u16) -> &'static str {
    match status {
        429 => "429",
        200..=299 => "2xx",
        400..=499 => "4xx",
        500..=599 => "5xx",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn incremented_counter_appears_in_render_with_labels() {
        let m = Metrics::new().unwrap();
        m.jobs_processed.with_label_values(&["sync", "ok"]).inc();
        m.jobs_processed.with_label_values(&["sync", "ok"]).inc();
        m.provider_requests
            .with_label_values(&["hubspot", status_class(429)])
            .inc();
        let text = m.render();
        assert!(
            text.contains(r#"fluxcascade_jobs_processed_total{kind="sync",outcome="ok"} 2"#),
            "{text}"
        );
        assert!(
            text.contains(
                r#"fluxcascade_provider_requests_total{provider="hubspot",status="429"} 1"#
            ),
            "{text}"
        );
        assert!(text.contains("# TYPE fluxcascade_jobs_processed_total counter"));
    }

    #[test]
    fn histograms_render_buckets_sum_and_count() {
        let m = Metrics::new().unwrap();
        m.job_duration.with_label_values(&["batch"]).observe(0.3);
        m.scheduler_lag.observe(2.0);
        let text = m.render();
        assert!(
            text.contains(r#"fluxcascade_job_duration_seconds_bucket{kind="batch",le="0.5"} 1"#),
            "{text}"
        );
        assert!(
            text.contains(r#"fluxcascade_job_duration_seconds_bucket{kind="batch",le="0.25"} 0"#),
            "{text}"
        );
        assert!(text.contains(r#"fluxcascade_job_duration_seconds_count{kind="batch"} 1"#));
        assert!(text.contains("fluxcascade_scheduler_lag_seconds_count 1"));
    }

    #[test]
    fn shared_instance_is_the_same_object_and_keeps_counts() {
        let a = metrics();
        let b = metrics();
        assert!(std::ptr::eq(a, b));
        a.webhooks_received
            .with_label_values(&["jobber", "accepted"])
            .inc();
        assert!(b.render().contains(
            r#"fluxcascade_webhooks_received_total{outcome="accepted",provider="jobber"} 1"#
        ));
    }

    #[test]
    fn status_codes_map_to_classes() {
        assert_eq!(status_class(200), "2xx");
        assert_eq!(status_class(204), "2xx");
        assert_eq!(status_class(404), "4xx");
        assert_eq!(status_class(429), "429");
        assert_eq!(status_class(503), "5xx");
        assert_eq!(status_class(302), "other");
        assert_eq!(status_class(0), "other");
    }
}
