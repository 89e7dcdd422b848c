//! Mapping preview: per-record payloads and errors, mapping and record validation, a true dry run.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::harness::{error_fields, App};

const PREVIEW: &str = "/v1/mappings/preview";

fn mapping(source: &str, target: &str) -> Value {
    json!({
        "name": "contacts to clients",
        "source": {"connectionId": source, "object": "contacts"},
        "target": {"connectionId": target, "object": "clients"},
        "fieldPairs": [
            {"sourceField": "firstname", "targetField": "firstName", "transform": "uppercase"},
            {"sourceField": "email", "targetField": "emails[0].address", "transform": "lowercase"},
            {"sourceField": "lastname", "targetField": "lastName", "required": true}
        ]
    })
}

#[tokio::test]
async fn preview_maps_each_record_and_writes_nothing() {
    let app = App::start().await;
    let hub = app.connection(&app.owner, "hubspot").await;
    let jobber = app.connection(&app.owner, "jobber").await;
    let member = app.member_key().await;
    let body = json!({
        "mapping": mapping(&hub, &jobber),
        "records": [
            {"id": "101", "fields": {"firstname": "ada", "lastname": "Lovelace", "email": "Ada@Example.COM"}},
            {"properties": {"firstname": "grace", "email": "GRACE@NAVY.MIL"}},
            {"id": "103", "fields": {"firstname": "Alan", "lastname": "Turing"}}
        ]
    });
    let (s, v) = app
        .call(Method::POST, PREVIEW, Some(&member), Some(body))
        .await;
    assert_eq!(s, StatusCode::OK, "members may preview: {v}");
    assert_eq!(v["direction"], "source_to_target");
    assert_eq!(
        v["target"],
        json!({"provider": "jobber", "object": "clients"})
    );
    let data = v["data"].as_array().expect("data");
    assert_eq!(data.len(), 3, "{v}");

    assert_eq!(data[0]["recordId"], "101");
    assert_eq!(
        data[0]["payload"],
        json!({"firstName": "ADA", "lastName": "Lovelace", "emails": [{"address": "ada@example.com"}]})
    );
    assert_eq!(data[0]["errors"], json!([]));

    assert_eq!(data[1]["recordId"], "records[1]");
    assert_eq!(data[1]["payload"], Value::Null);
    let errors = data[1]["errors"].as_array().expect("errors");
    assert_eq!(errors.len(), 1, "{v}");
    assert_eq!(errors[0]["code"], "required_field_missing");
    assert_eq!(errors[0]["field"], "lastName");
    assert!(
        errors[0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("lastName")),
        "{v}"
    );

    assert_eq!(data[2]["recordId"], "103");
    assert_eq!(
        data[2]["payload"],
        json!({"firstName": "ALAN", "lastName": "Turing"}),
        "an absent source field writes nothing"
    );
    assert_eq!(data[2]["errors"], json!([]));

    let (s, syncs) = app
        .call(Method::GET, "/v1/syncs", Some(&app.owner), None)
        .await;
    assert_eq!((s, &syncs["data"]), (StatusCode::OK, &json!([])), "{syncs}");
    let (s, maps) = app
        .call(Method::GET, "/v1/mappings", Some(&app.owner), None)
        .await;
    assert_eq!((s, &maps["data"]), (StatusCode::OK, &json!([])), "{maps}");
    assert_eq!(
        app.sync_queue_depth().await,
        0,
        "a preview enqueues nothing"
    );
}

#[tokio::test]
async fn target_to_source_maps_target_records_back() {
    let app = App::start().await;
    let hub = app.connection(&app.owner, "hubspot").await;
    let jobber = app.connection(&app.owner, "jobber").await;
    let mut m = mapping(&hub, &jobber);
    m["direction"] = json!("target_to_source");
    let body = json!({
        "mapping": m,
        "records": [{"id": "J1", "fields": {
            "firstName": "ada", "lastName": "Lovelace", "emails": [{"address": "ADA@X.COM"}]
        }}]
    });
    let (s, v) = app
        .call(Method::POST, PREVIEW, Some(&app.owner), Some(body))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["direction"], "target_to_source");
    assert_eq!(
        v["target"],
        json!({"provider": "hubspot", "object": "contacts"}),
        "the payload is for the source"
    );
    assert_eq!(
        v["data"][0]["payload"],
        json!({"firstname": "ADA", "lastname": "Lovelace", "email": "ada@x.com"})
    );
}

