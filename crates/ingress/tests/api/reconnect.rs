//! Reconnecting a connection: `PUT /v1/connections/{id}/tokens` and OAuth `authorize?connectionId=`
//! (same provider account only, tokens sealed again, active again, org-scoped, managers only).

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::harness::{error_fields, App};

/// The sealed bytes and key id of a connection's tokens, as stored.
async fn sealed(app: &App, id: &str) -> (String, Vec<u8>, Option<Vec<u8>>) {
    let (c, conn) = tokio_postgres::connect(
        &format!("postgres://postgres@127.0.0.1:5432/{}", app.db),
        tokio_postgres::NoTls,
    )
    .await
    .expect("db");
    tokio::spawn(conn);
    let id: uuid::Uuid = id.parse().expect("id");
    let row = c
        .query_one(
            "SELECT access_token, refresh_token FROM connections WHERE id = $1",
            &[&id],
        )
        .await
        .expect("row");
    let access: Vec<u8> = row.get(0);
    let key_id = fluxcascade_store::SealedToken::key_id_of(&access).expect("key id");
    (key_id, access, row.get(1))
}

async fn put_tokens(app: &App, key: &str, id: &str, body: Value) -> (StatusCode, Value) {
    app.call(
        Method::PUT,
        &format!("/v1/connections/{id}/tokens"),
        Some(key),
        Some(body),
    )
    .await
}

