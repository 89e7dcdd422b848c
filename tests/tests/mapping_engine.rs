//! End to end: required fields fail only their records, the "Address Mapping" guide, preview matching
//! what the sync writes (without touching a provider), and mapping validation naming each element.

use std::time::Duration;

use fluxcascade_tests::{fields, TestEnv};
use reqwest::Method;
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(120);

async fn create_contact(env: &TestEnv, props: Value) -> anyhow::Result<String> {
    let v: Value = env
        .http
        .post(format!("{}/_sandbox/hubspot/contacts", env.sandbox_url))
        .json(&props)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    Ok(v["id"]
        .as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| v["id"].to_string()))
}

async fn mapping(
    env: &TestEnv,
    hubspot: &str,
    jobber: &str,
    pairs: Value,
) -> anyhow::Result<String> {
    env.create_mapping(json!({
        "name": "m",
        "source": {"connectionId": hubspot, "object": "contacts"},
        "target": {"connectionId": jobber, "object": "clients"},
        "fieldPairs": pairs
    }))
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_missing_a_required_field_fail_alone_and_the_run_is_partial() -> anyhow::Result<()>
{
    let env = TestEnv::start("required", 1).await?;
    let mut missing = Vec::new();
    for i in 0..10 {
        let mut props = json!({"firstname": format!("F{i}"), "email": format!("p{i}@example.org")});
        if i % 4 != 0 {
            props["lastname"] = json!(format!("L{i}"));
        }
        let id = create_contact(&env, props).await?;
        if i % 4 == 0 {
            missing.push(id);
        }
    }
    let (hubspot, jobber) = (env.connect("hubspot").await?, env.connect("jobber").await?);
    let m = mapping(
        &env,
        &hubspot,
        &jobber,
        json!([
            {"sourceField": "firstname", "targetField": "firstName"},
            {"sourceField": "lastname", "targetField": "lastName", "required": true},
            {"sourceField": "email", "targetField": "emails[0].address"}
        ]),
    )
    .await?;
    let sync_id = env.trigger_sync(&m, "full").await?;
    let s = env.wait_sync(&sync_id, WAIT).await?;
    assert_eq!(s["status"], "partial", "{s}");
    assert_eq!(s["counts"]["failed"], missing.len() as u64, "{s}");
    assert_eq!(s["counts"]["created"], 10 - missing.len() as u64, "{s}");
    let errors = env
        .api_ok(Method::GET, &format!("/v1/syncs/{sync_id}/errors"), None)
        .await?;
    let mut failed: Vec<String> = errors["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|e| e["recordId"].as_str().unwrap_or("").to_string())
        .collect();
    failed.sort();
    missing.sort();
    assert_eq!(
        failed, missing,
        "exactly the records without a last name failed"
    );
    for e in errors["data"].as_array().expect("data") {
        assert_eq!(e["code"], "required_field_missing");
        assert!(
            e["message"].as_str().unwrap_or("").contains("lastName"),
            "{e}"
        );
    }
    assert_eq!(
        env.sandbox_records("jobber", "clients").await?.len(),
        10 - missing.len()
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn address_guide_hubspot_address_fields_become_jobber_billing_address() -> anyhow::Result<()>
{
    let env = TestEnv::start("address", 1).await?;
    env.seed("hubspot", "contacts", 25).await?;
    let (hubspot, jobber) = (env.connect("hubspot").await?, env.connect("jobber").await?);
    let m = mapping(
        &env,
        &hubspot,
        &jobber,
        json!([
            {"sourceField": "lastname", "targetField": "lastName", "required": true},
            {"sourceField": "email", "targetField": "emails[0].address"},
            {"sourceField": "address", "targetField": "billingAddress.street1"},
            {"sourceField": "city", "targetField": "billingAddress.city"},
            {"sourceField": "state", "targetField": "billingAddress.province", "transform": "uppercase"},
            {"sourceField": "zip", "targetField": "billingAddress.postalCode"}
        ]),
    )
    .await?;
    let s = env
        .wait_sync(&env.trigger_sync(&m, "full").await?, WAIT)
        .await?;
    assert_eq!(s["status"], "completed", "{s}");
    let clients = env.sandbox_records("jobber", "clients").await?;
    for contact in env.sandbox_records("hubspot", "contacts").await? {
        let p = fields(&contact);
        let client = clients
            .iter()
            .find(|c| fields(c)["emails"][0]["address"] == p["email"])
            .unwrap_or_else(|| panic!("no client for {}", p["email"]));
        let a = &fields(client)["billingAddress"];
        assert_eq!(a["street1"], p["address"]);
        assert_eq!(a["city"], p["city"]);
        assert_eq!(
            a["province"].as_str(),
            p["state"].as_str().map(str::to_uppercase).as_deref()
        );
        assert_eq!(a["postalCode"], p["zip"]);
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preview_shows_what_the_sync_writes_and_calls_no_provider() -> anyhow::Result<()> {
    let env = TestEnv::start("preview", 1).await?;
    env.seed("hubspot", "contacts", 5).await?;
    let (hubspot, jobber) = (env.connect("hubspot").await?, env.connect("jobber").await?);
    let pairs = json!([
        {"sourceField": "firstname", "targetField": "firstName", "transform": "uppercase"},
        {"sourceField": "lastname", "targetField": "lastName", "required": true},
        {"sourceField": "email", "targetField": "emails[0].address", "transform": "lowercase"},
        {"sourceField": "phone", "targetField": "phones[0].number", "transform": "phone_e164"},
        {"sourceFields": ["firstname", "lastname"], "targetField": "companyName", "transform": "concatenate",
         "transformOptions": {"separator": " & "}}
    ]);
    let contacts = env.sandbox_records("hubspot", "contacts").await?;
    let records: Vec<Value> = contacts
        .iter()
        .map(|c| json!({"id": c["id"], "fields": fields(c)}))
        .collect();
    let stats_before = env.sandbox_stats().await?;
    let preview = env
        .api_ok(
            Method::POST,
            "/v1/mappings/preview",
            Some(json!({
                "mapping": {"name": "p", "source": {"connectionId": hubspot, "object": "contacts"},
                            "target": {"connectionId": jobber, "object": "clients"}, "fieldPairs": pairs},
                "records": records
            })),
        )
        .await?;
    assert_eq!(
        env.sandbox_stats().await?["requests"],
        stats_before["requests"],
        "a preview calls no provider"
    );

    let m = mapping(&env, &hubspot, &jobber, pairs).await?;
    let s = env
        .wait_sync(&env.trigger_sync(&m, "full").await?, WAIT)
        .await?;
    assert_eq!(s["status"], "completed", "{s}");
    let clients = env.sandbox_records("jobber", "clients").await?;
    let data = preview["data"].as_array().expect("preview data");
    assert_eq!(data.len(), contacts.len());
    for item in data {
        let payload = &item["payload"];
        let client = clients
            .iter()
            .find(|c| fields(c)["emails"][0]["address"] == payload["emails"][0]["address"])
            .unwrap_or_else(|| panic!("nothing written for preview {item}"));
        let c = fields(client);
        assert_eq!(c["firstName"], payload["firstName"]);
        assert_eq!(c["lastName"], payload["lastName"]);
        assert_eq!(c["companyName"], payload["companyName"]);
        assert_eq!(c["phones"][0]["number"], payload["phones"][0]["number"]);
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_mapping_validation_error_is_a_422_naming_its_element() -> anyhow::Result<()> {
    let env = TestEnv::start("validation", 0).await?;
    let (hubspot, jobber) = (env.connect("hubspot").await?, env.connect("jobber").await?);
    let base = |pairs: Value| {
        json!({"name": "v", "source": {"connectionId": hubspot, "object": "contacts"},
               "target": {"connectionId": jobber, "object": "clients"}, "fieldPairs": pairs})
    };
    let ok_pair = json!({"sourceField": "lastname", "targetField": "lastName"});
    let mut unknown_object = base(json!([ok_pair]));
    unknown_object["target"]["object"] = json!("widgets");
    let mut unknown_connection = base(json!([ok_pair]));
    unknown_connection["source"]["connectionId"] = json!("00000000-0000-7000-8000-000000000000");
    let cases = [
        (
            base(
                json!([ok_pair, {"sourceField": "email", "targetField": "email", "transform": "reverse"}]),
            ),
            "fieldPairs[1].transform",
        ),
        (
            base(
                json!([{"sourceField": "phone", "targetField": "phone", "transform": "phone_e164",
                       "transformOptions": {"region": "US", "colour": "red"}}]),
            ),
            "fieldPairs[0].transformOptions",
        ),
        (
            base(
                json!([{"sourceField": "phone", "targetField": "phone", "transform": "phone_e164",
                       "transformOptions": {"region": "XX"}}]),
            ),
            "fieldPairs[0].transformOptions.region",
        ),
        (
            base(
                json!([ok_pair, ok_pair, {"sourceField": "a", "targetField": "companyName", "transform": "concatenate"}]),
            ),
            "fieldPairs[2].sourceFields",
        ),
        (
            base(json!([{"sourceField": "email", "targetField": "emails[x].address"}])),
            "fieldPairs[0].targetField",
        ),
        (
            base(json!([{"sourceField": "a..b", "targetField": "lastName"}])),
            "fieldPairs[0].sourceField",
        ),
        (unknown_connection, "source.connectionId"),
        (unknown_object, "target.object"),
    ];
    for (body, field) in cases {
        let (status, v) = env.api(Method::POST, "/v1/mappings", Some(body)).await?;
        assert_eq!(status, 422, "{field}: {v}");
        let fields: Vec<&str> = v["error"]["details"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|d| d["field"].as_str())
            .collect();
        assert!(
            fields.iter().any(|f| f.starts_with(field)),
            "expected a detail naming {field}, got {fields:?}"
        );
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_match_rule_links_existing_twins_instead_of_creating_duplicates() -> anyhow::Result<()> {
    let env = TestEnv::start("match", 1).await?;
    env.seed("hubspot", "contacts", 6).await?;
    let contacts = env.sandbox_records("hubspot", "contacts").await?;
    // Two of the contacts already exist in Jobber (same email, other case, older names).
    for c in contacts.iter().take(2) {
        let email = fields(c)["email"].as_str().expect("email").to_uppercase();
        env.http
            .post(format!("{}/_sandbox/jobber/clients", env.sandbox_url))
            .json(&json!({"firstName": "Old", "lastName": "Name", "emails": [{"address": email, "primary": true}]}))
            .send()
            .await?
            .error_for_status()?;
    }
    let (hubspot, jobber) = (env.connect("hubspot").await?, env.connect("jobber").await?);
    let m = env
        .create_mapping(json!({
                "name": "match by email",
                "source": {"connectionId": hubspot, "object": "contacts"},
                "target": {"connectionId": jobber, "object": "clients"},
                "match": {"sourceField": "email", "targetField": "emails[0].address"},
                "fieldPairs": [
                    {"sourceField": "firstname", "targetField": "firstName"},
                    {"sourceField": "lastname", "targetField": "lastName", "required": true},
                    {"sourceField": "email", "targetField": "emails[0].address", "transform": "lowercase"}
                ]
            }))
        .await?;
    let s = env
        .wait_sync(&env.trigger_sync(&m, "full").await?, WAIT)
        .await?;
    assert_eq!(s["status"], "completed", "{s}");
    assert_eq!(s["counts"]["created"], 4, "{s}");
    assert_eq!(s["counts"]["updated"], 2, "{s}");
    let clients = env.sandbox_records("jobber", "clients").await?;
    assert_eq!(clients.len(), 6, "no duplicates");
    for c in contacts.iter().take(2) {
        let email = fields(c)["email"].as_str().expect("email").to_lowercase();
        let client = clients
            .iter()
            .find(|k| {
                fields(k)["emails"][0]["address"]
                    .as_str()
                    .map(str::to_lowercase)
                    .as_deref()
                    == Some(email.as_str())
            })
            .expect("twin");
        assert_eq!(
            fields(client)["firstName"],
            fields(c)["firstname"],
            "the twin was updated"
        );
    }
    Ok(())
}
