//! End to end (issue 11): infrastructure faults made with test-controlled proxies (never by stopping
//! the shared Postgres or RabbitMQ). A sync survives a database outage and a broker outage with
//! exactly one client per contact; a coordinator killed mid-run resumes after its lease expires;
//! webhook changes accepted during outages all reach the target; a run whose finalisation meets a
//! dead database still ends once it is back.
//!
//! The processes get short retry tiers and a short run lease and reaper interval through the
//! environment (`FLUXCASCADE_RETRY_DELAYS`, `FLUXCASCADE_RUN_LEASE_SECONDS`,
//! `FLUXCASCADE_REAPER_INTERVAL_SECONDS`).

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use fluxcascade_tests::{fields, FaultProxy, Options, Proc, TestEnv};
use reqwest::Method;
use serde_json::{json, Value};

/// How long each outage lasts.
const OUTAGE: Duration = Duration::from_secs(20);
/// Records per page of a HubSpot full read, so per batch.
const PAGE: usize = 100;
const LEASE_SECONDS: u64 = 20;
const REAPER_SECONDS: u64 = 5;

fn options(db_proxy: bool, amqp_proxy: bool) -> Options {
    Options {
        db_proxy,
        amqp_proxy,
        ..Options::default()
    }
    .with_env("FLUXCASCADE_RETRY_DELAYS", "200ms,1s,2s,5s")
    .with_env("FLUXCASCADE_RUN_LEASE_SECONDS", &LEASE_SECONDS.to_string())
    .with_env(
        "FLUXCASCADE_REAPER_INTERVAL_SECONDS",
        &REAPER_SECONDS.to_string(),
    )
}

fn proxy<'a>(p: &'a Option<FaultProxy>, what: &str) -> &'a FaultProxy {
    p.as_ref()
        .unwrap_or_else(|| panic!("the env was started without a {what} proxy"))
}

/// The scheduler, for its reaper (a production deployment always runs one).
async fn scheduler(env: &TestEnv) -> anyhow::Result<Proc> {
    Ok(env.start_scheduler("scheduler", &[]).await?.0)
}

/// Seeds `n` contacts, connects both sides and maps contacts to clients; the mapping id.
async fn contacts_mapping(env: &TestEnv, n: usize) -> anyhow::Result<String> {
    env.seed("hubspot", "contacts", n as u64).await?;
    let hubspot = env.connect("hubspot").await?;
    let jobber = env.connect("jobber").await?;
    env.contacts_to_clients(&hubspot, &jobber).await
}

async fn batches_done(db: &tokio_postgres::Client, sync_id: &str) -> anyhow::Result<i64> {
    Ok(db
        .query_one(
            "SELECT count(*)::bigint FROM sync_batches WHERE sync_id = $1::text::uuid",
            &[&sync_id],
        )
        .await?
        .get(0))
}

async fn run_status(db: &tokio_postgres::Client, sync_id: &str) -> anyhow::Result<String> {
    Ok(db
        .query_one(
            "SELECT status::text FROM sync_runs WHERE id = $1::text::uuid",
            &[&sync_id],
        )
        .await?
        .get(0))
}

/// Waits (on the test's direct database connection) until the run committed `at_least` batches,
/// and checks it is still running, so the fault that follows lands mid-run.
async fn wait_batches(
    db: &tokio_postgres::Client,
    sync_id: &str,
    at_least: i64,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let done = batches_done(db, sync_id).await?;
        if done >= at_least {
            let status = run_status(db, sync_id).await?;
            if status != "running" {
                bail!("the run is {status} after {done} batches: the fault would not land mid-run (raise N)");
            }
            println!("{done} batches committed");
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("the run made no progress: {done} of {at_least} batches");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// What a user checks after the run: it completed, read everything, and the target holds exactly
/// one client per contact (as many distinct emails as contacts).
async fn assert_one_client_per_contact(
    env: &TestEnv,
    done: &Value,
    n: usize,
) -> anyhow::Result<()> {
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["counts"]["read"], n as u64, "{done}");
    assert_eq!(done["counts"]["failed"], 0, "{done}");
    let clients = env.sandbox_records("jobber", "clients").await?;
    let emails: HashSet<&str> = clients
        .iter()
        .filter_map(|c| fields(c)["emails"][0]["address"].as_str())
        .collect();
    assert_eq!(clients.len(), n, "exactly one client per contact");
    assert_eq!(emails.len(), n, "no contact was written twice");
    Ok(())
}

/// (a) A database outage and, later, a broker outage during one sync.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_through_a_database_outage_and_a_broker_outage_writes_each_contact_once(
) -> anyhow::Result<()> {
    const N: usize = 20_000;
    let env = TestEnv::start_with("faults_outages", 2, options(true, true)).await?;
    let _scheduler = scheduler(&env).await?;
    let mapping = contacts_mapping(&env, N).await?;
    let started = Instant::now();
    let sync_id = env.trigger_sync(&mapping, "full").await?;
    let db = env.db().await?;
    let total = (N / PAGE) as i64;

    wait_batches(&db, &sync_id, total / 5).await?;
    let pg = proxy(&env.db_proxy, "database");
    println!(
        "cutting the database for {OUTAGE:?} ({} connections so far)",
        pg.open()
    );
    pg.cut_for(OUTAGE).await;

    let after_db = batches_done(&db, &sync_id).await?;
    wait_batches(&db, &sync_id, (total * 3 / 5).max(after_db + 5)).await?;
    let amqp = proxy(&env.amqp_proxy, "broker");
    println!(
        "cutting the broker for {OUTAGE:?} ({} connections so far)",
        amqp.open()
    );
    amqp.cut_for(OUTAGE).await;

    let done = env.wait_sync(&sync_id, Duration::from_secs(900)).await?;
    println!(
        "{N} records with two {OUTAGE:?} outages in {:?}",
        started.elapsed()
    );
    assert_one_client_per_contact(&env, &done, N).await?;
    assert!(
        pg.refused() + amqp.refused() > 0,
        "the processes met the outages"
    );
    Ok(())
}

