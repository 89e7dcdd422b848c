//! End to end (guide "HubSpot + Jobber"): contacts ↔ clients both ways with names, emails and phones;
//! conflicts resolved by each policy; one change causes exactly one write and never ping-pongs.

use std::time::Duration;

use fluxcascade_tests::{fields, TestEnv};
use reqwest::Method;
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(120);

async fn sync_ok(env: &TestEnv, mapping: &str) -> anyhow::Result<Value> {
    let s = env
        .wait_sync(&env.trigger_sync(mapping, "incremental").await?, WAIT)
        .await?;
    assert_eq!(s["status"], "completed", "{s}");
    Ok(s)
}

async fn writes(env: &TestEnv) -> anyhow::Result<(u64, u64)> {
    Ok((
        env.sandbox_writes("hubspot", "contacts").await?,
        env.sandbox_writes("jobber", "clients").await?,
    ))
}

async fn contact(env: &TestEnv, id: &str) -> anyhow::Result<Value> {
    Ok(env
        .http
        .get(format!(
            "{}/_sandbox/hubspot/contacts/{id}",
            env.sandbox_url
        ))
        .send()
        .await?
        .json()
        .await?)
}

async fn client_by_email(env: &TestEnv, email: &str) -> anyhow::Result<Value> {
    let clients = env.sandbox_records("jobber", "clients").await?;
    clients
        .into_iter()
        .find(|c| fields(c)["emails"][0]["address"].as_str() == Some(email))
        .ok_or_else(|| anyhow::anyhow!("no client with {email}"))
}

async fn patch(
    env: &TestEnv,
    provider: &str,
    object: &str,
    id: &str,
    body: Value,
) -> anyhow::Result<()> {
    env.http
        .patch(format!(
            "{}/_sandbox/{provider}/{object}/{id}",
            env.sandbox_url
        ))
        .json(&body)
        .send()
        .await?
        .error_for_status()?;
    // Provider timestamps have millisecond (Jobber: second) resolution: keep changes apart.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contacts_and_clients_sync_both_ways_without_ping_pong_and_conflicts_follow_the_policy(
) -> anyhow::Result<()> {
    let env = TestEnv::start("bidirectional", 1).await?;
    env.seed("hubspot", "contacts", 20).await?;
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
                    {"sourceField": "email", "targetField": "emails[0].address", "transform": "lowercase"},
                    {"sourceField": "phone", "targetField": "phones[0].number", "transform": "phone_e164",
                     "transformOptions": {"region": "US"}}
                ]
            }))
        .await?;

    // Forward: 20 clients with names, emails and E.164 phones.
    let first = sync_ok(&env, &mapping).await?;
    assert_eq!(first["counts"]["created"], 20, "{first}");
    let contacts = env.sandbox_records("hubspot", "contacts").await?;
    let c0 = &contacts[0];
    let c0_id = c0["id"].as_str().expect("id").to_string();
    let email = fields(c0)["email"].as_str().expect("email").to_lowercase();
    let client = client_by_email(&env, &email).await?;
    assert_eq!(fields(&client)["firstName"], fields(c0)["firstname"]);
    let phone = fields(&client)["phones"][0]["number"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        phone.starts_with("+1") && phone.len() == 12,
        "E.164 phone, got {phone:?}"
    );
    let client_id = client["id"].as_str().expect("id").to_string();

    // Our own creates come back on the reverse leg as echoes: nothing is written either way.
    let before = writes(&env).await?;
    let echo = sync_ok(&env, &mapping).await?;
    assert_eq!(echo["counts"]["created"], 0, "{echo}");
    assert_eq!(echo["counts"]["updated"], 0, "{echo}");
    assert_eq!(
        writes(&env).await?,
        before,
        "an idle bidirectional sync writes nothing"
    );

    // A change on HubSpot: exactly one Jobber write and no write back, over two more runs.
    patch(
        &env,
        "hubspot",
        "contacts",
        &c0_id,
        json!({"firstname": "Fromhubspot"}),
    )
    .await?;
    let before = writes(&env).await?;
    sync_ok(&env, &mapping).await?;
    sync_ok(&env, &mapping).await?;
    sync_ok(&env, &mapping).await?;
    let after = writes(&env).await?;
    assert_eq!(
        after.1 - before.1,
        1,
        "one Jobber write for one HubSpot change"
    );
    assert_eq!(after.0, before.0, "no write back to HubSpot");
    assert_eq!(
        fields(&client_by_email(&env, &email).await?)["firstName"],
        "Fromhubspot"
    );

    // A change on Jobber: exactly one HubSpot write and no write back.
    patch(
        &env,
        "jobber",
        "clients",
        &client_id,
        json!({"lastName": "Fromjobber"}),
    )
    .await?;
    let before = writes(&env).await?;
    sync_ok(&env, &mapping).await?;
    sync_ok(&env, &mapping).await?;
    sync_ok(&env, &mapping).await?;
    let after = writes(&env).await?;
    assert_eq!(
        after.0 - before.0,
        1,
        "one HubSpot write for one Jobber change"
    );
    assert_eq!(after.1, before.1, "no write back to Jobber");
    assert_eq!(
        fields(&contact(&env, &c0_id).await?)["lastname"],
        "Fromjobber"
    );

    // Both sides changed: each policy decides.
    for (policy, hubspot_first, winner) in [
        ("newest_wins", true, "Jobberside"),   // Jobber changed last
        ("newest_wins", false, "Hubspotside"), // HubSpot changed last
        ("source_wins", false, "Hubspotside"),
        ("target_wins", true, "Jobberside"),
        ("source_wins", true, "Hubspotside"),
    ] {
        env.api_ok(
            Method::PATCH,
            &format!("/v1/mappings/{mapping}"),
            Some(json!({"conflictResolution": policy})),
        )
        .await?;
        let hub = json!({"firstname": "Hubspotside"});
        let job = json!({"firstName": "Jobberside"});
        if hubspot_first {
            patch(&env, "hubspot", "contacts", &c0_id, hub).await?;
            patch(&env, "jobber", "clients", &client_id, job).await?;
        } else {
            patch(&env, "jobber", "clients", &client_id, job).await?;
            patch(&env, "hubspot", "contacts", &c0_id, hub).await?;
        }
        sync_ok(&env, &mapping).await?;
        let h = fields(&contact(&env, &c0_id).await?)["firstname"].clone();
        let j = fields(&client_by_email(&env, &email).await?)["firstName"].clone();
        assert_eq!(
            (h.as_str(), j.as_str()),
            (Some(winner), Some(winner)),
            "{policy}, hubspot first: {hubspot_first}"
        );
        // Reset both to a neutral value that agrees, so the next round starts in sync.
        patch(
            &env,
            "hubspot",
            "contacts",
            &c0_id,
            json!({"firstname": "Neutral"}),
        )
        .await?;
        sync_ok(&env, &mapping).await?;
        sync_ok(&env, &mapping).await?;
    }
    Ok(())
}
