//! Provider webhook receivers: a valid delivery is 200 with exactly one webhook job on the queue;
//! tampered, wrongly signed, stale or unauthenticated ones are 401 with nothing queued; malformed
//! 400; over 1 MiB 413; broker down 503.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use fluxcascade_ingress::hooks::verify;
use fluxcascade_proto::v1::{JobEnvelope, JobKind, WebhookJob};
use fluxcascade_queue::Topology;
use prost::Message;
use reqwest::StatusCode;
use ring::hmac;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::harness::App;

const SECRET: &str = "sandbox-secret";

fn hmac_b64(secret: &str, message: &[u8]) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    STANDARD.encode(hmac::sign(&key, message))
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn hubspot_body(event_id: u64) -> String {
    json!([{"eventId": event_id, "subscriptionId": 1, "portalId": 62515, "appId": 1,
        "occurredAt": now_ms(), "subscriptionType": "contact.propertyChange", "attemptNumber": 0,
        "objectId": 101, "propertyName": "firstname", "propertyValue": "Ada",
        "changeSource": "CRM_UI", "sourceId": "userId:1"}])
    .to_string()
}

/// POSTs a HubSpot delivery signed with `secret` over `signed_body` at `ts`, sending `body`.
async fn post_hubspot(
    app: &App,
    secret: &str,
    signed_body: &str,
    body: &str,
    ts: i64,
) -> (StatusCode, Value) {
    let uri = format!("{}/hooks/hubspot", app.base);
    let ts = ts.to_string();
    let sig = hmac_b64(secret, format!("POST{uri}{signed_body}{ts}").as_bytes());
    send(
        app.http
            .post(&uri)
            .header("content-type", "application/json")
            .header("X-HubSpot-Request-Timestamp", ts)
            .header("X-HubSpot-Signature-v3", sig)
            .body(body.to_owned()),
    )
    .await
}

async fn post_jobber(app: &App, secret: &str, signed: &str, body: &str) -> (StatusCode, Value) {
    send(
        app.http
            .post(format!("{}/hooks/jobber", app.base))
            .header("content-type", "application/json")
            .header("X-Jobber-Hmac-SHA256", hmac_b64(secret, signed.as_bytes()))
            .body(body.to_owned()),
    )
    .await
}

async fn send(req: reqwest::RequestBuilder) -> (StatusCode, Value) {
    let resp = req.send().await.expect("request");
    let status = resp.status();
    let text = resp.text().await.expect("body");
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// Takes every job waiting in `{prefix}.webhook`.
async fn take_webhook_jobs(app: &App) -> Vec<(JobEnvelope, WebhookJob, Value)> {
    let (conn, ch) = app.amqp().await;
    let queue = Topology::queue(&app.prefix, JobKind::Webhook);
    let mut out = Vec::new();
    while let Some(msg) = ch
        .basic_get(&queue, lapin::options::BasicGetOptions { no_ack: true })
        .await
        .expect("basic_get")
    {
        let env = JobEnvelope::from_bytes(&msg.delivery.data).expect("envelope");
        let job = WebhookJob::decode(env.payload.as_slice()).expect("webhook job");
        assert!(
            job.events_json.is_empty(),
            "events travel as HookEvent messages"
        );
        let events: Value = job
            .events
            .iter()
            .map(|e| {
                serde_json::json!({"id": e.id, "account": e.account, "object": e.object,
                    "recordId": e.record_id, "action": e.action().name()})
            })
            .collect();
        out.push((env, job, events));
    }
    let _ = conn.close(200, "bye").await;
    out
}

#[tokio::test]
async fn hubspot_valid_delivery_is_200_after_one_webhook_job_is_queued() {
    let app = App::start().await;
    let accepted = || {
        fluxcascade_telemetry::metrics()
            .webhooks_received
            .with_label_values(&["hubspot", "accepted"])
            .get()
    };
    let before = accepted();
    let body = hubspot_body(7);
    let (s, v) = post_hubspot(&app, SECRET, &body, &body, now_ms()).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    // Other tests share the registry: the count only grows.
    assert!(accepted() > before, "the delivery is counted accepted");
    let jobs = take_webhook_jobs(&app).await;
    assert_eq!(jobs.len(), 1);
    let (env, job, events) = &jobs[0];
    assert_eq!(env.kind(), JobKind::Webhook);
    assert_eq!(job.provider, "hubspot");
    assert_eq!(
        events,
        &json!([{"id": "7", "account": "62515", "object": "contacts", "recordId": "101", "action": "update"}])
    );
}

#[tokio::test]
async fn hubspot_tampered_wrongly_signed_and_stale_deliveries_are_401_and_queue_nothing() {
    let app = App::start().await;
    let body = hubspot_body(8);
    let tampered = body.replace("101", "102");
    let cases = [
        (
            "tampered body",
            SECRET,
            body.as_str(),
            tampered.as_str(),
            now_ms(),
        ),
        ("wrong secret", "not-the-secret", &body, &body, now_ms()),
        (
            "6 minutes old",
            SECRET,
            &body,
            &body,
            now_ms() - 6 * 60 * 1000,
        ),
    ];
    for (what, secret, signed, sent, ts) in cases {
        let (s, v) = post_hubspot(&app, secret, signed, sent, ts).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{what}: {v}");
        assert_eq!(v["error"]["code"], "unauthorized", "{what}: {v}");
    }
    let unsigned = send(
        app.http
            .post(format!("{}/hooks/hubspot", app.base))
            .body(body.clone()),
    )
    .await;
    assert_eq!(unsigned.0, StatusCode::UNAUTHORIZED);
    assert!(take_webhook_jobs(&app).await.is_empty());
}

#[tokio::test]
async fn hubspot_malformed_is_400_and_oversized_is_413() {
    let app = App::start().await;
    let (s, v) = post_hubspot(&app, SECRET, "[{\"eventId\":", "[{\"eventId\":", now_ms()).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    let no_ids = r#"[{"subscriptionType":"contact.creation"}]"#;
    let (s, _) = post_hubspot(&app, SECRET, no_ids, no_ids, now_ms()).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let huge = format!("[\"{}\"]", "x".repeat(1024 * 1024));
    let (s, v) = post_hubspot(&app, SECRET, &huge, &huge, now_ms()).await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE, "{v}");
    assert_eq!(v["error"]["code"], "too_large");
    assert!(take_webhook_jobs(&app).await.is_empty());
}