#[tokio::test]
async fn a_reconnect_stores_new_tokens_and_makes_an_expired_connection_active() {
    let app = App::start().await;
    let org = app.org_id().await;
    let old = app.sandbox_tokens("jobber", "acme").await;
    let (s, created) = app
        .call(
            Method::POST,
            "/v1/connections",
            Some(&app.owner),
            Some(json!({"provider": "jobber", "accountName": "Acme",
                "credentials": {"accessToken": old.access_token, "refreshToken": "old-refresh"}})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().expect("id").to_string();
    let uuid: uuid::Uuid = id.parse().expect("id");
    // The provider refused the refresh token: the worker marked the connection expired.
    let locked = app
        .store
        .lock_credentials(org, uuid, &app.key)
        .await
        .expect("lock");
    locked
        .lock
        .mark_expired("the provider rejected the refresh token; reconnect the account")
        .await
        .expect("expire");
    let (_, got) = app
        .call(
            Method::GET,
            &format!("/v1/connections/{id}"),
            Some(&app.owner),
            None,
        )
        .await;
    assert_eq!(got["status"], "expired", "{got}");
    let (key_before, access_before, refresh_before) = sealed(&app, &id).await;

    let fresh = app.sandbox_tokens("jobber", "acme").await;
    let (s, v) = put_tokens(
        &app,
        &app.owner,
        &id,
        json!({"accessToken": fresh.access_token, "refreshToken": "new-refresh",
               "expiresAt": "2030-01-01T00:00:00Z"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["id"], created["id"], "the same connection");
    assert_eq!(v["status"], "active");
    assert!(v.get("statusMessage").is_none(), "{v}");
    assert_eq!(v["externalAccountId"], created["externalAccountId"]);
    assert_eq!(v["accountName"], "Acme");
    assert!(
        !v.to_string().contains(&fresh.access_token) && !v.to_string().contains("new-refresh"),
        "tokens are never shown: {v}"
    );
    let (s, got) = app
        .call(
            Method::GET,
            &format!("/v1/connections/{id}"),
            Some(&app.owner),
            None,
        )
        .await;
    assert_eq!((s, &got["status"]), (StatusCode::OK, &json!("active")));
    assert!(got.get("statusMessage").is_none(), "{got}");

    let creds = app
        .store
        .load_credentials(org, uuid, &app.key)
        .await
        .expect("credentials");
    assert_eq!(creds.access_token, fresh.access_token);
    assert_eq!(creds.refresh_token.as_deref(), Some("new-refresh"));
    assert_eq!(
        creds.expires_at.map(|t| t.to_rfc3339()),
        Some("2030-01-01T00:00:00+00:00".into())
    );
    let (key_after, access_after, refresh_after) = sealed(&app, &id).await;
    assert_eq!(key_before, key_after, "sealed under the current master key");
    assert_eq!(key_after, app.key.key_id());
    assert_ne!(access_after, access_before, "a new access-token ciphertext");
    assert_ne!(
        refresh_after, refresh_before,
        "a new refresh-token ciphertext"
    );

    // Reconnecting with the same access token and no refresh token: new ciphertexts, no refresh token.
    let (s, v) = put_tokens(
        &app,
        &app.owner,
        &id,
        json!({"accessToken": fresh.access_token}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let creds = app
        .store
        .load_credentials(org, uuid, &app.key)
        .await
        .expect("credentials");
    assert_eq!(creds.access_token, fresh.access_token);
    assert_eq!(
        creds.refresh_token, None,
        "no refresh token given clears it"
    );
    assert_eq!(creds.expires_at, None);
    let (_, access_again, refresh_again) = sealed(&app, &id).await;
    assert_ne!(access_again, access_after, "sealed again with a new nonce");
    assert_eq!(refresh_again, None);
}

#[tokio::test]
async fn a_reconnect_asks_the_stored_api_host_when_none_is_given() {
    let app = App::start().await;
    let (s, created) = app
        .import_connection(&app.owner, "salesforce", "acme", json!({}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().expect("id");
    let fresh = app.sandbox_tokens("salesforce", "acme").await;
    let (s, v) = put_tokens(
        &app,
        &app.owner,
        id,
        json!({"accessToken": fresh.access_token}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert!(
        v.get("webhookUrl").is_none(),
        "the webhook secret is shown only at creation: {v}"
    );
}

#[tokio::test]
async fn a_reconnect_never_moves_a_connection_to_another_account() {
    let app = App::start().await;
    let org = app.org_id().await;
    let id = app.connection(&app.owner, "hubspot").await;
    let uuid: uuid::Uuid = id.parse().expect("id");
    let before = app
        .store
        .load_credentials(org, uuid, &app.key)
        .await
        .expect("credentials");
    let sealed_before = sealed(&app, &id).await;

    let other = app.sandbox_tokens("hubspot", "someone-else").await;
    let (s, v) = put_tokens(
        &app,
        &app.owner,
        &id,
        json!({"accessToken": other.access_token}),
    )
    .await;
    assert_eq!(
        (s, error_fields(&v)),
        (StatusCode::UNPROCESSABLE_ENTITY, vec!["accessToken".into()]),
        "{v}"
    );
    let (s, v) = put_tokens(&app, &app.owner, &id, json!({"accessToken": "not-a-token"})).await;
    assert_eq!(
        (s, error_fields(&v)),
        (StatusCode::UNPROCESSABLE_ENTITY, vec!["accessToken".into()]),
        "a token the provider refuses: {v}"
    );
    let (s, v) = put_tokens(
        &app,
        &app.owner,
        &id,
        json!({"accessToken": "x".repeat(8 * 1024 + 1), "refreshToken": "a\u{7}b"}),
    )
    .await;
    assert_eq!(
        (s, error_fields(&v)),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            vec!["accessToken".into(), "refreshToken".into()]
        ),
        "bounded like an import: {v}"
    );
    let after = app
        .store
        .load_credentials(org, uuid, &app.key)
        .await
        .expect("credentials");
    assert_eq!(after.access_token, before.access_token, "nothing changed");
    assert_eq!(sealed(&app, &id).await, sealed_before);
}

#[tokio::test]
async fn only_a_manager_of_the_org_reconnects_and_only_a_live_connection() {
    let app = App::start().await;
    let id = app.connection(&app.owner, "jobber").await;
    let fresh = app.sandbox_tokens("jobber", "acct").await;
    let body = json!({"accessToken": fresh.access_token});

    let member = app.member_key().await;
    let (s, _) = put_tokens(&app, &member, &id, body.clone()).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let other = app.other_org().await;
    let (s, _) = put_tokens(&app, &other, &id, body.clone()).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "another org's connection");
    let (s, _) = put_tokens(
        &app,
        &app.owner,
        &uuid::Uuid::now_v7().to_string(),
        body.clone(),
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = put_tokens(&app, &app.owner, &id, json!({"refreshToken": "r"})).await;
    assert!(s.is_client_error(), "accessToken is required: {s}");

    let (s, _) = app
        .call(
            Method::DELETE,
            &format!("/v1/connections/{id}"),
            Some(&app.owner),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = put_tokens(&app, &app.owner, &id, body).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "a deleted connection");
}

/// The OAuth flow through the app as a browser follows it, signing in at the sandbox as `account`:
/// `authorize` (with `query`), the consent page, then our callback (on this app, whatever the
/// public URL says). Returns the callback's answer.
async fn oauth(app: &App, provider: &str, account: &str, query: &str) -> (StatusCode, Value) {
    let (s, start) = app
        .http
        .get(format!(
            "{}/v1/oauth/{provider}/authorize?accountHint={account}{query}",
            app.base
        ))
        .bearer_auth(&app.owner)
        .header("accept", "application/json")
        .send()
        .await
        .map(|r| (r.status(), r))
        .expect("authorize");
    let start: Value = start.json().await.expect("json");
    if s != StatusCode::OK {
        return (s, start);
    }
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let consent = no_redirects
        .get(start["authorizeUrl"].as_str().expect("url"))
        .send()
        .await
        .expect("consent");
    let location = url::Url::parse(consent.headers()["location"].to_str().expect("location"))
        .expect("redirect");
    let query: String = location.query().expect("code and state").to_string();
    app.call(
        Method::GET,
        &format!("/v1/oauth/{provider}/callback?{query}"),
        None,
        None,
    )
    .await
}

#[tokio::test]
async fn an_oauth_authorization_with_a_connection_id_reconnects_that_connection() {
    let app = App::start().await;
    let org = app.org_id().await;
    let (s, created) = oauth(&app, "jobber", "acme", "").await;
    assert_eq!(s, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().expect("id").to_string();
    let uuid: uuid::Uuid = id.parse().expect("id");
    let before = app
        .store
        .load_credentials(org, uuid, &app.key)
        .await
        .expect("credentials");

    let (s, v) = oauth(&app, "jobber", "acme", &format!("&connectionId={id}")).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["id"], created["id"], "the same connection, no new one");
    assert_eq!(v["status"], "active");
    let after = app
        .store
        .load_credentials(org, uuid, &app.key)
        .await
        .expect("credentials");
    assert_ne!(
        after.access_token, before.access_token,
        "the new grant's token"
    );
    let (_, list) = app
        .call(Method::GET, "/v1/connections", Some(&app.owner), None)
        .await;
    assert_eq!(list["data"].as_array().map(Vec::len), Some(1), "{list}");

    // Signing in as another account does not move the connection.
    let (s, v) = oauth(
        &app,
        "jobber",
        "someone-else",
        &format!("&connectionId={id}"),
    )
    .await;
    assert_eq!(
        (s, error_fields(&v)),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            vec!["connectionId".into()]
        ),
        "{v}"
    );
    let unchanged = app
        .store
        .load_credentials(org, uuid, &app.key)
        .await
        .expect("credentials");
    assert_eq!(unchanged.access_token, after.access_token);

    // Another provider's connection, another org's or an unknown id is refused at authorize.
    let hubspot = app.connection(&app.owner, "hubspot").await;
    let (s, v) = oauth(&app, "jobber", "acme", &format!("&connectionId={hubspot}")).await;
    assert_eq!(
        (s, error_fields(&v)),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            vec!["connectionId".into()]
        )
    );
    let (s, _) = oauth(
        &app,
        "jobber",
        "acme",
        &format!("&connectionId={}", uuid::Uuid::now_v7()),
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}
