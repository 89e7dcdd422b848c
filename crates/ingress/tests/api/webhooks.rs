//! Outbound webhooks: the secret is shown once, validation names each field, other orgs get 404,
//! roles, list paging, and the delivery log (newest first, paged, with attempts).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::harness::{error_fields, App};

async fn create(app: &App, key: &str, url: &str, events: &[&str]) -> (StatusCode, Value) {
    app.call(
        Method::POST,
        "/v1/webhooks",
        Some(key),
        Some(json!({"url": url, "events": events})),
    )
    .await
}

#[tokio::test]
async fn the_secret_is_returned_once_and_never_again() {
    let app = App::start().await;
    let (s, created) = create(
        &app,
        &app.owner,
        "https://hooks.example.com/fc",
        &["sync.completed", "connection.expired"],
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{created}");
    let secret = created["secret"].as_str().expect("secret").to_string();
    assert!(
        secret.starts_with("whsec_") && secret.len() > 40,
        "{secret}"
    );
    assert_eq!(created["url"], "https://hooks.example.com/fc");
    assert_eq!(
        created["events"],
        json!(["sync.completed", "connection.expired"])
    );
    assert!(created["createdAt"].is_string());
    let id = created["id"].as_str().expect("id").to_string();

    let (s, one) = app
        .call(
            Method::GET,
            &format!("/v1/webhooks/{id}"),
            Some(&app.owner),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(one["id"], id.as_str());
    assert!(one.get("secret").is_none(), "{one}");
    let (s, list) = app
        .call(Method::GET, "/v1/webhooks", Some(&app.owner), None)
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(list["data"].as_array().map(Vec::len), Some(1));
    for text in [one.to_string(), list.to_string()] {
        assert!(!text.contains(&secret), "the secret leaked: {text}");
    }

    // The secret is sealed at rest, not stored in plaintext.
    let (db, conn) = tokio_postgres::connect(
        &format!("postgres://postgres@127.0.0.1:5432/{}", app.db),
        tokio_postgres::NoTls,
    )
    .await
    .expect("db");
    tokio::spawn(conn);
    let stored: Vec<u8> = db
        .query_one("SELECT secret FROM webhooks", &[])
        .await
        .expect("row")
        .get(0);
    assert!(!stored.windows(secret.len()).any(|w| w == secret.as_bytes()));
}

#[tokio::test]
async fn validation_names_each_field() {
    let app = App::start().await;
    let cases: [(Value, &[&str]); 7] = [
        (
            json!({"url": "/relative", "events": ["sync.completed"]}),
            &["url"],
        ),
        (
            json!({"url": "ftp://example.com/x", "events": ["sync.completed"]}),
            &["url"],
        ),
        (json!({"url": "https://x.test", "events": []}), &["events"]),
        (
            json!({"url": "https://x.test", "events": ["sync.completed", "sync.done"]}),
            &["events[1]"],
        ),
        (
            json!({"url": "nope", "events": ["sync.failed", "x", "connection.expired"]}),
            &["url", "events[1]"],
        ),
        (json!({"events": ["sync.failed"]}), &["url"]),
        (
            json!({"url": "https://x.test", "events": "sync.failed"}),
            &["events"],
        ),
    ];
    for (body, want) in cases {
        let (s, v) = app
            .call(
                Method::POST,
                "/v1/webhooks",
                Some(&app.owner),
                Some(body.clone()),
            )
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body} → {v}");
        assert_eq!(error_fields(&v), want, "{body}");
    }
    let (_, list) = app
        .call(Method::GET, "/v1/webhooks", Some(&app.owner), None)
        .await;
    assert_eq!(list["data"], json!([]), "nothing invalid was stored");
}

#[tokio::test]
async fn urls_reaching_our_network_are_refused_and_never_contacted() {
    let app = App::start().await;
    // A loopback listener standing in for an internal service: it must see no connection.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let contacted = Arc::new(AtomicUsize::new(0));
    let counter = contacted.clone();
    tokio::spawn(async move {
        while listener.accept().await.is_ok() {
            counter.fetch_add(1, Ordering::SeqCst);
        }
    });
    let refused = [
        format!("https://127.0.0.1:{port}/"),
        "https://127.0.0.1:5432/".to_string(),
        format!("https://[::1]:{port}/"),
        format!("https://2130706433:{port}/"),
        format!("https://0x7f.1:{port}/"),
        format!("https://0177.0.0.1:{port}/"),
        format!("https://127.1:{port}/"),
        format!("https://[::ffff:127.0.0.1]:{port}/"),
        format!("https://localhost:{port}/"),
        "https://0.0.0.0/".to_string(),
        "https://169.254.169.254/latest/meta-data/".to_string(),
        "https://10.0.0.1/".to_string(),
        "https://internal.example.com/".to_string(),
        format!("http://127.0.0.1:{port}/"),
        "http://example.com/".to_string(),
        format!("https://hooks.example.com/{}", "a".repeat(2048)),
    ];
    for url in &refused {
        let (s, v) = create(&app, &app.owner, url, &["sync.completed"]).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{url} → {v}");
        assert_eq!(error_fields(&v), ["url"], "{url} → {v}");
    }
    let (s, v) = create(&app, &app.owner, "https://[::1]/", &["sync.completed"]).await;
    let message = v["error"]["details"][0]["message"]
        .as_str()
        .unwrap_or_default();
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(message.contains("loopback"), "{v}");

    let (s, v) = create(
        &app,
        &app.owner,
        "https://hooks.example.com/fc",
        &["sync.completed"],
    )
    .await;
    assert_eq!(
        s,
        StatusCode::CREATED,
        "a public https URL is accepted: {v}"
    );
    let (_, list) = app
        .call(Method::GET, "/v1/webhooks", Some(&app.owner), None)
        .await;
    assert_eq!(list["data"].as_array().map(Vec::len), Some(1), "{list}");
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert_eq!(
        contacted.load(Ordering::SeqCst),
        0,
        "the ingress connected to loopback"
    );
}

#[tokio::test]
async fn members_read_only_and_keys_are_required() {
    let app = App::start().await;
    let member = app.member_key().await;
    let (s, _) = create(&app, &member, "https://x.test", &["sync.failed"]).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = app
        .call(
            Method::POST,
            "/v1/webhooks",
            None,
            Some(json!({"url": "https://x.test", "events": ["sync.failed"]})),
        )
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (_, created) = create(&app, &app.owner, "https://x.test", &["sync.failed"]).await;
    let path = format!("/v1/webhooks/{}", created["id"].as_str().expect("id"));
    let (s, _) = app.call(Method::GET, &path, Some(&member), None).await;
    assert_eq!(s, StatusCode::OK, "members read");
    let (s, _) = app.call(Method::DELETE, &path, Some(&member), None).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = app.call(Method::GET, &path, None, None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn another_orgs_webhook_is_404_and_delete_removes_it() {
    let app = App::start().await;
    let other = app.other_org().await;
    let (_, created) = create(&app, &app.owner, "https://x.test", &["sync.partial"]).await;
    let id = created["id"].as_str().expect("id").to_string();
    for (method, path) in [
        (Method::GET, format!("/v1/webhooks/{id}")),
        (Method::GET, format!("/v1/webhooks/{id}/deliveries")),
        (Method::DELETE, format!("/v1/webhooks/{id}")),
    ] {
        let (s, v) = app.call(method.clone(), &path, Some(&other), None).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{method} {path}: {v}");
    }
    let (_, list) = app
        .call(Method::GET, "/v1/webhooks", Some(&other), None)
        .await;
    assert_eq!(list["data"], json!([]));

    let path = format!("/v1/webhooks/{id}");
    let (s, _) = app
        .call(Method::DELETE, &path, Some(&app.owner), None)
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = app.call(Method::GET, &path, Some(&app.owner), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = app
        .call(Method::DELETE, &path, Some(&app.owner), None)
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = app
        .call(
            Method::GET,
            "/v1/webhooks/not-a-uuid",
            Some(&app.owner),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn webhooks_list_pages() {
    let app = App::start().await;
    for i in 0..3 {
        let (s, _) = create(
            &app,
            &app.owner,
            &format!("https://x.test/{i}"),
            &["sync.failed"],
        )
        .await;
        assert_eq!(s, StatusCode::CREATED);
    }
    let (_, first) = app
        .call(Method::GET, "/v1/webhooks?limit=2", Some(&app.owner), None)
        .await;
    let urls = |v: &Value| -> Vec<String> {
        v["data"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|w| w["url"].as_str().map(str::to_string))
            .collect()
    };
    assert_eq!(urls(&first), ["https://x.test/0", "https://x.test/1"]);
    let cursor = first["nextCursor"].as_str().expect("next page");
    let (_, second) = app
        .call(
            Method::GET,
            &format!("/v1/webhooks?limit=2&cursor={cursor}"),
            Some(&app.owner),
            None,
        )
        .await;
    assert_eq!(urls(&second), ["https://x.test/2"]);
    assert_eq!(second["nextCursor"], Value::Null);
}

#[tokio::test]
async fn the_delivery_log_is_newest_first_paged_and_shows_attempts() {
    let app = App::start().await;
    let org = app.org_id().await;
    let (_, created) = create(&app, &app.owner, "https://x.test", &["sync.completed"]).await;
    let id = created["id"].as_str().expect("id").to_string();

    let mut deliveries = Vec::new();
    for n in 0..3 {
        let ids = app
            .store
            .record_event(org, "sync.completed", Uuid::now_v7(), &json!({"n": n}))
            .await
            .expect("event");
        assert_eq!(ids.len(), 1, "one subscriber, one delivery");
        deliveries.push(ids[0]);
    }
    let unsubscribed = app
        .store
        .record_event(org, "sync.failed", Uuid::now_v7(), &json!({}))
        .await
        .expect("event");
    assert!(unsubscribed.is_empty(), "not subscribed to sync.failed");

    // Two logged attempts on the oldest delivery: a 500, then a network error.
    let (db, conn) = tokio_postgres::connect(
        &format!("postgres://postgres@127.0.0.1:5432/{}", app.db),
        tokio_postgres::NoTls,
    )
    .await
    .expect("db");
    tokio::spawn(conn);
    db.execute(
        "INSERT INTO webhook_attempts (delivery_id, attempt, org_id, response_status, error, duration_ms)
         VALUES ($1, 1, $2, 500, NULL, 12), ($1, 2, $2, NULL, 'connection refused', 3)",
        &[&deliveries[0], &org],
    )
    .await
    .expect("attempts");

    let path = format!("/v1/webhooks/{id}/deliveries");
    let (s, first) = app
        .call(
            Method::GET,
            &format!("{path}?limit=2"),
            Some(&app.owner),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{first}");
    let ids = |v: &Value| -> Vec<String> {
        v["data"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|d| d["id"].as_str().map(str::to_string))
            .collect()
    };
    assert_eq!(
        ids(&first),
        [deliveries[2].to_string(), deliveries[1].to_string()]
    );
    assert_eq!(first["data"][0]["eventType"], "sync.completed");
    assert_eq!(first["data"][0]["status"], "pending");
    assert_eq!(first["data"][0]["attempts"], json!([]));
    assert!(first["data"][0]["eventId"].is_string());
    let cursor = first["nextCursor"].as_str().expect("a second page");
    let (_, second) = app
        .call(
            Method::GET,
            &format!("{path}?limit=2&cursor={cursor}"),
            Some(&app.owner),
            None,
        )
        .await;
    assert_eq!(ids(&second), [deliveries[0].to_string()]);
    assert_eq!(second["nextCursor"], Value::Null);
    let attempts = second["data"][0]["attempts"].as_array().expect("attempts");
    assert_eq!(attempts.len(), 2);
    assert_eq!(
        (
            &attempts[0]["attempt"],
            &attempts[0]["responseStatus"],
            &attempts[0]["durationMs"]
        ),
        (&json!(1), &json!(500), &json!(12))
    );
    assert_eq!(attempts[1]["responseStatus"], Value::Null);
    assert_eq!(attempts[1]["error"], "connection refused");
    assert!(attempts[1]["at"].is_string());

    let (s, v) = app
        .call(
            Method::GET,
            &format!("{path}?cursor=zzz"),
            Some(&app.owner),
            None,
        )
        .await;
    assert_eq!(
        (s, error_fields(&v)),
        (StatusCode::UNPROCESSABLE_ENTITY, vec!["cursor".to_string()])
    );
}
