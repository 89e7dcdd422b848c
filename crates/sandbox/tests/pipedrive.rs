//! Pipedrive emulation over HTTP: v2 cursor paging, `updated_since`, validation, the 2-second
//! burst limit and daily token budget, 401s, and v2 webhooks with HTTP Basic credentials.

mod common;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::post;
use axum::Router;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use common::{start, start_with, TestSandbox};
use serde_json::{json, Value};

/// authorize → code → token with HTTP Basic client authentication; the access token.
async fn token(t: &TestSandbox, account: Option<&str>) -> String {
    let mut extra = vec![("state", "s")];
    if let Some(a) = account {
        extra.push(("account", a));
    }
    let code = t.authorize_code("/pipedrive/oauth/authorize", &extra).await;
    let r = t
        .http
        .post(t.url("/pipedrive/oauth/token"))
        .basic_auth("sandbox-client", Some("sandbox-secret"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", "http://localhost/cb"),
        ])
        .send()
        .await
        .expect("token");
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.expect("token json");
    assert_eq!(body["api_domain"], t.url("/pipedrive"));
    body["access_token"]
        .as_str()
        .expect("access_token")
        .to_owned()
}

/// Calls the Pipedrive API; (status, headers, body).
async fn pd(
    t: &TestSandbox,
    token: &str,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (u16, HeaderMap, Value) {
    let m = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
    let mut req = t
        .http
        .request(m, t.url(&format!("/pipedrive{path}")))
        .bearer_auth(token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send().await.expect("pipedrive call");
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let text = r.text().await.expect("body");
    (
        status,
        headers,
        serde_json::from_str(&text).unwrap_or(Value::Null),
    )
}

fn header(h: &HeaderMap, name: &str) -> Option<u64> {
    h.get(name)?.to_str().ok()?.parse().ok()
}

#[tokio::test]
async fn cursor_paging_returns_every_person_once_in_v2_shape() {
    let t = start().await;
    t.seed("pipedrive", "persons", 250).await;
    let tok = token(&t, None).await;
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v2/persons?limit=100&cursor={c}"),
            None => "/api/v2/persons?limit=100".to_owned(),
        };
        let (status, _, body) = pd(&t, &tok, "GET", &path, None).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["success"], true);
        pages += 1;
        for p in body["data"].as_array().expect("data") {
            seen.push(p["id"].as_u64().expect("numeric id"));
        }
        match &body["additional_data"]["next_cursor"] {
            Value::String(c) => cursor = Some(c.clone()),
            Value::Null => break,
            other => panic!("next_cursor {other}"),
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen.len(), 250);
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 250);
    assert!(seen.windows(2).all(|w| w[0] < w[1]), "id order");

    let (_, _, body) = pd(&t, &tok, "GET", "/api/v2/persons?limit=1", None).await;
    let p = &body["data"][0];
    let name = p["name"].as_str().expect("name");
    assert_eq!(
        format!(
            "{} {}",
            p["first_name"].as_str().unwrap(),
            p["last_name"].as_str().unwrap()
        ),
        name
    );
    assert!(p["emails"][0]["value"].as_str().unwrap().contains('@'));
    assert_eq!(p["emails"][0]["primary"], true);
    assert!(p["phones"][0]["value"].as_str().unwrap().contains("555"));
    assert_eq!(p["is_deleted"], false);
    assert!(p["custom_fields"].is_object());
    let updated = p["update_time"].as_str().unwrap();
    assert!(chrono::DateTime::parse_from_rfc3339(updated).is_ok());
    assert_eq!(updated.len(), "2024-01-01T00:00:00Z".len(), "{updated}");

    let (status, _, body) = pd(&t, &tok, "GET", "/api/v2/persons?limit=501", None).await;
    assert_eq!(status, 400);
    assert_eq!(body["success"], false);
    assert!(body["error"].as_str().unwrap().contains("limit"));
}

