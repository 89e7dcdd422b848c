//! API tests: the real router on port 0, a private Postgres database and a real RabbitMQ publisher.

use std::sync::Arc;
use std::time::Duration;

use fluxcascade_ingress::{Ingress, IngressConfig};
use fluxcascade_queue::{Publisher, QueueConfig, Topology};
use fluxcascade_store::orgs::Role;
use fluxcascade_store::{MasterKey, Store};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

const PG_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";
const AMQP_URL: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";

/// One isolated API: its own database and queue prefix, dropped at the end (even on panic).
struct App {
    base: String,
    http: reqwest::Client,
    store: Store,
    db: String,
    prefix: String,
    shutdown: CancellationToken,
    /// The first org's owner key.
    owner: String,
}

impl App {
    async fn start() -> App {
        let short = Uuid::new_v4().simple().to_string();
        let db = format!("fluxcascade_test_{short}");
        let prefix = format!("ingress_test_{short}");
        let db_url = format!("postgres://postgres@127.0.0.1:5432/{db}");
        fluxcascade_store::ensure_database(&db_url)
            .await
            .expect("create database");
        let store = Store::connect(&db_url, 8).expect("store");
        store.migrate().await.expect("migrate");
        let publisher = Publisher::connect(&QueueConfig::new(AMQP_URL, &prefix))
            .await
            .expect("publisher");
        let key = Arc::new(MasterKey::from_base64(&MasterKey::generate_base64()).expect("key"));
        let config = IngressConfig {
            listen: "127.0.0.1:0".into(),
            max_body_bytes: 1024 * 1024,
        };
        let ingress = Ingress::build(config, store.clone(), publisher, key)
            .await
            .expect("build");
        let base = format!("http://{}", ingress.local_addr());
        let shutdown = CancellationToken::new();
        tokio::spawn(ingress.run_until_stopped(shutdown.clone()));
        let (_, owner) = store
            .create_org("Acme", "owner@acme.test")
            .await
            .expect("org");
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(20))
            .build()
            .expect("client");
        App {
            base,
            http,
            store,
            db,
            prefix,
            shutdown,
            owner,
        }
    }

    /// A new org's owner key.
    async fn other_org(&self) -> String {
        self.store
            .create_org("Other", "owner@other.test")
            .await
            .expect("org")
            .1
    }

    async fn member_key(&self) -> String {
        let p = self
            .store
            .authenticate(&self.owner)
            .await
            .expect("auth")
            .expect("owner");
        self.store
            .create_api_key(p.org_id, Role::Member, "member")
            .await
            .expect("key")
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        key: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(k) = key {
            req = req.bearer_auth(k);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status();
        let text = resp.text().await.expect("body");
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    async fn raw(
        &self,
        method: Method,
        path: &str,
        key: &str,
        body: Vec<u8>,
    ) -> (StatusCode, Value) {
        let resp = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(key)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("request");
        let status = resp.status();
        let text = resp.text().await.expect("body");
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    async fn connection(&self, key: &str, provider: &str) -> String {
        let body = json!({"provider": provider, "accountName": "Acct", "credentials": {"accessToken": "tok-secret-123"}});
        let (status, v) = self
            .call(Method::POST, "/v1/connections", Some(key), Some(body))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{v}");
        v["id"].as_str().expect("id").to_string()
    }

    async fn mapping(&self, key: &str, source: &str, target: &str) -> String {
        let (status, v) = self
            .call(
                Method::POST,
                "/v1/mappings",
                Some(key),
                Some(mapping_body(source, target)),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{v}");
        v["id"].as_str().expect("id").to_string()
    }

    /// Messages waiting in `{prefix}.sync`.
    async fn sync_queue_depth(&self) -> u32 {
        let conn = lapin::Connection::connect(
            AMQP_URL,
            lapin::ConnectionProperties::default()
                .with_executor(tokio_executor_trait::Tokio::current())
                .with_reactor(tokio_reactor_trait::Tokio),
        )
        .await
        .expect("amqp");
        let ch = conn.create_channel().await.expect("channel");
        let q = ch
            .queue_declare(
                &format!("{}.sync", self.prefix),
                lapin::options::QueueDeclareOptions {
                    passive: true,
                    ..Default::default()
                },
                lapin::types::FieldTable::default(),
            )
            .await
            .expect("the sync queue exists");
        let n = q.message_count();
        let _ = conn.close(200, "bye").await;
        n
    }
}

impl Drop for App {
    fn drop(&mut self) {
        self.shutdown.cancel();
        let (db, prefix) = (self.db.clone(), self.prefix.clone());
        // Own runtime on a plain thread: Drop runs inside the test's runtime.
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async move {
                if let Ok((c, conn)) =
                    tokio_postgres::connect(PG_ADMIN_URL, tokio_postgres::NoTls).await
                {
                    tokio::spawn(conn);
                    let _ = c
                        .batch_execute(&format!("DROP DATABASE IF EXISTS \"{db}\" WITH (FORCE)"))
                        .await;
                }
                let _ = Topology::delete(AMQP_URL, &prefix).await;
            });
        })
        .join();
    }
}

