//! Syncs: enqueue with broker confirm, conflicts, 503 when the broker is down, record errors.

use fluxcascade_core::{Counts, ProviderKind, RecordError};
use fluxcascade_store::links::BatchCommit;
use reqwest::{Method, StatusCode};
use serde_json::json;
use uuid::Uuid;

use crate::harness::{error_fields, App};

#[tokio::test]
async fn triggering_a_sync_enqueues_a_job() {
    let app = App::start().await;
    let hub = app.connection(&app.owner, "hubspot").await;
    let jobber = app.connection(&app.owner, "jobber").await;
    let mapping = app.mapping(&app.owner, &hub, &jobber).await;

    let (s, v) = app
        .call(
            Method::POST,
            "/v1/syncs",
            Some(&app.owner),
            Some(json!({"mappingId": Uuid::now_v7()})),
        )
        .await;
    assert_eq!(
        (s, error_fields(&v)),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            vec!["mappingId".to_string()]
        )
    );
    let member = app.member_key().await;
    let (s, _) = app
        .call(
            Method::POST,
            "/v1/syncs",
            Some(&member),
            Some(json!({"mappingId": mapping})),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    let body = json!({"mappingId": mapping, "mode": "full"});
    let (s, sync) = app
        .call(
            Method::POST,
            "/v1/syncs",
            Some(&app.owner),
            Some(body.clone()),
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{sync}");
    assert_eq!(sync["status"], "pending");
    assert_eq!(sync["trigger"], "manual");
    assert_eq!(sync["mode"], "full");
    assert_eq!(sync["mappingId"], mapping.as_str());
    assert_eq!(
        sync["counts"],
        json!({"read": 0, "created": 0, "updated": 0, "skipped": 0, "failed": 0, "deleted": 0})
    );
    // A mapping never synced: nothing is known about its total yet, and nothing is waited on.
    assert_eq!(
        (&sync["progress"], &sync["waiting"]),
        (
            &json!({"read": 0, "written": 0, "processed": 0, "total": null, "totalIsEstimate": false}),
            &json!(null)
        )
    );
    assert_eq!(
        app.sync_queue_depth().await,
        1,
        "the job is waiting in {}.sync",
        app.prefix
    );

    let (s, v) = app
        .call(Method::POST, "/v1/syncs", Some(&app.owner), Some(body))
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    assert_eq!(
        app.sync_queue_depth().await,
        1,
        "a refused trigger enqueues nothing"
    );
    let (s, _) = app
        .call(
            Method::DELETE,
            &format!("/v1/mappings/{mapping}"),
            Some(&app.owner),
            None,
        )
        .await;
    assert_eq!(
        s,
        StatusCode::CONFLICT,
        "a mapping with an active sync cannot be deleted"
    );

    let id = sync["id"].as_str().expect("id");
    let (s, got) = app
        .call(Method::GET, &format!("/v1/syncs/{id}"), Some(&member), None)
        .await;
    assert_eq!(
        (s, &got["status"], &got["errors"]),
        (StatusCode::OK, &json!("pending"), &json!([]))
    );
    let (s, page) = app
        .call(
            Method::GET,
            &format!("/v1/syncs?mappingId={mapping}&status=pending"),
            Some(&app.owner),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(page["data"][0]["id"], sync["id"]);
    let (s, page) = app
        .call(
            Method::GET,
            "/v1/syncs?status=completed",
            Some(&app.owner),
            None,
        )
        .await;
    assert_eq!(
        (s, page["data"].as_array().map(Vec::len)),
        (StatusCode::OK, Some(0))
    );
    let (s, errs) = app
        .call(
            Method::GET,
            &format!("/v1/syncs/{id}/errors"),
            Some(&app.owner),
            None,
        )
        .await;
    assert_eq!(
        (s, errs),
        (StatusCode::OK, json!({"data": [], "nextCursor": null}))
    );

    let other = app.other_org().await;
    for path in [format!("/v1/syncs/{id}"), format!("/v1/syncs/{id}/errors")] {
        let (s, _) = app.call(Method::GET, &path, Some(&other), None).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{path}");
    }
    let (s, v) = app
        .call(
            Method::POST,
            "/v1/syncs",
            Some(&other),
            Some(json!({"mappingId": mapping})),
        )
        .await;
    assert_eq!(
        s,
        StatusCode::UNPROCESSABLE_ENTITY,
        "another org's mapping is unknown: {v}"
    );

    let second = app.mapping(&app.owner, &hub, &jobber).await;
    let path = format!("/v1/mappings/{second}");
    let (s, _) = app
        .call(
            Method::PATCH,
            &path,
            Some(&app.owner),
            Some(json!({"enabled": false})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, v) = app
        .call(
            Method::POST,
            "/v1/syncs",
            Some(&app.owner),
            Some(json!({"mappingId": second})),
        )
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("mapping_disabled"))
    );
    assert_eq!(app.sync_queue_depth().await, 1);
}

#[tokio::test]
async fn a_sync_that_cannot_be_enqueued_is_503_and_leaves_no_run() {
    let app = App::start_with(Some("amqp://guest:guest@127.0.0.1:1/%2f")).await;
    let (s, v) = app.call(Method::GET, "/readyz", None, None).await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{v}");
    assert_eq!(
        (
            v["checks"]["database"].as_str(),
            v["checks"]["queue"].as_str()
        ),
        (Some("ok"), Some("unavailable"))
    );
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
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, Some("unavailable")),
        "{v}"
    );
    let (s, v) = app
        .call(Method::GET, "/v1/syncs", Some(&app.owner), None)
        .await;
    assert_eq!(
        (s, v["data"].as_array().map(Vec::len)),
        (StatusCode::OK, Some(0)),
        "the unqueued run was discarded"
    );
    let (s, _) = app
        .call(
            Method::DELETE,
            &format!("/v1/mappings/{mapping}"),
            Some(&app.owner),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT, "no run is left active");
}

