//! Shared HTTP behaviour for every adapter: bearer auth with one refresh on 401, internal
//! retries on short rate-limit waits (honouring the provider's wait), and error classification.
//!
//! A wait longer than [`MAX_INLINE_WAIT`] (a 429's `Retry-After`, or the shared budget's next
//! free slot) is never slept here: the call returns `ProviderError::RateLimited` at once, so
//! the worker gives its slot back and the job comes back when the window has moved on.
//!
//! Egress rules (see [`crate::egress`]): a 3xx is a permanent error (the client given to an
//! adapter is built by [`crate::egress::provider_client`], which follows no redirect); at most
//! [`PROVIDER_BODY_LIMIT`] bytes of an answer are read and a larger answer is a permanent error
//! (the same request would get the same answer, and retrying would read it again); transport
//! errors never carry the URL; quoted error bodies are cut to [`MAX_ERROR_MESSAGE`] bytes.

use std::sync::Arc;
use std::time::Duration;

use backon::{ConstantBuilder, Retryable};
use rand::Rng;
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde_json::Value;
use tracing::{debug, warn, Instrument};

use crate::egress::{describe, read_capped, BodyError, PROVIDER_BODY_LIMIT};
use crate::{ProviderError, RequestBudget, RequestClass, TokenSource, Unlimited};

/// The longest provider error text quoted into a message (bytes).
pub const MAX_ERROR_MESSAGE: usize = 1024;

/// How many times a rate-limited request is retried inside the adapter before
/// `ProviderError::RateLimited` goes back to the caller.
pub const DEFAULT_RATE_LIMIT_RETRIES: usize = 3;

/// The longest a provider call may wait inline for a rate limit (a 429's wait, a budget slot),
/// in total over its retries. Anything longer returns `ProviderError::RateLimited` so the
/// worker slot is given back instead of sleeping while other tenants' jobs queue behind it.
///
/// 12 s: longer than a HubSpot (10 s) or Pipedrive (2 s) window plus a `Retry-After` of a second,
/// so those are still paced inline; Jobber's 5-minute window and long `Retry-After`s are given
/// back. At 2 s, batches given back mid-write came back through the create-intent reconcile (a
/// target search plus, for HubSpot deals, one association read per deal): `rate_budget.rs`'s two
/// 5,000-record runs made 3,899 association reads and stalled.
pub const MAX_INLINE_WAIT: Duration = Duration::from_secs(12);

/// What differs between providers in otherwise shared HTTP handling.
pub(crate) trait ProviderPolicy: Send + Sync {
    /// Provider name for logs.
    fn name(&self) -> &'static str;
    /// How long to wait after a 429 when there is no `Retry-After` header.
    fn rate_limit_wait(&self, body: &Value) -> Duration;
    /// Which of the provider's limits a request counts against (default: the general one).
    fn request_class(&self, _req: &ApiRequest<'_>) -> RequestClass {
        RequestClass::General
    }
    /// A provider-specific reading of a non-2xx answer other than 401 (Salesforce's 403
    /// `REQUEST_LIMIT_EXCEEDED` is a rate limit; Pipedrive names its wait in
    /// `x-ratelimit-reset`); `None` falls back to the shared classification.
    fn classify_error(
        &self,
        _status: StatusCode,
        _headers: &HeaderMap,
        _body: &Value,
    ) -> Option<ProviderError> {
        None
    }
    /// Errors hidden in a 2xx body (GraphQL throttling); `Ok` when the body is usable.
    fn check_body(&self, _body: &Value) -> Result<(), ProviderError> {
        Ok(())
    }
}

/// An authenticated JSON client for one provider connection.
pub(crate) struct ApiClient {
    http: reqwest::Client,
    tokens: Arc<dyn TokenSource>,
    policy: Box<dyn ProviderPolicy>,
    budget: Arc<dyn RequestBudget>,
    rate_limit_retries: usize,
    body_limit: usize,
}

/// One JSON request: method, absolute URL, optional JSON body and extra headers.
pub(crate) struct ApiRequest<'a> {
    pub method: Method,
    pub url: String,
    pub body: Option<&'a Value>,
    pub headers: &'a [(&'static str, &'static str)],
}

