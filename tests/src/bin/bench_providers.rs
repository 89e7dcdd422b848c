//! `make bench` (providers part): records/s of a HubSpot contacts sync into each provider as the
//! target against the sandbox with no artificial limit, and, with the sandbox at HubSpot's
//! documented OAuth-app limit (100 requests per rolling 10 s), records/s as a fraction of the
//! most that limit allows. Prints a table and writes `target/bench/providers.json`.

use std::time::{Duration, Instant};

use fluxcascade_tests::TestEnv;
use serde_json::{json, Value};

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The target object and field pairs for HubSpot contacts → `provider`.
fn target_spec(provider: &str) -> (&'static str, Value) {
    match provider {
        "salesforce" => (
            "Contact",
            json!([
                {"sourceField": "firstname", "targetField": "FirstName"},
                {"sourceField": "lastname", "targetField": "LastName", "required": true},
                {"sourceField": "email", "targetField": "Email"}
            ]),
        ),
        "pipedrive" => (
            "persons",
            json!([
                {"sourceFields": ["firstname", "lastname"], "targetField": "name",
                 "transform": "concatenate", "transformOptions": {"separator": " "}},
                {"sourceField": "email", "targetField": "emails[0].value"}
            ]),
        ),
        "jobber" => (
            "clients",
            json!([
                {"sourceField": "firstname", "targetField": "firstName"},
                {"sourceField": "lastname", "targetField": "lastName", "required": true},
                {"sourceField": "email", "targetField": "emails[0].address"}
            ]),
        ),
        _ => (
            "contacts",
            json!([
                {"sourceField": "firstname", "targetField": "firstname"},
                {"sourceField": "lastname", "targetField": "lastname"},
                {"sourceField": "email", "targetField": "email"}
            ]),
        ),
    }
}

/// One full sync of `records` HubSpot contacts into `target` with 2 workers; returns
/// (seconds, the finished sync).
async fn run(
    label: &str,
    target: &str,
    records: u64,
    limited: bool,
) -> anyhow::Result<(f64, Value)> {
    let mut env = TestEnv::start(label, 0).await?;
    let budget = if limited { "documented" } else { "off" };
    for _ in 0..2 {
        env.add_worker(&[
            ("FLUXCASCADE_WORKER_CONCURRENCY", "8"),
            ("FLUXCASCADE_RATE_BUDGET", budget),
            ("RUST_LOG", "warn"),
        ])
        .await?;
    }
    env.seed_account("hubspot", "contacts", "source", records)
        .await?;
    let source = env.connect_account("hubspot", Some("source")).await?;
    let target_conn = env.connect_account(target, Some("target")).await?;
    let (object, pairs) = target_spec(target);
    let mapping = env
        .create_mapping(json!({
            "name": format!("bench to {target}"),
            "source": {"connectionId": source["id"], "object": "contacts"},
            "target": {"connectionId": target_conn["id"], "object": object},
            "fieldPairs": pairs
        }))
        .await?;
    if limited {
        env.sandbox_config(json!({"rateLimits": {"enabled": true}}))
            .await?;
    }
    let started = Instant::now();
    let sync_id = env.trigger_sync(&mapping, "full").await?;
    let done = env.wait_sync(&sync_id, Duration::from_secs(1800)).await?;
    let secs = started.elapsed().as_secs_f64();
    anyhow::ensure!(done["status"] == "completed", "bench sync ended {done}");
    anyhow::ensure!(
        done["counts"]["created"] == records,
        "bench sync created {}",
        done["counts"]["created"]
    );
    if limited {
        let stats = env.sandbox_stats().await?;
        let limited_429: u64 = stats["requests"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|r| r["provider"] == "hubspot" && r["status"] == 429)
            .map(|r| r["count"].as_u64().unwrap_or(0))
            .sum();
        println!("  (HubSpot answered {limited_429} requests with 429 during the limited run)");
    }
    Ok((secs, done))
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let records = env_u64("BENCH_PROVIDER_RECORDS", 20_000);
    let limited_records = env_u64("BENCH_LIMITED_RECORDS", 50_000);
    let targets: Vec<String> = std::env::var("BENCH_TARGETS")
        .unwrap_or_else(|_| "salesforce,hubspot,pipedrive,jobber".into())
        .split(',')
        .map(str::to_owned)
        .collect();

    let mut rows = Vec::new();
    for target in &targets {
        let (secs, _) = run(&format!("bench-to-{target}"), target, records, false).await?;
        rows.push((target.clone(), records as f64 / secs));
    }

    // HubSpot portal → HubSpot portal at the documented limit: each portal sees one request
    // per 100 records (list pages on the source, batch creates on the target). From an empty
    // window, R requests under L per W take at least floor((R - 1) / L) × W.
    let (secs, _) = run("bench-limited", "hubspot", limited_records, true).await?;
    let requests = limited_records.div_ceil(100);
    let min_secs = ((requests - 1) / 100) as f64 * 10.0;
    let fraction = min_secs / secs;
    // The steady-state view: 10 requests/s × 100 records per request (above 1 when the first,
    // empty window's burst weighs in).
    let steady = limited_records as f64 / secs / 1_000.0;

    println!();
    println!("| HubSpot contacts → target, {records} records, 2 workers, no limits | records/s |");
    println!("|---|---|");
    for (target, rps) in &rows {
        println!("| {target} | {rps:.0} |");
    }
    println!();
    println!(
        "HubSpot → HubSpot at 100 req/10 s per portal, {limited_records} records: {secs:.1} s \
         (the limit allows {min_secs:.0} s at best) = {:.0} records/s, fraction {fraction:.2} \
         (vs the steady 1,000 records/s the window allows: {steady:.2})",
        limited_records as f64 / secs
    );
    let out = json!({
        "records": records,
        "targets": rows.iter().map(|(t, r)| json!({"target": t, "recordsPerSecond": r})).collect::<Vec<_>>(),
        "limited": {
            "records": limited_records,
            "seconds": secs,
            "minimumSeconds": min_secs,
            "recordsPerSecond": limited_records as f64 / secs,
            "fractionOfLimit": fraction,
            "fractionOfSteadyRate": steady,
        }
    });
    std::fs::create_dir_all("target/bench")?;
    std::fs::write(
        "target/bench/providers.json",
        serde_json::to_string_pretty(&out)?,
    )?;
    Ok(())
}