#[tokio::test]
async fn record_errors_show_on_the_run_and_page() {
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
    assert_eq!(s, StatusCode::ACCEPTED);
    let id = sync["id"].as_str().expect("id").to_string();
    // What a worker does: start the run and commit a batch with three failed records.
    let org_id = app
        .store
        .authenticate(&app.owner)
        .await
        .expect("auth")
        .expect("owner")
        .org_id;
    let sync_id: Uuid = id.parse().expect("uuid");
    app.store
        .start_sync(org_id, sync_id, std::time::Duration::from_secs(60))
        .await
        .expect("start")
        .expect("run");
    let errors: Vec<RecordError> = (1..=3)
        .map(|i| RecordError {
            record_id: format!("r{i}"),
            code: "invalid_value".into(),
            message: format!("bad {i}"),
        })
        .collect();
    let commit = BatchCommit {
        org_id,
        sync_id,
        mapping_id: mapping.parse().expect("uuid"),
        batch_no: 0,
        side: "source",
        worker: "test".into(),
        counts: Counts {
            read: 5,
            created: 2,
            updated: 0,
            skipped: 0,
            failed: 3,
            deleted: 0,
        },
        max_cursor: None,
        links: Vec::new(),
        dropped_intents: Vec::new(),
        errors,
    };
    assert!(app.store.commit_batch(&commit).await.expect("commit"));

    let (s, run) = app
        .call(
            Method::GET,
            &format!("/v1/syncs/{id}"),
            Some(&app.owner),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(run["status"], "running");
    assert!(run["startedAt"].is_string());
    assert_eq!(
        run["counts"],
        json!({"read": 5, "created": 2, "updated": 0, "skipped": 0, "failed": 3, "deleted": 0})
    );
    assert_eq!(
        run["errors"][0],
        json!({"recordId": "r1", "code": "invalid_value", "message": "bad 1"})
    );
    assert_eq!(run["errors"].as_array().map(Vec::len), Some(3));
    // 2 created + 3 failed of 5 read; a first run has no estimate until its pages are read.
    assert_eq!(
        run["progress"],
        json!({"read": 5, "written": 2, "processed": 5, "total": null, "totalIsEstimate": false})
    );
    assert_eq!(run["waiting"], json!(null));

    // What a worker does when Jobber's rate limit defers the run's next batch.
    app.store
        .run_waiting(
            sync_id,
            ProviderKind::Jobber,
            std::time::Duration::from_secs(300),
            std::time::Duration::from_secs(60),
        )
        .await
        .expect("waiting");
    for path in [
        format!("/v1/syncs/{id}"),
        format!("/v1/syncs?mappingId={mapping}"),
    ] {
        let (s, v) = app.call(Method::GET, &path, Some(&app.owner), None).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        let waiting = if v["data"].is_array() {
            &v["data"][0]["waiting"]
        } else {
            &v["waiting"]
        };
        assert_eq!(
            (&waiting["reason"], &waiting["provider"]),
            (&json!("rate_limit"), &json!("jobber")),
            "{path}: {v}"
        );
        let until: chrono::DateTime<chrono::Utc> = waiting["until"]
            .as_str()
            .and_then(|t| t.parse().ok())
            .unwrap_or_else(|| panic!("{path}: until is RFC 3339: {v}"));
        assert!(
            until > chrono::Utc::now() + chrono::Duration::seconds(240),
            "{v}"
        );
    }
    let (_, doc) = app.call(Method::GET, "/openapi.json", None, None).await;
    let schemas = &doc["components"]["schemas"];
    let view = &schemas["SyncView"]["properties"];
    assert!(
        view["progress"].is_object() && view["waiting"].is_object(),
        "SyncView documents progress and waiting: {view}"
    );
    for (schema, fields) in [
        (
            "Progress",
            &["read", "written", "processed", "total", "totalIsEstimate"][..],
        ),
        ("Waiting", &["reason", "provider", "until"][..]),
    ] {
        for field in fields {
            assert!(
                schemas[schema]["properties"][field].is_object(),
                "{schema}.{field} documented: {}",
                schemas[schema]
            );
        }
    }
    assert_eq!(schemas["WaitReason"]["enum"], json!(["rate_limit"]));

    let mut seen = Vec::new();
    let mut path = format!("/v1/syncs/{id}/errors?limit=2");
    loop {
        let (s, page) = app.call(Method::GET, &path, Some(&app.owner), None).await;
        assert_eq!(s, StatusCode::OK, "{page}");
        let data = page["data"].as_array().expect("data");
        assert!(data.len() <= 2);
        seen.extend(
            data.iter()
                .filter_map(|e| e["recordId"].as_str().map(String::from)),
        );
        match page["nextCursor"].as_str() {
            Some(c) => path = format!("/v1/syncs/{id}/errors?limit=2&cursor={c}"),
            None => break,
        }
        assert!(seen.len() <= 3, "paging must end");
    }
    assert_eq!(seen, ["r1", "r2", "r3"]);
}