/// (b) The worker coordinating a run is SIGKILLed and no worker runs for about a minute (the
/// run's lease expires); the next worker resumes the run and finishes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_whose_coordinator_was_killed_resumes_after_its_lease_expired() -> anyhow::Result<()>
{
    const N: usize = 5_000;
    let mut env = TestEnv::start_with("faults_lease", 1, options(false, false)).await?;
    let _scheduler = scheduler(&env).await?;
    let mapping = contacts_mapping(&env, N).await?;
    let sync_id = env.trigger_sync(&mapping, "full").await?;
    let db = env.db().await?;
    wait_batches(&db, &sync_id, 5).await?;
    env.workers[0].kill9();
    let at_kill = batches_done(&db, &sync_id).await?;
    println!("killed the only worker after {at_kill} batches");
    assert!(at_kill < (N / PAGE) as i64, "the kill landed mid-run");

    // No worker for a while: the lease expires and the reaper looks at the run.
    tokio::time::sleep(Duration::from_secs(60)).await;
    let status = run_status(&db, &sync_id).await?;
    assert!(
        !matches!(status.as_str(), "completed" | "partial"),
        "nothing finished the run without a worker: {status}"
    );
    env.add_worker(&[]).await?;
    let done = env.wait_sync(&sync_id, Duration::from_secs(600)).await?;
    assert_one_client_per_contact(&env, &done, N).await?;
    Ok(())
}

/// Edits contact `id` in the sandbox (a person's change in HubSpot) and delivers HubSpot's
/// webhook for it; the ingress's answer.
async fn change_and_announce(
    env: &TestEnv,
    portal: u64,
    id: &str,
    event_id: u64,
    firstname: &str,
) -> anyhow::Result<u16> {
    env.http
        .patch(format!(
            "{}/_sandbox/hubspot/contacts/{id}",
            env.sandbox_url
        ))
        .json(&json!({"properties": {"firstname": firstname}}))
        .send()
        .await?
        .error_for_status()?;
    let body = json!([{"eventId": event_id, "subscriptionId": 1, "portalId": portal, "appId": 1,
        "occurredAt": chrono::Utc::now().timestamp_millis(),
        "subscriptionType": "contact.propertyChange", "attemptNumber": 0,
        "objectId": id.parse::<u64>()?, "propertyName": "firstname", "propertyValue": firstname,
        "changeSource": "CRM_UI", "sourceId": "userId:1"}])
    .to_string();
    match env.post_hubspot_webhook(&body, "sandbox-secret").await {
        Ok(resp) => Ok(resp.status().as_u16()),
        // A dropped connection is an answer too: not accepted.
        Err(_) => Ok(0),
    }
}

