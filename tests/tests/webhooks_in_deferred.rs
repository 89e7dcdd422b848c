//! End to end (issue 5, provider webhooks): a webhook for a mapping whose manual full sync is still
//! going is not lost and does not collide with it — its ids wait and a webhook run takes them when
//! the full run finishes; webhook runs never move the mapping's incremental cursor.

use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use fluxcascade_tests::{fields, TestEnv};
use reqwest::Method;
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(120);

async fn runs(env: &TestEnv, mapping: &str) -> anyhow::Result<Vec<Value>> {
    let v = env
        .api_ok(Method::GET, &format!("/v1/syncs?mappingId={mapping}"), None)
        .await?;
    Ok(v["data"].as_array().cloned().unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_during_a_full_sync_runs_after_it_and_leaves_the_cursor_alone(
) -> anyhow::Result<()> {
    let env = TestEnv::start("webhooks_in_deferred", 1).await?;
    env.seed("hubspot", "contacts", 300).await?;
    let hubspot = env.connect("hubspot").await?;
    let jobber = env.connect("jobber").await?;
    let portal: u64 = env
        .api_ok(Method::GET, &format!("/v1/connections/{hubspot}"), None)
        .await?["externalAccountId"]
        .as_str()
        .context("portal id")?
        .parse()?;
    let mapping = env.contacts_to_clients(&hubspot, &jobber).await?;
    // A slow provider keeps the full run going while the webhook arrives.
    env.sandbox_config(json!({"latencyMs": 100})).await?;
    let full = env.trigger_sync(&mapping, "full").await?;

    // A person edits a contact after the full run started (so it is outside that run's window)
    // and HubSpot announces it.
    let contacts = env.sandbox_records("hubspot", "contacts").await?;
    let id = contacts[7]["id"]
        .as_str()
        .context("contact id")?
        .to_string();
    env.http
        .patch(format!(
            "{}/_sandbox/hubspot/contacts/{id}",
            env.sandbox_url
        ))
        .json(&json!({"properties": {"firstname": "Deferred"}}))
        .send()
        .await?
        .error_for_status()?;
    let body = json!([{"eventId": 1, "subscriptionId": 1, "portalId": portal, "appId": 1,
        "occurredAt": chrono::Utc::now().timestamp_millis(),
        "subscriptionType": "contact.propertyChange", "attemptNumber": 0,
        "objectId": id.parse::<u64>()?, "propertyName": "firstname", "propertyValue": "Deferred",
        "changeSource": "CRM_UI", "sourceId": "userId:1"}])
    .to_string();
    let resp = env.post_hubspot_webhook(&body, "sandbox-secret").await?;
    assert_eq!(resp.status().as_u16(), 200);

    let done = env.wait_sync(&full, WAIT).await?;
    assert_eq!(done["status"], "completed", "{done}");
    env.sandbox_config(json!({"latencyMs": 0})).await?;
    let deadline = Instant::now() + WAIT;
    let webhook_run = loop {
        let all = runs(&env, &mapping).await?;
        if let Some(r) = all
            .iter()
            .find(|r| r["trigger"] == "webhook" && r["status"] == "completed")
        {
            break r.clone();
        }
        if Instant::now() > deadline {
            bail!("no finished webhook run after the full run: {all:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(
        runs(&env, &mapping).await?.len(),
        2,
        "the full run and one webhook run"
    );
    assert!(
        webhook_run["createdAt"].as_str() > done["createdAt"].as_str(),
        "the webhook run was created after the full run: {webhook_run} {done}"
    );
    // Created if the full run's page was read after the edit (the edit is outside its window),
    // updated if before: either way, one write.
    let counts = &webhook_run["counts"];
    assert_eq!(
        counts["created"].as_u64().unwrap_or(0) + counts["updated"].as_u64().unwrap_or(0),
        1,
        "{webhook_run}"
    );
    let clients = env.sandbox_records("jobber", "clients").await?;
    assert_eq!(clients.len(), 300);
    assert!(clients.iter().any(|c| fields(c)["firstName"] == "Deferred"));

    // The cursor is the full run's: the webhook run read one record out of order and left it.
    let db = env.db().await?;
    let mapping_id = uuid::Uuid::parse_str(&mapping)?;
    let deferred: i64 = db
        .query_one(
            "SELECT count(*) FROM webhook_deferred WHERE mapping_id = $1",
            &[&mapping_id],
        )
        .await?
        .get(0);
    assert_eq!(deferred, 0, "the deferred ids were taken");
    let cursor: chrono::DateTime<chrono::Utc> = db
        .query_one(
            "SELECT cursor_updated_at FROM mapping_cursors WHERE mapping_id = $1 AND side = 'source'",
            &[&mapping_id],
        )
        .await?
        .get(0);
    let run_start = chrono::DateTime::parse_from_rfc3339(done["createdAt"].as_str().unwrap_or(""))?;
    assert!(
        cursor < run_start,
        "the cursor stays before the full run's start ({cursor} vs {run_start}), so the next incremental run reads the edit too"
    );
    Ok(())
}
