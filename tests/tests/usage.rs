//! End to end (issue 12 item 5): after real syncs — manual runs of two mappings (one failing every
//! record), a webhook-triggered run, outbound deliveries — `GET /v1/usage` equals what the runs
//! listed by `GET /v1/syncs` counted, per mapping and in total; another org's usage stays empty.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use fluxcascade_tests::{fields, TestEnv};
use reqwest::Method;
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(120);

/// Every run of the org, through the API's paging.
async fn all_runs(env: &TestEnv) -> anyhow::Result<Vec<Value>> {
    let mut runs = Vec::new();
    let mut path = "/v1/syncs?limit=100".to_string();
    loop {
        let page = env.api_ok(Method::GET, &path, None).await?;
        runs.extend(page["data"].as_array().cloned().unwrap_or_default());
        match page["nextCursor"].as_str() {
            Some(c) => path = format!("/v1/syncs?limit=100&cursor={c}"),
            None => return Ok(runs),
        }
    }
}

/// The usage fields a run's counts and trigger add up to (`recordsRead`, …, `runs`).
fn usage_of_runs<'a>(runs: impl Iterator<Item = &'a Value>) -> Value {
    let mut sums: BTreeMap<&str, u64> = BTreeMap::new();
    let mut by_trigger: BTreeMap<String, u64> = ["manual", "schedule", "webhook"]
        .map(|t| (t.to_string(), 0))
        .into();
    for run in runs {
        for (count, field) in [
            ("read", "recordsRead"),
            ("created", "recordsCreated"),
            ("updated", "recordsUpdated"),
            ("skipped", "recordsSkipped"),
            ("failed", "recordsFailed"),
        ] {
            *sums.entry(field).or_default() += run["counts"][count].as_u64().unwrap_or(0);
        }
        *by_trigger
            .entry(run["trigger"].as_str().unwrap_or("?").to_string())
            .or_default() += 1;
    }
    let mut v = json!({"recordsDeleted": 0, "runs": by_trigger});
    for (k, n) in sums {
        v[k] = json!(n);
    }
    v
}

/// The record and run fields of a usage entry (what runs can be compared with).
fn record_fields(u: &Value) -> Value {
    let keys = [
        "recordsRead",
        "recordsCreated",
        "recordsUpdated",
        "recordsDeleted",
        "recordsSkipped",
        "recordsFailed",
        "runs",
    ];
    Value::Object(keys.iter().map(|k| (k.to_string(), u[k].clone())).collect())
}

