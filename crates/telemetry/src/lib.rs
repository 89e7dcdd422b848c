//! Telemetry for every FluxCascade process: tracing setup and Prometheus metrics.
//!
//! Call [`init_tracing`] once at start-up (a second call is ignored), record
//! metrics through [`metrics()`], and serve [`Metrics::render`] on `/metrics`.
//!
//! OpenTelemetry export is deliberately not built into this crate yet: the
//! `opentelemetry*` crates add a lot of compile time on a small build machine.
//! When `OTEL_EXPORTER_OTLP_ENDPOINT` is set, [`init_tracing`] logs a warning
//! that spans are not exported.

mod health;
mod metrics;
pub mod redact;
mod tracing_setup;

pub use health::{HealthServer, ReadinessCheck};
pub use metrics::labels::{self, status_class, JobOutcome, ReapAction};
pub use metrics::{metrics, Metrics, MetricsError};
pub use tracing_setup::{init_tracing, LogFormat, LOG_FORMAT_ENV, OTLP_ENDPOINT_ENV};