#[tokio::test]
async fn preview_validates_the_mapping_and_the_records() {
    let app = App::start().await;
    let hub = app.connection(&app.owner, "hubspot").await;
    let jobber = app.connection(&app.owner, "jobber").await;
    let other = app.other_org().await;
    let foreign = app.connection(&other, "jobber").await;
    let record = json!({"fields": {"firstname": "ada", "lastname": "L"}});

    let mut bad = mapping(&hub, &jobber);
    bad["fieldPairs"][0]["transform"] = json!("rot13");
    let (s, v) = app
        .call(
            Method::POST,
            PREVIEW,
            Some(&app.owner),
            Some(json!({"mapping": bad, "records": [record]})),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(error_fields(&v), ["mapping.fieldPairs[0].transform"], "{v}");

    let unknown = Uuid::now_v7().to_string();
    let (s, v) = app
        .call(
            Method::POST,
            PREVIEW,
            Some(&app.owner),
            Some(json!({"mapping": mapping(&unknown, &jobber), "records": [record]})),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(error_fields(&v), ["mapping.source.connectionId"], "{v}");

    let (s, v) = app
        .call(
            Method::POST,
            PREVIEW,
            Some(&app.owner),
            Some(json!({"mapping": mapping(&hub, &foreign), "records": [record]})),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(
        error_fields(&v),
        ["mapping.target.connectionId"],
        "another org's connection is unknown"
    );

    let many = vec![record.clone(); 101];
    let (s, v) = app
        .call(
            Method::POST,
            PREVIEW,
            Some(&app.owner),
            Some(json!({"mapping": mapping(&hub, &jobber), "records": many})),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(error_fields(&v), ["records"], "{v}");
    let hundred = vec![record.clone(); 100];
    let (s, v) = app
        .call(
            Method::POST,
            PREVIEW,
            Some(&app.owner),
            Some(json!({"mapping": mapping(&hub, &jobber), "records": hundred})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["data"].as_array().map(Vec::len), Some(100));

    let (s, v) = app
        .call(
            Method::POST,
            PREVIEW,
            Some(&app.owner),
            Some(json!({"mapping": mapping(&hub, &jobber), "records": [1, {"fields": "x"}]})),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(error_fields(&v), ["records[0]", "records[1].fields"], "{v}");

    // A bare HubSpot record is neither `{fields}` nor HubSpot's `{id, properties}`: refused by
    // name rather than read as a record whose every mapped field is missing.
    let (s, v) = app
        .call(
            Method::POST,
            PREVIEW,
            Some(&app.owner),
            Some(json!({"mapping": mapping(&hub, &jobber), "records": [{"firstname": "ada"}]})),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(error_fields(&v), ["records[0]"], "{v}");

    let mut shape = mapping(&hub, &jobber);
    shape["fieldPairs"][0] = json!({"sourceField": "x"});
    let (s, v) = app
        .call(
            Method::POST,
            PREVIEW,
            Some(&app.owner),
            Some(json!({"mapping": shape, "records": []})),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(error_fields(&v), ["mapping.fieldPairs[0].targetField"]);
    let (s, v) = app
        .call(
            Method::POST,
            PREVIEW,
            Some(&app.owner),
            Some(json!({"mapping": mapping(&hub, &jobber)})),
        )
        .await;
    assert_eq!(
        (s, error_fields(&v)),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            vec!["records".to_string()]
        )
    );
    let (s, _) = app.call(Method::POST, PREVIEW, None, Some(json!({}))).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, v) = app
        .raw(Method::POST, PREVIEW, &app.owner, b"{\"mapping\":".to_vec())
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
}
