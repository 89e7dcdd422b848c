//! OpenTelemetry trace export, configured only by the standard environment.
//!
//! - On when `OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is set (and
//!   `OTEL_SDK_DISABLED` is not `true`, `OTEL_TRACES_EXPORTER` not `none`); otherwise no layer is
//!   installed and spans cost what they cost without OpenTelemetry.
//! - `OTEL_EXPORTER_OTLP_PROTOCOL`: `grpc` (tonic) or `http/protobuf` (the default).
//! - `OTEL_SERVICE_NAME` (default `fluxcascade-<role>`), `OTEL_TRACES_SAMPLER` + `_ARG`,
//!   `OTEL_BSP_*` and `OTEL_EXPORTER_OTLP_*` headers/timeouts are read by the SDK itself.
//! - Every string attribute passes through [`crate::redact`] before export
//!   ([`RedactingProcessor`]), like every log line.
//!
//! Only spans from FluxCascade's own crates (targets `fluxcascade*`) at INFO or above (and the
//! store's DEBUG query spans) are exported, with WARN/ERROR events (and [`SPAN_EVENT_TARGET`]'s)
//! as span events; see [`layer_filter`].

use std::sync::OnceLock;
use std::time::Duration;

use opentelemetry::trace::{TraceContextExt, TracerProvider as _};
use opentelemetry::{Context, KeyValue, Value};
use opentelemetry_otlp::{Protocol, WithExportConfig};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{SdkTracerProvider, SpanData, SpanProcessor};
use opentelemetry_sdk::Resource;
use tracing::Subscriber;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

/// Standard OpenTelemetry variable: the OTLP collector's base URL (turns export on).
pub const OTLP_ENDPOINT_ENV: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";
/// Standard OpenTelemetry variable: the traces endpoint (full URL; turns export on).
pub const OTLP_TRACES_ENDPOINT_ENV: &str = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT";
/// Standard OpenTelemetry variable: `grpc` or `http/protobuf`.
pub const OTLP_PROTOCOL_ENV: &str = "OTEL_EXPORTER_OTLP_PROTOCOL";
/// Standard OpenTelemetry variable: the `service.name` resource attribute.
pub const SERVICE_NAME_ENV: &str = "OTEL_SERVICE_NAME";

/// Target of events meant only as span events (exported at any level, logged per `RUST_LOG`):
/// `tracing::event!(target: SPAN_EVENT_TARGET, Level::DEBUG, ...)`.
pub const SPAN_EVENT_TARGET: &str = "fluxcascade::span_event";

/// The W3C header (AMQP and HTTP) carrying a trace context.
pub const TRACEPARENT: &str = "traceparent";

static PROVIDER: OnceLock<SdkTracerProvider> = OnceLock::new();

/// Which wire protocol the exporter speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtlpProtocol {
    /// OTLP/gRPC (port 4317 by convention).
    Grpc,
    /// OTLP/HTTP with protobuf bodies (port 4318 by convention).
    HttpProtobuf,
}

/// Why export is not set up.
#[derive(Debug, thiserror::Error)]
pub enum OtelError {
    /// `OTEL_EXPORTER_OTLP_PROTOCOL` names a protocol this build does not speak.
    #[error("unsupported OTEL_EXPORTER_OTLP_PROTOCOL {0:?} (use grpc or http/protobuf)")]
    Protocol(String),
    /// The exporter could not be built (bad endpoint, no runtime for gRPC).
    #[error("cannot build the OTLP exporter: {0}")]
    Exporter(String),
}

/// What the environment asks for: `None` when export is off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtelSettings {
    pub protocol: OtlpProtocol,
    pub service_name: String,
}

