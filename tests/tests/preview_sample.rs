//! End to end: `POST /v1/mappings/preview` with `"sample": {"count": N}` reads N records from the
//! source connection (the sandbox) and writes nothing; native HubSpot records preview the same;
//! out-of-range counts are 422 naming `sample.count`.

use fluxcascade_tests::{fields, TestEnv};
use reqwest::Method;
use serde_json::{json, Value};

fn body(hubspot: &str, jobber: &str, extra: Value) -> Value {
    let mut b = json!({
        "mapping": {"name": "p", "source": {"connectionId": hubspot, "object": "contacts"},
                    "target": {"connectionId": jobber, "object": "clients"},
                    "fieldPairs": [
                        {"sourceField": "firstname", "targetField": "firstName", "transform": "uppercase"},
                        {"sourceField": "phone", "targetField": "phones[0].number", "transform": "phone_e164"}
                    ]}
    });
    for (k, v) in extra.as_object().expect("object") {
        b[k] = v.clone();
    }
    b
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sample_is_read_from_the_source_and_previewed_without_writing() -> anyhow::Result<()> {
    let env = TestEnv::start("preview_sample", 1).await?;
    env.seed("hubspot", "contacts", 5).await?;
    let (hubspot, jobber) = (env.connect("hubspot").await?, env.connect("jobber").await?);
    let contacts = env.sandbox_records("hubspot", "contacts").await?;

    let preview = env
        .api_ok(
            Method::POST,
            "/v1/mappings/preview",
            Some(body(&hubspot, &jobber, json!({"sample": {"count": 3}}))),
        )
        .await?;
    let data = preview["data"].as_array().expect("preview data");
    assert_eq!(data.len(), 3, "{preview}");
    for item in data {
        let id = item["recordId"].as_str().expect("sampled records have ids");
        let source = contacts
            .iter()
            .find(|c| {
                c["id"] == id || c["id"].as_u64().map(|n| n.to_string()).as_deref() == Some(id)
            })
            .unwrap_or_else(|| panic!("sampled record {id} is not a source contact"));
        let want = fields(source)["firstname"].as_str().map(str::to_uppercase);
        assert_eq!(
            item["payload"]["firstName"].as_str(),
            want.as_deref(),
            "{item}"
        );
        assert!(
            item["payload"]["phones"][0]["number"]
                .as_str()
                .is_some_and(|p| p.starts_with('+')),
            "phone is transformed: {item}"
        );
    }
    assert!(
        env.sandbox_records("jobber", "clients").await?.is_empty(),
        "a sample preview writes nothing"
    );

    // The same contacts pasted exactly as HubSpot returns them preview the same way.
    let native: Vec<Value> = contacts
        .iter()
        .map(|c| json!({"id": c["id"], "properties": fields(c), "archived": false}))
        .collect();
    let pasted = env
        .api_ok(
            Method::POST,
            "/v1/mappings/preview",
            Some(body(&hubspot, &jobber, json!({"records": native}))),
        )
        .await?;
    for item in pasted["data"].as_array().expect("data") {
        assert!(
            item["errors"].as_array().is_some_and(Vec::is_empty),
            "{item}"
        );
    }
    let (status, v) = env
        .api(
            Method::POST,
            "/v1/mappings/preview",
            Some(body(
                &hubspot,
                &jobber,
                json!({"records": [{"firstname": "bare"}]}),
            )),
        )
        .await?;
    assert_eq!(status, 422, "{v}");
    assert!(v.to_string().contains("records[0]"), "{v}");

    for count in [0, 21] {
        let (status, v) = env
            .api(
                Method::POST,
                "/v1/mappings/preview",
                Some(body(&hubspot, &jobber, json!({"sample": {"count": count}}))),
            )
            .await?;
        assert_eq!(status, 422, "count {count}: {v}");
        assert!(v.to_string().contains("sample.count"), "count {count}: {v}");
    }
    Ok(())
}