impl ApiClient {
    pub(crate) fn new(
        http: reqwest::Client,
        tokens: Arc<dyn TokenSource>,
        policy: Box<dyn ProviderPolicy>,
    ) -> Self {
        ApiClient {
            http,
            tokens,
            policy,
            budget: Arc::new(Unlimited),
            rate_limit_retries: DEFAULT_RATE_LIMIT_RETRIES,
            body_limit: PROVIDER_BODY_LIMIT,
        }
    }

    /// Reads at most `limit` bytes of an answer (default [`PROVIDER_BODY_LIMIT`]).
    #[cfg(test)]
    pub(crate) fn set_body_limit(&mut self, limit: usize) {
        self.body_limit = limit;
    }

    /// Every request first takes its share from `budget` (shared across replicas).
    pub(crate) fn set_budget(&mut self, budget: Arc<dyn RequestBudget>) {
        self.budget = budget;
    }

    pub(crate) fn set_rate_limit_retries(&mut self, retries: usize) {
        self.rate_limit_retries = retries;
    }

    /// Send the request, returning the status (2xx only, 207 included) and the JSON body.
    ///
    /// A rate limit whose wait fits in what is left of [`MAX_INLINE_WAIT`] is waited out and
    /// retried (at most `rate_limit_retries` times); a longer one is returned at once.
    pub(crate) async fn send(
        &self,
        req: &ApiRequest<'_>,
    ) -> Result<(StatusCode, Value), ProviderError> {
        let policy_name = self.policy.name();
        let waited = std::sync::Mutex::new(Duration::ZERO);
        (|| self.send_authorized(req))
            .retry(ConstantBuilder::default().with_max_times(self.rate_limit_retries))
            .when(|e| match e {
                ProviderError::RateLimited { retry_after } => {
                    let so_far = *waited.lock().unwrap_or_else(|p| p.into_inner());
                    so_far + *retry_after <= MAX_INLINE_WAIT
                }
                _ => false,
            })
            .adjust(|e, next| {
                let ProviderError::RateLimited { retry_after } = e else { return None };
                let wait = next.map(|_| *retry_after + jitter())?;
                *waited.lock().unwrap_or_else(|p| p.into_inner()) += wait;
                Some(wait)
            })
            .notify(|e, wait| {
                warn!(provider = policy_name, error = %e, wait_ms = wait.as_millis() as u64, "rate limited, retrying");
            })
            .await
    }

    /// One attempt, with one token refresh and resend if the provider answers 401.
    async fn send_authorized(
        &self,
        req: &ApiRequest<'_>,
    ) -> Result<(StatusCode, Value), ProviderError> {
        let token = self.tokens.access_token().await?;
        match self.send_budgeted(req, &token).await? {
            Sent::Unauthorized(_) => {
                debug!(
                    provider = self.policy.name(),
                    "401, invalidating the access token and retrying once"
                );
                self.tokens.invalidate(&token).await?;
                let token = self.tokens.access_token().await?;
                match self.send_budgeted(req, &token).await? {
                    Sent::Unauthorized(msg) => Err(ProviderError::Auth(msg)),
                    Sent::Done(status, body) => Ok((status, body)),
                }
            }
            Sent::Done(status, body) => Ok((status, body)),
        }
    }

    /// Takes the request's share of the connection budget, sends it, and on a 429 holds every
    /// replica off for the wait the provider named.
    async fn send_budgeted(
        &self,
        req: &ApiRequest<'_>,
        token: &str,
    ) -> Result<Sent, ProviderError> {
        let class = self.policy.request_class(req);
        self.budget.acquire(class).await?;
        let sent = self.send_once(req, token).await;
        if let Err(ProviderError::RateLimited { retry_after }) = &sent {
            fluxcascade_telemetry::metrics()
                .provider_rate_limited
                .with_label_values(&[self.policy.name()])
                .inc();
            self.budget.back_off(class, *retry_after).await;
        }
        sent
    }

    /// One HTTP request in its client span (only while spans are exported): method, host,
    /// provider and status; a 429 is an event on it.
    async fn send_once(&self, req: &ApiRequest<'_>, token: &str) -> Result<Sent, ProviderError> {
        let span = request_span(self.policy.name(), &req.method, &req.url);
        let sent = self
            .send_once_in(req, token, &span)
            .instrument(span.clone())
            .await;
        if let Err(e) = &sent {
            span.record("otel.status_code", "ERROR");
            // The class only: a message may quote the provider's answer.
            span.record(
                "error.type",
                match e {
                    ProviderError::RateLimited { .. } => "rate_limited",
                    ProviderError::Transient(_) => "transient",
                    ProviderError::Auth(_) => "auth",
                    ProviderError::Permanent(_) => "permanent",
                },
            );
        }
        sent
    }