impl OtelSettings {
    /// Reads the settings through `var` (the process environment in production).
    pub fn from_vars(
        role: &str,
        var: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<OtelSettings>, OtelError> {
        let set = |name: &str| var(name).filter(|v| !v.trim().is_empty());
        if set("OTEL_SDK_DISABLED").is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
            || set("OTEL_TRACES_EXPORTER").is_some_and(|v| v.trim().eq_ignore_ascii_case("none"))
        {
            return Ok(None);
        }
        if set(OTLP_ENDPOINT_ENV).is_none() && set(OTLP_TRACES_ENDPOINT_ENV).is_none() {
            return Ok(None);
        }
        let protocol = match set("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
            .or_else(|| set(OTLP_PROTOCOL_ENV))
            .map(|p| p.trim().to_ascii_lowercase())
            .as_deref()
        {
            None | Some("http/protobuf") => OtlpProtocol::HttpProtobuf,
            Some("grpc") => OtlpProtocol::Grpc,
            Some(other) => return Err(OtelError::Protocol(other.to_owned())),
        };
        let service_name = set(SERVICE_NAME_ENV)
            .map(|s| s.trim().to_owned())
            .unwrap_or_else(|| format!("fluxcascade-{role}"));
        Ok(Some(OtelSettings {
            protocol,
            service_name,
        }))
    }
}

/// Builds the exporter, the provider (kept for [`shutdown`]) and the tracing layer.
pub(crate) fn layer<S>(
    settings: &OtelSettings,
) -> Result<Box<dyn Layer<S> + Send + Sync + 'static>, OtelError>
where
    S: Subscriber + for<'a> LookupSpan<'a> + Send + Sync,
{
    let exporter = match settings.protocol {
        OtlpProtocol::HttpProtobuf => opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_protocol(Protocol::HttpBinary)
            .build(),
        OtlpProtocol::Grpc => opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .with_protocol(Protocol::Grpc)
            .build(),
    }
    .map_err(|e| OtelError::Exporter(e.to_string()))?;
    let batch = opentelemetry_sdk::trace::BatchSpanProcessor::builder(exporter).build();
    let provider = SdkTracerProvider::builder()
        .with_span_processor(RedactingProcessor { next: batch })
        .with_resource(
            Resource::builder()
                .with_service_name(settings.service_name.clone())
                .build(),
        )
        .build();
    let tracer = provider.tracer("fluxcascade");
    let _ = PROVIDER.set(provider);
    // Per-span cost matters (a provider request is a span): no code location, thread or
    // busy/idle attributes, which nobody reads and every span would carry.
    Ok(tracing_opentelemetry::layer()
        .with_tracer(tracer)
        .with_location(false)
        .with_threads(false)
        .with_tracked_inactivity(false)
        .with_error_records_to_exceptions(true)
        .with_filter(tracing_subscriber::filter::filter_fn(layer_filter))
        .boxed())
}

/// What is exported: our own spans at INFO and above, and WARN/ERROR events (as span events).
fn layer_filter(meta: &tracing::Metadata<'_>) -> bool {
    if !meta.target().starts_with("fluxcascade") {
        return false;
    }
    if meta.is_span() {
        // The store's query spans are DEBUG so that, with export off, they are never built.
        *meta.level() <= tracing::Level::INFO
            || (*meta.level() == tracing::Level::DEBUG
                && meta.target().starts_with("fluxcascade_store"))
    } else {
        *meta.level() <= tracing::Level::WARN || meta.target() == SPAN_EVENT_TARGET
    }
}

/// Whether spans are being exported (the layer is installed).
pub fn enabled() -> bool {
    PROVIDER.get().is_some()
}

/// Flushes and stops the exporter: call once the role's components have stopped (blocking; at
/// most a few seconds). Does nothing when export is off.
pub fn shutdown() {
    if let Some(provider) = PROVIDER.get() {
        if let Err(e) = provider.shutdown_with_timeout(Duration::from_secs(5)) {
            tracing::warn!(error = %e, "flushing traces at shutdown failed");
        }
    }
}

/// Redacts every string attribute (span and event) before the batch exporter sees it.
#[derive(Debug)]
pub struct RedactingProcessor<P> {
    next: P,
}

fn redact_attributes(attributes: &mut [KeyValue]) {
    for kv in attributes {
        if let Value::String(s) = &kv.value {
            if let std::borrow::Cow::Owned(clean) = crate::redact::redact(s.as_str()) {
                kv.value = Value::from(clean);
            }
        }
    }
}

impl<P: SpanProcessor> SpanProcessor for RedactingProcessor<P> {
    fn on_start(&self, span: &mut opentelemetry_sdk::trace::Span, cx: &Context) {
        self.next.on_start(span, cx);
    }

    fn on_end(&self, mut span: SpanData) {
        redact_attributes(&mut span.attributes);
        for event in span.events.events.iter_mut() {
            redact_attributes(&mut event.attributes);
        }
        self.next.on_end(span);
    }

    fn force_flush(&self) -> opentelemetry_sdk::error::OTelSdkResult {
        self.next.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> opentelemetry_sdk::error::OTelSdkResult {
        self.next.shutdown_with_timeout(timeout)
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.next.set_resource(resource);
    }
}

/// A carrier with just the W3C `traceparent` (and `tracestate`).
#[derive(Default)]
struct Carrier {
    traceparent: Option<String>,
    tracestate: Option<String>,
}

impl opentelemetry::propagation::Injector for Carrier {
    fn set(&mut self, key: &str, value: String) {
        match key {
            TRACEPARENT => self.traceparent = Some(value),
            "tracestate" => self.tracestate = Some(value),
            _ => {}
        }
    }
}

impl opentelemetry::propagation::Extractor for Carrier {
    fn get(&self, key: &str) -> Option<&str> {
        match key {
            TRACEPARENT => self.traceparent.as_deref(),
            "tracestate" => self.tracestate.as_deref(),
            _ => None,
        }
    }

    fn keys(&self) -> Vec<&str> {
        vec![TRACEPARENT, "tracestate"]
    }
}

/// The W3C `traceparent` of `span` (for an AMQP header or an outgoing request), `None` when
/// export is off or the span is not sampled.
pub fn traceparent_of(span: &tracing::Span) -> Option<String> {
    if !enabled() {
        return None;
    }
    use opentelemetry::propagation::TextMapPropagator;
    let mut carrier = Carrier::default();
    TraceContextPropagator::new().inject_context(&span.context(), &mut carrier);
    carrier.traceparent
}

fn extract(traceparent: &str) -> Option<Context> {
    use opentelemetry::propagation::TextMapPropagator;
    let carrier = Carrier {
        traceparent: Some(traceparent.to_owned()),
        tracestate: None,
    };
    let cx = TraceContextPropagator::new().extract(&carrier);
    cx.span().span_context().is_valid().then_some(cx)
}

/// Makes `span` (not yet entered) a child of the remote context in `traceparent`; a malformed
/// value is ignored. Returns whether a parent was set.
pub fn set_parent(span: &tracing::Span, traceparent: &str) -> bool {
    if !enabled() {
        return false;
    }
    match extract(traceparent) {
        Some(cx) => span.set_parent(cx).is_ok(),
        None => false,
    }
}

/// Adds a link from `span` to the remote context in `traceparent` (a batched job's other
/// triggers); a malformed value is ignored.
pub fn add_link(span: &tracing::Span, traceparent: &str) {
    if !enabled() {
        return;
    }
    if let Some(cx) = extract(traceparent) {
        span.add_link(cx.span().span_context().clone());
    }
}

/// Makes `span` a child of the `traceparent` header of an incoming HTTP request, if any.
pub fn set_parent_from_headers(span: &tracing::Span, headers: &axum::http::HeaderMap) {
    if !enabled() {
        return;
    }
    if let Some(value) = headers
        .get(TRACEPARENT)
        .and_then(|v| v.to_str().ok())
        .filter(|v| v.len() <= 256)
    {
        set_parent(span, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        }
    }

    #[test]
    fn export_is_off_without_an_endpoint_and_on_with_one() {
        assert_eq!(OtelSettings::from_vars("worker", vars(&[])).unwrap(), None);
        assert_eq!(
            OtelSettings::from_vars("worker", vars(&[(OTLP_ENDPOINT_ENV, " ")])).unwrap(),
            None
        );
        let on = OtelSettings::from_vars("worker", vars(&[(OTLP_ENDPOINT_ENV, "http://c:4318")]))
            .unwrap()
            .unwrap();
        assert_eq!(on.protocol, OtlpProtocol::HttpProtobuf);
        assert_eq!(on.service_name, "fluxcascade-worker");
        let off = OtelSettings::from_vars(
            "worker",
            vars(&[
                (OTLP_ENDPOINT_ENV, "http://c:4318"),
                ("OTEL_SDK_DISABLED", "true"),
            ]),
        )
        .unwrap();
        assert_eq!(off, None);
    }

    #[test]
    fn protocol_and_service_name_come_from_the_standard_variables() {
        let grpc = OtelSettings::from_vars(
            "ingress",
            vars(&[
                (OTLP_TRACES_ENDPOINT_ENV, "http://c:4317"),
                (OTLP_PROTOCOL_ENV, "grpc"),
                (SERVICE_NAME_ENV, "api"),
            ]),
        )
        .unwrap()
        .unwrap();
        assert_eq!(grpc.protocol, OtlpProtocol::Grpc);
        assert_eq!(grpc.service_name, "api");
        let bad = OtelSettings::from_vars(
            "ingress",
            vars(&[
                (OTLP_ENDPOINT_ENV, "http://c"),
                (OTLP_PROTOCOL_ENV, "carrier-pigeon"),
            ]),
        );
        assert!(matches!(bad, Err(OtelError::Protocol(p)) if p == "carrier-pigeon"));
    }

    #[test]
    fn both_protocols_build_an_exporter_inside_the_runtime() {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .unwrap();
        let _inside = runtime.enter();
        for protocol in [OtlpProtocol::Grpc, OtlpProtocol::HttpProtobuf] {
            let settings = OtelSettings {
                protocol,
                service_name: "fluxcascade-test".into(),
            };
            let built = layer::<tracing_subscriber::Registry>(&settings);
            assert!(built.is_ok(), "{protocol:?}: {:?}", built.err());
        }
        shutdown();
    }

    #[test]
    fn string_attributes_are_redacted() {
        let mut attrs = vec![
            KeyValue::new("url.full", "https://x/hooks?s=topsecret"),
            KeyValue::new("http.response.status_code", 200),
            KeyValue::new("server.address", "api.hubapi.com"),
        ];
        redact_attributes(&mut attrs);
        assert_eq!(attrs[0].value.as_str(), "https://x/hooks?s=[redacted]");
        assert_eq!(attrs[2].value.as_str(), "api.hubapi.com");
    }

    #[test]
    fn a_malformed_traceparent_is_not_a_context() {
        assert!(extract("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").is_some());
        assert!(extract("garbage").is_none());
        assert!(extract("00-00000000000000000000000000000000-00f067aa0ba902b7-01").is_none());
    }
}
