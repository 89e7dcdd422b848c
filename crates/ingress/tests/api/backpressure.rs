//! Backpressure: when the broker stops confirming (blocked by an alarm, or just stalled) or the
//! database pool is exhausted, the API answers 503 with `Retry-After` and the usual JSON error
//! within its deadline — never a 2xx, never a hung request.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use uuid::Uuid;

use crate::harness::App;

/// The longest any answer may take here: well past the 5 s publish and 2 s pool deadlines, well
/// short of the broker's 30 s confirm timeout the ingress used to wait out.
const ANSWERED_WITHIN: Duration = Duration::from_secs(15);

/// A TCP proxy to the local RabbitMQ that can stop forwarding (connections stay open, bytes
/// stop moving, as with a broker that blocked its publishers).
struct StallingProxy {
    url: String,
    forwarding: watch::Sender<bool>,
}

impl StallingProxy {
    async fn start() -> StallingProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (forwarding, rx) = watch::channel(true);
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(broker) = TcpStream::connect("127.0.0.1:5672").await else {
                    continue;
                };
                let (cr, cw) = client.into_split();
                let (br, bw) = broker.into_split();
                tokio::spawn(pump(cr, bw, rx.clone()));
                tokio::spawn(pump(br, cw, rx.clone()));
            }
        });
        StallingProxy {
            url: format!("amqp://guest:guest@{addr}/%2f"),
            forwarding,
        }
    }

    fn stall(&self) {
        let _ = self.forwarding.send(false);
    }
}

async fn pump(
    mut from: impl AsyncReadExt + Unpin,
    mut to: impl AsyncWriteExt + Unpin,
    mut forwarding: watch::Receiver<bool>,
) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        if forwarding.wait_for(|on| *on).await.is_err() {
            return;
        }
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        // Bytes read just as the proxy stalls are held back too.
        if forwarding.wait_for(|on| *on).await.is_err() {
            return;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

fn assert_unavailable(status: StatusCode, retry_after: Option<&str>, body: &Value) {
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(retry_after, Some("5"), "{body}");
    assert_eq!(body["error"]["code"], "unavailable", "{body}");
    assert!(body["error"]["message"].is_string(), "{body}");
}

async fn post(
    app: &App,
    key: &str,
    path: &str,
    body: Value,
) -> (StatusCode, Option<String>, Value) {
    let resp = app
        .http
        .request(Method::POST, format!("{}{path}", app.base))
        .bearer_auth(key)
        .json(&body)
        .send()
        .await
        .expect("answered before the client's timeout");
    let status = resp.status();
    let retry_after = resp
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    (status, retry_after, body)
}

#[tokio::test]
async fn a_broker_that_stops_confirming_gets_a_quick_503_never_a_2xx() {
    let proxy = StallingProxy::start().await;
    let app = App::start_with(Some(&proxy.url)).await;
    let hub = app.connection(&app.owner, "hubspot").await;
    let jobber = app.connection(&app.owner, "jobber").await;
    let mapping = app.mapping(&app.owner, &hub, &jobber).await;
    let body = json!({"mappingId": mapping, "mode": "full"});
    let (status, _, run) = post(&app, &app.owner, "/v1/syncs", body.clone()).await;
    assert_eq!(status, StatusCode::ACCEPTED, "through the proxy: {run}");
    // The worker never ran: let that run go so the mapping may start another.
    app.store
        .discard_pending_sync(
            app.org_id().await,
            run["id"].as_str().unwrap().parse().unwrap(),
        )
        .await
        .expect("discard");

    proxy.stall();
    let started = Instant::now();
    let (status, retry_after, answer) = post(&app, &app.owner, "/v1/syncs", body).await;
    assert_unavailable(status, retry_after.as_deref(), &answer);
    assert!(
        started.elapsed() < ANSWERED_WITHIN,
        "{:?}",
        started.elapsed()
    );
    // Nothing was started: the run of the unconfirmed job was discarded.
    let (_, runs) = app
        .call(
            Method::GET,
            &format!("/v1/syncs?mappingId={mapping}&status=pending"),
            Some(&app.owner),
            None,
        )
        .await;
    assert_eq!(runs["data"], json!([]), "{runs}");
}

#[tokio::test]
async fn an_exhausted_database_pool_gets_a_quick_503() {
    let app = App::start_with_pool(1).await;
    // Hold the pool's only connection, as a burst of slow requests would.
    let held = app
        .store
        .try_lock_batch(Uuid::new_v4(), 0)
        .await
        .expect("the one connection")
        .expect("free");
    let started = Instant::now();
    let (status, retry_after, answer) =
        post(&app, &app.owner, "/v1/mappings", json!({"name": "x"})).await;
    assert_unavailable(status, retry_after.as_deref(), &answer);
    assert!(
        started.elapsed() < ANSWERED_WITHIN,
        "{:?}",
        started.elapsed()
    );
    held.release().await;
    let (status, _, _) = post(&app, &app.owner, "/v1/mappings", json!({"name": "x"})).await;
    assert!(
        status.is_client_error(),
        "with the connection back, the request is served (and refused as invalid): {status}"
    );
}
