//! Fairness under load: org A's Jobber connection has its request budget spent with hundreds of
//! batch jobs queued for it, and org B's 1,000-record sync still completes while A's jobs wait.
//! A's jobs give their worker slots back (deferred, consuming no attempt) instead of sleeping in
//! them; once A's budget allows again, A's run completes with every record — none was
//! dead-lettered and the run never failed.

use std::time::Duration;

use fluxcascade_tests::TestEnv;
use serde_json::{json, Value};

/// A: 2,000 contacts in pages of 10 → 200 batch jobs, each one Jobber write.
const A_RECORDS: u64 = 2_000;
const B_RECORDS: u64 = 1_000;
const PAGE: &str = "10";

/// Workers whose Jobber budget is all but spent: 5 requests per 30 s lets A write 50 of its
/// 2,000 records in the first 5 minutes, so A is certainly still waiting when B is done.
/// HubSpot (both orgs' sources, and B's target) is not paced.
const SPENT: &[(&str, &str)] = &[
    ("FLUXCASCADE_RATE_BUDGET", "documented"),
    ("FLUXCASCADE_RATE_BUDGET_JOBBER", "5/30s"),
    ("FLUXCASCADE_RATE_BUDGET_HUBSPOT", "off"),
    ("FLUXCASCADE_RATE_BUDGET_HUBSPOT_SEARCH", "off"),
    ("FLUXCASCADE_PAGE_SIZE", PAGE),
];

/// The same fleet once A's provider window has moved on.
const RESTORED: &[(&str, &str)] = &[
    ("FLUXCASCADE_RATE_BUDGET", "off"),
    ("FLUXCASCADE_PAGE_SIZE", PAGE),
];

async fn sync(env: &TestEnv, id: &str) -> Value {
    env.api_ok(reqwest::Method::GET, &format!("/v1/syncs/{id}"), None)
        .await
        .expect("sync")
}

#[tokio::test]
async fn a_throttled_org_does_not_starve_another() {
    let mut env = TestEnv::start("fairness", 0).await.expect("env");
    env.seed_account("hubspot", "contacts", "alpha", A_RECORDS)
        .await
        .unwrap();
    env.seed_account("hubspot", "contacts", "beta", B_RECORDS)
        .await
        .unwrap();

    // Org A: HubSpot contacts → Jobber clients.
    let hub_a = env.connect_account("hubspot", Some("alpha")).await.unwrap();
    let jobber_a = env.connect_account("jobber", Some("alpha")).await.unwrap();
    let mapping_a = env
        .contacts_to_clients(
            hub_a["id"].as_str().unwrap(),
            jobber_a["id"].as_str().unwrap(),
        )
        .await
        .unwrap();
    // Org B: HubSpot contacts → HubSpot companies, in its own portal.
    let b_key = env.create_org("fairness-b").unwrap();
    let a_key = env.act_as(&b_key);
    let hub_b = env.connect_account("hubspot", Some("beta")).await.unwrap();
    let hub_b = hub_b["id"].as_str().unwrap();
    let mapping_b = env
        .create_mapping(json!({
            "name": "contacts to companies",
            "source": {"connectionId": hub_b, "object": "contacts"},
            "target": {"connectionId": hub_b, "object": "companies"},
            "fieldPairs": [
                {"sourceFields": ["firstname", "lastname"], "targetField": "name",
                 "transform": "concatenate", "transformOptions": {"separator": " "}},
                {"sourceField": "email", "targetField": "description"}
            ]
        }))
        .await
        .unwrap();

    for _ in 0..2 {
        env.add_worker(SPENT).await.unwrap();
    }
    // A's import is queued first: its coordinator publishes 200 batch jobs ahead of B's.
    env.act_as(&a_key);
    let run_a = env.trigger_sync(&mapping_a, "full").await.unwrap();
    let db = env.db().await.unwrap();
    let a_id: uuid::Uuid = run_a.parse().unwrap();
    for _ in 0..600 {
        let row = db
            .query_one(
                "SELECT batches_published, coordinator_done FROM sync_runs WHERE id = $1",
                &[&a_id],
            )
            .await
            .unwrap();
        if row.get::<_, bool>(1) {
            assert_eq!(row.get::<_, i32>(0), 200);
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    env.act_as(&b_key);
    let run_b = env.trigger_sync(&mapping_b, "full").await.unwrap();
    let done_b = env
        .wait_sync(&run_b, Duration::from_secs(600))
        .await
        .unwrap();
    assert_eq!(done_b["status"], "completed", "{done_b}");
    assert_eq!(done_b["counts"]["created"], B_RECORDS, "{done_b}");
    assert_eq!(done_b["counts"]["failed"], 0, "{done_b}");

    // B finished while A's jobs were still waiting for A's budget — without failing.
    env.act_as(&a_key);
    let waiting = sync(&env, &run_a).await;
    assert_eq!(waiting["status"], "running", "{waiting}");
    let created = waiting["counts"]["created"].as_u64().unwrap_or(0);
    assert!(created < A_RECORDS, "A was not held back: {waiting}");
    assert_eq!(waiting["counts"]["failed"], 0, "{waiting}");

    // A's window moves on (the fleet is replaced by workers without the spent budget): every
    // parked job comes back and A's run completes with every record.
    for w in &mut env.workers {
        w.stop();
    }
    env.workers.clear();
    for _ in 0..2 {
        env.add_worker(RESTORED).await.unwrap();
    }
    let done_a = env
        .wait_sync(&run_a, Duration::from_secs(900))
        .await
        .unwrap();
    assert_eq!(done_a["status"], "completed", "{done_a}");
    assert_eq!(done_a["counts"]["read"], A_RECORDS, "{done_a}");
    assert_eq!(done_a["counts"]["failed"], 0, "{done_a}");
    // A batch deferred after its write went out reconciles its create intents when it comes
    // back: the clients it already created are linked (counted skipped), never created again.
    let created = done_a["counts"]["created"].as_u64().unwrap_or(0);
    let skipped = done_a["counts"]["skipped"].as_u64().unwrap_or(0);
    assert_eq!(created + skipped, A_RECORDS, "{done_a}");
    let clients: Value = env
        .http
        .get(format!("{}/_sandbox/jobber/clients", env.sandbox_url))
        .query(&[("account", "alpha")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        clients["data"].as_array().map(Vec::len),
        Some(A_RECORDS as usize),
        "every contact became exactly one client"
    );
}
