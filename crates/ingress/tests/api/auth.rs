//! Authentication, roles, malformed and oversized requests, health and metrics.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::harness::{error_fields, App};

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
    let text = app
        .http
        .get(format!("{}/metrics", app.metrics))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("metrics text");
    assert!(
        text.contains("fluxcascade_http_requests_total{route=\"/v1/connections\",status=\"401\"}"),
        "{text}"
    );
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