/// (c) Webhook changes arriving while the mapping's run is stuck behind a database outage all
/// reach the target once it is back; a broker cut right after the ingress answered 2xx loses none
/// of the answered events.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_changes_accepted_during_outages_all_reach_the_target() -> anyhow::Result<()> {
    const N: usize = 50;
    let env = TestEnv::start_with("faults_webhooks", 1, options(true, true)).await?;
    let _scheduler = scheduler(&env).await?;
    let mapping = contacts_mapping(&env, N).await?;
    let first = env.trigger_sync(&mapping, "full").await?;
    env.wait_sync(&first, Duration::from_secs(120)).await?;
    let hubspot = env.api_ok(Method::GET, "/v1/connections", None).await?["data"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["provider"] == "hubspot").cloned())
        .context("the hubspot connection")?;
    let portal: u64 = hubspot["externalAccountId"]
        .as_str()
        .context("portal id")?
        .parse()?;
    let ids: Vec<String> = env
        .sandbox_records("hubspot", "contacts")
        .await?
        .iter()
        .filter_map(|c| c["id"].as_str().map(str::to_owned))
        .collect();
    // The name each contact must end with in Jobber, for every change the ingress answered 2xx.
    let mut expected: BTreeMap<String, String> = BTreeMap::new();

    // A change starts a webhook run, then the database goes away under it.
    let pg = proxy(&env.db_proxy, "database");
    assert_eq!(
        change_and_announce(&env, portal, &ids[0], 1, "Stuck0").await?,
        200
    );
    expected.insert(ids[0].clone(), "Stuck0".into());
    pg.cut();
    let mut redeliver = Vec::new();
    for (i, id) in ids.iter().enumerate().take(11).skip(1) {
        let name = format!("DbOutage{i}");
        let status = change_and_announce(&env, portal, id, 100 + i as u64, &name).await?;
        if (200..300).contains(&status) {
            expected.insert(id.clone(), name);
        } else {
            // HubSpot redelivers what was not accepted; so does this test, after the outage.
            redeliver.push((i, id.clone(), name));
        }
    }
    tokio::time::sleep(OUTAGE).await;
    pg.restore();
    println!(
        "{} deliveries refused during the database outage",
        redeliver.len()
    );
    for (i, id, name) in redeliver {
        let status = change_and_announce(&env, portal, &id, 100 + i as u64, &name).await?;
        assert_eq!(status, 200, "a redelivery after the outage is accepted");
        expected.insert(id, name);
    }

    // Changes answered 2xx, then the broker is cut at once.
    let amqp = proxy(&env.amqp_proxy, "broker");
    let mut answered = Vec::new();
    for (i, id) in ids.iter().enumerate().take(21).skip(11) {
        let name = format!("BrokerCut{i}");
        let status = change_and_announce(&env, portal, id, 200 + i as u64, &name).await?;
        answered.push((id.clone(), name, status));
    }
    amqp.cut();
    // One more delivery while the broker is away: accepted only if its job was confirmed.
    let late = (ids[21].clone(), "DuringCut21".to_string());
    let late_status = change_and_announce(&env, portal, &late.0, 221, &late.1).await?;
    tokio::time::sleep(OUTAGE).await;
    amqp.restore();
    println!("a delivery during the broker outage was answered {late_status}");
    for (id, name, status) in answered {
        assert_eq!(status, 200, "deliveries before the cut are accepted");
        expected.insert(id, name);
    }
    if (200..300).contains(&late_status) {
        expected.insert(late.0, late.1);
    }

    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let clients = env.sandbox_records("jobber", "clients").await?;
        let names: HashSet<&str> = clients
            .iter()
            .filter_map(|c| fields(c)["firstName"].as_str())
            .collect();
        let missing: Vec<&String> = expected
            .values()
            .filter(|n| !names.contains(n.as_str()))
            .collect();
        if missing.is_empty() {
            assert_eq!(clients.len(), N, "changes update clients, never add any");
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("accepted changes never reached Jobber: {missing:?}");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// (d) The database goes away while the run's last batches are written, so the commit that would
/// finalise the run meets a dead database; once it is back the run still reaches a final state
/// (at the latest when the reaper next looks after the lease).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_whose_finalisation_met_a_database_outage_still_ends() -> anyhow::Result<()> {
    const N: usize = 2_000;
    let env = TestEnv::start_with("faults_finalise", 1, options(true, false)).await?;
    let _scheduler = scheduler(&env).await?;
    let mapping = contacts_mapping(&env, N).await?;
    let sync_id = env.trigger_sync(&mapping, "full").await?;
    let db = env.db().await?;
    let deadline = Instant::now() + Duration::from_secs(300);
    // The last page's writes are under way: every commit left includes the finalising one.
    while env.sandbox_writes("jobber", "clients").await? < (N - PAGE / 2) as u64 {
        assert!(Instant::now() < deadline, "the run made no progress");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let pg = proxy(&env.db_proxy, "database");
    pg.cut();
    let at_cut = run_status(&db, &sync_id).await?;
    println!("database cut with the run {at_cut}");
    assert_eq!(
        at_cut, "running",
        "the cut must land before the run is finalised"
    );
    tokio::time::sleep(OUTAGE).await;
    pg.restore();
    let bound = Duration::from_secs(LEASE_SECONDS + 4 * REAPER_SECONDS + 60);
    let done = env.wait_sync(&sync_id, bound).await?;
    assert_one_client_per_contact(&env, &done, N).await?;
    Ok(())
}