/// Waits until the org has `n` runs and none of them is pending or running.
async fn runs_settled(env: &TestEnv, n: usize) -> anyhow::Result<Vec<Value>> {
    let deadline = Instant::now() + WAIT;
    loop {
        let runs = all_runs(env).await?;
        let done = runs
            .iter()
            .all(|r| !matches!(r["status"].as_str(), Some("pending" | "running")));
        if runs.len() >= n && done {
            return Ok(runs);
        }
        if Instant::now() > deadline {
            bail!("runs not settled after {WAIT:?}: {runs:?}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_equals_the_runs_counts_by_mapping_and_in_total() -> anyhow::Result<()> {
    let mut env = TestEnv::start("usage", 1).await?;
    env.seed("hubspot", "contacts", 40).await?;
    env.seed("hubspot", "deals", 4).await?;
    let (hubspot, jobber) = (env.connect("hubspot").await?, env.connect("jobber").await?);
    let contacts = env.contacts_to_clients(&hubspot, &jobber).await?;
    let deals = env
        .create_mapping(json!({
            "name": "deals to jobs",
            "source": {"connectionId": hubspot, "object": "deals"},
            "target": {"connectionId": jobber, "object": "jobs"},
            "fieldPairs": [{"sourceField": "dealname", "targetField": "title", "required": true}],
            "associations": [{"source": "contacts", "mappingId": contacts, "targetField": "clientId"}]
        }))
        .await?;
    // Every finished run writes one delivery to this subscription (its receiver need not answer).
    env.api_ok(
        Method::POST,
        "/v1/webhooks",
        Some(json!({"url": "http://127.0.0.1:9/usage",
            "events": ["sync.completed", "sync.partial", "sync.failed"]})),
    )
    .await?;

    // Deals before their contacts are linked: every record fails. Then contacts, then deals.
    let early = env
        .wait_sync(&env.trigger_sync(&deals, "full").await?, WAIT)
        .await?;
    assert_eq!(early["counts"]["failed"], 4, "{early}");
    for (mapping, mode) in [(&contacts, "incremental"), (&deals, "full")] {
        let s = env
            .wait_sync(&env.trigger_sync(mapping, mode).await?, WAIT)
            .await?;
        assert_eq!(s["status"], "completed", "{s}");
    }

    // A contact changes in HubSpot: the provider's webhook starts a run of the contacts mapping.
    env.sandbox_config(json!({"webhookUrl": env.api_url}))
        .await?;
    let contact = &env.sandbox_records("hubspot", "contacts").await?[0];
    let id = contact["id"].as_str().context("contact id")?;
    env.http
        .patch(format!(
            "{}/_sandbox/hubspot/contacts/{id}",
            env.sandbox_url
        ))
        .json(&json!({"properties": {"firstname": "Usage"}}))
        .send()
        .await?
        .error_for_status()?;
    let deadline = Instant::now() + WAIT;
    while !env
        .sandbox_records("jobber", "clients")
        .await?
        .iter()
        .any(|c| fields(c)["firstName"] == "Usage")
    {
        if Instant::now() > deadline {
            bail!("the webhook's change never reached Jobber");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Runs, usage and stored events read while no run starts or ends (a late webhook — e.g. the
    // target's own echo — may start one more run: then read again).
    let db = env.db().await?;
    let stored_events = || async {
        let n: i64 = db
            .query_one("SELECT count(*) FROM webhook_events", &[])
            .await?
            .get(0);
        anyhow::Ok(n)
    };
    let (runs, usage, stored) = loop {
        let runs = runs_settled(&env, 4).await?;
        let stored = stored_events().await?;
        let usage = env.api_ok(Method::GET, "/v1/usage", None).await?;
        if all_runs(&env).await? == runs && stored_events().await? == stored {
            break (runs, usage, stored);
        }
    };
    assert!(
        runs.iter().any(|r| r["trigger"] == "webhook"),
        "a webhook-triggered run: {runs:?}"
    );

    // In total: the runs' counts and triggers, the webhook events received, a delivery per run.
    let expected = usage_of_runs(runs.iter());
    assert_eq!(record_fields(&usage["total"]), expected, "{usage}");
    let events = usage["total"]["webhookEvents"].as_u64().unwrap_or(0);
    assert!(
        events >= 1,
        "the contact's change arrived as an event: {usage}"
    );
    assert_eq!(events, stored as u64, "each event stored is counted once");
    assert_eq!(usage["total"]["deliveries"], json!(runs.len()), "{usage}");
    // By mapping: each mapping's runs.
    let by_mapping = usage["byMapping"].as_array().context("byMapping")?;
    assert_eq!(by_mapping.len(), 2, "{usage}");
    for (mapping, name) in [
        (&contacts, "contacts to clients"),
        (&deals, "deals to jobs"),
    ] {
        let entry = by_mapping
            .iter()
            .find(|m| m["mappingId"] == mapping.as_str())
            .with_context(|| format!("no usage for {name}: {usage}"))?;
        assert_eq!(entry["mappingName"], name);
        let own = usage_of_runs(runs.iter().filter(|r| r["mappingId"] == mapping.as_str()));
        assert_eq!(record_fields(entry), own, "{name}: {entry}");
    }
    // The days add up to the total.
    let days = usage["days"].as_array().context("days")?;
    let read: u64 = days.iter().filter_map(|d| d["recordsRead"].as_u64()).sum();
    assert_eq!(json!(read), usage["total"]["recordsRead"]);

    // Another organization used nothing, and sees nothing of this one.
    let other = env.create_org("Other")?;
    env.act_as(&other);
    let theirs = env.api_ok(Method::GET, "/v1/usage", None).await?;
    assert_eq!(theirs["byMapping"], json!([]), "{theirs}");
    for (k, v) in theirs["total"].as_object().context("total")? {
        let zero = if k == "runs" {
            json!({"manual": 0, "schedule": 0, "webhook": 0})
        } else {
            json!(0)
        };
        assert_eq!(*v, zero, "{k}: {theirs}");
    }
    Ok(())
}
