//! A run's progress and its rate-limit wait as a user watching `GET /v1/syncs/{id}` sees them:
//! an import into Jobber under a request budget so small the run must wait says it waits on
//! `jobber` until a time in the future while its read count grows, and ends with no wait and a
//! total equal to what it read.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use fluxcascade_tests::TestEnv;
use serde_json::Value;

const N: u64 = 40;

#[tokio::test]
async fn a_rate_limited_import_says_what_it_waits_on_and_how_far_it_got() {
    let mut env = TestEnv::start("sync_progress", 0).await.expect("env");
    env.seed("hubspot", "contacts", N).await.unwrap();
    let hubspot = env.connect("hubspot").await.unwrap();
    let jobber = env.connect("jobber").await.unwrap();
    // Pages of 5 clients (a Jobber request each), one job at a time, and 20 Jobber requests per
    // 15 s: after four batches the next slot is further off than a request may wait inline, so
    // the remaining batches are deferred until the window frees.
    env.add_worker(&[
        ("FLUXCASCADE_RATE_BUDGET", "documented"),
        ("FLUXCASCADE_RATE_BUDGET_HUBSPOT", "off"),
        ("FLUXCASCADE_RATE_BUDGET_JOBBER", "20/15s"),
        ("FLUXCASCADE_PAGE_SIZE", "5"),
        ("FLUXCASCADE_WORKER_CONCURRENCY", "1"),
    ])
    .await
    .unwrap();
    let mapping = env.contacts_to_clients(&hubspot, &jobber).await.unwrap();
    let sync_id = env.trigger_sync(&mapping, "full").await.unwrap();

    let deadline = Instant::now() + Duration::from_secs(240);
    let mut read_while_waiting: Option<u64> = None;
    let mut reads_while_running = Vec::new();
    let mut exact_total_while_running = false;
    let done = loop {
        let run = env
            .api_ok(reqwest::Method::GET, &format!("/v1/syncs/{sync_id}"), None)
            .await
            .unwrap();
        let progress = &run["progress"];
        let read = progress["read"].as_u64().expect("progress.read");
        assert_eq!(run["counts"]["read"], read, "{run}");
        if let Some(total) = progress["total"].as_u64() {
            assert!(total >= read, "the total is never below read: {run}");
        }
        if run["status"] != "running" {
            if run["status"] == "pending" {
                assert!(run["waiting"].is_null(), "{run}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
            break run;
        }
        reads_while_running.push(read);
        // Every page is read long before Jobber is written: the total is the exact count.
        if progress["total"] == N && progress["totalIsEstimate"] == false {
            exact_total_while_running = true;
        }
        let waiting = &run["waiting"];
        if !waiting.is_null() {
            assert_eq!(waiting["reason"], "rate_limit", "{run}");
            assert_eq!(waiting["provider"], "jobber", "{run}");
            let until: DateTime<Utc> = waiting["until"]
                .as_str()
                .and_then(|t| t.parse().ok())
                .unwrap_or_else(|| panic!("until is RFC 3339: {run}"));
            assert!(
                until > Utc::now() - chrono::Duration::seconds(1),
                "a wait shown is not over: {run}"
            );
            read_while_waiting.get_or_insert(read);
        }
        assert!(Instant::now() < deadline, "the run did not end: {run}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["counts"]["failed"], 0, "{done}");
    let read_while_waiting =
        read_while_waiting.expect("the run was seen waiting on Jobber's rate limit");
    assert!(
        read_while_waiting < N,
        "it waited before everything was read: {read_while_waiting}"
    );
    let distinct: std::collections::BTreeSet<u64> = reads_while_running.iter().copied().collect();
    assert!(
        distinct.len() >= 2,
        "the read count grew while the run was running: {distinct:?}"
    );
    assert!(
        exact_total_while_running,
        "once every page was read the running run showed the exact total"
    );
    assert_eq!(done["waiting"], Value::Null, "{done}");
    let progress = &done["progress"];
    assert_eq!(progress["read"], N, "{done}");
    assert_eq!(progress["total"], N, "{done}");
    assert_eq!(progress["totalIsEstimate"], false, "{done}");
    let counts = &done["counts"];
    let written = ["created", "updated", "deleted"]
        .iter()
        .map(|k| counts[k].as_u64().unwrap_or(0))
        .sum::<u64>();
    assert!(written > 0, "{done}");
    assert_eq!(progress["written"], written, "{done}");
    assert_eq!(progress["processed"], N, "{done}");

    // The next full run starts from an estimate: the last run's read count.
    let again = env.trigger_sync(&mapping, "full").await.unwrap();
    let mut estimated = false;
    let deadline = Instant::now() + Duration::from_secs(240);
    let second = loop {
        let run = env
            .api_ok(reqwest::Method::GET, &format!("/v1/syncs/{again}"), None)
            .await
            .unwrap();
        if run["progress"]["totalIsEstimate"] == true {
            assert_eq!(run["progress"]["total"], N, "{run}");
            estimated = true;
        }
        if matches!(
            run["status"].as_str(),
            Some("completed" | "partial" | "failed")
        ) {
            break run;
        }
        assert!(Instant::now() < deadline, "the run did not end: {run}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(second["status"], "completed", "{second}");
    assert_eq!(second["progress"]["total"], N, "{second}");
    assert_eq!(second["progress"]["processed"], N, "{second}");
    eprintln!("second run seen with its estimate: {estimated}");
}
