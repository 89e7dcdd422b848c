//! `make bench` (match part): records/s of a Jobber → HubSpot sync whose match rule (by email)
//! runs against a 100,000-record HubSpot target, and the HubSpot requests per 100 source
//! records (search by field, so it does not grow with the target). `BENCH_MATCH_SOURCE`
//! sets the source size (default 2,000; a tenth already exist in the target).
//! Prints a table and writes `target/bench/match.json`.

use std::time::{Duration, Instant};

use fluxcascade_tests::TestEnv;
use serde_json::json;

const TARGET_SIZE: u64 = 100_000;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let source: u64 = std::env::var("BENCH_MATCH_SOURCE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000);
    let env = TestEnv::start("bench-match", 2).await?;
    env.seed("hubspot", "contacts", TARGET_SIZE).await?;
    for i in 0..source {
        let email = format!("bench{i}@match.test");
        env.http
            .post(format!("{}/_sandbox/jobber/clients", env.sandbox_url))
            .json(
                &json!({"firstName": "Bench", "lastName": format!("Client {i}"),
                          "emails": [{"address": email, "primary": true}]}),
            )
            .send()
            .await?
            .error_for_status()?;
        if i % 10 == 0 {
            env.http
                .post(format!("{}/_sandbox/hubspot/contacts", env.sandbox_url))
                .json(&json!({"email": email, "firstname": "Old", "lastname": "Name"}))
                .send()
                .await?
                .error_for_status()?;
        }
    }
    let (jobber, hubspot) = (env.connect("jobber").await?, env.connect("hubspot").await?);
    // A run only takes source records modified before its start rounded down to Jobber's
    // whole seconds: let the clients just created fall before that.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mapping = env
        .create_mapping(json!({
            "name": "bench match",
            "source": {"connectionId": jobber, "object": "clients"},
            "target": {"connectionId": hubspot, "object": "contacts"},
            "match": {"sourceField": "emails[0].address", "targetField": "email"},
            "fieldPairs": [
                {"sourceField": "firstName", "targetField": "firstname"},
                {"sourceField": "lastName", "targetField": "lastname", "required": true},
                {"sourceField": "emails[0].address", "targetField": "email"}
            ]
        }))
        .await?;
    let before = env.sandbox_requests("hubspot").await?;
    let started = Instant::now();
    let sync_id = env.trigger_sync(&mapping, "full").await?;
    let done = env.wait_sync(&sync_id, Duration::from_secs(1800)).await?;
    let secs = started.elapsed().as_secs_f64();
    anyhow::ensure!(done["status"] == "completed", "bench sync ended {done}");
    let requests = env.sandbox_requests("hubspot").await? - before;
    let rps = source as f64 / secs;
    let per_100 = requests as f64 * 100.0 / source as f64;
    println!("| match against a {TARGET_SIZE}-record target | value |");
    println!("|---|---|");
    println!("| source records | {source} |");
    println!("| records/s | {rps:.0} |");
    println!("| HubSpot requests per 100 source records | {per_100:.1} |");
    let out = json!({
        "targetSize": TARGET_SIZE,
        "sourceRecords": source,
        "recordsPerSecond": rps,
        "hubspotRequestsPer100": per_100,
        "counts": done["counts"],
    });
    fluxcascade_tests::write_bench_json("match", &out)?;
    Ok(())
}
