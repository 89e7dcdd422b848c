//! Telemetry for every FluxCascade process: tracing setup and Prometheus metrics.
//!
//! Call [`init_tracing`] once at start-up (a second call is ignored), record
//! metrics through [`metrics()`], and serve [`Metrics::render`] on `/metrics`.
//!
//! Spans are exported over OTLP when the standard `OTEL_*` environment asks for it ([`otel`]);
//! [`otel::shutdown`] flushes them when a role stops.

mod health;
mod metrics;
pub mod otel;
pub mod redact;
mod tracing_setup;

pub use health::{HealthServer, ReadinessCheck};
pub use metrics::labels::{self, status_class, JobOutcome, ReapAction};
pub use metrics::{metrics, Metrics, MetricsError};
pub use otel::OTLP_ENDPOINT_ENV;
pub use tracing_setup::{init_tracing, LogFormat, LOG_FORMAT_ENV};
