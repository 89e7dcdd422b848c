//! `make bench` (recovery part): how long a sync takes to make progress again after an outage.
//! A 20,000-contact HubSpot → Jobber sync (sandbox at `BENCH_RECOVERY_LATENCY_MS`, default 20 ms
//! per request, so the run lasts long enough to cut it twice) through test-controlled TCP proxies
//! with the production retry tiers (1 s, 10 s, 1 min, 10 min): once well into the run the database
//! proxy drops every connection and refuses new ones for 8 s, later the broker proxy does the same.
//! Recovery = from the end of each cut to the next batch committed (polled every 50 ms with a
//! direct connection). Also checks the run still ends `completed` with one client per contact.
//! Prints a table and writes `target/bench/recovery.json`.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use fluxcascade_tests::{fields, FaultProxy, Options, TestEnv};
use serde_json::json;

const N: u64 = 20_000;
const OUTAGE: Duration = Duration::from_secs(8);

async fn batches(db: &tokio_postgres::Client, sync_id: &str) -> anyhow::Result<i64> {
    Ok(db
        .query_one(
            "SELECT count(*)::bigint FROM sync_batches WHERE sync_id = $1::text::uuid",
            &[&sync_id],
        )
        .await?
        .get(0))
}

async fn wait_for(db: &tokio_postgres::Client, sync_id: &str, n: i64) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(600);
    while batches(db, sync_id).await? < n {
        if Instant::now() > deadline {
            bail!("the sync did not reach {n} batches");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

/// Cuts `proxy` for [`OUTAGE`], then measures the time from its end to the next committed batch.
async fn cut_and_time(
    proxy: &FaultProxy,
    db: &tokio_postgres::Client,
    sync_id: &str,
) -> anyhow::Result<Duration> {
    proxy.cut_for(OUTAGE).await;
    let restored = Instant::now();
    let before = batches(db, sync_id).await?;
    let deadline = restored + Duration::from_secs(600);
    loop {
        if batches(db, sync_id).await? > before {
            return Ok(restored.elapsed());
        }
        if Instant::now() > deadline {
            bail!("no progress within 10 min of the outage's end");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let latency: u64 = std::env::var("BENCH_RECOVERY_LATENCY_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let options = Options {
        db_proxy: true,
        amqp_proxy: true,
        ..Options::default()
    };
    let env = TestEnv::start_with("bench-recovery", 2, options).await?;
    env.sandbox_config(json!({"latencyMs": latency})).await?;
    env.seed("hubspot", "contacts", N).await?;
    let hubspot = env.connect("hubspot").await?;
    let jobber = env.connect("jobber").await?;
    let mapping = env.contacts_to_clients(&hubspot, &jobber).await?;
    let db = env.db().await?;
    let started = Instant::now();
    let sync_id = env.trigger_sync(&mapping, "full").await?;
    let total = (N / 100) as i64;

    wait_for(&db, &sync_id, total / 5).await?;
    let pg = env.db_proxy.as_ref().context("database proxy")?;
    let db_recovery = cut_and_time(pg, &db, &sync_id).await?;
    let now = batches(&db, &sync_id).await?;
    wait_for(&db, &sync_id, (now + 10).min(total * 3 / 5).max(now + 1)).await?;
    let amqp = env.amqp_proxy.as_ref().context("broker proxy")?;
    let broker_recovery = cut_and_time(amqp, &db, &sync_id).await?;

    let done = env.wait_sync(&sync_id, Duration::from_secs(1800)).await?;
    let elapsed = started.elapsed();
    let clients = env.sandbox_records("jobber", "clients").await?;
    let emails: HashSet<&str> = clients
        .iter()
        .filter_map(|c| fields(c)["emails"][0]["address"].as_str())
        .collect();
    let exact =
        done["status"] == "completed" && clients.len() as u64 == N && emails.len() as u64 == N;

    println!("| figure | target | this run |");
    println!("|---|---|---|");
    println!(
        "| progress again after an 8 s database cut | ≤ 5 s | {:.1} s |",
        db_recovery.as_secs_f64()
    );
    println!(
        "| progress again after an 8 s broker cut | ≤ 5 s | {:.1} s |",
        broker_recovery.as_secs_f64()
    );
    println!(
        "| the run: {N} contacts, sandbox latency {latency} ms, both cuts | completed, {N} clients, 0 duplicates | {} , {} clients, {} distinct emails, {:.0} s |",
        done["status"],
        clients.len(),
        emails.len(),
        elapsed.as_secs_f64()
    );
    let out = json!({
        "records": N,
        "sandboxLatencyMs": latency,
        "outageSeconds": OUTAGE.as_secs(),
        "dbRecoverySeconds": db_recovery.as_secs_f64(),
        "brokerRecoverySeconds": broker_recovery.as_secs_f64(),
        "status": done["status"],
        "clients": clients.len(),
        "distinctEmails": emails.len(),
        "elapsedSeconds": elapsed.as_secs_f64(),
    });
    std::fs::create_dir_all("target/bench")?;
    std::fs::write(
        "target/bench/recovery.json",
        serde_json::to_vec_pretty(&out)?,
    )?;
    if !exact {
        bail!("the run did not end with exactly one client per contact: {done}");
    }
    Ok(())
}