#[tokio::test]
async fn hubspot_with_the_broker_down_is_503() {
    let app = App::start_with(Some("amqp://guest:guest@127.0.0.1:1/%2f")).await;
    let body = hubspot_body(9);
    let unavailable = || {
        fluxcascade_telemetry::metrics()
            .webhooks_received
            .with_label_values(&["hubspot", "unavailable"])
            .get()
    };
    let before = unavailable();
    let (s, v) = post_hubspot(&app, SECRET, &body, &body, now_ms()).await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{v}");
    assert_eq!(v["error"]["code"], "unavailable");
    assert!(
        unavailable() > before,
        "the refused delivery is counted unavailable"
    );
}

#[tokio::test]
async fn jobber_valid_is_200_with_one_job_and_bad_signatures_are_401() {
    let app = App::start().await;
    let body = json!({"data": {"webHookEvent": {"topic": "CLIENT_UPDATE", "appId": "sandbox-client",
        "accountId": "QWNjb3VudC8x", "itemId": "Q2xpZW50LzE=", "occurredAt": "2026-11-27T10:00:00Z"}}})
    .to_string();
    let tampered = body.replace("CLIENT_UPDATE", "CLIENT_CREATE");
    let (s, v) = post_jobber(&app, SECRET, &body, &tampered).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "tampered: {v}");
    let (s, _) = post_jobber(&app, "wrong", &body, &body).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "wrong secret");
    assert!(take_webhook_jobs(&app).await.is_empty());

    let (s, v) = post_jobber(&app, SECRET, &body, &body).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let jobs = take_webhook_jobs(&app).await;
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].1.provider, "jobber");
    assert_eq!(jobs[0].2[0]["recordId"], "Q2xpZW50LzE=");
    assert_eq!(jobs[0].2[0]["object"], "clients");

    let (s, _) = post_jobber(&app, SECRET, "{\"data\":{}}", "{\"data\":{}}").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let huge = format!("\"{}\"", "x".repeat(1024 * 1024 + 1));
    assert_eq!(
        post_jobber(&app, SECRET, &huge, &huge).await.0,
        StatusCode::PAYLOAD_TOO_LARGE
    );
}

