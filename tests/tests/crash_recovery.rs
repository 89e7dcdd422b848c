//! End to end: a worker killed with SIGKILL in the middle of a 20,000-record sync loses nothing and duplicates nothing.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use fluxcascade_tests::{fields, TestEnv};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkilled_worker_mid_sync_then_restart_completes_with_exactly_one_client_per_contact(
) -> anyhow::Result<()> {
    const N: usize = 20_000;
    let mut env = TestEnv::start("crash", 1).await?;
    env.seed("hubspot", "contacts", N as u64).await?;
    let hubspot = env.connect("hubspot").await?;
    let jobber = env.connect("jobber").await?;
    let mapping = env.contacts_to_clients(&hubspot, &jobber).await?;
    let sync_id = env.trigger_sync(&mapping, "full").await?;

    // Let the worker get well into the run, then kill it without warning.
    let db = env.db().await?;
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let done: i64 = db
            .query_one(
                "SELECT count(*)::bigint FROM sync_batches WHERE sync_id = $1::text::uuid",
                &[&sync_id],
            )
            .await?
            .get(0);
        if done >= 30 {
            break;
        }
        assert!(Instant::now() < deadline, "the sync made no progress");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    env.workers[0].kill9();
    let at_kill = env.sandbox_records("jobber", "clients").await?.len();
    println!("killed the worker with {at_kill} clients written");
    assert!(
        at_kill < N,
        "the kill must land mid-sync (already {at_kill} written)"
    );
    let status = env
        .api_ok(reqwest::Method::GET, &format!("/v1/syncs/{sync_id}"), None)
        .await?;
    assert_eq!(status["status"], "running", "{status}");

    env.add_worker(&[]).await?;
    let done = env.wait_sync(&sync_id, Duration::from_secs(600)).await?;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["counts"]["read"], N as u64, "{done}");
    assert_eq!(done["counts"]["failed"], 0, "{done}");

    let clients = env.sandbox_records("jobber", "clients").await?;
    let emails: HashSet<String> = clients
        .iter()
        .filter_map(|c| {
            fields(c)["emails"][0]["address"]
                .as_str()
                .map(str::to_owned)
        })
        .collect();
    assert_eq!(clients.len(), N, "exactly one client per contact");
    assert_eq!(emails.len(), N, "no contact was written twice");
    let links: i64 = db
        .query_one(
            "SELECT count(*)::bigint FROM record_links WHERE target_id IS NOT NULL",
            &[],
        )
        .await?
        .get(0);
    assert_eq!(links, N as i64, "every contact is linked to its client");
    Ok(())
}