    async fn send_once_in(
        &self,
        req: &ApiRequest<'_>,
        token: &str,
        span: &tracing::Span,
    ) -> Result<Sent, ProviderError> {
        let mut builder = self
            .http
            .request(req.method.clone(), &req.url)
            .bearer_auth(token);
        for (name, value) in req.headers {
            builder = builder.header(*name, *value);
        }
        if let Some(body) = req.body {
            builder = builder.json(body);
        }
        let started = std::time::Instant::now();
        let observe = |status: Option<StatusCode>| {
            fluxcascade_telemetry::metrics().observe_provider_request(
                self.policy.name(),
                status.map(|s| s.as_u16()),
                started.elapsed(),
            );
        };
        let response = builder.send().await.map_err(|e| {
            observe(None);
            transport_error(e)
        })?;
        let status = response.status();
        span.record("http.response.status_code", status.as_u16());
        let headers = response.headers().clone();
        let read = match refuse_redirect(self.policy.name(), status) {
            Ok(()) => read_text(self.policy.name(), response, self.body_limit).await,
            Err(e) => Err(e),
        };
        observe(Some(status));
        let text = read?;
        let body: Value = if text.trim().is_empty() {
            Value::Null
        } else {
            match serde_json::from_str(&text) {
                Ok(v) => v,
                Err(_) if !status.is_success() => Value::String(text.clone()),
                Err(e) => {
                    return Err(ProviderError::Transient(format!(
                        "{} answered {status} with a body that is not JSON: {e}",
                        self.policy.name()
                    )))
                }
            }
        };
        if status == StatusCode::UNAUTHORIZED {
            return Ok(Sent::Unauthorized(error_message(&body)));
        }
        if !status.is_success() {
            if let Some(e) = self.policy.classify_error(status, &headers, &body) {
                return Err(e);
            }
        }
        if status == StatusCode::TOO_MANY_REQUESTS {
            let retry_after =
                retry_after_header(&headers).unwrap_or_else(|| self.policy.rate_limit_wait(&body));
            tracing::event!(
                target: fluxcascade_telemetry::otel::SPAN_EVENT_TARGET,
                parent: span,
                tracing::Level::DEBUG,
                retry_after_ms = u64::try_from(retry_after.as_millis()).unwrap_or(u64::MAX),
                "rate limited"
            );
            return Err(ProviderError::RateLimited { retry_after });
        }
        if status.is_server_error() {
            return Err(ProviderError::Transient(format!(
                "{} answered {status}: {}",
                self.policy.name(),
                error_message(&body)
            )));
        }
        if !status.is_success() {
            return Err(ProviderError::Permanent(format!(
                "{} answered {status}: {}",
                self.policy.name(),
                error_message(&body)
            )));
        }
        self.policy.check_body(&body)?;
        Ok(Sent::Done(status, body))
    }
}

/// The client span of one provider request (HTTP client semantic conventions); a disabled span
/// when spans are not exported, so the hot path pays nothing for it.
fn request_span(provider: &'static str, method: &Method, url: &str) -> tracing::Span {
    if !fluxcascade_telemetry::otel::enabled() {
        return tracing::Span::none();
    }
    let parsed = reqwest::Url::parse(url).ok();
    let host = parsed
        .as_ref()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_default();
    let port = parsed
        .as_ref()
        .and_then(reqwest::Url::port_or_known_default);
    tracing::info_span!(
        "provider request",
        otel.name = %format_args!("{method} {provider}"),
        otel.kind = "client",
        otel.status_code = tracing::field::Empty,
        http.request.method = %method,
        server.address = %host,
        server.port = port,
        http.response.status_code = tracing::field::Empty,
        error.type = tracing::field::Empty,
        fluxcascade.provider = provider,
    )
}

enum Sent {
    Unauthorized(String),
    Done(StatusCode, Value),
}

/// Network failures, timeouts and truncated bodies are worth retrying. The message never
/// carries the URL (HubSpot's token-info URL contains the token).
pub(crate) fn transport_error(e: reqwest::Error) -> ProviderError {
    ProviderError::Transient(format!("request failed: {}", describe(e)))
}

