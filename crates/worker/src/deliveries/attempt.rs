//! One delivery attempt: the signed POST to the subscriber's URL (10 s timeout) and its outcome.
//! The URL passes the egress policy again first (an IP-literal host is checked here; a name is
//! resolved by the client's filtering resolver, so the connection goes to a checked address),
//! at most [`DELIVERY_BODY_LIMIT`] bytes of the answer are read, and the log keeps the failure
//! class (`connect_refused`, `timeout`, `tls`, `status`, `blocked_address`, `dns`, ...), never
//! the raw socket error.

use std::time::{Duration, Instant};

use chrono::Utc;
use fluxcascade_providers::egress::{
    classify_failure, read_capped, webhook_client, EgressError, FailureClass, WebhookUrls,
    DELIVERY_BODY_LIMIT,
};
use fluxcascade_store::deliveries::{AttemptOutcome, DeliveryAttempt};
use tracing::Instrument;

use super::signing;

/// How long a receiver has to answer.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// The HTTP client for deliveries: 10 s per attempt, redirects are not followed (a 3xx is a
/// failed attempt, as a signed POST must not be replayed elsewhere), names resolved to public
/// addresses only unless `urls` allows private ones.
pub fn client(urls: &WebhookUrls) -> anyhow::Result<reqwest::Client> {
    Ok(webhook_client(urls, TIMEOUT)?)
}

/// What an attempt produced, ready for the log.
pub struct Outcome {
    pub row: AttemptOutcome,
}

impl Outcome {
    pub fn delivered(&self) -> bool {
        self.row
            .response_status
            .is_some_and(|s| (200..300).contains(&s))
    }

    /// `HTTP 500` or the failure class, for logs and the retry reason.
    pub fn summary(&self) -> String {
        match (&self.row.response_status, &self.row.error) {
            (Some(s), _) => format!("HTTP {s}"),
            (None, Some(e)) => e.clone(),
            (None, None) => "no answer".into(),
        }
    }
}

/// POSTs the event, signed now, and measures it (in a client span while spans are exported).
pub async fn post(http: &reqwest::Client, urls: &WebhookUrls, d: &DeliveryAttempt) -> Outcome {
    let at = Utc::now();
    let started = Instant::now();
    let span = delivery_span(d);
    let (response_status, failure) = send(http, urls, d, at.timestamp(), &span)
        .instrument(span.clone())
        .await;
    if let Some(status) = response_status {
        span.record("http.response.status_code", status);
    }
    if let Some(failure) = &failure {
        span.record("otel.status_code", "ERROR");
        span.record("error.type", failure.as_str());
    }
    let duration_ms = i32::try_from(started.elapsed().as_millis()).unwrap_or(i32::MAX);
    Outcome {
        row: AttemptOutcome {
            at,
            response_status,
            error: failure.map(|f| f.as_str().to_owned()),
            duration_ms,
        },
    }
}

/// The client span of one delivery attempt (HTTP client semantic conventions: the host, never
/// the URL), disabled when spans are not exported.
fn delivery_span(d: &DeliveryAttempt) -> tracing::Span {
    if !fluxcascade_telemetry::otel::enabled() {
        return tracing::Span::none();
    }
    let host = reqwest::Url::parse(&d.url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_default();
    tracing::info_span!(
        "webhook delivery",
        otel.name = "POST webhook delivery",
        otel.kind = "client",
        otel.status_code = tracing::field::Empty,
        http.request.method = "POST",
        server.address = %host,
        http.response.status_code = tracing::field::Empty,
        error.type = tracing::field::Empty,
        fluxcascade.event_type = %d.event_type,
        fluxcascade.event_id = %d.event_id,
    )
}

/// The receiver's status (if it answered) and the failure class (if the attempt failed).
async fn send(
    http: &reqwest::Client,
    urls: &WebhookUrls,
    d: &DeliveryAttempt,
    timestamp: i64,
    span: &tracing::Span,
) -> (Option<u16>, Option<FailureClass>) {
    let url = match urls.check_syntax(&d.url) {
        Ok(url) => url,
        Err(EgressError::Blocked { .. }) => return (None, Some(FailureClass::BlockedAddress)),
        Err(_) => return (None, Some(FailureClass::InvalidUrl)),
    };
    let signature = signing::header(&d.secret, timestamp, d.body.as_bytes());
    let mut request = http.post(url);
    // The receiver may continue the trace.
    if let Some(traceparent) = fluxcascade_telemetry::otel::traceparent_of(span) {
        request = request.header(fluxcascade_telemetry::otel::TRACEPARENT, traceparent);
    }
    let sent = request
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(signing::SIGNATURE_HEADER, signature)
        .header(signing::EVENT_ID_HEADER, d.event_id.to_string())
        .header(signing::EVENT_TYPE_HEADER, &d.event_type)
        .body(d.body.clone())
        .send()
        .await;
    match sent {
        Ok(resp) => {
            let status = resp.status();
            // The answer is not kept; reading a little of it lets the connection be reused.
            // A receiver that took the event is not failed for a long answer.
            let _ = read_capped(resp, DELIVERY_BODY_LIMIT).await;
            let failure = (!status.is_success()).then_some(FailureClass::Status);
            (Some(status.as_u16()), failure)
        }
        Err(e) => (None, Some(classify_failure(&e))),
    }
}
