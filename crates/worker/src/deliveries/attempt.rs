//! One delivery attempt: the signed POST to the subscriber's URL (10 s timeout) and its outcome.

use std::time::{Duration, Instant};

use chrono::Utc;
use fluxcascade_store::webhooks::{AttemptOutcome, DeliveryAttempt};

use super::signing;

/// How long a receiver has to answer.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// The HTTP client for deliveries: 10 s per attempt, redirects are not followed (a 3xx is a
/// failed attempt, as a signed POST must not be replayed elsewhere).
pub fn client() -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .timeout(TIMEOUT)
        .connect_timeout(Duration::from_secs(5))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("FluxCascade-Webhooks/", env!("CARGO_PKG_VERSION")))
        .build()?)
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

    /// `HTTP 500` or the transport error, for logs and the retry reason.
    pub fn summary(&self) -> String {
        match (&self.row.response_status, &self.row.error) {
            (Some(s), _) => format!("HTTP {s}"),
            (None, Some(e)) => e.clone(),
            (None, None) => "no answer".into(),
        }
    }
}

/// The error and its causes, `a: b: c` (reqwest's own message alone says little).
fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        return format!("timed out after {} s", TIMEOUT.as_secs());
    }
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// POSTs the event, signed now, and measures it.
pub async fn post(http: &reqwest::Client, d: &DeliveryAttempt) -> Outcome {
    let at = Utc::now();
    let started = Instant::now();
    let signature = signing::header(&d.secret, at.timestamp(), d.body.as_bytes());
    let sent = http
        .post(&d.url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(signing::SIGNATURE_HEADER, signature)
        .header(signing::EVENT_ID_HEADER, d.event_id.to_string())
        .header(signing::EVENT_TYPE_HEADER, &d.event_type)
        .body(d.body.clone())
        .send()
        .await;
    let (response_status, error) = match sent {
        Ok(resp) => (Some(resp.status().as_u16()), None),
        Err(e) => (None, Some(describe(&e))),
    };
    let duration_ms = i32::try_from(started.elapsed().as_millis()).unwrap_or(i32::MAX);
    Outcome {
        row: AttemptOutcome {
            at,
            response_status,
            error,
            duration_ms,
        },
    }
}
