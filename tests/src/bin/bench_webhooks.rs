//! `make bench` (webhook part), against the real binary, RabbitMQ, Postgres and the sandbox:
//! (a) webhook → target-written latency (p50, p99) at 100 changes/s: Jobber clients changed through
//!     the sandbox's control plane (which sends Jobber's signed webhook at once) until the HubSpot
//!     contact they are linked to is written (its `updatedAt`, milliseconds, as the sandbox stored it);
//! (b) acceptance rate: signed single-event HubSpot deliveries POSTed to /hooks/hubspot (verify +
//!     confirmed publish; concurrent deliveries share a job, see `hooks::coalesce`), the peak over
//!     a sweep of sender counts (`BENCH_WEBHOOK_CLIENTS`, default 64,128,256), beside the
//!     confirmed-publish ceiling of the same `Publisher` measured in this binary (queue_bench's
//!     way: batches of 500 from 2 tasks; and one job per publish from N tasks) and the raw-lapin
//!     publish figure of the pipeline bench (`target/bench/queue.json`, when present). The load
//!     generator plays the provider's servers and shares the 2 cores with what it measures, so it
//!     is lean: bodies and signatures are made before the clock starts, and each sender is one
//!     keep-alive HTTP/1.1 connection on hyper (reqwest's per-request overhead cost a third of the
//!     machine and held the measured rate down by a quarter).
//!
//! Prints a table and writes `target/bench/webhooks.json`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use fluxcascade_queue::{JobEnvelope, JobKind, Publisher, QueueConfig, Topology};
use fluxcascade_tests::{fields, hubspot_signature, TestEnv, AMQP_URL};
use reqwest::header::{HeaderName, HeaderValue, CONTENT_TYPE, HOST};
use reqwest::Method;
use serde_json::{json, Value};

