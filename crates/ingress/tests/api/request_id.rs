//! `X-Request-Id`: on every response, a client's id echoed when acceptable, the same id in error
//! bodies (`error.requestId`) and in the request's log line.

use std::io::Write;
use std::sync::{Arc, Mutex};

use reqwest::StatusCode;
use serde_json::Value;

use crate::harness::App;

async fn send(req: reqwest::RequestBuilder) -> (StatusCode, String, Value) {
    let resp = req.send().await.expect("request");
    let status = resp.status();
    let ids: Vec<String> = resp
        .headers()
        .get_all("x-request-id")
        .iter()
        .map(|v| v.to_str().expect("ascii id").to_owned())
        .collect();
    assert_eq!(
        ids.len(),
        1,
        "exactly one X-Request-Id on {status}: {ids:?}"
    );
    let text = resp.text().await.expect("body");
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, ids[0].clone(), body)
}

fn is_uuid_v7(id: &str) -> bool {
    uuid::Uuid::parse_str(id).is_ok_and(|u| u.get_version_num() == 7)
}

#[tokio::test]
async fn every_response_has_a_request_id_and_errors_carry_it_in_the_body() {
    let app = App::start().await;
    let url = |path: &str| format!("{}{path}", app.base);

    // Generated ids are UUID v7 and differ per request; a success has one too.
    let (s, a, _) = send(app.http.get(url("/healthz"))).await;
    assert_eq!(s, StatusCode::OK);
    let (_, b, _) = send(app.http.get(url("/healthz"))).await;
    assert!(is_uuid_v7(&a) && is_uuid_v7(&b) && a != b, "{a} {b}");

    // 401 without a key, 404 fallback, 405, 413: the header and the body's requestId agree.
    let big = vec![b' '; 2 * 1024 * 1024];
    let cases = [
        (
            app.http.get(url("/v1/connections")),
            StatusCode::UNAUTHORIZED,
        ),
        (app.http.get(url("/no/such/route")), StatusCode::NOT_FOUND),
        (
            app.http.delete(url("/healthz")),
            StatusCode::METHOD_NOT_ALLOWED,
        ),
        (
            app.http
                .post(url("/v1/connections"))
                .bearer_auth(&app.owner)
                .header("content-type", "application/json")
                .body(big),
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
        (
            app.http
                .post(url("/hooks/hubspot"))
                .header("content-type", "application/json")
                .body("[]"),
            StatusCode::UNAUTHORIZED,
        ),
    ];
    for (req, want) in cases {
        let (s, id, body) = send(req).await;
        assert_eq!(s, want, "{body}");
        assert!(is_uuid_v7(&id), "{id}");
        assert_eq!(
            body["error"]["requestId"].as_str(),
            Some(id.as_str()),
            "{s}: {body}"
        );
    }

    // A client's id is echoed (header and body); one too long or with spaces is replaced.
    let (s, id, body) = send(
        app.http
            .get(url("/v1/mappings/not-a-uuid"))
            .bearer_auth(&app.owner)
            .header("x-request-id", "client-req-42"),
    )
    .await;
    assert!(s.is_client_error(), "{s}");
    assert_eq!(id, "client-req-42");
    assert_eq!(body["error"]["requestId"], "client-req-42");
    let (_, id, _) = send(
        app.http
            .get(url("/healthz"))
            .header("x-request-id", "x".repeat(128)),
    )
    .await;
    assert_eq!(id, "x".repeat(128));
    for bad in ["x".repeat(129), "has space".to_owned()] {
        let (_, id, _) = send(
            app.http
                .get(url("/healthz"))
                .header("x-request-id", bad.as_str()),
        )
        .await;
        assert!(
            is_uuid_v7(&id),
            "{bad:?} was replaced by a fresh id, got {id}"
        );
    }
}

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("lock").extend_from_slice(data);
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Every log line of this test binary, captured by a global subscriber (a thread-scoped one
/// misses callsites whose interest another test's thread cached first).
fn captured_logs() -> Captured {
    static CAPTURED: std::sync::OnceLock<Captured> = std::sync::OnceLock::new();
    CAPTURED
        .get_or_init(|| {
            let captured = Captured::default();
            let writer = captured.clone();
            let subscriber = tracing_subscriber::fmt()
                .with_writer(move || writer.clone())
                .with_ansi(false)
                .with_max_level(tracing::Level::INFO)
                .finish();
            tracing::subscriber::set_global_default(subscriber)
                .expect("no other global subscriber");
            captured
        })
        .clone()
}

#[tokio::test]
async fn the_request_log_line_carries_the_request_id() {
    let captured = captured_logs();
    let app = App::start().await;
    let (s, _, body) = send(
        app.http
            .get(format!("{}/v1/connections", app.base))
            .header("x-request-id", "log-line-req-7"),
    )
    .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "{body}");
    let logs = String::from_utf8_lossy(&captured.0.lock().expect("lock")).into_owned();
    let line = logs
        .lines()
        .find(|l| l.contains("request served") && l.contains("log-line-req-7"))
        .unwrap_or_else(|| panic!("no request log line for the request in:\n{logs}"));
    assert!(line.contains("request_id=log-line-req-7"), "{line}");
    assert!(line.contains("/v1/connections"), "{line}");
    assert!(line.contains("status=401"), "{line}");
}
