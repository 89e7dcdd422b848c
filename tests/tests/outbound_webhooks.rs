//! End to end: outbound webhooks through the real processes. Receivers on loopback get signed
//! `sync.completed` events they verify as a user would (independently of our signing code), a
//! receiver failing twice gets the event on the third attempt with all three in the delivery log,
//! and a connection whose grant the provider revoked sends `connection.expired`. A worker with the
//! production egress policy refuses a delivery to loopback (IP literal or a name resolving there)
//! without connecting, and logs the class `blocked_address`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use fluxcascade_tests::TestEnv;
use reqwest::Method;
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(120);

/// One request a receiver got.
#[derive(Debug, Clone)]
struct Received {
    headers: HeaderMap,
    body: Bytes,
}

impl Received {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

#[derive(Clone)]
struct Receiver {
    got: Arc<Mutex<Vec<Received>>>,
    /// Statuses to answer in order; 200 once they are used up.
    script: Arc<Mutex<Vec<u16>>>,
    /// A hanging receiver answers only once `released` is true.
    hang: bool,
    released: Arc<tokio::sync::watch::Sender<bool>>,
    /// Requests being answered right now.
    in_flight: Arc<AtomicUsize>,
}

/// Counts a request in flight until its handler ends or is dropped.
struct InFlight(Arc<AtomicUsize>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Receiver {
    /// Serves on 127.0.0.1:0; returns the URL to subscribe.
    async fn start(script: &[u16]) -> anyhow::Result<(Receiver, String)> {
        Receiver::serve(script, false).await
    }

    /// A receiver that holds every request open until [`Receiver::release`].
    async fn start_hanging() -> anyhow::Result<(Receiver, String)> {
        Receiver::serve(&[], true).await
    }

    async fn serve(script: &[u16], hang: bool) -> anyhow::Result<(Receiver, String)> {
        let r = Receiver {
            got: Arc::default(),
            script: Arc::new(Mutex::new(script.iter().rev().copied().collect())),
            hang,
            released: Arc::new(tokio::sync::watch::Sender::new(false)),
            in_flight: Arc::default(),
        };
        let app = Router::new()
            .route("/hook", post(receive))
            .with_state(r.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}/hook", listener.local_addr()?);
        tokio::spawn(async move { axum::serve(listener, app).await });
        Ok((r, url))
    }

    fn release(&self) {
        self.released.send_replace(true);
    }

    fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::SeqCst)
    }

    fn received(&self) -> Vec<Received> {
        self.got.lock().map(|g| g.clone()).unwrap_or_default()
    }

