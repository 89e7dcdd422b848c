//! The URL forms each provider's real API accepts, sent with a raw HTTP client: Salesforce
//! resource paths with and without a trailing slash, and a client that keeps only the origin
//! (scheme, host, port) of `instance_url`, as simple-salesforce and jsforce do.

mod common;

use common::{salesforce_tokens, start, TestSandbox};
use serde_json::{json, Value};

/// (status, body) of a Salesforce call to `url`.
async fn call(
    t: &TestSandbox,
    token: &str,
    method: &str,
    url: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = t
        .http
        .request(method.parse().expect("method"), url)
        .bearer_auth(token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send().await.expect("send");
    let status = r.status().as_u16();
    let text = r.text().await.expect("body");
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

#[tokio::test]
async fn salesforce_resource_paths_accept_a_trailing_slash_as_salesforce_does() {
    let t = start().await;
    let tok = salesforce_tokens(&t).await;
    let token = tok["access_token"].as_str().expect("token").to_owned();
    let base = tok["instance_url"]
        .as_str()
        .expect("instance_url")
        .trim_end_matches('/')
        .to_owned();
    let data = format!("{base}/services/data/v59.0");

    let (s, created) = call(
        &t,
        &token,
        "POST",
        &format!("{data}/sobjects/Contact/"),
        Some(json!({"LastName": "Slash"})),
    )
    .await;
    assert_eq!(s, 201, "{created}");
    let id = created["id"].as_str().expect("id").to_owned();

    // Accepted: with and without the trailing slash.
    for path in [
        format!("/sobjects/Contact/{id}/"),
        format!("/sobjects/Contact/{id}"),
        "/query/?q=SELECT+Id+FROM+Contact".to_owned(),
        "/query?q=SELECT+Id+FROM+Contact".to_owned(),
    ] {
        let (s, body) = call(&t, &token, "GET", &format!("{data}{path}"), None).await;
        assert_eq!(s, 200, "{path}: {body}");
    }
    let (s, body) = call(
        &t,
        &token,
        "PATCH",
        &format!("{data}/sobjects/Contact/{id}/"),
        Some(json!({"FirstName": "Tr"})),
    )
    .await;
    assert_eq!(s, 204, "PATCH with a trailing slash: {body}");

    // Refused as Salesforce refuses them: empty segments and unknown resources.
    for path in [
        "/sobjects/Contact//".to_owned(),
        format!("/sobjects//Contact/{id}"),
    ] {
        let (s, body) = call(&t, &token, "GET", &format!("{data}{path}"), None).await;
        assert_eq!(s, 404, "{path}: {body}");
    }
    let (s, body) = call(
        &t,
        &token,
        "POST",
        &format!("{data}/sobjects/NoSuchThing/"),
        Some(json!({"LastName": "X"})),
    )
    .await;
    assert_eq!(s, 404, "unknown sObject: {body}");
}

#[tokio::test]
async fn a_client_that_keeps_only_the_origin_of_instance_url_reaches_the_api() {
    let t = start().await;
    let tok = salesforce_tokens(&t).await;
    let token = tok["access_token"].as_str().expect("token").to_owned();
    let instance = tok["instance_url"].as_str().expect("instance_url");
    let parsed = url::Url::parse(instance).expect("instance_url is a URL");
    assert_eq!(
        parsed.path(),
        "/",
        "a real org's instance_url has no path: {instance}"
    );
    // simple-salesforce and jsforce keep the host (and port) and build their own paths.
    let host = parsed.host_str().expect("host");
    let port = parsed.port().map(|p| format!(":{p}")).unwrap_or_default();
    let origin = format!("{}://{host}{port}", parsed.scheme());

    let (s, created) = call(
        &t,
        &token,
        "POST",
        &format!("{origin}/services/data/v59.0/sobjects/Contact"),
        Some(json!({"LastName": "Origin"})),
    )
    .await;
    assert_eq!(s, 201, "{created}");
    let (s, found) = call(
        &t,
        &token,
        "GET",
        &format!("{origin}/services/data/v59.0/query/?q=SELECT+Id,LastName+FROM+Contact"),
        None,
    )
    .await;
    assert_eq!(s, 200, "{found}");
    assert_eq!(found["totalSize"], 1, "{found}");
    let (s, me) = call(
        &t,
        &token,
        "GET",
        &format!("{origin}/services/oauth2/userinfo"),
        None,
    )
    .await;
    assert_eq!(
        s, 200,
        "the identity endpoint lives on the instance too: {me}"
    );

    // The control plane and the other providers are not on the instance listener.
    let (s, _) = call(&t, &token, "GET", &format!("{origin}/_sandbox/stats"), None).await;
    assert_eq!(s, 404);
}
