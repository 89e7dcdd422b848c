//! `GET /v1/usage`: validation of the range, the shape, any role may read, one org's usage only.

use chrono::{Days, Utc};
use fluxcascade_core::Counts;
use fluxcascade_store::links::BatchCommit;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::harness::{error_fields, App};

#[tokio::test]
async fn usage_ranges_are_validated_naming_the_field() {
    let app = App::start().await;
    let (s, _) = app.call(Method::GET, "/v1/usage", None, None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    for (query, field) in [
        ("from=2026-02-30", "from"),
        ("from=yesterday", "from"),
        ("to=2026-01-01T00:00:00Z", "to"),
        ("from=2026-03-02&to=2026-03-01", "from"),
        ("from=2024-01-01&to=2025-01-01", "to"),
    ] {
        let (s, v) = app
            .call(
                Method::GET,
                &format!("/v1/usage?{query}"),
                Some(&app.owner),
                None,
            )
            .await;
        assert_eq!(
            (s, error_fields(&v)),
            (StatusCode::UNPROCESSABLE_ENTITY, vec![field.to_string()]),
            "{query}: {v}"
        );
    }
    let (s, v) = app
        .call(
            Method::GET,
            "/v1/usage?from=2024-01-01&to=2024-12-31",
            Some(&app.owner),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "a leap year is the longest range: {v}");
    assert_eq!(v["days"].as_array().map(Vec::len), Some(366));
}

/// The counters every `days[]` entry and `total` carry.
fn zero() -> Value {
    json!({"recordsRead": 0, "recordsCreated": 0, "recordsUpdated": 0, "recordsDeleted": 0,
        "recordsSkipped": 0, "recordsFailed": 0, "runs": {"manual": 0, "schedule": 0, "webhook": 0},
        "webhookEvents": 0, "deliveries": 0})
}

#[tokio::test]
async fn usage_shows_the_orgs_runs_and_records_per_day_and_mapping() {
    let app = App::start().await;
    let hub = app.connection(&app.owner, "hubspot").await;
    let jobber = app.connection(&app.owner, "jobber").await;
    let mapping = app.mapping(&app.owner, &hub, &jobber).await;
    let (s, sync) = app
        .call(
            Method::POST,
            "/v1/syncs",
            Some(&app.owner),
            Some(json!({"mappingId": mapping})),
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{sync}");
    // What a worker does: commit one batch of the run (twice: the second is a redelivered job).
    let org_id = app.org_id().await;
    let sync_id: Uuid = sync["id"].as_str().expect("id").parse().expect("uuid");
    let commit = BatchCommit {
        org_id,
        sync_id,
        mapping_id: mapping.parse().expect("uuid"),
        batch_no: 0,
        side: "source",
        worker: "test".into(),
        counts: Counts {
            read: 7,
            created: 3,
            updated: 2,
            skipped: 1,
            failed: 1,
            deleted: 0,
        },
        max_cursor: None,
        links: Vec::new(),
        dropped_intents: Vec::new(),
        errors: Vec::new(),
    };
    assert!(app.store.commit_batch(&commit).await.expect("commit"));
    assert!(!app.store.commit_batch(&commit).await.expect("retry"));

    // A Member reads usage too.
    let member = app.member_key().await;
    let (s, v) = app
        .call(Method::GET, "/v1/usage", Some(&member), None)
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let today = Utc::now().date_naive();
    let from = today.checked_sub_days(Days::new(29)).expect("date");
    assert_eq!(
        v["from"],
        from.to_string(),
        "the default is the last 30 days"
    );
    assert_eq!(v["to"], today.to_string());
    let days = v["days"].as_array().expect("days");
    assert_eq!(days.len(), 30);
    assert_eq!(days[0]["date"], from.to_string());
    let used = json!({"recordsRead": 7, "recordsCreated": 3, "recordsUpdated": 2,
        "recordsDeleted": 0, "recordsSkipped": 1, "recordsFailed": 1,
        "runs": {"manual": 1, "schedule": 0, "webhook": 0}});
    let mut total = zero();
    for (k, val) in used.as_object().expect("object") {
        total[k] = val.clone();
    }
    assert_eq!(v["total"], total);
    let mut last_day = total.clone();
    last_day["date"] = json!(today.to_string());
    assert_eq!(days[29], last_day);
    let mut zero_day = zero();
    zero_day["date"] = json!(from.to_string());
    assert_eq!(days[0], zero_day);
    let mut by_mapping = used.clone();
    by_mapping["mappingId"] = json!(mapping);
    by_mapping["mappingName"] = json!("HubSpot contacts to Jobber clients");
    assert_eq!(v["byMapping"], json!([by_mapping]));

    // Another org sees none of it, whatever range it asks for.
    let other = app.other_org().await;
    let (s, v) = app
        .call(
            Method::GET,
            &format!("/v1/usage?from={today}&to={today}"),
            Some(&other),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let mut zero_day = zero();
    zero_day["date"] = json!(today.to_string());
    assert_eq!(v["days"], json!([zero_day]));
    assert_eq!(v["total"], zero());
    assert_eq!(v["byMapping"], json!([]));
}

#[tokio::test]
async fn a_sync_refused_with_503_is_not_counted() {
    let app = App::start_with(Some("amqp://guest:guest@127.0.0.1:1/%2f")).await;
    let hub = app.connection(&app.owner, "hubspot").await;
    let jobber = app.connection(&app.owner, "jobber").await;
    let mapping = app.mapping(&app.owner, &hub, &jobber).await;
    let (s, v) = app
        .call(
            Method::POST,
            "/v1/syncs",
            Some(&app.owner),
            Some(json!({"mappingId": mapping})),
        )
        .await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{v}");
    let (s, v) = app
        .call(Method::GET, "/v1/usage", Some(&app.owner), None)
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["total"], zero(), "no run was started");
}

#[tokio::test]
async fn usage_is_described_in_the_openapi_document() {
    let app = App::start().await;
    let (s, doc) = app.call(Method::GET, "/openapi.json", None, None).await;
    assert_eq!(s, StatusCode::OK);
    let op = &doc["paths"]["/v1/usage"]["get"];
    let params: Vec<(&str, &str)> = op["parameters"]
        .as_array()
        .expect("parameters")
        .iter()
        .filter_map(|p| Some((p["name"].as_str()?, p["in"].as_str()?)))
        .collect();
    assert_eq!(params, [("from", "query"), ("to", "query")], "{op}");
    for status in ["200", "401", "422"] {
        assert!(op["responses"][status].is_object(), "{status}: {op}");
    }
    let schemas = &doc["components"]["schemas"];
    for name in [
        "UsageView",
        "UsageCounts",
        "RecordUsage",
        "MappingUsageView",
    ] {
        assert!(schemas[name].is_object(), "{name} is described");
    }
}
