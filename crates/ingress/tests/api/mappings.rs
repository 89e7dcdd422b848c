//! Mappings: connection and spec validation, PATCH, org scoping, delete rules.

use reqwest::{Method, StatusCode};
use serde_json::json;
use uuid::Uuid;

use crate::harness::{error_fields, mapping_body, App};

#[tokio::test]
async fn mappings_are_validated_and_scoped() {
    let app = App::start().await;
    let hub = app.connection(&app.owner, "hubspot").await;
    let jobber = app.connection(&app.owner, "jobber").await;
    let other = app.other_org().await;
    let foreign = app.connection(&other, "jobber").await;

    let (s, v) = app
        .call(
            Method::POST,
            "/v1/mappings",
            Some(&app.owner),
            Some(mapping_body(&Uuid::now_v7().to_string(), &foreign)),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(
        error_fields(&v),
        ["source.connectionId", "target.connectionId"]
    );

    let mut bad = mapping_body(&hub, &jobber);
    bad["onDelete"] = json!("purge");
    let (s, v) = app
        .call(Method::POST, "/v1/mappings", Some(&app.owner), Some(bad))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(error_fields(&v), ["onDelete"]);

    let mut bad = mapping_body(&hub, &jobber);
    bad["fieldPairs"][1]["transform"] = json!("rot13");
    let (s, v) = app
        .call(Method::POST, "/v1/mappings", Some(&app.owner), Some(bad))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert!(
        error_fields(&v)
            .iter()
            .any(|f| f.starts_with("fieldPairs[1]")),
        "{v}"
    );

    let (s, m) = app
        .call(
            Method::POST,
            "/v1/mappings",
            Some(&app.owner),
            Some(mapping_body(&hub, &jobber)),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{m}");
    assert_eq!(m["source"]["connectionId"], hub.as_str());
    assert_eq!(m["conflictResolution"], "newest_wins");
    assert_eq!(m["onDelete"], "ignore", "the default deletion policy");
    assert_eq!(m["direction"], "source_to_target");
    assert_eq!(m["enabled"], true);
    assert!(m["createdAt"].is_string() && m["updatedAt"].is_string());
    let id = m["id"].as_str().expect("id").to_string();

    let (s, _) = app
        .call(
            Method::GET,
            &format!("/v1/mappings/{id}"),
            Some(&other),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = app
        .call(
            Method::PATCH,
            &format!("/v1/mappings/{id}"),
            Some(&other),
            Some(json!({"name": "x"})),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = app
        .call(
            Method::DELETE,
            &format!("/v1/mappings/{id}"),
            Some(&other),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    let path = format!("/v1/mappings/{id}");
    let (s, v) = app
        .call(
            Method::PATCH,
            &path,
            Some(&app.owner),
            Some(json!({"name": "Renamed"})),
        )
        .await;
    assert_eq!((s, &v["name"]), (StatusCode::OK, &json!("Renamed")), "{v}");
    assert_eq!(
        v["fieldPairs"], m["fieldPairs"],
        "keys not in the patch are kept"
    );
    let patch = json!({"target": {"connectionId": foreign, "object": "clients"}});
    let (s, v) = app
        .call(Method::PATCH, &path, Some(&app.owner), Some(patch))
        .await;
    assert_eq!(
        (s, error_fields(&v)),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            vec!["target.connectionId".to_string()]
        )
    );
    let (s, v) = app.call(Method::GET, &path, Some(&app.owner), None).await;
    assert_eq!(
        (s, &v["target"]["connectionId"]),
        (StatusCode::OK, &json!(jobber)),
        "a rejected patch changes nothing"
    );

    let (s, _) = app
        .call(
            Method::DELETE,
            &format!("/v1/connections/{hub}"),
            Some(&app.owner),
            None,
        )
        .await;
    assert_eq!(
        s,
        StatusCode::CONFLICT,
        "a connection in use cannot be deleted"
    );
    let (s, _) = app
        .call(Method::DELETE, &path, Some(&app.owner), None)
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = app.call(Method::GET, &path, Some(&app.owner), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_scheduled_mapping_shows_its_next_five_runs_with_the_zone_offset() {
    let app = App::start().await;
    let hub = app.connection(&app.owner, "hubspot").await;
    let jobber = app.connection(&app.owner, "jobber").await;
    let mut body = mapping_body(&hub, &jobber);
    body["schedule"] = json!({"cron": "0 9 * * *", "timezone": "America/New_York"});
    let (s, v) = app
        .call(Method::POST, "/v1/mappings", Some(&app.owner), Some(body))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let runs: Vec<String> = v["schedule"]["nextRuns"]
        .as_array()
        .expect("nextRuns")
        .iter()
        .map(|r| r.as_str().expect("string").to_string())
        .collect();
    assert_eq!(runs.len(), 5, "{v}");
    let mut last = None;
    for r in &runs {
        let t = chrono::DateTime::parse_from_rfc3339(r).expect("ISO 8601 with offset");
        assert!(
            r.ends_with("-05:00") || r.ends_with("-04:00"),
            "New York offset: {r}"
        );
        assert_eq!(t.format("%H:%M:%S").to_string(), "09:00:00", "{r}");
        assert!(last.is_none_or(|l| t > l), "ascending");
        last = Some(t);
    }
    let (s, v) = app
        .call(
            Method::GET,
            &format!("/v1/mappings/{}", v["id"].as_str().unwrap()),
            Some(&app.owner),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["schedule"]["nextRuns"].as_array().map(Vec::len), Some(5));
}
