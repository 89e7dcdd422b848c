//! `ApiClient` under rate limits: a short wait is slept and retried inline, a long one (a 429's
//! `Retry-After`, or a budget whose next slot is far off) comes back as `RateLimited` at once,
//! so the worker can give its slot back instead of sleeping.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::{ApiClient, ApiRequest, ProviderPolicy, MAX_INLINE_WAIT};
use crate::egress::provider_client;
use crate::{ProviderError, RequestBudget, RequestClass, StaticToken};

struct TestPolicy;

impl ProviderPolicy for TestPolicy {
    fn name(&self) -> &'static str {
        "test"
    }
    fn rate_limit_wait(&self, _body: &Value) -> Duration {
        Duration::from_secs(1)
    }
}

fn client() -> ApiClient {
    ApiClient::new(
        provider_client(Duration::from_secs(10)).expect("client"),
        Arc::new(StaticToken("token".into())),
        Box::new(TestPolicy),
    )
}

async fn get(api: &ApiClient, url: String) -> Result<(reqwest::StatusCode, Value), ProviderError> {
    api.send(&ApiRequest {
        method: Method::GET,
        url,
        body: None,
        headers: &[],
    })
    .await
}

/// A loopback server answering the first `limited` requests 429 with `Retry-After: secs`, then
/// `200 {}`; counts requests.
async fn throttling(limited: usize, retry_after_secs: &'static str) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let hits = Arc::new(AtomicUsize::new(0));
    let counted = hits.clone();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let counted = counted.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                loop {
                    let mut head = Vec::new();
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                        match s.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => head.extend_from_slice(&buf[..n]),
                        }
                    }
                    let n = counted.fetch_add(1, Ordering::SeqCst);
                    let answer = if n < limited {
                        format!(
                            "HTTP/1.1 429 Too Many Requests\r\nretry-after: {retry_after_secs}\r\n\
                             content-type: application/json\r\ncontent-length: 2\r\n\r\n{{}}"
                        )
                    } else {
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}"
                            .to_owned()
                    };
                    if s.write_all(answer.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (url, hits)
}

#[tokio::test]
async fn a_long_retry_after_comes_back_at_once_instead_of_sleeping() {
    let (url, hits) = throttling(usize::MAX, "300").await;
    let started = Instant::now();
    let err = tokio::time::timeout(Duration::from_secs(30), get(&client(), url))
        .await
        .expect("the call returned instead of sleeping 300 s")
        .expect_err("rate limited");
    match err {
        ProviderError::RateLimited { retry_after } => {
            assert_eq!(retry_after, Duration::from_secs(300))
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(hits.load(Ordering::SeqCst), 1, "no inline retry");
    assert!(
        started.elapsed() < MAX_INLINE_WAIT,
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_short_retry_after_is_waited_out_inline() {
    let (url, hits) = throttling(1, "0").await;
    let (status, _) = get(&client(), url).await.expect("retried and answered");
    assert_eq!(status, reqwest::StatusCode::OK);
    assert_eq!(hits.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn short_waits_stop_adding_up_past_the_inline_limit() {
    // 7 s each: the first retry fits, the second would pass 12 s of waiting in total.
    let (url, hits) = throttling(usize::MAX, "7").await;
    let err = get(&client(), url).await.expect_err("rate limited");
    assert!(matches!(err, ProviderError::RateLimited { .. }), "{err:?}");
    assert_eq!(hits.load(Ordering::SeqCst), 2);
}

/// A budget whose next slot frees in `wait`; counts how often it was asked.
struct Spent {
    wait: Duration,
    asked: AtomicUsize,
}

#[async_trait::async_trait]
impl RequestBudget for Spent {
    async fn acquire(&self, _class: RequestClass) -> Result<(), ProviderError> {
        self.asked.fetch_add(1, Ordering::SeqCst);
        Err(ProviderError::RateLimited {
            retry_after: self.wait,
        })
    }
}

#[tokio::test]
async fn a_spent_budget_returns_rate_limited_without_sending() {
    let (url, hits) = throttling(0, "0").await;
    let budget = Arc::new(Spent {
        wait: Duration::from_secs(240),
        asked: AtomicUsize::new(0),
    });
    let mut api = client();
    api.set_budget(budget.clone());
    let started = Instant::now();
    let err = get(&api, url).await.expect_err("the budget is spent");
    match err {
        ProviderError::RateLimited { retry_after } => {
            assert_eq!(retry_after, Duration::from_secs(240))
        }
        other => panic!("{other:?}"),
    }
    assert!(started.elapsed() < MAX_INLINE_WAIT);
    assert_eq!(budget.asked.load(Ordering::SeqCst), 1);
    assert_eq!(hits.load(Ordering::SeqCst), 0, "nothing was sent");
}

/// A policy with its own name, so the process-wide metrics it moves are this test's alone.
struct Metered;

impl ProviderPolicy for Metered {
    fn name(&self) -> &'static str {
        "metered-test"
    }
    fn rate_limit_wait(&self, _body: &Value) -> Duration {
        Duration::from_secs(1)
    }
}

fn scraped(line: &str) -> u64 {
    fluxcascade_telemetry::metrics()
        .render()
        .lines()
        .find_map(|l| l.strip_prefix(line)?.trim().parse().ok())
        .unwrap_or(0)
}

#[tokio::test]
async fn every_request_is_timed_by_status_class_and_429s_are_counted() {
    let (url, _) = throttling(1, "0").await;
    let api = ApiClient::new(
        provider_client(Duration::from_secs(10)).expect("client"),
        Arc::new(StaticToken("token".into())),
        Box::new(Metered),
    );
    get(&api, url).await.expect("retried and answered");
    let p = r#"provider="metered-test""#;
    assert_eq!(
        scraped(&format!(
            "fluxcascade_provider_requests_total{{{p},status=\"429\"}}"
        )),
        1
    );
    assert_eq!(
        scraped(&format!(
            "fluxcascade_provider_requests_total{{{p},status=\"2xx\"}}"
        )),
        1
    );
    assert_eq!(
        scraped(&format!("fluxcascade_provider_rate_limited_total{{{p}}}")),
        1
    );
    assert_eq!(
        scraped(&format!(
            "fluxcascade_provider_request_duration_seconds_count{{{p},status=\"2xx\"}}"
        )),
        1
    );
    assert_eq!(
        scraped(&format!(
            "fluxcascade_provider_request_duration_seconds_bucket{{{p},status=\"2xx\",le=\"+Inf\"}}"
        )),
        1
    );

    // No answer at all (nothing listens): labelled `error`.
    let closed = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", closed.local_addr().expect("addr"));
    drop(closed);
    get(&api, url).await.expect_err("nothing listens");
    assert_eq!(
        scraped(&format!(
            "fluxcascade_provider_requests_total{{{p},status=\"error\"}}"
        )),
        1
    );
}
