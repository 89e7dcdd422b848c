//! `make bench` (fairness part), against the real binary, RabbitMQ, Postgres and the sandbox:
//! (a) org B's webhook change → written latency (p50, p99) with org A idle vs. while org A runs a
//!     large sync (20,000 HubSpot contacts → Jobber clients), the sandbox answering every provider
//!     call after 50 ms; B's Jobber clients → HubSpot contacts, changed at 20/s;
//! (b) org B's 1,000-record sync time (HubSpot contacts → companies) with A idle vs. with A's
//!     Jobber budget spent (5 requests / 30 s) and A's 200 batch jobs queued ahead of B's.
//!
//! Prints a table and writes `target/bench/fairness.json`.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context};
use fluxcascade_tests::{fields, TestEnv};
use serde_json::{json, Value};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const A_RECORDS: u64 = 20_000;
const B_RECORDS: u64 = 1_000;
const CHANGES: usize = 200;
const CHANGE_RATE: u64 = 20;

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[(((sorted.len() - 1) as f64) * p).round() as usize]
}

fn id(v: &Value) -> anyhow::Result<String> {
    v["id"].as_str().map(str::to_owned).context("no id")
}

/// Org A (the env's first org): HubSpot contacts (`alpha`) → Jobber clients (`alpha`).
async fn org_a(env: &TestEnv) -> anyhow::Result<String> {
    env.seed_account("hubspot", "contacts", "alpha", A_RECORDS)
        .await?;
    let hub = id(&env.connect_account("hubspot", Some("alpha")).await?)?;
    let jobber = id(&env.connect_account("jobber", Some("alpha")).await?)?;
    env.contacts_to_clients(&hub, &jobber).await
}

