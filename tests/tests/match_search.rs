//! End to end: a match rule against a 100,000-record target searches the target by field
//! (`Provider::find_by`) instead of scanning it, so the provider requests of a sync follow
//! the number of source records, not the size of the target.

use std::time::Duration;

use fluxcascade_tests::TestEnv;
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(300);
const TARGET_SIZE: u64 = 100_000;
const SOURCE_SIZE: u64 = 150;
const TWINS: usize = 20;

/// `(all HubSpot requests, HubSpot contact list pages)` counted by the sandbox so far.
async fn hubspot_requests(env: &TestEnv) -> anyhow::Result<(u64, u64)> {
    let stats = env.sandbox_stats().await?;
    let rows = stats["requests"].as_array().cloned().unwrap_or_default();
    let hubspot = rows.iter().filter(|r| r["provider"] == "hubspot");
    let count = |r: &Value| r["count"].as_u64().unwrap_or(0);
    let all = hubspot.clone().map(count).sum();
    let lists = hubspot
        .filter(|r| r["endpoint"] == "GET /crm/v3/objects/contacts")
        .map(count)
        .sum();
    Ok((all, lists))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn matching_against_a_100k_target_costs_requests_per_source_record_not_per_target_record(
) -> anyhow::Result<()> {
    let env = TestEnv::start("match_search", 1).await?;
    env.seed("hubspot", "contacts", TARGET_SIZE).await?;
    // Source clients with emails no seeded contact has; the first TWINS already exist in
    // HubSpot (same email, other case).
    for i in 0..SOURCE_SIZE {
        let email = format!("source{i}@match.test");
        env.http
            .post(format!("{}/_sandbox/jobber/clients", env.sandbox_url))
            .json(
                &json!({"firstName": "Src", "lastName": format!("Client {i}"),
                          "emails": [{"address": email, "primary": true}]}),
            )
            .send()
            .await?
            .error_for_status()?;
        if (i as usize) < TWINS {
            env.http
                .post(format!("{}/_sandbox/hubspot/contacts", env.sandbox_url))
                .json(
                    &json!({"email": email.to_uppercase(), "firstname": "Old", "lastname": "Name"}),
                )
                .send()
                .await?
                .error_for_status()?;
        }
    }
    let (jobber, hubspot) = (env.connect("jobber").await?, env.connect("hubspot").await?);
    // A run only takes source records modified before its start rounded down to Jobber's
    // whole seconds: let the clients just created fall before that.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let m = env
        .create_mapping(json!({
            "name": "clients to contacts by email",
            "source": {"connectionId": jobber, "object": "clients"},
            "target": {"connectionId": hubspot, "object": "contacts"},
            "match": {"sourceField": "emails[0].address", "targetField": "email"},
            "fieldPairs": [
                {"sourceField": "firstName", "targetField": "firstname"},
                {"sourceField": "lastName", "targetField": "lastname", "required": true},
                {"sourceField": "emails[0].address", "targetField": "email", "transform": "lowercase"}
            ]
        }))
        .await?;
    let (before, lists_before) = hubspot_requests(&env).await?;
    let s = env
        .wait_sync(&env.trigger_sync(&m, "full").await?, WAIT)
        .await?;
    assert_eq!(s["status"], "completed", "{s}");
    assert_eq!(s["counts"]["updated"], TWINS as u64, "{s}");
    assert_eq!(s["counts"]["created"], SOURCE_SIZE - TWINS as u64, "{s}");
    let (after, lists_after) = hubspot_requests(&env).await?;
    assert_eq!(
        lists_after, lists_before,
        "the target was never listed (scanned)"
    );
    let per_100 = (after - before) as f64 * 100.0 / SOURCE_SIZE as f64;
    // Searches of ≤100 values and batch writes of ≤100 records: a handful per 100 source
    // records. A scan would read 100,000 / 100 = 1,000 pages per batch.
    assert!(
        per_100 <= 20.0,
        "{} HubSpot requests for {SOURCE_SIZE} source records ({per_100:.1} per 100)",
        after - before
    );
    Ok(())
}
