//! End to end: a worker killed with SIGKILL in the middle of a bidirectional run's reverse leg
//! (5,000 Jobber clients created as HubSpot contacts) leaves exactly one contact per client.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use fluxcascade_tests::{fields, TestEnv};
use serde_json::json;

/// Reverse-leg batches of the run committed so far.
async fn committed(db: &tokio_postgres::Client, sync_id: &str) -> anyhow::Result<i64> {
    Ok(db
        .query_one(
            "SELECT count(*)::bigint FROM sync_batches WHERE sync_id = $1::text::uuid AND side = 'target'",
            &[&sync_id],
        )
        .await?
        .get(0))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkilled_worker_mid_reverse_leg_then_restart_creates_exactly_one_contact_per_client(
) -> anyhow::Result<()> {
    const N: usize = 5_000;
    let mut env = TestEnv::start("crash_reverse", 1).await?;
    env.seed("jobber", "clients", N as u64).await?;
    let hubspot = env.connect("hubspot").await?;
    let jobber = env.connect("jobber").await?;
    let mapping = env
        .create_mapping(json!({
            "name": "contacts <-> clients",
            "source": {"connectionId": hubspot, "object": "contacts"},
            "target": {"connectionId": jobber, "object": "clients"},
            "direction": "bidirectional",
            "fieldPairs": [
                {"sourceField": "firstname", "targetField": "firstName"},
                {"sourceField": "lastname", "targetField": "lastName", "required": true},
                {"sourceField": "email", "targetField": "emails[0].address", "transform": "lowercase"}
            ]
        }))
        .await?;
    // Jobber timestamps have second resolution and a run reads what changed before the second it
    // was created in: keep the seeded clients a second apart from the run.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let sync_id = env.trigger_sync(&mapping, "full").await?;

    // The forward leg has nothing to read. Once the reverse leg has committed a few batches,
    // hold batch commits back (a table lock on `sync_batches`), wait until the worker has created
    // contacts it cannot commit yet, and kill it without warning: the creates reached HubSpot,
    // their links did not.
    let db = env.db().await?;
    let deadline = Instant::now() + Duration::from_secs(120);
    while committed(&db, &sync_id).await? < 3 {
        assert!(
            Instant::now() < deadline,
            "the reverse leg made no progress"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    db.batch_execute("BEGIN; LOCK TABLE sync_batches IN EXCLUSIVE MODE")
        .await?;
    let committed_at_lock = committed(&db, &sync_id).await?;
    // Creates that went out before the lock are committed or about to block on it; wait for
    // one whose commit is blocked: more contacts than the committed batches account for.
    let written_at_lock = env.sandbox_writes("hubspot", "contacts").await?;
    while env.sandbox_writes("hubspot", "contacts").await? <= written_at_lock {
        assert!(Instant::now() < deadline, "no create after the lock");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    env.workers[0].kill9();
    db.batch_execute("ROLLBACK").await?;
    let at_kill = env.sandbox_records("hubspot", "contacts").await?.len();
    println!(
        "killed the worker with {at_kill} contacts written, {committed_at_lock} batches committed"
    );
    assert!(
        at_kill < N,
        "the kill must land mid-leg (already {at_kill} written)"
    );
    assert_eq!(
        committed(&db, &sync_id).await?,
        committed_at_lock,
        "the batches created after the lock were not committed"
    );

    env.add_worker(&[]).await?;
    let done = env.wait_sync(&sync_id, Duration::from_secs(600)).await?;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["counts"]["read"], N as u64, "{done}");
    assert_eq!(done["counts"]["failed"], 0, "{done}");

    let contacts = env.sandbox_records("hubspot", "contacts").await?;
    let emails: HashSet<String> = contacts
        .iter()
        .filter_map(|c| fields(c)["email"].as_str().map(str::to_lowercase))
        .collect();
    assert_eq!(contacts.len(), N, "exactly one contact per client");
    assert_eq!(emails.len(), N, "no client was created twice");
    let links: i64 = db
        .query_one(
            "SELECT count(*)::bigint FROM record_links WHERE target_id IS NOT NULL",
            &[],
        )
        .await?
        .get(0);
    assert_eq!(links, N as i64, "every client is linked to its contact");
    let intents: i64 = db
        .query_one("SELECT count(*)::bigint FROM reverse_create_intents", &[])
        .await?
        .get(0);
    assert_eq!(intents, 0, "every reverse create intent was settled");
    Ok(())
}