/// Starts A's import and waits until its coordinator published every batch job.
async fn start_a(env: &TestEnv, mapping: &str) -> anyhow::Result<String> {
    let run = env.trigger_sync(mapping, "full").await?;
    let db = env.db().await?;
    let run_id: uuid::Uuid = run.parse()?;
    let deadline = Instant::now() + Duration::from_secs(600);
    while !db
        .query_one(
            "SELECT coordinator_done FROM sync_runs WHERE id = $1",
            &[&run_id],
        )
        .await?
        .get::<_, bool>(0)
    {
        ensure!(Instant::now() < deadline, "A's coordinator did not finish");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Ok(run)
}

/// Changes `ids` (B's Jobber clients) at [`CHANGE_RATE`]/s; each change's ms until its HubSpot
/// contact carried it.
async fn change_latencies(env: &TestEnv, ids: &[String], round: usize) -> anyhow::Result<Vec<f64>> {
    let interval = Duration::from_micros(1_000_000 / CHANGE_RATE);
    let started = Instant::now();
    let mut sent: HashMap<String, i64> = HashMap::new();
    for (i, client) in ids.iter().enumerate() {
        tokio::time::sleep_until((started + interval * i as u32).into()).await;
        let name = format!("r{round}-{i}");
        sent.insert(name.clone(), chrono::Utc::now().timestamp_millis());
        env.http
            .patch(format!(
                "{}/_sandbox/jobber/clients/{client}",
                env.sandbox_url
            ))
            .query(&[("account", "beta")])
            .json(&json!({ "firstName": name }))
            .send()
            .await?
            .error_for_status()?;
    }
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let contacts: Value = env
            .http
            .get(format!("{}/_sandbox/hubspot/contacts", env.sandbox_url))
            .query(&[("account", "beta")])
            .send()
            .await?
            .json()
            .await?;
        let mut lat = Vec::new();
        for c in contacts["data"].as_array().into_iter().flatten() {
            let (Some(at), Some(updated)) = (
                fields(c)["firstname"].as_str().and_then(|n| sent.get(n)),
                c["updatedAt"]
                    .as_str()
                    .and_then(|u| chrono::DateTime::parse_from_rfc3339(u).ok()),
            ) else {
                continue;
            };
            lat.push((updated.timestamp_millis() - at) as f64);
        }
        if lat.len() == sent.len() {
            lat.sort_by(f64::total_cmp);
            return Ok(lat);
        }
        if Instant::now() > deadline {
            bail!("only {} of {} changes were written", lat.len(), sent.len());
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// (a) B's webhook latency, A idle vs. A importing.
async fn webhook_latency() -> anyhow::Result<Value> {
    let mut env = TestEnv::start("bench-fairness-latency", 0).await?;
    for _ in 0..2 {
        env.add_worker(&[("RUST_LOG", "warn")]).await?;
    }
    env.sandbox_config(json!({"latencyMs": 50})).await?;
    let mapping_a = org_a(&env).await?;
    let b_key = env.create_org("bench-b")?;
    let a_key = env.act_as(&b_key);
    env.seed_account("jobber", "clients", "beta", CHANGES as u64)
        .await?;
    let hub = id(&env.connect_account("hubspot", Some("beta")).await?)?;
    let jobber = id(&env.connect_account("jobber", Some("beta")).await?)?;
    let mapping_b = env
        .create_mapping(json!({
            "name": "clients to contacts",
            "source": {"connectionId": jobber, "object": "clients"},
            "target": {"connectionId": hub, "object": "contacts"},
            "fieldPairs": [
                {"sourceField": "firstName", "targetField": "firstname"},
                {"sourceField": "lastName", "targetField": "lastname"}
            ]
        }))
        .await?;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let link = env.trigger_sync(&mapping_b, "full").await?;
    let done = env.wait_sync(&link, Duration::from_secs(600)).await?;
    ensure!(done["status"] == "completed", "B's initial sync: {done}");
    env.sandbox_config(json!({"webhookUrl": env.api_url}))
        .await?;
    let clients: Value = env
        .http
        .get(format!("{}/_sandbox/jobber/clients", env.sandbox_url))
        .query(&[("account", "beta")])
        .send()
        .await?
        .json()
        .await?;
    let ids: Vec<String> = clients["data"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["id"].as_str().map(str::to_owned))
        .collect();
    let idle = change_latencies(&env, &ids, 1).await?;
    env.act_as(&a_key);
    let run_a = start_a(&env, &mapping_a).await?;
    let busy = change_latencies(&env, &ids, 2).await?;
    let a = env
        .api_ok(reqwest::Method::GET, &format!("/v1/syncs/{run_a}"), None)
        .await?;
    Ok(json!({
        "changes": ids.len(),
        "rate_per_s": CHANGE_RATE,
        "sandbox_latency_ms": 50,
        "a_idle": {"p50_ms": percentile(&idle, 0.5), "p99_ms": percentile(&idle, 0.99)},
        "a_importing": {"p50_ms": percentile(&busy, 0.5), "p99_ms": percentile(&busy, 0.99)},
        "a_status_after": a["status"],
        "a_created_after": a["counts"]["created"],
    }))
}

/// (b) B's 1,000-record sync time, A idle vs. A's budget spent with its batches queued.
async fn sync_time() -> anyhow::Result<Value> {
    let mut env = TestEnv::start("bench-fairness-sync", 0).await?;
    for _ in 0..2 {
        env.add_worker(&[
            ("RUST_LOG", "warn"),
            ("FLUXCASCADE_RATE_BUDGET", "documented"),
            ("FLUXCASCADE_RATE_BUDGET_JOBBER", "5/30s"),
            ("FLUXCASCADE_RATE_BUDGET_HUBSPOT", "off"),
            ("FLUXCASCADE_RATE_BUDGET_HUBSPOT_SEARCH", "off"),
        ])
        .await?;
    }
    let mapping_a = org_a(&env).await?;
    let b_key = env.create_org("bench-b")?;
    let a_key = env.act_as(&b_key);
    env.seed_account("hubspot", "contacts", "beta", B_RECORDS)
        .await?;
    let hub = id(&env.connect_account("hubspot", Some("beta")).await?)?;
    let mut mappings = Vec::new();
    for (object, name_field) in [("companies", "name"), ("deals", "dealname")] {
        mappings.push(
            env.create_mapping(json!({
                "name": format!("contacts to {object}"),
                "source": {"connectionId": hub, "object": "contacts"},
                "target": {"connectionId": hub, "object": object},
                "fieldPairs": [{"sourceField": "lastname", "targetField": name_field}]
            }))
            .await?,
        );
    }
    let mut times = Vec::new();
    for (i, mapping) in mappings.iter().enumerate() {
        if i == 1 {
            env.act_as(&a_key);
            start_a(&env, &mapping_a).await?;
            env.act_as(&b_key);
        }
        let started = Instant::now();
        let run = env.trigger_sync(mapping, "full").await?;
        let done = env.wait_sync(&run, Duration::from_secs(900)).await?;
        ensure!(
            done["status"] == "completed" && done["counts"]["created"] == B_RECORDS,
            "B's sync: {done}"
        );
        times.push(started.elapsed().as_secs_f64());
    }
    Ok(json!({
        "records": B_RECORDS,
        "a_idle_s": times[0],
        "a_budget_spent_s": times[1],
        "a_batches_queued": A_RECORDS / 100,
    }))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let latency = webhook_latency().await?;
    let sync = sync_time().await?;
    println!("| org B measure | org A idle | org A busy |");
    println!("|---|---|---|");
    println!(
        "| webhook change → written p50 (ms) | {:.0} | {:.0} (importing) |",
        latency["a_idle"]["p50_ms"].as_f64().unwrap_or(f64::NAN),
        latency["a_importing"]["p50_ms"]
            .as_f64()
            .unwrap_or(f64::NAN)
    );
    println!(
        "| webhook change → written p99 (ms) | {:.0} | {:.0} (importing) |",
        latency["a_idle"]["p99_ms"].as_f64().unwrap_or(f64::NAN),
        latency["a_importing"]["p99_ms"]
            .as_f64()
            .unwrap_or(f64::NAN)
    );
    println!(
        "| 1,000-record sync (s) | {:.1} | {:.1} (budget spent, 200 batches queued) |",
        sync["a_idle_s"].as_f64().unwrap_or(f64::NAN),
        sync["a_budget_spent_s"].as_f64().unwrap_or(f64::NAN)
    );
    let out = json!({"webhook_latency": latency, "sync_time": sync});
    std::fs::create_dir_all("target/bench")?;
    std::fs::write(
        "target/bench/fairness.json",
        serde_json::to_vec_pretty(&out)?,
    )?;
    Ok(())
}
