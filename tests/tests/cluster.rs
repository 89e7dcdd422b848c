//! End to end against a 3-node RabbitMQ cluster (`make test-cluster`, ignored by `make test`):
//! `AMQP_URL` lists the three nodes, one node is stopped in the middle of a 2,000-record sync and
//! started again; the sync completes with exactly one client per contact.
//!
//! `scripts/rabbit-cluster.sh start` must have started the nodes (fc-rabbit-1..3@localhost on
//! ports 5681-5683); the test stops and starts node 2 through the same script. The quorum queues
//! have a member on each node (the default initial group size is the cluster size), so losing one
//! node keeps a majority.

use std::collections::HashSet;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use fluxcascade_tests::{fields, Options, TestEnv};
use serde_json::json;

fn script() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("scripts")
        .join("rabbit-cluster.sh")
}

fn cluster(args: &[&str]) -> anyhow::Result<String> {
    let out = Command::new(script())
        .args(args)
        .output()
        .context("running scripts/rabbit-cluster.sh")?;
    if !out.status.success() {
        bail!(
            "rabbit-cluster.sh {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the 3-node cluster of scripts/rabbit-cluster.sh; run by `make test-cluster`"]
async fn a_sync_survives_a_cluster_node_stopping_and_coming_back() -> anyhow::Result<()> {
    const N: usize = 2_000;
    let urls = cluster(&["urls"])?;
    let options = Options {
        amqp_url: Some(urls),
        ..Options::default()
    }
    .with_env("FLUXCASCADE_RETRY_DELAYS", "200ms,1s,2s,5s");
    let env = TestEnv::start_with("cluster", 2, options).await?;
    env.seed("hubspot", "contacts", N as u64).await?;
    let hubspot = env.connect("hubspot").await?;
    let jobber = env.connect("jobber").await?;
    let mapping = env.contacts_to_clients(&hubspot, &jobber).await?;
    // A slow provider (2 s a request, so 20 pages read one after another take 40 s) keeps the
    // run going while the node stops and starts (each takes seconds).
    env.sandbox_config(json!({"latencyMs": 2000})).await?;
    let started = Instant::now();
    let sync_id = env.trigger_sync(&mapping, "full").await?;

    let db = env.db().await?;
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let done: i64 = db
            .query_one(
                "SELECT count(*)::bigint FROM sync_batches WHERE sync_id = $1::text::uuid",
                &[&sync_id],
            )
            .await?
            .get(0);
        if done >= 3 {
            println!("{done} batches committed after {:?}", started.elapsed());
            break;
        }
        assert!(Instant::now() < deadline, "the sync made no progress");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let stop = Instant::now();
    println!("{}", cluster(&["stop-node", "2"])?);
    let status = env
        .api_ok(reqwest::Method::GET, &format!("/v1/syncs/{sync_id}"), None)
        .await?;
    println!(
        "node 2 stopped in {:?}; the run is {}",
        stop.elapsed(),
        status["status"]
    );
    assert_eq!(status["status"], "running", "the node stopped mid-sync");
    let start = Instant::now();
    println!("{}", cluster(&["start-node", "2"])?);
    let status = env
        .api_ok(reqwest::Method::GET, &format!("/v1/syncs/{sync_id}"), None)
        .await?;
    println!(
        "node 2 back in {:?}; the run is {}",
        start.elapsed(),
        status["status"]
    );
    env.sandbox_config(json!({"latencyMs": 0})).await?;

    let done = env.wait_sync(&sync_id, Duration::from_secs(600)).await?;
    println!("{N} records in {:?} with a node restart", started.elapsed());
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["counts"]["read"], N as u64, "{done}");
    let clients = env.sandbox_records("jobber", "clients").await?;
    let emails: HashSet<&str> = clients
        .iter()
        .filter_map(|c| fields(c)["emails"][0]["address"].as_str())
        .collect();
    assert_eq!(clients.len(), N, "exactly one client per contact");
    assert_eq!(emails.len(), N, "0 duplicate emails");
    Ok(())
}
