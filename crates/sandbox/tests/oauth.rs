//! OAuth flows of the sandbox: authorize → token → refresh, invalid clients, expiry.

mod common;

use common::start;
use serde_json::{json, Value};

async fn refresh(t: &common::TestSandbox, path: &str, token: &str, secret: &str) -> (u16, Value) {
    let r = t
        .http
        .post(t.url(path))
        .form(&[
            ("grant_type", "refresh_token"),
            ("client_id", "sandbox-client"),
            ("client_secret", secret),
            ("refresh_token", token),
        ])
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn hubspot_code_exchange_and_refresh() {
    let t = start().await;
    let tok = t.oauth("hubspot", None).await;
    assert_eq!(tok["token_type"], "bearer");
    assert_eq!(tok["expires_in"], 1800);
    let refresh_token = tok["refresh_token"].as_str().unwrap();
    let (status, again) = refresh(
        &t,
        "/hubspot/oauth/v1/token",
        refresh_token,
        "sandbox-secret",
    )
    .await;
    assert_eq!(status, 200);
    assert_ne!(again["access_token"], tok["access_token"]);
    // HubSpot refresh tokens are long-lived: the same one keeps working.
    let (status, _) = refresh(
        &t,
        "/hubspot/oauth/v1/token",
        refresh_token,
        "sandbox-secret",
    )
    .await;
    assert_eq!(status, 200);
    let (status, body) = t
        .hs(
            again["access_token"].as_str().unwrap(),
            "GET",
            "/crm/v3/objects/contacts",
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, info) = t
        .hs(
            "",
            "GET",
            &format!(
                "/oauth/v1/access-tokens/{}",
                again["access_token"].as_str().unwrap()
            ),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert!(info["hub_id"].as_u64().is_some());
}

#[tokio::test]
async fn jobber_refresh_tokens_rotate_and_access_token_is_a_jwt() {
    let t = start().await;
    let tok = t.oauth("jobber", None).await;
    let access = tok["access_token"].as_str().unwrap();
    assert_eq!(access.split('.').count(), 3, "JWT shaped: {access}");
    use base64::Engine;
    let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(access.split('.').nth(1).unwrap())
        .unwrap();
    let payload: Value = serde_json::from_slice(&payload).unwrap();
    assert!(payload["exp"].as_i64().unwrap() > payload["iat"].as_i64().unwrap());
    let old = tok["refresh_token"].as_str().unwrap();
    let (status, new) = refresh(&t, "/jobber/api/oauth/token", old, "sandbox-secret").await;
    assert_eq!(status, 200);
    assert_ne!(new["refresh_token"].as_str().unwrap(), old);
    let (status, body) = refresh(&t, "/jobber/api/oauth/token", old, "sandbox-secret").await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "invalid_grant");
    let (status, _) = refresh(
        &t,
        "/jobber/api/oauth/token",
        new["refresh_token"].as_str().unwrap(),
        "sandbox-secret",
    )
    .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn wrong_client_credentials_get_invalid_client() {
    let t = start().await;
    let tok = t.oauth("jobber", None).await;
    let (status, body) = refresh(
        &t,
        "/jobber/api/oauth/token",
        tok["refresh_token"].as_str().unwrap(),
        "wrong",
    )
    .await;
    assert_eq!(status, 401);
    assert_eq!(body["error"], "invalid_client");
    let tok = t.oauth("hubspot", None).await;
    let (status, body) = refresh(
        &t,
        "/hubspot/oauth/v1/token",
        tok["refresh_token"].as_str().unwrap(),
        "wrong",
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["status"], "BAD_CLIENT_ID");
    assert_eq!(body["error"], "invalid_client");
    let r = t
        .http
        .get(t.url("/hubspot/oauth/authorize?client_id=nope&redirect_uri=http://x/cb"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
}

#[tokio::test]
async fn expired_and_unknown_tokens_get_401() {
    let t = start().await;
    t.config(json!({"tokenTtlSeconds": 1})).await;
    let hs = t.hubspot_token().await;
    let jb = t.jobber_token().await;
    let (status, _) = t.hs(&hs, "GET", "/crm/v3/objects/contacts", None).await;
    assert_eq!(status, 200);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let (status, body) = t.hs(&hs, "GET", "/crm/v3/objects/contacts", None).await;
    assert_eq!(status, 401);
    assert_eq!(body["status"], "error");
    assert_eq!(body["category"], "EXPIRED_AUTHENTICATION");
    let (status, body) = t
        .hs("garbage", "GET", "/crm/v3/objects/contacts", None)
        .await;
    assert_eq!(status, 401);
    assert_eq!(body["category"], "INVALID_AUTHENTICATION");
    assert!(body["correlationId"].as_str().is_some());
    let (status, _) = t.gql(&jb, "{ clients { totalCount } }", json!({})).await;
    assert_eq!(status, 401);
    // A HubSpot token is not a Jobber token.
    let (status, _) = t.gql(&hs, "{ clients { totalCount } }", json!({})).await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn tokens_are_bound_to_their_account() {
    let t = start().await;
    t.seed("hubspot", "contacts", 3).await;
    let default = t.hubspot_token().await;
    let other = t.oauth("hubspot", Some("acme")).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, a) = t
        .hs(&default, "GET", "/crm/v3/objects/contacts", None)
        .await;
    let (_, b) = t.hs(&other, "GET", "/crm/v3/objects/contacts", None).await;
    assert_eq!(a["results"].as_array().unwrap().len(), 3);
    assert_eq!(b["results"].as_array().unwrap().len(), 0);
}
