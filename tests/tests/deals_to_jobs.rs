//! End to end (guide "Deals to Jobs"): a HubSpot deal becomes a Jobber job for the client linked to
//! the deal's associated contact; a deal whose contact is not linked yet fails naming that contact.

use std::time::Duration;

use fluxcascade_tests::{fields, TestEnv};
use reqwest::Method;
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(120);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deals_become_jobs_for_the_client_linked_to_their_contact() -> anyhow::Result<()> {
    let env = TestEnv::start("deals-jobs", 1).await?;
    env.seed("hubspot", "contacts", 6).await?;
    env.seed("hubspot", "deals", 4).await?;
    let (hubspot, jobber) = (env.connect("hubspot").await?, env.connect("jobber").await?);
    let contacts_mapping = env.contacts_to_clients(&hubspot, &jobber).await?;
    let deals_mapping = env
        .create_mapping(json!({
                "name": "deals to jobs",
                "source": {"connectionId": hubspot, "object": "deals"},
                "target": {"connectionId": jobber, "object": "jobs"},
                "fieldPairs": [{"sourceField": "dealname", "targetField": "title", "required": true}],
                "associations": [{"source": "contacts", "mappingId": contacts_mapping, "targetField": "clientId"}]
            }))
        .await?;

    // Contacts not synced yet: every deal fails, naming its contact and the mapping to run first.
    let early = env.trigger_sync(&deals_mapping, "full").await?;
    let s = env.wait_sync(&early, WAIT).await?;
    assert_eq!(s["status"], "failed", "{s}");
    assert_eq!(s["counts"]["failed"], 4, "{s}");
    let errors = env
        .api_ok(Method::GET, &format!("/v1/syncs/{early}/errors"), None)
        .await?;
    for e in errors["data"].as_array().expect("errors") {
        assert_eq!(e["code"], "association_unlinked", "{e}");
        let msg = e["message"].as_str().unwrap_or_default();
        assert!(
            msg.contains("contact") && msg.contains(&contacts_mapping),
            "{msg}"
        );
    }
    assert!(env.sandbox_records("jobber", "jobs").await?.is_empty());

    // Sync the contacts, then the deals: each job sits with the client of the deal's contact.
    let c = env
        .wait_sync(&env.trigger_sync(&contacts_mapping, "full").await?, WAIT)
        .await?;
    assert_eq!(c["status"], "completed", "{c}");
    let s = env
        .wait_sync(&env.trigger_sync(&deals_mapping, "full").await?, WAIT)
        .await?;
    assert_eq!(s["status"], "completed", "{s}");
    assert_eq!(s["counts"]["created"], 4, "{s}");

    let db = env.db().await?;
    let links = db
        .query(
            "SELECT source_id, target_id FROM record_links WHERE mapping_id = $1::text::uuid",
            &[&contacts_mapping],
        )
        .await?;
    let client_of = |contact: &str| -> Option<String> {
        links
            .iter()
            .find(|r| r.get::<_, String>(0) == contact)
            .map(|r| r.get::<_, String>(1))
    };
    let jobs = env.sandbox_records("jobber", "jobs").await?;
    assert_eq!(jobs.len(), 4);
    let deals = env.sandbox_records("hubspot", "deals").await?;
    for deal in &deals {
        let name = fields(deal)["dealname"].as_str().expect("dealname");
        let job = jobs
            .iter()
            .find(|j| j["title"] == name)
            .unwrap_or_else(|| panic!("no job titled {name}"));
        let deal_id = deal["id"].as_str().expect("deal id");
        let assoc: Value = env
            .http
            .get(format!(
                "{}/hubspot/crm/v4/objects/deals/{deal_id}/associations/contacts",
                env.sandbox_url
            ))
            .bearer_auth(hubspot_token(&env).await?)
            .send()
            .await?
            .json()
            .await?;
        let contact = assoc["results"][0]["toObjectId"]
            .to_string()
            .trim_matches('"')
            .to_string();
        assert_eq!(
            job["clientId"].as_str(),
            client_of(&contact).as_deref(),
            "deal {deal_id} → contact {contact}"
        );
    }
    Ok(())
}

/// A HubSpot access token for reading associations the way an app would.
async fn hubspot_token(env: &TestEnv) -> anyhow::Result<String> {
    let redirect = "http://127.0.0.1/e2e/callback";
    let resp = env
        .http
        .get(format!("{}/hubspot/oauth/authorize", env.sandbox_url))
        .query(&[
            ("client_id", "sandbox-client"),
            ("redirect_uri", redirect),
            ("state", "t"),
        ])
        .send()
        .await?;
    let location = resp
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let code = url::Url::parse(&location)?
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    let tokens: Value = env
        .http
        .post(format!("{}/hubspot/oauth/v1/token", env.sandbox_url))
        .form(&[
            ("grant_type", "authorization_code"),
            ("client_id", "sandbox-client"),
            ("client_secret", "sandbox-secret"),
            ("redirect_uri", redirect),
            ("code", code.as_str()),
        ])
        .send()
        .await?
        .json()
        .await?;
    Ok(tokens["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_string())
}
