//! `make bench` (incremental cost): a HubSpot source of 1,000,000 contacts (`BENCH_INCREMENTAL_SIZE`)
//! fully synced to Jobber once, then 10 contacts change: the incremental run's wall time, records
//! read and HubSpot requests (the cost must follow the changes, not the source's size).
//! Prints a table and writes `target/bench/incremental.json`.

use std::time::{Duration, Instant};

use fluxcascade_tests::TestEnv;
use serde_json::json;

const CHANGED: u64 = 10;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let size: u64 = std::env::var("BENCH_INCREMENTAL_SIZE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let env = TestEnv::start("bench-incremental", 2).await?;
    env.seed("hubspot", "contacts", size).await?;
    let (hubspot, jobber) = (env.connect("hubspot").await?, env.connect("jobber").await?);
    let mapping = env.contacts_to_clients(&hubspot, &jobber).await?;
    let started = Instant::now();
    let full = env
        .wait_sync(
            &env.trigger_sync(&mapping, "full").await?,
            Duration::from_secs(3600),
        )
        .await?;
    let full_secs = started.elapsed().as_secs_f64();
    anyhow::ensure!(full["status"] == "completed", "the full run ended {full}");

    for i in 0..CHANGED {
        env.http
            .post(format!("{}/_sandbox/hubspot/contacts", env.sandbox_url))
            .json(&json!({"properties": {"firstname": "Changed", "lastname": format!("Contact {i}")}}))
            .send()
            .await?
            .error_for_status()?;
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    let before = env.sandbox_requests("hubspot").await?;
    let started = Instant::now();
    let inc = env
        .wait_sync(
            &env.trigger_sync(&mapping, "incremental").await?,
            Duration::from_secs(600),
        )
        .await?;
    let inc_secs = started.elapsed().as_secs_f64();
    anyhow::ensure!(
        inc["status"] == "completed",
        "the incremental run ended {inc}"
    );
    let requests = env.sandbox_requests("hubspot").await? - before;
    let read = inc["counts"]["read"].as_u64().unwrap_or(0);
    println!("| incremental run of a {size}-contact HubSpot source, {CHANGED} changed | value |");
    println!("|---|---|");
    println!(
        "| full run (once, {size} contacts) | {full_secs:.1} s, {:.0} rec/s |",
        size as f64 / full_secs
    );
    println!("| incremental run wall time | {inc_secs:.2} s (target ≤ 2 s) |");
    println!("| records read by the incremental run | {read} (changed: {CHANGED}) |");
    println!("| HubSpot requests of the incremental run | {requests} |");
    let out = json!({
        "sourceSize": size,
        "changed": CHANGED,
        "fullSeconds": full_secs,
        "incrementalSeconds": inc_secs,
        "incrementalRead": read,
        "incrementalHubspotRequests": requests,
        "counts": inc["counts"],
    });
    fluxcascade_tests::write_bench_json("incremental", &out)?;
    Ok(())
}