#[tokio::test]
async fn pipedrive_needs_the_connections_basic_credentials() {
    let app = App::start().await;
    let conn = app.connection(&app.owner, "pipedrive").await;
    let conn_id = Uuid::parse_str(&conn).unwrap();
    let secret = verify::new_secret().unwrap();
    app.store
        .set_webhook_secret_hash(app.org_id().await, conn_id, &verify::secret_hash(&secret))
        .await
        .unwrap();
    let body = json!({"meta": {"action": "change", "entity": "person", "entity_id": "42",
        "id": "9b0d0b5e-1", "company_id": "77", "version": "2.0"}, "data": {"id": 42}, "previous": {}})
    .to_string();
    let url = format!("{}/hooks/pipedrive/{conn}", app.base);
    let post = |user: String, password: String, body: String| {
        send(
            app.http
                .post(&url)
                .basic_auth(user, Some(password))
                .header("content-type", "application/json")
                .body(body),
        )
    };
    let (s, _) = post(conn.clone(), "guess".into(), body.clone()).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "wrong password");
    let (s, _) = post("someone".into(), secret.clone(), body.clone()).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "wrong user");
    let (s, _) = send(app.http.post(&url).body(body.clone())).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "no credentials");
    let other = format!("{}/hooks/pipedrive/{}", app.base, Uuid::now_v7());
    let (s, _) = send(
        app.http
            .post(other)
            .basic_auth(&conn, Some(&secret))
            .body(body.clone()),
    )
    .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "unknown connection");
    assert!(take_webhook_jobs(&app).await.is_empty());

    let (s, v) = post(conn.clone(), secret.clone(), body.clone()).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let jobs = take_webhook_jobs(&app).await;
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].1.connection_id, conn);
    assert_eq!(jobs[0].0.org_id, app.org_id().await.to_string());
    assert_eq!(jobs[0].2[0]["object"], "persons");
    assert_eq!(jobs[0].2[0]["id"], "9b0d0b5e-1");

    let (s, _) = post(conn.clone(), secret.clone(), "{\"meta\":{}}".into()).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
}

fn outbound_message(org: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<soapenv:Body><notifications xmlns="http://soap.sforce.com/2005/09/outbound">
<OrganizationId>{org}</OrganizationId><ActionId>04k000000000001AAA</ActionId>
<Notification><Id>04l000000000001AAA</Id>
<sObject xsi:type="sf:Contact" xmlns:sf="urn:sobject.enterprise.soap.sforce.com"><sf:Id>003000000000001AAA</sf:Id></sObject>
</Notification></notifications></soapenv:Body></soapenv:Envelope>"#
    )
}

#[tokio::test]
async fn salesforce_outbound_messages_need_the_url_secret_and_the_connections_org() {
    let app = App::start().await;
    let (s, conn) = app
        .import_connection(&app.owner, "salesforce", "sf", json!({"accountName": "SF"}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{conn}");
    let sf_org = conn["externalAccountId"]
        .as_str()
        .expect("org id")
        .to_owned();
    assert!(sf_org.starts_with("00D"), "{sf_org}");
    let sf_org = sf_org.as_str();
    let hook_url = conn["webhookUrl"]
        .as_str()
        .expect("webhookUrl shown at creation")
        .to_owned();
    assert!(hook_url.starts_with(&format!(
        "{}/hooks/salesforce/{}?s=",
        app.base,
        conn["id"].as_str().unwrap()
    )));
    let (_, shown) = app
        .call(
            reqwest::Method::GET,
            &format!("/v1/connections/{}", conn["id"].as_str().unwrap()),
            Some(&app.owner),
            None,
        )
        .await;
    assert!(
        shown.get("webhookUrl").is_none(),
        "the secret is shown once: {shown}"
    );

    let post = |url: String, body: String| {
        send(
            app.http
                .post(url)
                .header("content-type", "text/xml")
                .body(body),
        )
    };
    let wrong = hook_url.rsplit_once("?s=").unwrap().0.to_owned() + "?s=guess";
    assert_eq!(
        post(wrong, outbound_message(sf_org)).await.0,
        StatusCode::UNAUTHORIZED
    );
    let (s, _) = post(hook_url.clone(), outbound_message("00D000000000099EAA")).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "another org's message");
    assert!(take_webhook_jobs(&app).await.is_empty());

    let resp = app
        .http
        .post(&hook_url)
        .header("content-type", "text/xml")
        .body(outbound_message(sf_org))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/xml"));
    assert!(resp.text().await.unwrap().contains("<Ack>true</Ack>"));
    let jobs = take_webhook_jobs(&app).await;
    assert_eq!(jobs.len(), 1);
    assert_eq!(
        jobs[0].2,
        json!([{"id": "04l000000000001AAA", "account": sf_org, "object": "Contact",
                "recordId": "003000000000001AAA", "action": "update"}])
    );
    assert_eq!(
        post(hook_url, "<notifications>".into()).await.0,
        StatusCode::BAD_REQUEST
    );
}
