//! End to end (issue 5, provider webhooks): a record changed in the sandbox reaches the target
//! through the provider's signed webhook, the ingress and a webhook-triggered run — no manual or
//! scheduled sync; the same delivery three times changes the target once.

use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use fluxcascade_tests::{fields, Proc, TestEnv, AMQP_URL};
use reqwest::Method;
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(60);

/// Polls `check` until it yields a value (or fails after `WAIT`).
async fn eventually<T, F, Fut>(what: &str, mut check: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<Option<T>>>,
{
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(v) = check().await? {
            return Ok(v);
        }
        if Instant::now() > deadline {
            bail!("timed out waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn runs(env: &TestEnv, mapping: &str) -> anyhow::Result<Vec<Value>> {
    let v = env
        .api_ok(Method::GET, &format!("/v1/syncs?mappingId={mapping}"), None)
        .await?;
    Ok(v["data"].as_array().cloned().unwrap_or_default())
}

async fn sandbox_post(env: &TestEnv, path: &str, body: Value) -> anyhow::Result<Value> {
    Ok(env
        .http
        .post(format!("{}/_sandbox/{path}", env.sandbox_url))
        .json(&body)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?)
}

async fn sandbox_patch(env: &TestEnv, path: &str, body: Value) -> anyhow::Result<()> {
    env.http
        .patch(format!("{}/_sandbox/{path}", env.sandbox_url))
        .json(&body)
        .send()
        .await?
        .error_for_status()?;
    Ok(())
}

async fn external_account_id(env: &TestEnv, connection: &str) -> anyhow::Result<String> {
    let c = env
        .api_ok(Method::GET, &format!("/v1/connections/{connection}"), None)
        .await?;
    let id = c["externalAccountId"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    if id.is_empty() {
        bail!("connection {connection} has no externalAccountId: {c}");
    }
    Ok(id)
}

/// Every run of the mapping was started by a webhook.
async fn assert_only_webhook_runs(env: &TestEnv, mapping: &str) -> anyhow::Result<()> {
    let all = runs(env, mapping).await?;
    assert!(!all.is_empty());
    for r in &all {
        assert_eq!(r["trigger"], "webhook", "{r}");
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hubspot_contact_change_reaches_jobber_through_the_webhook() -> anyhow::Result<()> {
    let env = TestEnv::start("webhooks_in_hubspot", 1).await?;
    env.sandbox_config(json!({"webhookUrl": env.api_url}))
        .await?;
    let hubspot = env.connect("hubspot").await?;
    let jobber = env.connect("jobber").await?;
    external_account_id(&env, &hubspot).await?;
    let mapping = env.contacts_to_clients(&hubspot, &jobber).await?;

    let contact = sandbox_post(
        &env,
        "hubspot/contacts",
        json!({"properties": {"firstname": "Ada", "lastname": "Lovelace", "email": "ADA@Example.test"}}),
    )
    .await?;
    let contact_id = contact["id"].as_str().context("contact id")?.to_string();
    let client = eventually("the new contact's client in Jobber", || async {
        let clients = env.sandbox_records("jobber", "clients").await?;
        Ok(clients
            .into_iter()
            .find(|c| fields(c)["lastName"] == "Lovelace"))
    })
    .await?;
    assert_eq!(fields(&client)["firstName"], "Ada");
    assert_eq!(fields(&client)["emails"][0]["address"], "ada@example.test");

    sandbox_patch(
        &env,
        &format!("hubspot/contacts/{contact_id}"),
        json!({"properties": {"firstname": "Augusta"}}),
    )
    .await?;
    eventually("the changed first name in Jobber", || async {
        let clients = env.sandbox_records("jobber", "clients").await?;
        Ok(clients
            .into_iter()
            .find(|c| fields(c)["lastName"] == "Lovelace" && fields(c)["firstName"] == "Augusta"))
    })
    .await?;
    let finished = eventually("the webhook runs to finish", || async {
        let all = runs(&env, &mapping).await?;
        let done = all.iter().all(|r| r["status"] == "completed");
        Ok((done && !all.is_empty()).then_some(all))
    })
    .await?;
    assert_only_webhook_runs(&env, &mapping).await?;
    let updated: u64 = finished
        .iter()
        .filter_map(|r| r["counts"]["updated"].as_u64())
        .sum();
    assert_eq!(updated, 1, "one update for one change: {finished:?}");
    assert_eq!(env.sandbox_records("jobber", "clients").await?.len(), 1);
    Ok(())
}

/// `company` is a real HubSpot contact property outside the ones HubSpot returns when none are
/// named: a webhook run must ask for it by name, as a scheduled run does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_change_of_a_non_default_hubspot_property_reaches_jobber() -> anyhow::Result<()> {
    let env = TestEnv::start("webhooks_in_hubspot_fields", 1).await?;
    env.sandbox_config(json!({"webhookUrl": env.api_url}))
        .await?;
    let hubspot = env.connect("hubspot").await?;
    let jobber = env.connect("jobber").await?;
    external_account_id(&env, &hubspot).await?;
    let mapping = env
        .create_mapping(json!({
            "name": "contacts to clients with company",
            "source": {"connectionId": hubspot, "object": "contacts"},
            "target": {"connectionId": jobber, "object": "clients"},
            "fieldPairs": [
                {"sourceField": "lastname", "targetField": "lastName", "required": true},
                {"sourceField": "company", "targetField": "companyName"}
            ]
        }))
        .await?;
    let contact = sandbox_post(
        &env,
        "hubspot/contacts",
        json!({"properties": {"lastname": "Hopper", "company": "Navy"}}),
    )
    .await?;
    let contact_id = contact["id"].as_str().context("contact id")?.to_string();
    let client = eventually("the new contact's client in Jobber", || async {
        let clients = env.sandbox_records("jobber", "clients").await?;
        Ok(clients
            .into_iter()
            .find(|c| fields(c)["lastName"] == "Hopper"))
    })
    .await?;
    assert_eq!(fields(&client)["companyName"], "Navy", "{client}");

    sandbox_patch(
        &env,
        &format!("hubspot/contacts/{contact_id}"),
        json!({"properties": {"company": "Remington Rand"}}),
    )
    .await?;
    eventually("the changed company in Jobber", || async {
        let clients = env.sandbox_records("jobber", "clients").await?;
        Ok(clients.into_iter().find(|c| {
            fields(c)["lastName"] == "Hopper" && fields(c)["companyName"] == "Remington Rand"
        }))
    })
    .await?;
    assert_only_webhook_runs(&env, &mapping).await?;
    assert_eq!(env.sandbox_records("jobber", "clients").await?.len(), 1);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_jobber_client_change_reaches_hubspot_through_the_webhook() -> anyhow::Result<()> {
    let env = TestEnv::start("webhooks_in_jobber", 1).await?;
    env.sandbox_config(json!({"webhookUrl": env.api_url}))
        .await?;
    let hubspot = env.connect("hubspot").await?;
    let jobber = env.connect("jobber").await?;
    external_account_id(&env, &jobber).await?;
    let mapping = env
        .create_mapping(json!({
            "name": "clients to contacts",
            "source": {"connectionId": jobber, "object": "clients"},
            "target": {"connectionId": hubspot, "object": "contacts"},
            "fieldPairs": [
                {"sourceField": "firstName", "targetField": "firstname"},
                {"sourceField": "lastName", "targetField": "lastname", "required": true},
                {"sourceField": "emails[0].address", "targetField": "email"}
            ]
        }))
        .await?;

    let client = sandbox_post(
        &env,
        "jobber/clients",
        json!({"firstName": "Grace", "lastName": "Hopper",
               "emails": [{"address": "grace@example.test", "description": "MAIN", "primary": true}]}),
    )
    .await?;
    let client_id = client["id"].as_str().context("client id")?.to_string();
    eventually("the new client's contact in HubSpot", || async {
        let contacts = env.sandbox_records("hubspot", "contacts").await?;
        Ok(contacts.into_iter().find(|c| {
            fields(c)["lastname"] == "Hopper" && fields(c)["email"] == "grace@example.test"
        }))
    })
    .await?;
    // Jobber timestamps are whole seconds: keep the edit apart from the create.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    sandbox_patch(
        &env,
        &format!("jobber/clients/{client_id}"),
        json!({"firstName": "Amazing Grace"}),
    )
    .await?;
    eventually("the changed first name in HubSpot", || async {
        let contacts = env.sandbox_records("hubspot", "contacts").await?;
        Ok(contacts
            .into_iter()
            .find(|c| fields(c)["firstname"] == "Amazing Grace"))
    })
    .await?;
    assert_only_webhook_runs(&env, &mapping).await?;
    assert_eq!(env.sandbox_records("hubspot", "contacts").await?.len(), 1);
    Ok(())
}

/// How many webhook jobs a worker has handled, whatever their outcome (its `/metrics`).
async fn webhook_jobs_handled(env: &TestEnv, health: &str) -> anyhow::Result<u64> {
    let text = env.metrics(health).await?;
    Ok(text
        .lines()
        .filter(|l| l.starts_with("fluxcascade_jobs_processed_total{kind=\"webhook\","))
        .filter_map(|l| l.rsplit(' ').next())
        .filter_map(|n| n.parse::<u64>().ok())
        .sum())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_hubspot_webhook_delivered_three_times_changes_jobber_once() -> anyhow::Result<()>
{
    let mut env = TestEnv::start("webhooks_in_dedupe", 0).await?;
    let (worker, health) = Proc::spawn_listening("worker-1", &env.log_dir, &["worker"], |c| {
        c.env("DATABASE_URL", &env.db_url)
            .env("AMQP_URL", AMQP_URL)
            .env("FLUXCASCADE_QUEUE_PREFIX", &env.prefix)
            .env("FLUXCASCADE_MASTER_KEY", &env.master_key)
            .env("FLUXCASCADE_SANDBOX_URL", &env.sandbox_url);
    })
    .await?;
    env.workers.push(worker);
    let hubspot = env.connect("hubspot").await?;
    let jobber = env.connect("jobber").await?;
    let portal = external_account_id(&env, &hubspot).await?;
    let mapping = env.contacts_to_clients(&hubspot, &jobber).await?;
    // No webhookUrl: the sandbox stays silent, this test delivers the webhook itself.
    let contact = sandbox_post(
        &env,
        "hubspot/contacts",
        json!({"properties": {"firstname": "Alan", "lastname": "Turing", "email": "alan@example.test"}}),
    )
    .await?;
    let contact_id = contact["id"].as_str().context("contact id")?;
    let body = json!([{"eventId": 4242, "subscriptionId": 1, "portalId": portal.parse::<u64>()?,
        "appId": 1, "occurredAt": chrono::Utc::now().timestamp_millis(),
        "subscriptionType": "contact.creation", "attemptNumber": 0,
        "objectId": contact_id.parse::<u64>()?, "changeSource": "CRM_UI", "sourceId": "userId:1"}])
    .to_string();
    for attempt in 0..3 {
        let resp = env.post_hubspot_webhook(&body, "sandbox-secret").await?;
        assert_eq!(resp.status().as_u16(), 200, "delivery {attempt}");
    }
    eventually("three webhook jobs handled", || async {
        Ok((webhook_jobs_handled(&env, &health).await? >= 3).then_some(()))
    })
    .await?;
    let finished = eventually("the webhook run to finish", || async {
        let all = runs(&env, &mapping).await?;
        Ok((!all.is_empty() && all.iter().all(|r| r["status"] == "completed")).then_some(all))
    })
    .await?;
    assert_eq!(finished.len(), 1, "one run for one event: {finished:?}");
    assert_eq!(finished[0]["trigger"], "webhook");
    assert_eq!(finished[0]["counts"]["created"], 1, "{:?}", finished[0]);
    assert_eq!(env.sandbox_writes("jobber", "clients").await?, 1);
    assert_eq!(env.sandbox_records("jobber", "clients").await?.len(), 1);

    // What an operator sees on the worker's /metrics for that run (this process did all of it).
    let text = env.metrics(&health).await?;
    let value = |series: &str| -> f64 {
        text.lines()
            .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
            .unwrap_or(0.0)
    };
    assert_eq!(
        value(r#"fluxcascade_records_synced_total{outcome="created"}"#),
        1.0,
        "{text}"
    );
    assert_eq!(
        value(r#"fluxcascade_runs_finished_total{status="completed"}"#),
        1.0,
        "{text}"
    );
    assert!(
        value(
            r#"fluxcascade_provider_request_duration_seconds_count{provider="jobber",status="2xx"}"#
        ) >= 1.0,
        "{text}"
    );
    assert!(
        value(r#"fluxcascade_job_queue_wait_seconds_count{kind="webhook",outcome="ok"}"#) >= 1.0,
        "{text}"
    );
    assert!(
        value(r#"fluxcascade_job_duration_seconds_count{kind="webhook",outcome="ok"}"#) >= 3.0,
        "{text}"
    );
    Ok(())
}

/// Polls HubSpot's contacts until one satisfies `want`.
async fn contact_where(
    env: &TestEnv,
    what: &str,
    want: impl Fn(&Value) -> bool,
) -> anyhow::Result<Value> {
    eventually(what, || async {
        let contacts = env.sandbox_records("hubspot", "contacts").await?;
        Ok(contacts.into_iter().find(|c| want(fields(c))))
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pipedrive_person_change_reaches_hubspot_through_the_webhook() -> anyhow::Result<()> {
    let env = TestEnv::start("webhooks_in_pipedrive", 1).await?;
    let hubspot = env.connect("hubspot").await?;
    // Creating the connection subscribes /hooks/pipedrive/{id} with its Basic credentials.
    let pipedrive = env.connect("pipedrive").await?;
    let mapping = env
        .create_mapping(json!({
            "name": "persons to contacts",
            "source": {"connectionId": pipedrive, "object": "persons"},
            "target": {"connectionId": hubspot, "object": "contacts"},
            "fieldPairs": [
                {"sourceField": "name", "targetField": "lastname", "required": true},
                {"sourceField": "emails[0].value", "targetField": "email"}
            ]
        }))
        .await?;
    let person = sandbox_post(
        &env,
        "pipedrive/persons",
        json!({"name": "Katherine Johnson",
               "emails": [{"value": "kj@example.test", "primary": true, "label": "work"}]}),
    )
    .await?;
    let person_id = person["id"].to_string();
    contact_where(&env, "the new person's contact in HubSpot", |f| {
        f["lastname"] == "Katherine Johnson" && f["email"] == "kj@example.test"
    })
    .await?;
    // Pipedrive timestamps are whole seconds: keep the edit apart from the create.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    sandbox_patch(
        &env,
        &format!("pipedrive/persons/{}", person_id.trim_matches('"')),
        json!({"name": "Katherine G. Johnson"}),
    )
    .await?;
    contact_where(&env, "the changed name in HubSpot", |f| {
        f["lastname"] == "Katherine G. Johnson"
    })
    .await?;
    assert_only_webhook_runs(&env, &mapping).await?;
    assert_eq!(env.sandbox_records("hubspot", "contacts").await?.len(), 1);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_salesforce_contact_change_reaches_hubspot_through_an_outbound_message(
) -> anyhow::Result<()> {
    let env = TestEnv::start("webhooks_in_salesforce", 1).await?;
    let hubspot = env.connect("hubspot").await?;
    let salesforce = env.connect_account("salesforce", None).await?;
    let hook_url = salesforce["webhookUrl"]
        .as_str()
        .context("a Salesforce connection shows its outbound-message URL once")?;
    // What the Salesforce admin does: an Outbound Message on Contact to that URL.
    sandbox_post(
        &env,
        "salesforce/outbound-messages",
        json!({"object": "Contact", "endpointUrl": hook_url}),
    )
    .await?;
    let mapping = env
        .create_mapping(json!({
            "name": "Contact to contacts",
            "source": {"connectionId": salesforce["id"], "object": "Contact"},
            "target": {"connectionId": hubspot, "object": "contacts"},
            "fieldPairs": [
                {"sourceField": "FirstName", "targetField": "firstname"},
                {"sourceField": "LastName", "targetField": "lastname", "required": true},
                {"sourceField": "Email", "targetField": "email"},
                {"sourceField": "Loyalty_Tier__c", "targetField": "loyalty_tier"}
            ]
        }))
        .await?;
    let contact = sandbox_post(
        &env,
        "salesforce/Contact",
        json!({"FirstName": "Dorothy", "LastName": "Vaughan", "Email": "dv@example.test",
               "Loyalty_Tier__c": "Silver"}),
    )
    .await?;
    let id = contact["Id"].as_str().context("Contact Id")?.to_string();
    contact_where(&env, "the new Contact in HubSpot", |f| {
        f["lastname"] == "Vaughan" && f["firstname"] == "Dorothy" && f["loyalty_tier"] == "Silver"
    })
    .await?;
    // SystemModstamp has whole seconds: keep the edit apart from the create.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    sandbox_patch(
        &env,
        &format!("salesforce/Contact/{id}"),
        json!({"FirstName": "Dot", "Loyalty_Tier__c": "Gold"}),
    )
    .await?;
    // Loyalty_Tier__c is a custom field: the webhook run names it in its field list.
    contact_where(
        &env,
        "the changed first name and custom field in HubSpot",
        |f| f["lastname"] == "Vaughan" && f["firstname"] == "Dot" && f["loyalty_tier"] == "Gold",
    )
    .await?;
    assert_only_webhook_runs(&env, &mapping).await?;
    assert_eq!(env.sandbox_records("hubspot", "contacts").await?.len(), 1);
    Ok(())
}

/// POSTs a Jobber webhook delivery signed as Jobber signs it (base64 HMAC-SHA256 of the raw body
/// with the app's client secret), computed here independently of the sandbox.
async fn post_jobber_hook(env: &TestEnv, body: &str) -> anyhow::Result<reqwest::StatusCode> {
    use base64::Engine;
    let key = ring::hmac::Key::new(
        ring::hmac::HMAC_SHA256,
        fluxcascade_providers::SANDBOX_CLIENT_SECRET.as_bytes(),
    );
    let signature =
        base64::engine::general_purpose::STANDARD.encode(ring::hmac::sign(&key, body.as_bytes()));
    Ok(env
        .http
        .post(format!("{}/hooks/jobber", env.api_url))
        .header("content-type", "application/json")
        .header("x-jobber-hmac-sha256", signature)
        .body(body.to_string())
        .send()
        .await?
        .status())
}

/// Jobber sends no event id and whole-second `occurredAt`s: a second change of a client within
/// the same second arrives as the very same bytes as the first. It must still reach HubSpot.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_jobber_changes_in_the_same_second_both_reach_hubspot() -> anyhow::Result<()> {
    let env = TestEnv::start("webhooks_in_jobber_same_second", 1).await?;
    let hubspot = env.connect("hubspot").await?;
    let jobber = env.connect("jobber").await?;
    let account = external_account_id(&env, &jobber).await?;
    env.create_mapping(json!({
        "name": "clients to contacts",
        "source": {"connectionId": jobber, "object": "clients"},
        "target": {"connectionId": hubspot, "object": "contacts"},
        "fieldPairs": [
            {"sourceField": "firstName", "targetField": "firstname"},
            {"sourceField": "lastName", "targetField": "lastname", "required": true}
        ]
    }))
    .await?;
    let client = sandbox_post(
        &env,
        "jobber/clients",
        json!({"firstName": "Grace", "lastName": "Hopper"}),
    )
    .await?;
    let client_id = client["id"].as_str().context("client id")?;
    let delivery = json!({"data": {"webHookEvent": {
        "topic": "CLIENT_UPDATE", "appId": "app", "accountId": account,
        "itemId": client_id, "occurredAt": "2026-12-03T10:00:00Z"}}})
    .to_string();

    assert_eq!(post_jobber_hook(&env, &delivery).await?, 200);
    eventually("the first change in HubSpot", || async {
        let contacts = env.sandbox_records("hubspot", "contacts").await?;
        Ok(contacts
            .into_iter()
            .find(|c| fields(c)["firstname"] == "Grace"))
    })
    .await?;
    sandbox_patch(
        &env,
        &format!("jobber/clients/{client_id}"),
        json!({"firstName": "Amazing Grace"}),
    )
    .await?;
    // The second change's delivery: byte for byte the first one.
    assert_eq!(post_jobber_hook(&env, &delivery).await?, 200);
    eventually("the second change in HubSpot", || async {
        let contacts = env.sandbox_records("hubspot", "contacts").await?;
        Ok(contacts
            .into_iter()
            .find(|c| fields(c)["firstname"] == "Amazing Grace"))
    })
    .await?;
    assert_eq!(env.sandbox_records("hubspot", "contacts").await?.len(), 1);
    Ok(())
}
