//! End to end: a HubSpot contact deleted with `onDelete: archive` archives its Jobber client, on
//! the scheduled path (HubSpot's `archived=true` read) and the webhook path (`contact.deletion`);
//! with `ignore` the client is untouched. Run counts show `deleted`.

use std::time::Duration;

use anyhow::Context;
use fluxcascade_tests::{fields, TestEnv};
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(120);

async fn mapping(env: &TestEnv, on_delete: &str) -> anyhow::Result<(String, String, String)> {
    let hubspot = env.connect("hubspot").await?;
    let jobber = env.connect("jobber").await?;
    let id = env
        .create_mapping(json!({
            "name": "contacts to clients",
            "source": {"connectionId": hubspot, "object": "contacts"},
            "target": {"connectionId": jobber, "object": "clients"},
            "fieldPairs": [
                {"sourceField": "firstname", "targetField": "firstName"},
                {"sourceField": "lastname", "targetField": "lastName", "required": true}
            ],
            "onDelete": on_delete
        }))
        .await?;
    Ok((hubspot, jobber, id))
}

async fn new_contact(env: &TestEnv, last: &str) -> anyhow::Result<String> {
    let v: Value = env
        .http
        .post(format!("{}/_sandbox/hubspot/contacts", env.sandbox_url))
        .json(&json!({"properties": {"firstname": "Ada", "lastname": last}}))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    v["id"].as_str().map(str::to_owned).context("contact id")
}

async fn delete_contact(env: &TestEnv, id: &str) -> anyhow::Result<()> {
    env.http
        .delete(format!(
            "{}/_sandbox/hubspot/contacts/{id}",
            env.sandbox_url
        ))
        .send()
        .await?
        .error_for_status()?;
    Ok(())
}

async fn client(env: &TestEnv, last: &str) -> anyhow::Result<Option<Value>> {
    Ok(env
        .sandbox_records("jobber", "clients")
        .await?
        .into_iter()
        .find(|c| fields(c)["lastName"] == last))
}

async fn sync(env: &TestEnv, mapping: &str) -> anyhow::Result<Value> {
    let s = env
        .wait_sync(&env.trigger_sync(mapping, "incremental").await?, WAIT)
        .await?;
    assert_eq!(s["status"], "completed", "{s}");
    Ok(s)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_contact_archives_its_client_on_the_next_scheduled_run() -> anyhow::Result<()> {
    let env = TestEnv::start("deletions_scheduled", 1).await?;
    let (_, _, m) = mapping(&env, "archive").await?;
    let gone = new_contact(&env, "Gone").await?;
    new_contact(&env, "Stays").await?;
    let first = sync(&env, &m).await?;
    assert_eq!(first["counts"]["created"], 2, "{first}");
    assert_eq!(first["counts"]["deleted"], 0, "{first}");

    delete_contact(&env, &gone).await?;
    let second = sync(&env, &m).await?;
    assert_eq!(second["counts"]["deleted"], 1, "{second}");
    assert_eq!(second["counts"]["created"], 0, "{second}");
    let archived = client(&env, "Gone")
        .await?
        .context("the client is still there")?;
    assert_eq!(archived["isArchived"], true, "{archived}");
    let kept = client(&env, "Stays").await?.context("the other client")?;
    assert_eq!(kept["isArchived"], false, "{kept}");

    // The deletion was applied once: the next run finds nothing to do.
    let third = sync(&env, &m).await?;
    assert_eq!(third["counts"]["deleted"], 0, "{third}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_ignore_a_deleted_contact_leaves_its_client_untouched() -> anyhow::Result<()> {
    let env = TestEnv::start("deletions_ignore", 1).await?;
    let (_, _, m) = mapping(&env, "ignore").await?;
    let gone = new_contact(&env, "Gone").await?;
    sync(&env, &m).await?;
    let before = client(&env, "Gone").await?.context("the client")?;

    delete_contact(&env, &gone).await?;
    let after_run = sync(&env, &m).await?;
    assert_eq!(after_run["counts"]["deleted"], 0, "{after_run}");
    let after = client(&env, "Gone").await?.context("the client")?;
    assert_eq!(after, before, "ignore leaves the client as it was");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_contact_deletion_hook_archives_its_client() -> anyhow::Result<()> {
    let env = TestEnv::start("deletions_webhook", 1).await?;
    env.sandbox_config(json!({"webhookUrl": env.api_url}))
        .await?;
    let (hubspot, _, m) = mapping(&env, "archive").await?;
    // The connection's account id routes HubSpot's hooks (read once the connection is listed).
    let conn = env
        .api_ok(
            reqwest::Method::GET,
            &format!("/v1/connections/{hubspot}"),
            None,
        )
        .await?;
    assert!(conn["externalAccountId"].is_string(), "{conn}");

    let gone = new_contact(&env, "Gone").await?;
    let deadline = std::time::Instant::now() + WAIT;
    while client(&env, "Gone").await?.is_none() {
        anyhow::ensure!(
            std::time::Instant::now() < deadline,
            "the client never came"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    delete_contact(&env, &gone).await?;
    loop {
        let c = client(&env, "Gone").await?.context("the client")?;
        if c["isArchived"] == true {
            break;
        }
        anyhow::ensure!(
            std::time::Instant::now() < deadline,
            "the client was never archived: {c}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The webhook run that applied it counts it.
    loop {
        let runs = env
            .api_ok(
                reqwest::Method::GET,
                &format!("/v1/syncs?mappingId={m}"),
                None,
            )
            .await?;
        let deleted: u64 = runs["data"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|r| r["status"] == "completed")
            .filter_map(|r| r["counts"]["deleted"].as_u64())
            .sum();
        if deleted == 1 {
            break;
        }
        anyhow::ensure!(
            std::time::Instant::now() < deadline,
            "no finished run counts the deletion: {runs}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}
