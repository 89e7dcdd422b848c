//! Request ids and the request's server span.
//!
//! Every request gets an `X-Request-Id`: the client's when it is 1..=128 visible ASCII characters,
//! otherwise a fresh UUID v7 (tower-http's `SetRequestIdLayer`); the same id is returned on every
//! response (`PropagateRequestIdLayer`, so the 404 fallback, 413s, panics and the receivers too),
//! is in error bodies as `error.requestId` (a task-local read by `ApiError::into_response`), and
//! is the `request_id` field of the request's span, so of every log line written while serving it
//! and of the exported server span.
//!
//! The span follows the HTTP server semantic conventions (`http.request.method`, `http.route`,
//! `url.path`, `http.response.status_code`) and continues an incoming W3C `traceparent`.

use std::time::Duration;

use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderName, HeaderValue, Response};
use axum::middleware::Next;
use tower_http::request_id::{MakeRequestId, RequestId};
use tracing::Span;

/// The request-id header, in requests and responses.
pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// The longest client-chosen request id kept.
pub const MAX_REQUEST_ID_LEN: usize = 128;

tokio::task_local! {
    static REQUEST_ID: String;
}

/// The id of the request being served by this task, if any.
pub fn current() -> Option<String> {
    REQUEST_ID.try_with(Clone::clone).ok()
}

/// Whether a client's id is kept: 1..=128 visible ASCII characters (no spaces or controls).
pub fn acceptable(value: &[u8]) -> bool {
    !value.is_empty()
        && value.len() <= MAX_REQUEST_ID_LEN
        && value.iter().all(|b| b.is_ascii_graphic())
}

/// Makes a UUID v7 id for a request without an acceptable one.
#[derive(Debug, Clone, Copy, Default)]
pub struct MakeUuidV7;

impl MakeRequestId for MakeUuidV7 {
    fn make_request_id<B>(&mut self, _: &axum::http::Request<B>) -> Option<RequestId> {
        HeaderValue::from_str(&uuid::Uuid::now_v7().to_string())
            .ok()
            .map(RequestId::new)
    }
}

/// Middleware (outside `SetRequestIdLayer`): drops a client's id that is not acceptable, so a
/// fresh one is made instead.
pub async fn drop_unacceptable(mut req: Request, next: Next) -> axum::response::Response {
    let bad = req
        .headers()
        .get_all(&REQUEST_ID_HEADER)
        .iter()
        .enumerate()
        .any(|(i, v)| i > 0 || !acceptable(v.as_bytes()));
    if bad {
        req.headers_mut().remove(&REQUEST_ID_HEADER);
    }
    next.run(req).await
}

/// Middleware (inside `SetRequestIdLayer` and the trace layer): serves the request with its id
/// visible to [`current`] and errors.
pub async fn scope(req: Request, next: Next) -> axum::response::Response {
    let id = request_id_of(&req);
    REQUEST_ID.scope(id, next.run(req)).await
}

fn request_id_of<B>(req: &axum::http::Request<B>) -> String {
    req.extensions()
        .get::<RequestId>()
        .and_then(|id| id.header_value().to_str().ok())
        .or_else(|| {
            req.headers()
                .get(&REQUEST_ID_HEADER)
                .and_then(|v| v.to_str().ok())
        })
        .unwrap_or_default()
        .to_owned()
}

/// `make_span_with` of the trace layer: the request's server span.
pub fn make_span<B>(req: &axum::http::Request<B>) -> Span {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned());
    let method = req.method().as_str();
    let name = match &route {
        Some(route) => format!("{method} {route}"),
        None => method.to_owned(),
    };
    let span = tracing::info_span!(
        "request",
        otel.name = %name,
        otel.kind = "server",
        otel.status_code = tracing::field::Empty,
        http.request.method = %method,
        http.route = route.as_deref().unwrap_or(""),
        url.path = %req.uri().path(),
        http.response.status_code = tracing::field::Empty,
        request_id = %request_id_of(req),
    );
    fluxcascade_telemetry::otel::set_parent_from_headers(&span, req.headers());
    span
}

/// `on_response` of the trace layer: the status on the span and one log line per request.
pub fn on_response<B>(resp: &Response<B>, latency: Duration, span: &Span) {
    let status = resp.status().as_u16();
    span.record("http.response.status_code", status);
    if resp.status().is_server_error() {
        span.record("otel.status_code", "ERROR");
    }
    tracing::info!(
        status,
        latency_ms = u64::try_from(latency.as_millis()).unwrap_or(u64::MAX),
        "request served"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_ids_are_kept_only_when_short_and_visible() {
        assert!(acceptable(b"abc-123"));
        assert!(acceptable("x".repeat(128).as_bytes()));
        assert!(!acceptable("x".repeat(129).as_bytes()));
        assert!(!acceptable(b""));
        assert!(!acceptable(b"has space"));
        assert!(!acceptable(b"tab\there"));
        assert!(!acceptable("caf\u{e9}".as_bytes()));
    }
}