fn mapping_body(source: &str, target: &str) -> Value {
    json!({
        "name": "HubSpot contacts to Jobber clients",
        "source": {"connectionId": source, "object": "contacts"},
        "target": {"connectionId": target, "object": "clients"},
        "fieldPairs": [
            {"sourceField": "firstname", "targetField": "firstName"},
            {"sourceField": "email", "targetField": "emails[0].address", "transform": "lowercase"}
        ],
        "match": {"sourceField": "email", "targetField": "emails[0].address"}
    })
}

fn error_fields(v: &Value) -> Vec<String> {
    v["error"]["details"]
        .as_array()
        .map(|d| {
            d.iter()
                .filter_map(|x| x["field"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn authentication_roles_and_malformed_requests() {
    let app = App::start().await;
    let (s, v) = app.call(Method::GET, "/v1/connections", None, None).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("unauthorized"))
    );
    let (s, _) = app
        .call(Method::GET, "/v1/connections", Some("fc_not_a_key"), None)
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);

    let (s, v) = app
        .raw(
            Method::POST,
            "/v1/connections",
            &app.owner,
            b"{\"provider\": ".to_vec(),
        )
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("bad_json")),
        "{v}"
    );
    let (s, v) = app
        .call(
            Method::POST,
            "/v1/connections",
            Some(&app.owner),
            Some(json!({"provider": "hubspot", "credentials": {}})),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_fields(&v), ["credentials.accessToken"]);
    let body = json!({"provider": "zoho", "credentials": {"accessToken": "t"}});
    let (s, v) = app
        .call(
            Method::POST,
            "/v1/connections",
            Some(&app.owner),
            Some(body),
        )
        .await;
    assert_eq!(
        (s, error_fields(&v)),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            vec!["provider".to_string()]
        )
    );

    let member = app.member_key().await;
    let body = json!({"provider": "hubspot", "credentials": {"accessToken": "t"}});
    let (s, v) = app
        .call(Method::POST, "/v1/connections", Some(&member), Some(body))
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("forbidden"))
    );
    let (s, _) = app
        .call(Method::GET, "/v1/connections", Some(&member), None)
        .await;
    assert_eq!(s, StatusCode::OK, "members may read");

    for path in [
        "/v1/connections/not-a-uuid",
        "/v1/nothing-here",
        "/v1/syncs/123/errors",
    ] {
        let (s, v) = app.call(Method::GET, path, Some(&app.owner), None).await;
        assert_eq!(
            (s, v["error"]["code"].as_str()),
            (StatusCode::NOT_FOUND, Some("not_found")),
            "{path}"
        );
    }
    let (s, v) = app
        .call(Method::PUT, "/v1/connections", Some(&app.owner), None)
        .await;
    assert_eq!(s, StatusCode::METHOD_NOT_ALLOWED);
    assert!(
        v["error"]["code"].is_string(),
        "JSON error even for 405: {v}"
    );

    let (s, v) = app.call(Method::GET, "/healthz", None, None).await;
    assert_eq!((s, v), (StatusCode::OK, json!({"status": "ok"})));
    let (s, _) = app.call(Method::GET, "/readyz", None, None).await;
    assert_eq!(s, StatusCode::OK);
    let (s, v) = app.call(Method::GET, "/metrics", None, None).await;
    assert_eq!(s, StatusCode::OK);
    let text = v.as_str().unwrap_or_default();
    assert!(
        text.contains("fluxcascade_http_requests_total{route=\"/v1/connections\",status=\"401\"}"),
        "{text}"
    );
}

