//! Failing closed: a provider without app credentials serves no webhook receiver and no OAuth
//! (404 `provider_not_configured`), a deleted connection's receiver refuses at once, and
//! `/metrics` is not on the public API port.

use fluxcascade_core::ProviderKind;
use fluxcascade_ingress::hooks::verify;
use fluxcascade_providers::{ProviderApp, ProvidersConfig, Secret};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::harness::App;

/// A production posture with HubSpot configured only.
fn hubspot_only() -> ProvidersConfig {
    let mut providers = ProvidersConfig::production();
    *providers.app_mut(ProviderKind::Hubspot) = Some(ProviderApp::production(
        ProviderKind::Hubspot,
        "hs-app".into(),
        Secret::from("hs-real-secret"),
    ));
    providers
}

async fn post(app: &App, path: &str, body: &str) -> (StatusCode, Value) {
    let resp = app
        .http
        .post(format!("{}{path}", app.base))
        .header("content-type", "application/json")
        .header("X-Jobber-Hmac-SHA256", "c2lnbmF0dXJl")
        .basic_auth(Uuid::nil(), Some("secret"))
        .body(body.to_owned())
        .send()
        .await
        .expect("request");
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn unconfigured_providers_serve_no_webhook_receiver_and_no_oauth() {
    let app = App::start_with_providers(hubspot_only()).await;
    let id = Uuid::now_v7();
    for path in [
        "/hooks/jobber".to_string(),
        format!("/hooks/pipedrive/{id}"),
        format!("/hooks/salesforce/{id}?s=secret"),
    ] {
        let (s, v) = post(&app, &path, "{}").await;
        assert_eq!(
            (s, v["error"]["code"].as_str()),
            (StatusCode::NOT_FOUND, Some("provider_not_configured")),
            "{path}: {v}"
        );
    }
    for path in [
        "/v1/oauth/jobber/authorize",
        "/v1/oauth/salesforce/authorize",
        "/v1/oauth/pipedrive/callback?state=s&code=c",
    ] {
        let (s, v) = app.call(Method::GET, path, Some(&app.owner), None).await;
        assert_eq!(
            (s, v["error"]["code"].as_str()),
            (StatusCode::NOT_FOUND, Some("provider_not_configured")),
            "{path}: {v}"
        );
    }

    // The configured provider is served: its receiver checks signatures (401, not 404) and
    // its OAuth starts.
    let (s, v) = post(&app, "/hooks/hubspot", "[]").await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "{v}");
    let resp = app
        .http
        .get(format!("{}/v1/oauth/hubspot/authorize", app.base))
        .bearer_auth(&app.owner)
        .header("accept", "application/json")
        .send()
        .await
        .expect("authorize");
    assert_eq!(resp.status(), StatusCode::OK);
    let v: Value = resp.json().await.expect("json");
    let url = v["authorizeUrl"].as_str().expect("authorizeUrl");
    assert!(
        url.starts_with("https://app.hubspot.com/oauth/authorize?client_id=hs-app&"),
        "{url}"
    );
}

#[tokio::test]
async fn a_deleted_pipedrive_connection_is_refused_at_once() {
    let app = App::start().await;
    let conn = app.connection(&app.owner, "pipedrive").await;
    let secret = verify::new_secret().unwrap();
    app.store
        .set_webhook_secret_hash(
            app.org_id().await,
            Uuid::parse_str(&conn).unwrap(),
            &verify::secret_hash(&secret),
        )
        .await
        .unwrap();
    let body = json!({"meta": {"action": "change", "entity": "person", "entity_id": "42",
        "id": "ev-1", "company_id": "77", "version": "2.0"}, "data": {"id": 42}, "previous": {}})
    .to_string();
    let deliver = || async {
        app.http
            .post(format!("{}/hooks/pipedrive/{conn}", app.base))
            .basic_auth(&conn, Some(&secret))
            .header("content-type", "application/json")
            .body(body.clone())
            .send()
            .await
            .expect("delivery")
            .status()
    };
    assert_eq!(deliver().await, StatusCode::OK);

    let (s, v) = app
        .call(
            Method::DELETE,
            &format!("/v1/connections/{conn}"),
            Some(&app.owner),
            None,
        )
        .await;
    assert!(s.is_success(), "{s} {v}");
    // The very next delivery, no waiting for any cache to expire.
    assert_eq!(deliver().await, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn metrics_are_served_on_their_own_address_not_on_the_api_port() {
    let app = App::start().await;
    let (s, v) = app.call(Method::GET, "/metrics", None, None).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found")),
        "{v}"
    );
    let (s, _) = app
        .call(Method::GET, "/metrics", Some(&app.owner), None)
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "not even with an API key");

    let resp = app
        .http
        .get(format!("{}/metrics", app.metrics))
        .send()
        .await
        .expect("metrics");
    assert_eq!(resp.status(), StatusCode::OK);
    let text = resp.text().await.expect("text");
    assert!(
        text.contains("fluxcascade_http_requests_total{route=\"unmatched\",status=\"404\"}"),
        "{text}"
    );
    assert_ne!(app.metrics, app.base);
}
