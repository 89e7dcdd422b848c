//! Search by field over HTTP: HubSpot's `IN` (lowercase values, documented limits on groups,
//! filters and values) and Salesforce's SOQL `IN` with its URI limit.

mod common;

use common::{salesforce_tokens, start};
use serde_json::{json, Value};

fn in_filter(values: Vec<String>) -> Value {
    json!({"propertyName": "email", "operator": "IN", "values": values})
}

#[tokio::test]
async fn hubspot_in_matches_lowercase_values_and_enforces_the_limits() {
    let t = start().await;
    t.seed("hubspot", "contacts", 1_000).await;
    let tok = t.hubspot_token().await;
    let path = "/crm/v3/objects/contacts/search";
    let (_, page) = t
        .hs(
            &tok,
            "POST",
            path,
            Some(json!({"limit": 2, "properties": ["email"]})),
        )
        .await;
    let emails: Vec<String> = page["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["properties"]["email"].as_str().unwrap().to_owned())
        .collect();
    let body = |values: Vec<String>| json!({"filterGroups": [{"filters": [in_filter(values)]}]});
    let (status, found) = t.hs(&tok, "POST", path, Some(body(emails.clone()))).await;
    assert_eq!(status, 200, "{found}");
    assert_eq!(found["total"], 2);
    // HubSpot documents that IN values on text must be lowercase.
    let upper: Vec<String> = emails.iter().map(|e| e.to_uppercase()).collect();
    let (_, none) = t.hs(&tok, "POST", path, Some(body(upper))).await;
    assert_eq!(none["total"], 0);

    let many: Vec<String> = (0..101).map(|i| format!("x{i}@y.io")).collect();
    let (status, err) = t.hs(&tok, "POST", path, Some(body(many))).await;
    assert_eq!(status, 400, "101 IN values: {err}");
    assert!(err["message"].as_str().unwrap().contains("100"), "{err}");
    let group = || json!({"filters": [in_filter(vec!["a@b.io".into()])]});
    let (status, _) = t
        .hs(
            &tok,
            "POST",
            path,
            Some(json!({"filterGroups": (0..6).map(|_| group()).collect::<Vec<_>>()})),
        )
        .await;
    assert_eq!(status, 400, "6 filterGroups");
    let eleven: Vec<Value> = (0..11).map(|_| in_filter(vec!["a@b.io".into()])).collect();
    let (status, _) = t
        .hs(
            &tok,
            "POST",
            path,
            Some(json!({"filterGroups": [{"filters": eleven}]})),
        )
        .await;
    assert_eq!(status, 400, "11 filters in a group");
    let groups: Vec<Value> = (0..5)
        .map(|_| json!({"filters": (0..6).map(|_| in_filter(vec!["a@b.io".into()])).collect::<Vec<_>>()}))
        .collect();
    let (status, _) = t
        .hs(&tok, "POST", path, Some(json!({"filterGroups": groups})))
        .await;
    assert_eq!(status, 400, "30 filters in all");
}

#[tokio::test]
async fn salesforce_soql_in_and_the_uri_limit() {
    let t = start().await;
    let tokens = salesforce_tokens(&t).await;
    let tok = tokens["access_token"].as_str().unwrap().to_owned();
    let query = |q: String| {
        let (t, tok) = (&t, tok.clone());
        async move {
            let r = t
                .http
                .get(t.url("/salesforce/services/data/v60.0/query"))
                .query(&[("q", q)])
                .bearer_auth(tok)
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            (status, r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    for (last, email) in [("O'Hara", "o'hara@example.com"), ("Ng", "ng@example.com")] {
        let r = t
            .http
            .post(t.url("/salesforce/services/data/v60.0/sobjects/Contact"))
            .bearer_auth(&tok)
            .json(&json!({"LastName": last, "Email": email}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
    }
    let (status, body) = query(
        "SELECT Id, LastName FROM Contact WHERE Email IN ('O\\'HARA@example.com', 'ng@example.com', 'no@x.io')"
            .into(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["totalSize"], 2);
    let (_, not_in) =
        query("SELECT Id FROM Contact WHERE Email NOT IN ('ng@example.com')".into()).await;
    assert_eq!(not_in["totalSize"], 1);
    let (status, body) =
        query("SELECT Id FROM Contact WHERE Email IN 'ng@example.com'".into()).await;
    assert_eq!(status, 400);
    assert_eq!(body[0]["errorCode"], "MALFORMED_QUERY");
    let long: Vec<String> = (0..2_000).map(|i| format!("'v{i}@example.com'")).collect();
    let (status, body) = query(format!(
        "SELECT Id FROM Contact WHERE Email IN ({})",
        long.join(", ")
    ))
    .await;
    assert_eq!(status, 414, "a query URI over 16,384 bytes: {body}");
}