#[tokio::test]
async fn connections_hide_tokens_page_and_stay_in_their_org() {
    let app = App::start().await;
    let body = json!({
        "provider": "salesforce", "accountName": "Acme SF", "externalAccountId": "00D1",
        "credentials": {"accessToken": "tok-secret-123", "refreshToken": "refresh-secret-456",
                        "expiresAt": "2030-01-01T00:00:00Z"},
        "instanceUrl": "https://acme.my.salesforce.com"
    });
    let resp = app
        .http
        .post(format!("{}/v1/connections", app.base))
        .bearer_auth(&app.owner)
        .json(&body)
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), StatusCode::CREATED);
    let text = resp.text().await.expect("body");
    assert!(
        !text.contains("secret"),
        "a connection never shows its tokens: {text}"
    );
    let created: Value = serde_json::from_str(&text).expect("json");
    assert_eq!(created["provider"], "salesforce");
    assert_eq!(created["status"], "active");
    assert_eq!(created["accountName"], "Acme SF");
    assert_eq!(created["externalAccountId"], "00D1");
    let id = created["id"].as_str().expect("id").to_string();

    let (s, got) = app
        .call(
            Method::GET,
            &format!("/v1/connections/{id}"),
            Some(&app.owner),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert!(!got.to_string().contains("secret"));
    assert_eq!(got["createdAt"], created["createdAt"]);

    let other = app.other_org().await;
    let (s, _) = app
        .call(
            Method::GET,
            &format!("/v1/connections/{id}"),
            Some(&other),
            None,
        )
        .await;
    assert_eq!(
        s,
        StatusCode::NOT_FOUND,
        "another org's connection does not exist for the caller"
    );
    let (s, _) = app
        .call(
            Method::DELETE,
            &format!("/v1/connections/{id}"),
            Some(&other),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, v) = app
        .call(Method::GET, "/v1/connections", Some(&other), None)
        .await;
    assert_eq!(
        (s, v["data"].as_array().map(Vec::len)),
        (StatusCode::OK, Some(0))
    );

    let mut ids = vec![id.clone()];
    ids.push(app.connection(&app.owner, "hubspot").await);
    ids.push(app.connection(&app.owner, "jobber").await);
    let mut seen = Vec::new();
    let mut path = "/v1/connections?limit=1".to_string();
    loop {
        let (s, page) = app.call(Method::GET, &path, Some(&app.owner), None).await;
        assert_eq!(s, StatusCode::OK, "{page}");
        let data = page["data"].as_array().expect("data");
        assert!(data.len() <= 1);
        seen.extend(
            data.iter()
                .filter_map(|c| c["id"].as_str().map(str::to_string)),
        );
        match page["nextCursor"].as_str() {
            Some(c) => path = format!("/v1/connections?limit=1&cursor={c}"),
            None => break,
        }
        assert!(seen.len() <= 3, "paging must end");
    }
    assert_eq!(
        seen, ids,
        "limit=1 walks every connection once, in creation order"
    );
    let (s, v) = app
        .call(
            Method::GET,
            "/v1/connections?limit=0",
            Some(&app.owner),
            None,
        )
        .await;
    assert_eq!(
        (s, error_fields(&v)),
        (StatusCode::UNPROCESSABLE_ENTITY, vec!["limit".to_string()])
    );

    let (s, _) = app
        .call(
            Method::DELETE,
            &format!("/v1/connections/{id}"),
            Some(&app.owner),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = app
        .call(
            Method::GET,
            &format!("/v1/connections/{id}"),
            Some(&app.owner),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

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
        json!({"read": 0, "created": 0, "updated": 0, "skipped": 0, "failed": 0})
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
async fn bodies_over_the_limit_are_413() {
    let app = App::start().await;
    let mut big = br#"{"provider":"hubspot","accountName":""#.to_vec();
    big.extend(std::iter::repeat_n(b'a', 1024 * 1024 + 10));
    big.extend(br#"","credentials":{"accessToken":"t"}}"#);
    let (s, v) = app
        .raw(Method::POST, "/v1/connections", &app.owner, big)
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, Some("too_large")),
        "{v}"
    );
    let (s, v) = app
        .call(Method::GET, "/v1/connections", Some(&app.owner), None)
        .await;
    assert_eq!(
        (s, v["data"].as_array().map(Vec::len)),
        (StatusCode::OK, Some(0)),
        "nothing was stored"
    );
}