/// The same allocator as the `fluxcascade` binary: the load generator shares the 2 cores with
/// the system it measures, so it should cost as little as it can.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// (a) Latency at `rate` changes/s over `count` distinct, already linked Jobber clients.
async fn latency(count: u64, rate: u64) -> anyhow::Result<Value> {
    let mut env = TestEnv::start("bench-webhooks-latency", 0).await?;
    env.add_worker(&[
        ("FLUXCASCADE_WORKER_CONCURRENCY", "16"),
        ("RUST_LOG", "warn"),
    ])
    .await?;
    env.seed("jobber", "clients", count).await?;
    let hubspot = env.connect("hubspot").await?;
    let jobber = env.connect("jobber").await?;
    let mapping = env
        .create_mapping(json!({
            "name": "clients to contacts",
            "source": {"connectionId": jobber, "object": "clients"},
            "target": {"connectionId": hubspot, "object": "contacts"},
            "fieldPairs": [
                {"sourceField": "firstName", "targetField": "firstname"},
                {"sourceField": "lastName", "targetField": "lastname"}
            ]
        }))
        .await?;
    // Link every client first (no webhooks yet), so each change below is one update. Jobber
    // stamps whole seconds and a run reads what changed before the second it started in.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let sync = env.trigger_sync(&mapping, "full").await?;
    let done = env.wait_sync(&sync, Duration::from_secs(600)).await?;
    anyhow::ensure!(
        done["status"] == "completed" && done["counts"]["created"] == count,
        "initial sync did not link every client: {done}"
    );
    env.sandbox_config(json!({"webhookUrl": env.api_url}))
        .await?;
    let clients = env.sandbox_records("jobber", "clients").await?;
    let ids: Vec<String> = clients
        .iter()
        .filter_map(|c| c["id"].as_str().map(str::to_owned))
        .collect();
    let interval = Duration::from_micros(1_000_000 / rate.max(1));
    let started = Instant::now();
    let mut sent: HashMap<String, i64> = HashMap::new();
    let mut tasks = Vec::new();
    for (i, id) in ids.iter().enumerate() {
        let due = started + interval * i as u32;
        tokio::time::sleep_until(due.into()).await;
        let name = format!("bench-{i}");
        sent.insert(name.clone(), now_ms());
        let req = env
            .http
            .patch(format!("{}/_sandbox/jobber/clients/{id}", env.sandbox_url))
            .json(&json!({ "firstName": name }));
        tasks.push(tokio::spawn(async move { req.send().await }));
    }
    for t in tasks {
        t.await??.error_for_status()?;
    }
    let offered = ids.len() as f64 / started.elapsed().as_secs_f64();
    // Wait until every contact carries its change, then read the write times once.
    let deadline = Instant::now() + Duration::from_secs(300);
    let latencies = loop {
        let contacts = env.sandbox_records("hubspot", "contacts").await?;
        let mut lat = Vec::new();
        for c in &contacts {
            let Some(name) = fields(c)["firstname"].as_str() else {
                continue;
            };
            let (Some(at), Some(updated)) = (
                sent.get(name),
                c["updatedAt"]
                    .as_str()
                    .and_then(|u| chrono::DateTime::parse_from_rfc3339(u).ok()),
            ) else {
                continue;
            };
            lat.push((updated.timestamp_millis() - at) as f64);
        }
        if lat.len() == sent.len() {
            break lat;
        }
        if Instant::now() > deadline {
            bail!(
                "only {} of {} changes reached HubSpot",
                lat.len(),
                sent.len()
            );
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    // Each change must have updated its linked contact, not created another one.
    let contacts = env.sandbox_records("hubspot", "contacts").await?.len();
    anyhow::ensure!(
        contacts == ids.len(),
        "{contacts} HubSpot contacts for {} Jobber clients: changes created records",
        ids.len()
    );
    let mut sorted = latencies;
    sorted.sort_by(f64::total_cmp);
    let runs = env
        .api_ok(
            Method::GET,
            &format!("/v1/syncs?mappingId={mapping}&limit=100"),
            None,
        )
        .await?;
    let webhook_runs = runs["data"]
        .as_array()
        .map(|d| d.iter().filter(|r| r["trigger"] == "webhook").count())
        .unwrap_or(0);
    Ok(json!({
        "changes": sorted.len(),
        "offered_per_s": offered,
        "p50_ms": percentile(&sorted, 0.50),
        "p90_ms": percentile(&sorted, 0.90),
        "p99_ms": percentile(&sorted, 0.99),
        "max_ms": percentile(&sorted, 1.0),
        "webhook_runs_in_last_page": webhook_runs,
    }))
}

static TIMESTAMP: HeaderName = HeaderName::from_static("x-hubspot-request-timestamp");
static SIGNATURE: HeaderName = HeaderName::from_static("x-hubspot-signature-v3");
static JSON: HeaderValue = HeaderValue::from_static("application/json");

/// One signed HubSpot delivery, built before the clock starts: signing is the provider's cost.
struct Delivery {
    body: axum::body::Bytes,
    timestamp: HeaderValue,
    signature: HeaderValue,
}

/// `total` single-event HubSpot deliveries signed with `secret` (timestamped now: valid 5 minutes).
fn deliveries(uri: &str, total: u64, secret: &str) -> anyhow::Result<Vec<Delivery>> {
    let ts = now_ms().to_string();
    let timestamp = HeaderValue::from_str(&ts)?;
    (0..total)
        .map(|i| {
            let body = json!([{"eventId": i, "subscriptionId": 1, "portalId": 999_000_001u64,
                "appId": 1, "occurredAt": now_ms(), "subscriptionType": "contact.propertyChange",
                "attemptNumber": 0, "objectId": i, "propertyName": "firstname",
                "propertyValue": "x", "changeSource": "CRM_UI", "sourceId": "userId:1"}])
            .to_string();
            Ok(Delivery {
                signature: hubspot_signature(secret, uri, &body, &ts).parse()?,
                timestamp: timestamp.clone(),
                body: body.into(),
            })
        })
        .collect()
}

/// POSTs `total` HubSpot deliveries signed with `secret` from `clients` concurrent senders; all
/// must be answered `expect`. Returns deliveries per second (the clock runs only while sending).
async fn send_deliveries(
    uri: &str,
    total: u64,
    clients: u64,
    secret: &'static str,
    expect: u16,
) -> anyhow::Result<f64> {
    let all = Arc::new(deliveries(uri, total, secret)?);
    let url = reqwest::Url::parse(uri)?;
    let addr = url
        .socket_addrs(|| None)?
        .into_iter()
        .next()
        .context("the ingress URL has no address")?;
    let host = HeaderValue::from_str(&format!("{}:{}", addr.ip(), addr.port()))?;
    let path = url.path().to_owned();
    // One keep-alive HTTP/1.1 connection per sender, straight on hyper: the load generator plays
    // the provider's servers and should take as little of the 2 shared cores as it can.
    let mut senders = Vec::new();
    for _ in 0..clients {
        let stream = tokio::net::TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        let (sender, conn) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await?;
        tokio::spawn(conn);
        senders.push(sender);
    }
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (c, mut sender) in senders.into_iter().enumerate() {
        let (all, host, path) = (Arc::clone(&all), host.clone(), path.clone());
        tasks.push(tokio::spawn(async move {
            let mut ok = 0u64;
            for d in all.iter().skip(c).step_by(clients as usize) {
                let req = hyper::Request::post(path.as_str())
                    .header(HOST, host.clone())
                    .header(CONTENT_TYPE, JSON.clone())
                    .header(&TIMESTAMP, d.timestamp.clone())
                    .header(&SIGNATURE, d.signature.clone())
                    .body(http_body_util::Full::new(d.body.clone()))?;
                let resp = sender.send_request(req).await?;
                let status = resp.status().as_u16();
                http_body_util::BodyExt::collect(resp.into_body()).await?;
                if status == expect {
                    ok += 1;
                }
            }
            Ok::<u64, anyhow::Error>(ok)
        }));
    }
    let mut answered = 0;
    for t in tasks {
        answered += t.await??;
    }
    let secs = started.elapsed().as_secs_f64();
    anyhow::ensure!(
        answered == total,
        "only {answered} of {total} answered {expect}"
    );
    Ok(answered as f64 / secs)
}

/// (b) Deliveries accepted per second by the ingress, at each sender concurrency in `sweep`: the
/// acceptance rate is the peak of that curve (each delivery waits for a confirm that costs the
/// broker an fsync, so too few senders measure latency, not capacity).
async fn acceptance(total: u64, sweep: &[u64]) -> anyhow::Result<Value> {
    // No worker: the jobs stay queued (the portal is unknown anyway); this measures the ingress.
    let env = TestEnv::start("bench-webhooks-accept", 0).await?;
    let uri = format!("{}/hooks/hubspot", env.api_url);
    let clients = sweep.iter().copied().max().unwrap_or(64);
    // Warm up the HTTP connections, the ingress's channel and the queues before measuring.
    send_deliveries(&uri, total / 10, clients, "sandbox-secret", 200).await?;
    let mut curve = Vec::new();
    for &c in sweep {
        let per_s = send_deliveries(&uri, total, c, "sandbox-secret", 200).await?;
        curve.push(json!({"clients": c, "accepted_per_s": per_s}));
    }
    let (best_clients, accepted_per_s) = curve
        .iter()
        .filter_map(|p| Some((p["clients"].as_u64()?, p["accepted_per_s"].as_f64()?)))
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .context("no acceptance measurement")?;
    // The same requests with a wrong signature: HTTP + verification, no publish (401).
    let rejected_per_s = send_deliveries(&uri, total, clients, "wrong-secret", 401).await?;

    // The same Publisher's confirmed-publish ceiling, on a prefix of its own.
    let prefix = format!(
        "bench_wh_{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    );
    let publisher = Publisher::connect(&QueueConfig::new(AMQP_URL, &prefix)).await?;
    let jobs: Arc<Vec<JobEnvelope>> = Arc::new(
        (0..total)
            .map(|_| JobEnvelope::new(JobKind::Webhook, "", vec![0u8; 300]))
            .collect(),
    );
    let batched = {
        let started = Instant::now();
        let mut tasks = Vec::new();
        for task in 0..2usize {
            let (publisher, jobs) = (publisher.clone(), Arc::clone(&jobs));
            tasks.push(tokio::spawn(async move {
                for chunk in jobs.chunks(500).skip(task).step_by(2) {
                    publisher.publish_many(chunk).await?;
                }
                Ok::<(), fluxcascade_queue::QueueError>(())
            }));
        }
        for t in tasks {
            t.await??;
        }
        total as f64 / started.elapsed().as_secs_f64()
    };
    let single = {
        let started = Instant::now();
        let mut tasks = Vec::new();
        for c in 0..clients as usize {
            let (publisher, jobs) = (publisher.clone(), Arc::clone(&jobs));
            tasks.push(tokio::spawn(async move {
                for job in jobs.iter().skip(c).step_by(clients as usize) {
                    publisher.publish(job).await?;
                }
                Ok::<(), fluxcascade_queue::QueueError>(())
            }));
        }
        for t in tasks {
            t.await??;
        }
        total as f64 / started.elapsed().as_secs_f64()
    };
    let _ = Topology::delete(AMQP_URL, &prefix).await;
    drop(env);
    // The pipeline bench's raw-lapin confirmed-publish figure, when `make bench` just ran it.
    let raw_lapin = std::fs::read("target/bench/queue.json")
        .ok()
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
        .and_then(|q| q["raw"]["publish_only_jobs_per_s"].as_f64());
    Ok(json!({
        "deliveries": total,
        "clients": best_clients,
        "curve": curve,
        "accepted_per_s": accepted_per_s,
        "rejected_unpublished_per_s": rejected_per_s,
        "publish_ceiling_batched_per_s": batched,
        "publish_ceiling_single_per_s": single,
        "ratio_vs_batched": accepted_per_s / batched,
        "ratio_vs_single": accepted_per_s / single,
        "queue_bench_raw_publish_per_s": raw_lapin,
        "ratio_vs_queue_bench_raw": raw_lapin.map(|r| accepted_per_s / r),
    }))
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let changes = env_num("BENCH_WEBHOOK_CHANGES", 1000);
    let rate = env_num("BENCH_WEBHOOK_RATE", 100);
    let deliveries = env_num("BENCH_WEBHOOK_DELIVERIES", 100_000);
    let sweep: Vec<u64> = std::env::var("BENCH_WEBHOOK_CLIENTS")
        .unwrap_or_else(|_| "64,128,256".into())
        .split(',')
        .filter_map(|c| c.trim().parse().ok())
        .filter(|&c| c > 0)
        .collect();
    anyhow::ensure!(
        !sweep.is_empty(),
        "BENCH_WEBHOOK_CLIENTS: a comma-separated list of counts"
    );

    let lat = latency(changes, rate).await?;
    let acc = acceptance(deliveries, &sweep).await?;
    println!();
    println!(
        "webhook → target written ({} changes at {rate}/s offered {:.0}/s)",
        lat["changes"],
        lat["offered_per_s"].as_f64().unwrap_or(0.0)
    );
    println!(
        "  p50 {:>8.1} ms   p90 {:>8.1} ms   p99 {:>8.1} ms   max {:>8.1} ms",
        lat["p50_ms"].as_f64().unwrap_or(f64::NAN),
        lat["p90_ms"].as_f64().unwrap_or(f64::NAN),
        lat["p99_ms"].as_f64().unwrap_or(f64::NAN),
        lat["max_ms"].as_f64().unwrap_or(f64::NAN)
    );
    println!("webhook acceptance ({deliveries} HubSpot deliveries per point)");
    for p in acc["curve"].as_array().into_iter().flatten() {
        println!(
            "  {:>4} senders: accepted {:>10.0} /s",
            p["clients"].as_u64().unwrap_or(0),
            p["accepted_per_s"].as_f64().unwrap_or(0.0)
        );
    }
    println!(
        "  rejected (HTTP + verify, no publish) {:>10.0} /s",
        acc["rejected_unpublished_per_s"].as_f64().unwrap_or(0.0)
    );
    println!(
        "  accepted (peak, {} senders) {:>10.0} /s",
        acc["clients"],
        acc["accepted_per_s"].as_f64().unwrap_or(0.0)
    );
    println!(
        "  publish ceiling (500-batches) {:>10.0} /s  ratio {:.2}",
        acc["publish_ceiling_batched_per_s"].as_f64().unwrap_or(0.0),
        acc["ratio_vs_batched"].as_f64().unwrap_or(0.0)
    );
    println!(
        "  publish ceiling (1 per call)  {:>10.0} /s  ratio {:.2}",
        acc["publish_ceiling_single_per_s"].as_f64().unwrap_or(0.0),
        acc["ratio_vs_single"].as_f64().unwrap_or(0.0)
    );
    if let Some(raw) = acc["queue_bench_raw_publish_per_s"].as_f64() {
        println!(
            "  queue bench raw lapin (publish only) {:>10.0} /s  ratio {:.2}",
            raw,
            acc["ratio_vs_queue_bench_raw"].as_f64().unwrap_or(0.0)
        );
    }
    let out = json!({"latency": lat, "acceptance": acc});
    std::fs::create_dir_all("target/bench")?;
    std::fs::write(
        "target/bench/webhooks.json",
        serde_json::to_string_pretty(&out)?,
    )?;
    println!("wrote target/bench/webhooks.json");
    Ok(())
}
