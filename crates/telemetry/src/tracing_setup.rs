//! Global `tracing` subscriber: env filter, JSON or human-readable output, and OpenTelemetry
//! export when the standard `OTEL_*` environment asks for it ([`crate::otel`]).

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};

use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// Environment variable that selects the log format (`json` for JSON lines).
pub const LOG_FORMAT_ENV: &str = "FLUXCASCADE_LOG_FORMAT";

/// Filter used when `RUST_LOG` is unset or invalid.
const DEFAULT_FILTER: &str = "info";

static INITIALISED: AtomicBool = AtomicBool::new(false);

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One JSON object per line (for log collectors).
    Json,
    /// Compact human-readable lines (for terminals).
    Compact,
}

impl LogFormat {
    /// Chooses the format from the value of `FLUXCASCADE_LOG_FORMAT`:
    /// `json` (any case, surrounding spaces ignored) selects JSON, anything
    /// else or no value selects the compact format.
    pub fn from_env_value(value: Option<&str>) -> Self {
        match value {
            Some(v) if v.trim().eq_ignore_ascii_case("json") => LogFormat::Json,
            _ => LogFormat::Compact,
        }
    }

    fn from_env() -> Self {
        Self::from_env_value(std::env::var(LOG_FORMAT_ENV).ok().as_deref())
    }
}

/// Installs the process-wide `tracing` subscriber.
///
/// - Filter from `RUST_LOG` (default `info`; an invalid value falls back to
///   `info` with a warning).
/// - JSON lines when `FLUXCASCADE_LOG_FORMAT=json`, compact text otherwise.
///   Logs go to stderr so admin commands can print results on stdout, through
///   [`crate::redact`], which scrubs anything that looks like a credential.
/// - Safe to call more than once: only the first call (or a subscriber
///   installed by someone else) wins; later calls do nothing.
///
/// OpenTelemetry: when `OTEL_EXPORTER_OTLP_ENDPOINT` (or `..._TRACES_ENDPOINT`) is set, spans are
/// exported over OTLP as [`crate::otel`] describes, `service.name` defaulting to
/// `fluxcascade-<service>`; call [`crate::otel::shutdown`] when the role has stopped. Must run
/// inside a Tokio runtime context for `OTEL_EXPORTER_OTLP_PROTOCOL=grpc`.
pub fn init_tracing(service: &str) {
    if INITIALISED.swap(true, Ordering::SeqCst) {
        return;
    }
    let (filter, filter_error) = match EnvFilter::try_from_default_env() {
        Ok(filter) => (filter, None),
        Err(e) => {
            // An unset RUST_LOG is normal; only report a value that failed to parse.
            let invalid = std::env::var_os(EnvFilter::DEFAULT_ENV).is_some();
            (
                EnvFilter::new(DEFAULT_FILTER),
                invalid.then(|| e.to_string()),
            )
        }
    };
    let format = LogFormat::from_env();
    let (otel, otel_error) =
        match crate::otel::OtelSettings::from_vars(service, |name| std::env::var(name).ok()) {
            Ok(Some(settings)) => match crate::otel::layer(&settings) {
                Ok(layer) => (Some(layer), None),
                Err(e) => (None, Some(e)),
            },
            Ok(None) => (None, None),
            Err(e) => (None, Some(e)),
        };
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(crate::redact::RedactingStderr)
        .with_ansi(std::io::stderr().is_terminal());
    let fmt = match format {
        LogFormat::Json => fmt
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .with_filter(filter)
            .boxed(),
        LogFormat::Compact => fmt.compact().with_filter(filter).boxed(),
    };
    let installed = tracing_subscriber::registry()
        .with(otel)
        .with(fmt)
        .try_init()
        .is_ok();
    if !installed {
        // Another subscriber was already installed (e.g. by a test harness).
        return;
    }
    if let Some(error) = filter_error {
        tracing::warn!(error = %error, default = DEFAULT_FILTER, "invalid RUST_LOG, using default filter");
    }
    if let Some(error) = otel_error {
        tracing::warn!(service, error = %error, "OpenTelemetry export is off");
    }
    tracing::debug!(
        service,
        ?format,
        otel = crate::otel::enabled(),
        "tracing initialised"
    );
}

#[cfg(test)]
mod tests {
    use super::LogFormat;

    #[test]
    fn json_is_selected_only_by_the_json_value() {
        assert_eq!(LogFormat::from_env_value(Some("json")), LogFormat::Json);
        assert_eq!(LogFormat::from_env_value(Some(" JSON ")), LogFormat::Json);
        assert_eq!(
            LogFormat::from_env_value(Some("pretty")),
            LogFormat::Compact
        );
        assert_eq!(LogFormat::from_env_value(Some("")), LogFormat::Compact);
        assert_eq!(LogFormat::from_env_value(None), LogFormat::Compact);
    }
}
