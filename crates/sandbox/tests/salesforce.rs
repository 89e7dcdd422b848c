//! The Salesforce emulation over real HTTP: SOQL paging with query locators and batchSize, the
//! compound (SystemModstamp, Id) cursor, sObject Collections with per-record errors, expired
//! sessions, the daily API limit, the identity URL and Outbound Messages.

mod common;

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::post;
use axum::Router;
use common::{salesforce_tokens, start, start_with, TestSandbox};
use serde_json::{json, Value};

const DATA: &str = "/salesforce/services/data/v60.0";

async fn token(t: &TestSandbox) -> String {
    salesforce_tokens(t).await["access_token"]
        .as_str()
        .expect("access_token")
        .to_owned()
}

/// A Salesforce call: (status, headers, JSON body).
async fn sf(
    t: &TestSandbox,
    token: &str,
    method: &str,
    path: &str,
    body: Option<Value>,
    headers: &[(&str, &str)],
) -> (u16, HeaderMap, Value) {
    let m = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
    let url = if path.starts_with("/salesforce") {
        t.url(path)
    } else {
        t.url(&format!("/salesforce{path}"))
    };
    let mut req = t.http.request(m, url).bearer_auth(token);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send().await.expect("salesforce call");
    let status = r.status().as_u16();
    let h = r.headers().clone();
    let text = r.text().await.expect("body");
    (
        status,
        h,
        serde_json::from_str(&text).unwrap_or(Value::Null),
    )
}

async fn query(t: &TestSandbox, token: &str, soql: &str, batch: Option<u32>) -> (u16, Value) {
    let q: String = url::form_urlencoded::byte_serialize(soql.as_bytes()).collect();
    let opt = batch.map(|b| format!("batchSize={b}"));
    let headers: Vec<(&str, &str)> = opt
        .as_deref()
        .map(|o| vec![("Sforce-Query-Options", o)])
        .unwrap_or_default();
    let (s, _, v) = sf(
        t,
        token,
        "GET",
        &format!("{DATA}/query?q={q}"),
        None,
        &headers,
    )
    .await;
    (s, v)
}

fn ids(page: &Value) -> Vec<String> {
    page["records"]
        .as_array()
        .expect("records")
        .iter()
        .map(|r| r["Id"].as_str().expect("Id").to_owned())
        .collect()
}

