//! End to end: dead letters through the real processes. A poison job (a batch job whose payload
//! cannot be decoded) is dead-lettered and listed with its reason; a run whose target grant was
//! revoked fails telling to reconnect, its dead letter is listed with that reason, and after
//! reconnecting the connection (`PUT /v1/connections/{id}/tokens`) replaying it completes the run
//! with every record written once; a second replay is refused.

use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use fluxcascade_queue::{JobEnvelope, JobKind, Publisher, QueueConfig};
use fluxcascade_tests::{TestEnv, AMQP_URL};
use reqwest::Method;
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(120);

/// The env's organization (the one its API key belongs to).
async fn org_id(env: &TestEnv) -> anyhow::Result<uuid::Uuid> {
    Ok(env
        .db()
        .await?
        .query_one("SELECT id FROM organizations", &[])
        .await?
        .get(0))
}

/// Polls `GET /v1/dead-letters?{query}` until a dead letter satisfies `found` (the recorder is
/// asynchronous); returns the whole listing.
async fn wait_dead_letters(
    env: &TestEnv,
    query: &str,
    found: impl Fn(&[Value]) -> bool,
) -> anyhow::Result<Vec<Value>> {
    let deadline = Instant::now() + WAIT;
    loop {
        let page = env
            .api_ok(Method::GET, &format!("/v1/dead-letters?{query}"), None)
            .await?;
        let data = page["data"].as_array().cloned().unwrap_or_default();
        if found(&data) {
            return Ok(data);
        }
        if Instant::now() > deadline {
            bail!("no such dead letter after {WAIT:?}: {page}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poison_job_is_dead_lettered_with_its_reason() -> anyhow::Result<()> {
    let env = TestEnv::start("dead_letters_poison", 1).await?;
    let org = org_id(&env).await?;
    let publisher = Publisher::connect(&QueueConfig::new(AMQP_URL, &env.prefix)).await?;
    // An over-long varint: no protobuf decoder accepts it as a BatchJob.
    let poison = JobEnvelope::new(JobKind::Batch, org.to_string(), vec![0xff; 11]);
    publisher.publish(&poison).await?;

    let letters = wait_dead_letters(&env, "kind=batch", |d| {
        d.iter().any(|l| l["jobId"] == poison.job_id.as_str())
    })
    .await?;
    let letter = letters
        .iter()
        .find(|l| l["jobId"] == poison.job_id.as_str())
        .context("listed")?;
    assert_eq!(letter["kind"], "batch", "{letter}");
    let reason = letter["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("undecodable batch job"),
        "the reason names the undecodable payload: {letter}"
    );
    assert!(
        letter.get("payload").is_none() && letter.get("message").is_none(),
        "a dead letter never shows its payload: {letter}"
    );
    let id = letter["id"].as_str().context("id")?;
    let got = env
        .api_ok(Method::GET, &format!("/v1/dead-letters/{id}"), None)
        .await?;
    assert_eq!(got["jobId"], poison.job_id.as_str());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_grant_fails_the_run_and_a_reconnect_and_replay_completes_it(
) -> anyhow::Result<()> {
    let env = TestEnv::start("dead_letters_reconnect", 1).await?;
    env.seed("hubspot", "contacts", 5).await?;
    let hubspot = env.connect("hubspot").await?;
    let jobber = env.connect("jobber").await?;
    let mapping = env.contacts_to_clients(&hubspot, &jobber).await?;
    // The user disconnects the app in Jobber: its access and refresh tokens stop working.
    env.http
        .post(format!("{}/_sandbox/oauth/jobber/revoke", env.sandbox_url))
        .send()
        .await?
        .error_for_status()?;
    let sync = env.trigger_sync(&mapping, "full").await?;
    let run = env.wait_sync(&sync, WAIT).await?;
    assert_eq!(run["status"], "failed", "{run}");
    let error = run["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("reconnect"),
        "the run tells to reconnect: {run}"
    );

    let letters = wait_dead_letters(&env, &format!("syncId={sync}"), |d| !d.is_empty()).await?;
    for letter in &letters {
        assert_eq!(letter["syncId"], sync.as_str(), "{letter}");
        assert!(
            matches!(letter["kind"].as_str(), Some("batch" | "sync")),
            "{letter}"
        );
        let reason = letter["reason"].as_str().unwrap_or_default();
        assert!(reason.contains("reconnect"), "{letter}");
        assert_eq!(letter["replayedAt"], Value::Null);
    }
    let connection = env
        .api_ok(Method::GET, &format!("/v1/connections/{jobber}"), None)
        .await?;
    assert_eq!(connection["status"], "expired", "{connection}");

    // The user connects Jobber again: the same connection gets the new grant's tokens.
    let tokens = env.fresh_jobber_tokens().await?;
    let mut body = json!({"accessToken": tokens["access_token"]});
    if let Some(refresh) = tokens["refresh_token"].as_str() {
        body["refreshToken"] = json!(refresh);
    }
    if let Some(secs) = tokens["expires_in"].as_i64() {
        body["expiresAt"] = json!(chrono::Utc::now() + chrono::Duration::seconds(secs));
    }
    let reconnected = env
        .api_ok(
            Method::PUT,
            &format!("/v1/connections/{jobber}/tokens"),
            Some(body),
        )
        .await?;
    assert_eq!(reconnected["status"], "active", "{reconnected}");
    assert_eq!(
        reconnected["externalAccountId"],
        connection["externalAccountId"]
    );

    for letter in &letters {
        let id = letter["id"].as_str().context("id")?;
        let replay = env
            .api_ok(Method::POST, &format!("/v1/dead-letters/{id}/replay"), None)
            .await?;
        assert!(replay["replayJobId"].is_string(), "{replay}");
    }
    let run = env.wait_sync(&sync, WAIT).await?;
    assert_eq!(run["status"], "completed", "{run}");
    let clients = env.sandbox_records("jobber", "clients").await?;
    assert_eq!(clients.len(), 5, "every contact written once: {clients:?}");
    let mut emails: Vec<String> = clients
        .iter()
        .map(|c| fluxcascade_tests::fields(c)["emails"][0]["address"].to_string())
        .collect();
    emails.sort();
    emails.dedup();
    assert_eq!(emails.len(), 5, "no duplicates: {emails:?}");

    for letter in &letters {
        let id = letter["id"].as_str().context("id")?;
        let (status, v) = env
            .api(Method::POST, &format!("/v1/dead-letters/{id}/replay"), None)
            .await?;
        assert_eq!(status, 409, "a dead letter is replayed once: {v}");
        assert_eq!(v["error"]["code"], "already_replayed", "{v}");
    }
    Ok(())
}
