//! Outgoing webhooks: HubSpot (v3 signature, batched events) and Jobber (HMAC of the body).

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::post;
use axum::Router;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use common::start;
use serde_json::{json, Value};

type Received = Arc<Mutex<Vec<(String, HeaderMap, String)>>>;

async fn receiver() -> (String, Received) {
    let got: Received = Arc::default();
    async fn hook(
        State(got): State<Received>,
        uri: axum::http::Uri,
        headers: HeaderMap,
        body: Bytes,
    ) -> &'static str {
        got.lock().unwrap().push((
            uri.path().to_owned(),
            headers,
            String::from_utf8_lossy(&body).into_owned(),
        ));
        "ok"
    }
    let app = Router::new()
        .route("/hooks/hubspot", post(hook))
        .route("/hooks/jobber", post(hook))
        .with_state(got.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (base, got)
}

async fn wait_for(got: &Received, n: usize) -> Vec<(String, HeaderMap, String)> {
    for _ in 0..100 {
        if got.lock().unwrap().len() >= n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    got.lock().unwrap().clone()
}

fn hmac_b64(secret: &str, msg: &str) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
    STANDARD.encode(ring::hmac::sign(&key, msg.as_bytes()))
}

#[tokio::test]
async fn hubspot_changes_are_posted_signed_v3() {
    let (hook_base, got) = receiver().await;
    let t = start().await;
    t.config(json!({"webhookUrl": hook_base})).await;
    let tok = t.hubspot_token().await;
    let (status, created) = t
        .hs(
            &tok,
            "POST",
            "/crm/v3/objects/contacts",
            Some(json!({"properties": {"email": "w@h.io"}})),
        )
        .await;
    assert_eq!(status, 201);
    let id: u64 = created["id"].as_str().unwrap().parse().unwrap();
    let hits = wait_for(&got, 1).await;
    assert_eq!(hits.len(), 1);
    let (path, headers, body) = &hits[0];
    assert_eq!(path, "/hooks/hubspot");
    let ts = headers["x-hubspot-request-timestamp"].to_str().unwrap();
    let expected = hmac_b64(
        "sandbox-secret",
        &format!("POST{hook_base}/hooks/hubspot{body}{ts}"),
    );
    assert_eq!(
        headers["x-hubspot-signature-v3"].to_str().unwrap(),
        expected
    );
    let events: Value = serde_json::from_str(body).unwrap();
    assert_eq!(events[0]["subscriptionType"], "contact.creation");
    assert_eq!(events[0]["objectId"], id);
    assert_eq!(events[0]["changeSource"], "INTEGRATION");
    assert!(events[0]["portalId"].as_u64().is_some());

    let r = t
        .http
        .patch(t.url(&format!("/_sandbox/hubspot/contacts/{id}")))
        .json(&json!({"firstname": "Wes"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let hits = wait_for(&got, 2).await;
    let events: Value = serde_json::from_str(&hits[1].2).unwrap();
    assert_eq!(events[0]["subscriptionType"], "contact.propertyChange");
    assert_eq!(events[0]["propertyName"], "firstname");
    assert_eq!(events[0]["propertyValue"], "Wes");
    assert_eq!(events[0]["changeSource"], "CRM_UI");
}

#[tokio::test]
async fn jobber_changes_are_posted_with_hmac_header() {
    let (hook_base, got) = receiver().await;
    let t = start().await;
    t.config(json!({"webhookUrl": hook_base})).await;
    let tok = t.jobber_token().await;
    let (_, body) = t
        .gql(
            &tok,
            r#"mutation { clientCreate(input: {firstName: "Hook"}) { client { id } } }"#,
            json!({}),
        )
        .await;
    let id = body["data"]["clientCreate"]["client"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let hits = wait_for(&got, 1).await;
    assert_eq!(hits.len(), 1);
    let (path, headers, raw) = &hits[0];
    assert_eq!(path, "/hooks/jobber");
    assert_eq!(
        headers["x-jobber-hmac-sha256"].to_str().unwrap(),
        hmac_b64("sandbox-secret", raw)
    );
    let v: Value = serde_json::from_str(raw).unwrap();
    assert_eq!(v["data"]["webHookEvent"]["topic"], "CLIENT_CREATE");
    assert_eq!(v["data"]["webHookEvent"]["itemId"], id.as_str());
}

#[tokio::test]
async fn jobber_job_creation_is_announced_as_job_create() {
    let (hook_base, got) = receiver().await;
    let t = start().await;
    t.seed("jobber", "jobs", 1).await;
    t.config(json!({"webhookUrl": hook_base})).await;
    let (_, jobs) = {
        let r = t
            .http
            .get(t.url("/_sandbox/jobber/jobs"))
            .send()
            .await
            .unwrap();
        (r.status(), r.json::<Value>().await.unwrap())
    };
    let property_id = jobs["data"][0]["propertyId"].as_str().unwrap().to_owned();
    let tok = t.jobber_token().await;
    let (_, body) = t
        .gql(
            &tok,
            "mutation J($input: JobCreateAttributes!) { jobCreate(input: $input) { job { id } } }",
            json!({"input": {"propertyId": property_id, "title": "Hooked"}}),
        )
        .await;
    let job_id = body["data"]["jobCreate"]["job"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let hits = wait_for(&got, 1).await;
    assert_eq!(
        hits.len(),
        1,
        "seeding sends no webhooks; the mutation sends one"
    );
    let v: Value = serde_json::from_str(&hits[0].2).unwrap();
    assert_eq!(v["data"]["webHookEvent"]["topic"], "JOB_CREATE");
    assert_eq!(v["data"]["webHookEvent"]["itemId"], job_id.as_str());
}