/// `2026-01-01T00:00:00.000+0000` as a SOQL literal `2026-01-01T00:00:00Z`.
fn soql_datetime(sf_time: &str) -> String {
    chrono::DateTime::parse_from_str(sf_time, "%Y-%m-%dT%H:%M:%S%.3f%z")
        .expect("SystemModstamp format")
        .to_utc()
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

#[tokio::test]
async fn soql_pages_follow_next_records_url_in_the_requested_batch_size() {
    let t = start().await;
    t.seed("salesforce", "Contact", 450).await;
    let tok = token(&t).await;
    let soql = "SELECT Id, LastName, SystemModstamp FROM Contact ORDER BY SystemModstamp, Id";
    let (s, first) = query(&t, &tok, soql, Some(200)).await;
    assert_eq!(s, 200, "{first}");
    assert_eq!(first["totalSize"], 450);
    assert_eq!(first["done"], false);
    assert_eq!(first["records"].as_array().map(Vec::len), Some(200));
    assert_eq!(first["records"][0]["attributes"]["type"], "Contact");
    let next = first["nextRecordsUrl"].as_str().expect("nextRecordsUrl");
    assert!(
        next.starts_with("/services/data/v60.0/query/01g") && next.ends_with("-200"),
        "{next}"
    );
    let mut all = ids(&first);
    let mut url = next.to_owned();
    let mut pages = 1;
    loop {
        let (s, _, page) = sf(&t, &tok, "GET", &url, None, &[]).await;
        assert_eq!(s, 200, "{page}");
        pages += 1;
        all.extend(ids(&page));
        match page["nextRecordsUrl"].as_str() {
            Some(n) => {
                assert_eq!(page["done"], false);
                url = n.to_owned();
            }
            None => {
                assert_eq!(page["done"], true);
                break;
            }
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(all.len(), 450);
    assert_eq!(all.iter().collect::<HashSet<_>>().len(), 450);
    let mut sorted = all.clone();
    sorted.sort();
    assert_eq!(all, sorted, "ORDER BY Id is creation order");
    assert!(all.iter().all(|id| id.len() == 18 && id.starts_with("003")));

    // Below the minimum batch size Salesforce still sends 200; without the header, 2000.
    let (_, small) = query(&t, &tok, soql, Some(10)).await;
    assert_eq!(small["records"].as_array().map(Vec::len), Some(200));
    let (_, whole) = query(&t, &tok, soql, None).await;
    assert_eq!(whole["records"].as_array().map(Vec::len), Some(450));
    assert_eq!(whole["done"], true);

    let (s, bad) = query(&t, &tok, "SELECT Id FROM Contact GROUP BY Id", None).await;
    assert_eq!(s, 400);
    assert_eq!(bad[0]["errorCode"], "MALFORMED_QUERY");
    let (s, bad) = query(&t, &tok, "SELECT Id, Nope FROM Contact", None).await;
    assert_eq!(s, 400);
    assert_eq!(bad[0]["errorCode"], "INVALID_FIELD");
    let (s, _, bad) = sf(
        &t,
        &tok,
        "GET",
        &format!("{DATA}/query/01gNOPE-200"),
        None,
        &[],
    )
    .await;
    assert_eq!(s, 400);
    assert_eq!(bad[0]["errorCode"], "INVALID_QUERY_LOCATOR");
}

#[tokio::test]
async fn compound_cursor_where_returns_only_records_after_the_cursor() {
    let t = start().await;
    t.seed("salesforce", "contacts", 10).await;
    let tok = token(&t).await;
    let (_, all) = query(
        &t,
        &tok,
        "SELECT Id, SystemModstamp FROM Contact ORDER BY SystemModstamp, Id",
        None,
    )
    .await;
    let records = all["records"].as_array().expect("records").clone();
    let stamps: HashSet<&str> = records
        .iter()
        .map(|r| r["SystemModstamp"].as_str().expect("stamp"))
        .collect();
    assert_eq!(stamps.len(), 1, "one seed call shares one SystemModstamp");
    let stamp = records[0]["SystemModstamp"].as_str().expect("stamp");
    assert!(stamp.ends_with(".000+0000"), "{stamp}");
    let at = soql_datetime(stamp);
    let cursor_id = records[4]["Id"].as_str().expect("id");
    let soql = format!(
        "SELECT Id FROM Contact WHERE SystemModstamp > {at} OR (SystemModstamp = {at} AND Id > '{cursor_id}') ORDER BY SystemModstamp, Id"
    );
    let (s, after) = query(&t, &tok, &soql, None).await;
    assert_eq!(s, 200, "{after}");
    let expected: Vec<String> = records[5..]
        .iter()
        .map(|r| r["Id"].as_str().expect("id").to_owned())
        .collect();
    assert_eq!(ids(&after), expected);
    // Mixing AND and OR without parentheses is refused, as in Salesforce.
    let soql = format!(
        "SELECT Id FROM Contact WHERE SystemModstamp > {at} OR SystemModstamp = {at} AND Id > '{cursor_id}'"
    );
    let (s, bad) = query(&t, &tok, &soql, None).await;
    assert_eq!(s, 400);
    assert_eq!(bad[0]["errorCode"], "MALFORMED_QUERY");
}

#[tokio::test]
async fn collections_create_and_update_fail_only_the_bad_record() {
    let t = start().await;
    let tok = token(&t).await;
    let (s, _, created) = sf(
        &t,
        &tok,
        "POST",
        &format!("{DATA}/composite/sobjects"),
        Some(json!({"allOrNone": false, "records": [
            {"attributes": {"type": "Contact"}, "FirstName": "Ada", "LastName": "Lovelace", "Email": "ada@example.com"},
            {"attributes": {"type": "Contact"}, "FirstName": "NoLast"},
            {"attributes": {"type": "Contact"}, "LastName": "Hopper"},
        ]})),
        &[],
    )
    .await;
    assert_eq!(s, 200, "{created}");
    assert_eq!(created[0]["success"], true);
    assert_eq!(created[1]["success"], false);
    assert_eq!(
        created[1]["errors"][0]["statusCode"],
        "REQUIRED_FIELD_MISSING"
    );
    assert_eq!(created[1]["errors"][0]["fields"], json!(["LastName"]));
    assert_eq!(created[2]["success"], true);
    let ada = created[0]["id"].as_str().expect("id").to_owned();
    let hopper = created[2]["id"].as_str().expect("id").to_owned();
    assert_eq!(
        t.http
            .get(t.url("/_sandbox/salesforce/Contact"))
            .send()
            .await
            .expect("list")
            .json::<Value>()
            .await
            .expect("json")["total"],
        2
    );

    let (s, _, updated) = sf(
        &t,
        &tok,
        "PATCH",
        &format!("{DATA}/composite/sobjects"),
        Some(json!({"allOrNone": false, "records": [
            {"attributes": {"type": "Contact"}, "id": ada, "Phone": "(617) 555-0100"},
            {"attributes": {"type": "Contact"}, "id": hopper, "Shoe_Size__c": 9},
        ]})),
        &[],
    )
    .await;
    assert_eq!(s, 200, "{updated}");
    assert_eq!(updated[0]["success"], true);
    assert_eq!(updated[1]["success"], false);
    assert_eq!(updated[1]["id"], hopper.as_str());
    assert_eq!(updated[1]["errors"][0]["statusCode"], "INVALID_FIELD");

    let (s, _, read) = sf(
        &t,
        &tok,
        "POST",
        &format!("{DATA}/composite/sobjects/Contact"),
        Some(json!({"ids": [ada, "003000000000000AAA", hopper], "fields": ["Id", "Phone", "LastName", "SystemModstamp"]})),
        &[],
    )
    .await;
    assert_eq!(s, 200, "{read}");
    assert_eq!(read[0]["Phone"], "(617) 555-0100");
    assert!(read[1].is_null());
    assert_eq!(read[2]["LastName"], "Hopper");
    assert!(read[2]["SystemModstamp"]
        .as_str()
        .is_some_and(|s| s.ends_with(".000+0000")));
    // The same retrieve as a GET with comma-separated `ids` and `fields`, as Salesforce serves it.
    let (s, _, by_get) = sf(
        &t,
        &tok,
        "GET",
        &format!(
            "{DATA}/composite/sobjects/Contact?ids={ada},003000000000000AAA,{hopper}&fields=Id,Phone,LastName"
        ),
        None,
        &[],
    )
    .await;
    assert_eq!(s, 200, "{by_get}");
    assert_eq!(by_get[0]["Phone"], "(617) 555-0100");
    assert!(by_get[1].is_null());
    assert_eq!(by_get[2]["LastName"], "Hopper");
    assert!(by_get[2].get("SystemModstamp").is_none(), "{by_get}");

    // allOrNone: one bad record rolls back the others.
    let (_, _, rolled) = sf(
        &t,
        &tok,
        "POST",
        &format!("{DATA}/composite/sobjects"),
        Some(json!({"allOrNone": true, "records": [
            {"attributes": {"type": "Contact"}, "LastName": "Fine"},
            {"attributes": {"type": "Contact"}, "LastName": "Bad", "Email": "not-an-email"},
        ]})),
        &[],
    )
    .await;
    assert_eq!(
        rolled[0]["errors"][0]["statusCode"],
        "ALL_OR_NONE_OPERATION_ROLLED_BACK"
    );
    assert_eq!(
        rolled[1]["errors"][0]["statusCode"],
        "INVALID_EMAIL_ADDRESS"
    );
    let stats: Value = t
        .http
        .get(t.url("/_sandbox/stats"))
        .send()
        .await
        .expect("stats")
        .json()
        .await
        .expect("json");
    assert_eq!(stats["records"]["salesforce/Contact"], 2);
}

#[tokio::test]
async fn expired_or_missing_session_gets_401_invalid_session_id() {
    let t = start().await;
    let (s, _, body) = sf(
        &t,
        "nope",
        "GET",
        &format!("{DATA}/sobjects/Contact/003000000000000AAA"),
        None,
        &[],
    )
    .await;
    assert_eq!(s, 401);
    assert_eq!(
        body,
        json!([{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}])
    );

    let fresh = salesforce_tokens(&t).await;
    let tok = fresh["access_token"].as_str().expect("token");
    let identity = fresh["id"].as_str().expect("identity url");
    let (s, _, me) = sf(
        &t,
        tok,
        "GET",
        identity.trim_start_matches(&t.base),
        None,
        &[],
    )
    .await;
    assert_eq!(s, 200, "{me}");
    assert!(identity.ends_with(&format!(
        "/{}/{}",
        me["organization_id"].as_str().unwrap_or("?"),
        me["user_id"].as_str().unwrap_or("?")
    )));
    assert!(me["organization_id"]
        .as_str()
        .is_some_and(|o| o.starts_with("00D") && o.len() == 18));

    t.config(json!({"tokenTtlSeconds": 0})).await;
    let expired = token(&t).await;
    let (s, _, body) = sf(
        &t,
        &expired,
        "GET",
        &format!("{DATA}/query?q=SELECT+Id+FROM+Contact"),
        None,
        &[],
    )
    .await;
    assert_eq!(s, 401);
    assert_eq!(body[0]["errorCode"], "INVALID_SESSION_ID");
}

#[tokio::test]
async fn past_the_daily_limit_requests_get_403_request_limit_exceeded() {
    let t = start_with(true).await;
    t.config(json!({"rateLimits": {"salesforce": {"dailyApiRequests": 3}}}))
        .await;
    let tok = token(&t).await;
    let path = format!("{DATA}/query?q=SELECT+Id+FROM+Contact");
    for used in 1..=3 {
        let (s, h, _) = sf(&t, &tok, "GET", &path, None, &[]).await;
        assert_eq!(s, 200);
        assert_eq!(
            h["sforce-limit-info"],
            format!("api-usage={used}/3").as_str()
        );
    }
    let (s, h, body) = sf(&t, &tok, "GET", &path, None, &[]).await;
    assert_eq!(s, 403);
    assert_eq!(
        body,
        json!([{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}])
    );
    assert_eq!(h["sforce-limit-info"], "api-usage=3/3");
    // A reset starts a new day.
    t.http
        .post(t.url("/_sandbox/reset"))
        .send()
        .await
        .expect("reset");
    let (s, h, _) = sf(&t, &tok, "GET", &path, None, &[]).await;
    assert_eq!(s, 200);
    assert_eq!(h["sforce-limit-info"], "api-usage=1/3");
}

type Received = Arc<Mutex<Vec<(HeaderMap, String)>>>;

/// An outbound-message listener that fails its first delivery with a 500, then acks.
async fn listener() -> (String, Received) {
    #[derive(Clone)]
    struct S(Received, Arc<AtomicUsize>);
    async fn hook(
        State(S(got, calls)): State<S>,
        headers: HeaderMap,
        body: Bytes,
    ) -> axum::response::Response {
        got.lock()
            .expect("lock")
            .push((headers, String::from_utf8_lossy(&body).into_owned()));
        if calls.fetch_add(1, Ordering::SeqCst) == 0 {
            return (StatusCode::INTERNAL_SERVER_ERROR, "try later").into_response();
        }
        (
            [("content-type", "text/xml; charset=utf-8")],
            r#"<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body><notificationsResponse xmlns="http://soap.sforce.com/2005/09/outbound"><Ack>true</Ack></notificationsResponse></soapenv:Body></soapenv:Envelope>"#,
        )
            .into_response()
    }
    let got: Received = Arc::default();
    let app = Router::new()
        .route("/om", post(hook))
        .with_state(S(got.clone(), Arc::default()));
    let l = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/om", l.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(l, app).await });
    (url, got)
}

async fn wait_for(got: &Received, n: usize) -> Vec<(HeaderMap, String)> {
    for _ in 0..250 {
        if got.lock().expect("lock").len() >= n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    got.lock().expect("lock").clone()
}

fn between<'a>(s: &'a str, open: &str, close: &str) -> Option<&'a str> {
    let start = s.find(open)? + open.len();
    let end = s[start..].find(close)? + start;
    Some(&s[start..end])
}

#[tokio::test]
async fn control_plane_changes_send_outbound_messages_with_the_org_id() {
    let t = start().await;
    let (url, got) = listener().await;
    let org = salesforce_tokens(&t).await["id"]
        .as_str()
        .and_then(|id| id.rsplit('/').nth(1).map(str::to_owned))
        .expect("org id");
    let r = t
        .http
        .post(t.url("/_sandbox/salesforce/outbound-messages"))
        .json(&json!({"object": "Contact", "endpointUrl": url}))
        .send()
        .await
        .expect("configure");
    assert_eq!(r.status(), 201);
    t.seed("salesforce", "Contact", 3).await;
    let r = t
        .http
        .post(t.url("/_sandbox/salesforce/Contact"))
        .json(&json!({"FirstName": "Grace", "LastName": "Hopper"}))
        .send()
        .await
        .expect("create");
    assert_eq!(r.status(), 201);
    let created: Value = r.json().await.expect("json");
    let id = created["Id"].as_str().expect("Id").to_owned();

    // The first attempt gets a 500 and is retried with the same notification.
    let seen = wait_for(&got, 2).await;
    assert_eq!(
        seen.len(),
        2,
        "seeding sends nothing; the create is retried once"
    );
    let (headers, body) = &seen[1];
    assert_eq!(seen[0].1, *body);
    assert_eq!(headers["content-type"], "text/xml; charset=utf-8");
    assert_eq!(headers["soapaction"], "\"\"");
    assert_eq!(
        between(body, "<OrganizationId>", "</OrganizationId>"),
        Some(org.as_str())
    );
    assert!(body.contains(r#"<SessionId xsi:nil="true"/>"#));
    assert!(body.contains(r#"xsi:type="sf:Contact""#));
    assert_eq!(between(body, "<sf:Id>", "</sf:Id>"), Some(id.as_str()));
    assert!(body.contains("<sf:LastName>Hopper</sf:LastName>"));

    let r = t
        .http
        .patch(t.url(&format!("/_sandbox/salesforce/Contact/{id}")))
        .json(&json!({"Email": "grace@example.com"}))
        .send()
        .await
        .expect("patch");
    assert_eq!(r.status(), 200);
    let seen = wait_for(&got, 3).await;
    assert_eq!(seen.len(), 3);
    let body = &seen[2].1;
    assert!(body.contains("<sf:Email>grace@example.com</sf:Email>"));
    assert_ne!(
        between(body, "<Notification><Id>", "</Id>"),
        between(&seen[1].1, "<Notification><Id>", "</Id>")
    );
}