    async fn wait_for(&self, n: usize) -> anyhow::Result<Vec<Received>> {
        let deadline = Instant::now() + WAIT;
        loop {
            let got = self.received();
            if got.len() >= n {
                return Ok(got);
            }
            if Instant::now() > deadline {
                bail!("the receiver got {} requests, expected {n}", got.len());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

async fn receive(State(r): State<Receiver>, headers: HeaderMap, body: Bytes) -> StatusCode {
    r.in_flight.fetch_add(1, Ordering::SeqCst);
    let _in_flight = InFlight(Arc::clone(&r.in_flight));
    if let Ok(mut got) = r.got.lock() {
        got.push(Received { headers, body });
    }
    if r.hang {
        let _ = r.released.subscribe().wait_for(|released| *released).await;
    }
    let status = r
        .script
        .lock()
        .ok()
        .and_then(|mut s| s.pop())
        .unwrap_or(200);
    StatusCode::from_u16(status).unwrap_or(StatusCode::OK)
}

/// A receiver's verification, written from the README: `t=<unix>,v1=<hex HMAC-SHA256(secret,
/// t + "." + body)>`, the timestamp within 5 minutes, compared in constant time.
fn verify(secret: &str, header: &str, body: &[u8]) -> Result<(), &'static str> {
    let mut t = None;
    let mut sigs = Vec::new();
    for part in header.split(',') {
        match part.split_once('=') {
            Some(("t", v)) => t = v.parse::<i64>().ok(),
            Some(("v1", v)) => sigs.push(hex::decode(v).map_err(|_| "v1 is not hex")?),
            _ => {}
        }
    }
    let t = t.ok_or("no timestamp")?;
    if (chrono::Utc::now().timestamp() - t).abs() > 300 {
        return Err("stale timestamp");
    }
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
    let mut signed = format!("{t}.").into_bytes();
    signed.extend_from_slice(body);
    if sigs
        .iter()
        .any(|s| ring::hmac::verify(&key, &signed, s).is_ok())
    {
        Ok(())
    } else {
        Err("no signature matches")
    }
}

async fn subscribe(env: &TestEnv, url: &str, events: &[&str]) -> anyhow::Result<(String, String)> {
    let w = env
        .api_ok(
            Method::POST,
            "/v1/webhooks",
            Some(json!({"url": url, "events": events})),
        )
        .await?;
    Ok((
        w["id"].as_str().context("id")?.to_string(),
        w["secret"].as_str().context("secret")?.to_string(),
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_completed_sync_is_delivered_signed_and_a_failing_receiver_gets_it_on_the_third_attempt(
) -> anyhow::Result<()> {
    let env = TestEnv::start("outbound_webhooks", 1).await?;
    let (ok_rx, ok_url) = Receiver::start(&[]).await?;
    let (flaky_rx, flaky_url) = Receiver::start(&[500, 500]).await?;
    let (ok_id, ok_secret) = subscribe(&env, &ok_url, &["sync.completed"]).await?;
    let (flaky_id, flaky_secret) =
        subscribe(&env, &flaky_url, &["sync.completed", "sync.failed"]).await?;
    // A subscriber to other events gets nothing from a completed run.
    let (other_rx, other_url) = Receiver::start(&[]).await?;
    subscribe(&env, &other_url, &["sync.partial", "connection.expired"]).await?;

    env.seed("hubspot", "contacts", 5).await?;
    let hubspot = env.connect("hubspot").await?;
    let jobber = env.connect("jobber").await?;
    let mapping = env.contacts_to_clients(&hubspot, &jobber).await?;
    let sync_id = env.trigger_sync(&mapping, "full").await?;
    let run = env.wait_sync(&sync_id, WAIT).await?;
    assert_eq!(run["status"], "completed", "{run}");

    // 1. The healthy receiver gets one signed event and verifies it with the secret from create.
    let got = ok_rx.wait_for(1).await?;
    let event = &got[0];
    assert_eq!(event.header("content-type"), "application/json");
    let body = event.json();
    assert_eq!(body["type"], "sync.completed", "{body}");
    assert_eq!(
        event.header("fluxcascade-event-id"),
        body["id"].as_str().unwrap_or("?")
    );
    assert!(body["createdAt"].is_string(), "{body}");
    assert_eq!(
        body["data"], run,
        "the event carries the run as GET /v1/syncs/{{id}} shows it"
    );
    let signature = event.header("fluxcascade-signature");
    assert_eq!(
        verify(&ok_secret, signature, &event.body),
        Ok(()),
        "{signature}"
    );
    // The verification is real: a changed body, another secret or another timestamp fail.
    let tampered = String::from_utf8_lossy(&event.body).replace("completed", "failed");
    assert_ne!(tampered.as_bytes(), &event.body[..]);
    assert_eq!(
        verify(&ok_secret, signature, tampered.as_bytes()),
        Err("no signature matches")
    );
    assert_eq!(
        verify(&flaky_secret, signature, &event.body),
        Err("no signature matches")
    );
    let shifted = signature.replacen("t=", "t=1", 1);
    assert!(verify(&ok_secret, &shifted, &event.body).is_err());

    // 2. The receiver answering 500 twice gets the same event on the third attempt.
    let flaky = flaky_rx.wait_for(3).await?;
    for r in &flaky {
        assert_eq!(r.body, event.body, "every attempt posts the same event");
        assert_eq!(
            verify(&flaky_secret, r.header("fluxcascade-signature"), &r.body),
            Ok(())
        );
    }
    let log = env
        .api_ok(
            Method::GET,
            &format!("/v1/webhooks/{flaky_id}/deliveries"),
            None,
        )
        .await?;
    let deliveries = log["data"].as_array().context("data")?;
    assert_eq!(deliveries.len(), 1, "{log}");
    let d = &deliveries[0];
    assert_eq!(d["eventId"], body["id"]);
    assert_eq!(d["eventType"], "sync.completed");
    assert_eq!(d["status"], "delivered", "{d}");
    let attempts: Vec<(Value, Value)> = d["attempts"]
        .as_array()
        .context("attempts")?
        .iter()
        .map(|a| (a["attempt"].clone(), a["responseStatus"].clone()))
        .collect();
    assert_eq!(
        attempts,
        [
            (json!(1), json!(500)),
            (json!(2), json!(500)),
            (json!(3), json!(200))
        ],
        "{d}"
    );

    let log = env
        .api_ok(
            Method::GET,
            &format!("/v1/webhooks/{ok_id}/deliveries"),
            None,
        )
        .await?;
    assert_eq!(log["data"][0]["status"], "delivered", "{log}");
    assert_eq!(log["data"][0]["attempts"].as_array().map(Vec::len), Some(1));
    assert_eq!(
        ok_rx.received().len(),
        1,
        "a delivered event is not sent again"
    );
    assert!(
        other_rx.received().is_empty(),
        "not subscribed to sync.completed"
    );

    // 3. An event whose delivery jobs were never published (the process died between commit and
    //    publish) is published by the workers' outbox relay.
    let org: uuid::Uuid = env
        .db()
        .await?
        .query_one("SELECT id FROM organizations", &[])
        .await?
        .get(0);
    let store = fluxcascade_store::Store::connect(&env.db_url, 2)?;
    let recorded = store
        .record_event(
            org,
            "sync.completed",
            uuid::Uuid::now_v7(),
            &json!({"lost": true}),
        )
        .await?;
    assert_eq!(recorded.len(), 2, "two subscribers to sync.completed");
    let got = ok_rx.wait_for(2).await?;
    assert_eq!(got[1].json()["data"], json!({"lost": true}));
    assert_eq!(
        verify(
            &ok_secret,
            got[1].header("fluxcascade-signature"),
            &got[1].body
        ),
        Ok(())
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_grant_sends_connection_expired_and_the_failed_run_sync_failed(
) -> anyhow::Result<()> {
    let env = TestEnv::start("outbound_webhooks_expired", 1).await?;
    let (rx, url) = Receiver::start(&[]).await?;
    let (_, secret) = subscribe(&env, &url, &["connection.expired"]).await?;
    let (failed_rx, failed_url) = Receiver::start(&[]).await?;
    let (_, failed_secret) = subscribe(&env, &failed_url, &["sync.failed"]).await?;

    env.seed("hubspot", "contacts", 3).await?;
    let hubspot = env.connect("hubspot").await?;
    let jobber = env.connect("jobber").await?;
    let mapping = env.contacts_to_clients(&hubspot, &jobber).await?;
    // The user disconnects the app in Jobber: its access and refresh tokens stop working.
    env.http
        .post(format!("{}/_sandbox/oauth/jobber/revoke", env.sandbox_url))
        .send()
        .await?
        .error_for_status()?;
    let run = env
        .wait_sync(&env.trigger_sync(&mapping, "full").await?, WAIT)
        .await?;
    assert_eq!(run["status"], "failed", "{run}");

    let got = rx.wait_for(1).await?;
    let body = got[0].json();
    assert_eq!(
        verify(
            &secret,
            got[0].header("fluxcascade-signature"),
            &got[0].body
        ),
        Ok(())
    );
    assert_eq!(body["type"], "connection.expired", "{body}");
    let connection = env
        .api_ok(Method::GET, &format!("/v1/connections/{jobber}"), None)
        .await?;
    assert_eq!(connection["status"], "expired", "{connection}");
    assert_eq!(
        body["data"], connection,
        "the event carries the connection as the API shows it"
    );
    let text = String::from_utf8_lossy(&got[0].body);
    assert!(
        !text.to_lowercase().contains("token\":"),
        "no tokens in the event: {text}"
    );

    // The run that could not write to Jobber ended failed: its subscriber hears of it.
    let failed = failed_rx.wait_for(1).await?;
    assert_eq!(
        verify(
            &failed_secret,
            failed[0].header("fluxcascade-signature"),
            &failed[0].body
        ),
        Ok(())
    );
    assert_eq!(failed[0].json()["type"], "sync.failed");
    assert_eq!(failed[0].json()["data"], run);
    Ok(())
}

/// The attempts logged so far for one subscription's first delivery (empty until there is one).
async fn attempts(env: &TestEnv, webhook_id: &str) -> anyhow::Result<Vec<Value>> {
    let log = env
        .api_ok(
            Method::GET,
            &format!("/v1/webhooks/{webhook_id}/deliveries"),
            None,
        )
        .await?;
    Ok(log["data"][0]["attempts"]
        .as_array()
        .cloned()
        .unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_in_production_posture_never_delivers_to_loopback() -> anyhow::Result<()> {
    // The ingress accepts private URLs (local development), as a URL whose DNS later turns to our
    // network would have been accepted; the worker runs with the production policy.
    let mut env = TestEnv::start("outbound_webhooks_blocked", 0).await?;
    env.add_worker(&[("FLUXCASCADE_ALLOW_PRIVATE_WEBHOOK_URLS", "false")])
        .await?;
    // An internal service on loopback: it must see no connection at all.
    let internal = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let port = internal.local_addr()?.port();
    let contacted = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&contacted);
    tokio::spawn(async move {
        while internal.accept().await.is_ok() {
            counter.fetch_add(1, Ordering::SeqCst);
        }
    });
    let (literal, _) = subscribe(
        &env,
        &format!("https://127.0.0.1:{port}/hook"),
        &["sync.completed"],
    )
    .await?;
    let (named, _) = subscribe(
        &env,
        &format!("https://localhost:{port}/hook"),
        &["sync.completed"],
    )
    .await?;

    env.seed("hubspot", "contacts", 2).await?;
    let hubspot = env.connect("hubspot").await?;
    let jobber = env.connect("jobber").await?;
    let mapping = env.contacts_to_clients(&hubspot, &jobber).await?;
    let run = env
        .wait_sync(&env.trigger_sync(&mapping, "full").await?, WAIT)
        .await?;
    assert_eq!(run["status"], "completed", "{run}");

    let deadline = Instant::now() + WAIT;
    for id in [&literal, &named] {
        let logged = loop {
            let a = attempts(&env, id).await?;
            if !a.is_empty() {
                break a;
            }
            if Instant::now() > deadline {
                bail!("no delivery attempt was logged for {id}");
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        assert_eq!(logged[0]["error"], "blocked_address", "{logged:?}");
        assert_eq!(logged[0]["responseStatus"], Value::Null, "{logged:?}");
    }
    assert_eq!(
        contacted.load(Ordering::SeqCst),
        0,
        "the worker connected to a loopback address"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receivers_that_hang_do_not_hold_up_syncs() -> anyhow::Result<()> {
    // The worker runs 8 jobs at a time (FLUXCASCADE_WORKER_CONCURRENCY's default): 8 subscribers
    // whose receiver never answers take every delivery slot.
    let env = TestEnv::start("outbound_webhooks_slow", 1).await?;
    let (rx, url) = Receiver::start_hanging().await?;
    for _ in 0..8 {
        subscribe(&env, &url, &["sync.completed"]).await?;
    }
    env.seed("hubspot", "contacts", 3).await?;
    let hubspot = env.connect("hubspot").await?;
    let jobber = env.connect("jobber").await?;
    let mapping = env.contacts_to_clients(&hubspot, &jobber).await?;
    let first = env
        .wait_sync(&env.trigger_sync(&mapping, "full").await?, WAIT)
        .await?;
    assert_eq!(first["status"], "completed", "{first}");
    let deadline = Instant::now() + WAIT;
    while rx.in_flight() < 8 {
        if Instant::now() > deadline {
            bail!("only {} deliveries reached the receiver", rx.in_flight());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // With all 8 deliveries hanging, another run still completes: deliveries have their own slots.
    let second = env
        .wait_sync(&env.trigger_sync(&mapping, "full").await?, WAIT)
        .await?;
    assert_eq!(second["status"], "completed", "{second}");
    assert_eq!(
        (rx.in_flight(), rx.received().len()),
        (8, 8),
        "the run finished while the first 8 deliveries were still waiting for the receiver"
    );
    rx.release();
    // Once the receiver answers, the second run's events go out too.
    rx.wait_for(16).await?;
    Ok(())
}
