//! Connections: tokens never shown, org scoping, paging.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::harness::{error_fields, App};

#[tokio::test]
async fn connections_hide_tokens_page_and_stay_in_their_org() {
    let app = App::start().await;
    let tokens = app.sandbox_tokens("salesforce", "acme").await;
    let body = json!({
        "provider": "salesforce", "accountName": "Acme SF",
        "credentials": {"accessToken": tokens.access_token, "refreshToken": "refresh-secret-456",
                        "expiresAt": "2030-01-01T00:00:00Z"},
        "instanceUrl": tokens.instance_url,
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
        !text.contains("secret") && !text.contains(&tokens.access_token),
        "a connection never shows its tokens: {text}"
    );
    let created: Value = serde_json::from_str(&text).expect("json");
    assert_eq!(created["provider"], "salesforce");
    assert_eq!(created["status"], "active");
    assert_eq!(created["accountName"], "Acme SF");
    assert_eq!(
        created["externalAccountId"],
        tokens.account_id.as_deref().expect("org id"),
        "the org comes from the provider"
    );
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