#[tokio::test]
async fn updated_since_returns_exactly_the_changed_records() {
    let t = start().await;
    t.seed("pipedrive", "organizations", 30).await;
    let tok = token(&t, None).await;
    // Seeded records end one second ago; wait until a later second starts.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let since = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    for id in [3, 17, 29] {
        let r = t
            .http
            .patch(t.url(&format!("/_sandbox/pipedrive/organizations/{id}")))
            .json(&json!({"name": format!("Renamed {id}")}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    let path = format!(
        "/api/v2/organizations?updated_since={}&sort_by=update_time&sort_direction=asc&limit=2",
        urlencode(&since)
    );
    let mut got = Vec::new();
    let mut path = path;
    loop {
        let (status, _, body) = pd(&t, &tok, "GET", &path, None).await;
        assert_eq!(status, 200, "{body}");
        for o in body["data"].as_array().unwrap() {
            assert!(o["name"].as_str().unwrap().starts_with("Renamed"));
            got.push(o["id"].as_u64().unwrap());
        }
        match body["additional_data"]["next_cursor"].as_str() {
            Some(c) => path = format!("{}&cursor={c}", path.split("&cursor=").next().unwrap()),
            None => break,
        }
    }
    got.sort_unstable();
    assert_eq!(got, vec![3, 17, 29]);
    let (_, _, body) = pd(&t, &tok, "GET", "/api/v2/organizations?ids=3,4,999", None).await;
    let ids: Vec<u64> = body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_u64().unwrap())
        .collect();
    assert_eq!(ids, vec![3, 4]);
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[tokio::test]
async fn writes_are_validated_like_v2_and_missing_records_are_404() {
    let t = start().await;
    let tok = token(&t, None).await;
    let (status, _, body) = pd(
        &t,
        &tok,
        "POST",
        "/api/v2/persons",
        Some(json!({"name": "Ada Lovelace", "emails": [{"value": "ada@example.com", "label": "work"}]})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let id = body["data"]["id"].as_u64().unwrap();
    assert_eq!(body["data"]["first_name"], "Ada");
    let (status, _, body) = pd(
        &t,
        &tok,
        "PATCH",
        &format!("/api/v2/persons/{id}"),
        Some(json!({"org_id": "12"})),
    )
    .await;
    assert_eq!(status, 400, "numbers are not coerced: {body}");
    assert_eq!(body["success"], false);
    assert!(body["error_info"].is_string());
    let (status, _, _) = pd(&t, &tok, "POST", "/api/v2/deals", Some(json!({"value": 5}))).await;
    assert_eq!(status, 400, "a deal needs a title");
    let (status, _, body) = pd(&t, &tok, "GET", "/api/v2/deals/424242", None).await;
    assert_eq!(status, 404);
    assert_eq!(body["error"], "Deal not found");
    let (status, _, body) = pd(&t, &tok, "DELETE", &format!("/api/v2/persons/{id}"), None).await;
    assert_eq!(status, 200);
    assert_eq!(body["data"]["id"], id);
    let (status, _, _) = pd(&t, &tok, "GET", &format!("/api/v2/persons/{id}"), None).await;
    assert_eq!(status, 404);
    let stats: Value = t
        .http
        .get(t.url("/_sandbox/stats"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let writes = stats["writes"].as_array().unwrap();
    assert!(writes
        .iter()
        .any(|w| w["provider"] == "pipedrive" && w["object"] == "persons" && w["count"] == 2));
}

#[tokio::test]
async fn burst_limit_answers_429_with_rate_limit_headers() {
    let t = start_with(true).await;
    t.config(json!({"rateLimits": {"pipedrive": {"burstPerTwoSeconds": 5}}}))
        .await;
    let tok = token(&t, None).await;
    let mut remaining = Vec::new();
    for _ in 0..5 {
        let (status, h, _) = pd(&t, &tok, "GET", "/api/v2/persons", None).await;
        assert_eq!(status, 200);
        assert_eq!(header(&h, "x-ratelimit-limit"), Some(5));
        assert!(header(&h, "x-ratelimit-reset").is_some_and(|r| (1..=2).contains(&r)));
        remaining.push(header(&h, "x-ratelimit-remaining").unwrap());
    }
    assert_eq!(remaining, vec![4, 3, 2, 1, 0]);
    let (status, h, body) = pd(&t, &tok, "GET", "/api/v2/persons", None).await;
    assert_eq!(status, 429);
    assert_eq!(body["success"], false);
    assert_eq!(body["errorCode"], 429);
    assert_eq!(header(&h, "x-ratelimit-remaining"), Some(0));
    let reset = header(&h, "x-ratelimit-reset").expect("reset header");
    assert!((1..=2).contains(&reset));
    tokio::time::sleep(Duration::from_secs(reset)).await;
    let (status, _, _) = pd(&t, &tok, "GET", "/api/v2/persons", None).await;
    assert_eq!(status, 200, "the window has moved on");
}

#[tokio::test]
async fn daily_token_budget_counts_by_request_kind() {
    let t = start_with(true).await;
    t.config(json!({"rateLimits": {"pipedrive": {"dailyTokens": 26}}}))
        .await;
    let tok = token(&t, None).await;
    let (_, h, _) = pd(&t, &tok, "GET", "/api/v2/persons", None).await;
    assert_eq!(
        header(&h, "x-daily-requests-left"),
        Some(16),
        "a list costs 10"
    );
    let (_, h, body) = pd(
        &t,
        &tok,
        "POST",
        "/api/v2/persons",
        Some(json!({"name": "X"})),
    )
    .await;
    assert_eq!(
        header(&h, "x-daily-requests-left"),
        Some(11),
        "a create costs 5"
    );
    let id = body["data"]["id"].as_u64().unwrap();
    let (_, h, _) = pd(&t, &tok, "GET", &format!("/api/v2/persons/{id}"), None).await;
    assert_eq!(
        header(&h, "x-daily-requests-left"),
        Some(10),
        "a get costs 1"
    );
    let (status, _, _) = pd(&t, &tok, "GET", "/api/v2/persons", None).await;
    assert_eq!(status, 200);
    let (status, h, body) = pd(&t, &tok, "GET", "/api/v2/persons", None).await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(header(&h, "x-daily-requests-left"), Some(0));
    // A reset restores the budget.
    t.http.post(t.url("/_sandbox/reset")).send().await.unwrap();
    let (status, _, _) = pd(&t, &tok, "GET", "/api/v2/persons", None).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn missing_unknown_and_expired_tokens_get_401() {
    let t = start().await;
    t.config(json!({"tokenTtlSeconds": 1})).await;
    let tok = token(&t, None).await;
    let (status, _, _) = pd(&t, &tok, "GET", "/api/v2/persons", None).await;
    assert_eq!(status, 200);
    let (status, _, body) = pd(&t, "garbage", "GET", "/api/v2/persons", None).await;
    assert_eq!(status, 401);
    assert_eq!(body["error"], "unauthorized access");
    assert_eq!(body["errorCode"], 401);
    assert_eq!(body["success"], false);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (status, _, body) = pd(&t, &tok, "GET", "/api/v2/persons", None).await;
    assert_eq!(status, 401, "{body}");
    let r = t
        .http
        .get(t.url("/pipedrive/api/v2/persons"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}

type Received = Arc<Mutex<Vec<(HeaderMap, Value)>>>;

async fn receiver() -> (String, Received) {
    let got: Received = Arc::default();
    async fn hook(State(got): State<Received>, headers: HeaderMap, body: Bytes) -> &'static str {
        let v = serde_json::from_slice(&body).unwrap_or(Value::Null);
        got.lock().unwrap().push((headers, v));
        "ok"
    }
    let app = Router::new()
        .route("/hooks/pipedrive/c1", post(hook))
        .with_state(got.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (base, got)
}

async fn wait_for(got: &Received, n: usize) -> Vec<(HeaderMap, Value)> {
    for _ in 0..150 {
        if got.lock().unwrap().len() >= n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    got.lock().unwrap().clone()
}

#[tokio::test]
async fn webhooks_v2_are_delivered_with_basic_auth_to_matching_subscriptions() {
    let t = start().await;
    t.seed("pipedrive", "persons", 2).await;
    let tok = token(&t, None).await;
    let (base, got) = receiver().await;
    let (status, _, body) = pd(
        &t,
        &tok,
        "POST",
        "/api/v1/webhooks",
        Some(json!({
            "subscription_url": format!("{base}/hooks/pipedrive/c1"),
            "event_action": "*",
            "event_object": "person",
            "http_auth_user": "fc-user",
            "http_auth_password": "fc-pass",
            "version": "2.0",
        })),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let webhook_id = body["data"]["id"].as_u64().unwrap();
    let (_, _, list) = pd(&t, &tok, "GET", "/api/v1/webhooks", None).await;
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
    // Deals are not subscribed.
    let r = t
        .http
        .post(t.url("/_sandbox/pipedrive/deals"))
        .json(&json!({"title": "Ignored"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let r = t
        .http
        .patch(t.url("/_sandbox/pipedrive/persons/2"))
        .json(&json!({"name": "Grace Hopper"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let events = wait_for(&got, 1).await;
    assert_eq!(events.len(), 1, "one matching event");
    let (headers, body) = &events[0];
    let expected = format!("Basic {}", STANDARD.encode("fc-user:fc-pass"));
    assert_eq!(headers["authorization"].to_str().unwrap(), expected);
    let meta = &body["meta"];
    assert_eq!(meta["action"], "change");
    assert_eq!(meta["entity"], "person");
    assert_eq!(meta["entity_id"], "2");
    assert_eq!(meta["version"], "2.0");
    assert_eq!(meta["change_source"], "app");
    assert_eq!(meta["webhook_id"], webhook_id.to_string());
    assert_eq!(meta["attempt"], 1);
    assert!(meta["company_id"].as_str().is_some_and(|c| !c.is_empty()));
    assert!(uuid_like(meta["id"].as_str().unwrap()));
    assert_eq!(body["data"]["name"], "Grace Hopper");
    assert_eq!(body["data"]["first_name"], "Grace");
    assert!(body["previous"]["name"]
        .as_str()
        .is_some_and(|n| n != "Grace Hopper"));

    // A change through the API is marked as made by an integration.
    let (status, _, _) = pd(
        &t,
        &tok,
        "POST",
        "/api/v2/persons",
        Some(json!({"name": "Via Api"})),
    )
    .await;
    assert_eq!(status, 201);
    let events = wait_for(&got, 2).await;
    assert_eq!(events[1].1["meta"]["action"], "create");
    assert_eq!(events[1].1["meta"]["change_source"], "api");
    assert!(events[1].1["previous"].is_null());

    let (status, _, _) = pd(
        &t,
        &tok,
        "DELETE",
        &format!("/api/v1/webhooks/{webhook_id}"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    let (_, _, list) = pd(&t, &tok, "GET", "/api/v1/webhooks", None).await;
    assert!(list["data"].as_array().unwrap().is_empty());
}

fn uuid_like(s: &str) -> bool {
    s.len() == 36 && s.chars().filter(|c| *c == '-').count() == 4
}

#[tokio::test]
async fn a_failed_delivery_is_retried_with_the_attempt_number() {
    let t = start().await;
    let tok = token(&t, None).await;
    let got: Received = Arc::default();
    async fn flaky(
        State(got): State<Received>,
        headers: HeaderMap,
        body: Bytes,
    ) -> axum::http::StatusCode {
        let mut g = got.lock().unwrap();
        g.push((
            headers,
            serde_json::from_slice(&body).unwrap_or(Value::Null),
        ));
        if g.len() == 1 {
            axum::http::StatusCode::INTERNAL_SERVER_ERROR
        } else {
            axum::http::StatusCode::OK
        }
    }
    let app = Router::new()
        .route("/hook", post(flaky))
        .with_state(got.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let (status, _, _) = pd(
        &t,
        &tok,
        "POST",
        "/api/v1/webhooks",
        Some(json!({"subscription_url": url, "event_action": "create", "event_object": "*"})),
    )
    .await;
    assert_eq!(status, 201);
    let (status, _, _) = pd(
        &t,
        &tok,
        "POST",
        "/api/v2/deals",
        Some(json!({"title": "Retry me"})),
    )
    .await;
    assert_eq!(status, 201);
    // Pipedrive retries 3 s after a failure.
    let mut events = Vec::new();
    for _ in 0..60 {
        events = got.lock().unwrap().clone();
        if events.len() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(events.len(), 2, "one retry after the 500");
    assert_eq!(events[0].1["meta"]["attempt"], 1);
    assert_eq!(events[1].1["meta"]["attempt"], 2);
    assert_eq!(
        events[0].1["meta"]["id"], events[1].1["meta"]["id"],
        "same event"
    );
    assert!(
        events[1].0.get("authorization").is_none(),
        "no credentials set"
    );
    assert_eq!(events[1].1["data"]["title"], "Retry me");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(got.lock().unwrap().len(), 2, "no delivery after a 2xx");
}