/// A 3xx is never followed: the provider's host is the one that was checked, and a redirect
/// could point anywhere (our own network included).
pub(crate) fn refuse_redirect(provider: &str, status: StatusCode) -> Result<(), ProviderError> {
    if status.is_redirection() {
        return Err(ProviderError::Permanent(format!(
            "{provider} answered {status}, a redirect; redirects are not followed"
        )));
    }
    Ok(())
}

/// The answer as text, at most `limit` bytes of it. Larger is a permanent error: the same
/// request gets the same answer again, and each retry would read it again.
pub(crate) async fn read_text(
    provider: &str,
    response: reqwest::Response,
    limit: usize,
) -> Result<String, ProviderError> {
    match read_capped(response, limit).await {
        Ok(bytes) => Ok(String::from_utf8(bytes)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())),
        Err(BodyError::TooLarge { limit }) => Err(ProviderError::Permanent(format!(
            "{provider} answered more than {limit} bytes; the answer was not read"
        ))),
        Err(BodyError::Transport(e)) => Err(ProviderError::Transient(e)),
    }
}

/// `text` cut to at most [`MAX_ERROR_MESSAGE`] bytes, on a character boundary.
pub(crate) fn truncated(text: &str) -> String {
    if text.len() <= MAX_ERROR_MESSAGE {
        return text.to_owned();
    }
    let mut end = MAX_ERROR_MESSAGE;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

/// Up to a quarter second of random extra wait so retries from many workers spread out.
fn jitter() -> Duration {
    Duration::from_millis(rand::thread_rng().gen_range(0..250))
}

/// `Retry-After` in seconds (the HTTP-date form is not used by these providers).
pub(crate) fn retry_after_header(headers: &HeaderMap) -> Option<Duration> {
    let v = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    let secs: f64 = v.trim().parse().ok()?;
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs))
}

/// The human message in a provider error body: `message`, `error_description`, `error`,
/// or the first of `errors[].message`; otherwise the body itself; at most
/// [`MAX_ERROR_MESSAGE`] bytes either way.
pub(crate) fn error_message(body: &Value) -> String {
    let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_owned);
    let found = text(body.get("message"))
        .or_else(|| text(body.get("error_description")))
        .or_else(|| text(body.get("error")))
        .or_else(|| {
            text(
                body.get("errors")
                    .and_then(|e| e.get(0))
                    .and_then(|e| e.get("message")),
            )
        });
    match found {
        Some(m) => truncated(&m),
        None => match body {
            Value::String(s) => truncated(s),
            Value::Null => "(empty body)".to_owned(),
            other => truncated(&other.to_string()),
        },
    }
}

#[cfg(test)]
#[path = "http_egress_tests.rs"]
mod egress_tests;

#[cfg(test)]
#[path = "http_rate_tests.rs"]
mod rate_tests;

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn error_message_prefers_the_providers_message() {
        assert_eq!(
            error_message(&json!({"status":"error","message":"Property x does not exist"})),
            "Property x does not exist"
        );
        assert_eq!(
            error_message(&json!({"error":"invalid_grant","error_description":"expired"})),
            "expired"
        );
        assert_eq!(
            error_message(&json!({"errors":[{"message":"Throttled"}]})),
            "Throttled"
        );
        assert_eq!(
            error_message(&Value::String("Bad Gateway".into())),
            "Bad Gateway"
        );
    }

    #[test]
    fn quoted_error_bodies_are_cut_to_a_kilobyte() {
        let huge = "é".repeat(200_000);
        for body in [
            json!({ "message": huge }),
            Value::String(huge.clone()),
            json!({ "other": huge }),
        ] {
            let m = error_message(&body);
            assert!(m.len() <= MAX_ERROR_MESSAGE + '…'.len_utf8(), "{}", m.len());
            assert!(m.ends_with('…'));
        }
        assert_eq!(truncated("short"), "short");
    }

    #[test]
    fn retry_after_header_is_read_in_seconds() {
        let mut h = HeaderMap::new();
        h.insert(reqwest::header::RETRY_AFTER, "7".parse().unwrap());
        assert_eq!(retry_after_header(&h), Some(Duration::from_secs(7)));
        h.insert(reqwest::header::RETRY_AFTER, "soon".parse().unwrap());
        assert_eq!(retry_after_header(&h), None);
    }
}
