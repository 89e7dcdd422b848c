//! The `/_sandbox` control plane: seed, create, patch, read, config, stats, reset.

mod common;

use std::time::{Duration, Instant};

use common::start;
use serde_json::{json, Value};

async fn get(t: &common::TestSandbox, path: &str) -> (u16, Value) {
    let r = t.http.get(t.url(path)).send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn seed_is_deterministic_and_fast() {
    let a = start().await;
    let b = start().await;
    let started = Instant::now();
    a.seed("hubspot", "contacts", 20_000).await;
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "seeding took {:?}",
        started.elapsed()
    );
    b.seed("hubspot", "contacts", 20_000).await;
    let (_, la) = get(&a, "/_sandbox/hubspot/contacts?limit=5&offset=19995").await;
    let (_, lb) = get(&b, "/_sandbox/hubspot/contacts?limit=5&offset=19995").await;
    assert_eq!(la["total"], 20_000);
    let pa: Vec<&Value> = la["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| &r["properties"]["email"])
        .collect();
    let pb: Vec<&Value> = lb["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| &r["properties"]["email"])
        .collect();
    assert_eq!(pa, pb);
    let rec = &la["data"][0]["properties"];
    for key in [
        "firstname",
        "lastname",
        "email",
        "phone",
        "company",
        "address",
        "city",
        "state",
        "zip",
    ] {
        assert!(
            rec[key].as_str().is_some_and(|s| !s.is_empty()),
            "missing {key}: {rec}"
        );
    }
    a.seed("jobber", "clients", 3).await;
    let (_, clients) = get(&a, "/_sandbox/jobber/clients").await;
    let c = &clients["data"][0];
    assert!(c["emails"][0]["address"].as_str().unwrap().contains('@'));
    assert!(c["phones"][0]["number"].as_str().is_some());
    assert!(c["billingAddress"]["city"].as_str().is_some());
}

#[tokio::test]
async fn create_patch_get_and_reset() {
    let t = start().await;
    let r = t
        .http
        .post(t.url("/_sandbox/hubspot/contacts"))
        .json(&json!({"properties": {"email": "c@p.io", "firstname": "C"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let created: Value = r.json().await.unwrap();
    let id = created["id"].as_str().unwrap().to_owned();
    tokio::time::sleep(Duration::from_millis(5)).await;
    let r = t
        .http
        .patch(t.url(&format!("/_sandbox/hubspot/contacts/{id}")))
        .json(&json!({"firstname": "Cee"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (status, got) = get(&t, &format!("/_sandbox/hubspot/contacts/{id}")).await;
    assert_eq!(status, 200);
    assert_eq!(got["properties"]["firstname"], "Cee");
    assert_eq!(got["properties"]["email"], "c@p.io");
    assert!(got["updatedAt"].as_str().unwrap() > created["updatedAt"].as_str().unwrap());

    // The change is visible through the provider API too.
    let tok = t.hubspot_token().await;
    let (_, api) = t
        .hs(&tok, "GET", &format!("/crm/v3/objects/contacts/{id}"), None)
        .await;
    assert_eq!(api["properties"]["firstname"], "Cee");

    let r = t
        .http
        .post(t.url("/_sandbox/jobber/clients"))
        .json(&json!({"firstName": "Jo", "emails": [{"address": "jo@x.io"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let jc: Value = r.json().await.unwrap();
    let (status, _) = get(
        &t,
        &format!("/_sandbox/jobber/clients/{}", jc["id"].as_str().unwrap()),
    )
    .await;
    assert_eq!(status, 200);

    let (_, stats) = get(&t, "/_sandbox/stats").await;
    assert!(stats["requests"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["endpoint"] == "GET /crm/v3/objects/contacts/{id}"));

    let r = t.http.post(t.url("/_sandbox/reset")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let (_, list) = get(&t, "/_sandbox/hubspot/contacts").await;
    assert_eq!(list["total"], 0);
    let (_, stats) = get(&t, "/_sandbox/stats").await;
    assert_eq!(stats["requests"], json!([]));
    // Tokens survive a reset.
    let (status, _) = t.hs(&tok, "GET", "/crm/v3/objects/contacts", None).await;
    assert_eq!(status, 200);
    let (status, _) = get(&t, "/_sandbox/hubspot/contacts/1").await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn config_latency_and_error_rate_apply_to_provider_apis() {
    let t = start().await;
    let cfg = t.config(json!({"latencyMs": 500})).await;
    assert_eq!(cfg["latencyMs"], 500);
    assert_eq!(cfg["tokenTtlSeconds"], 1800);
    assert_eq!(cfg["rateLimits"]["enabled"], false);
    let tok = t.hubspot_token().await;
    let started = Instant::now();
    let (status, _) = t.hs(&tok, "GET", "/crm/v3/objects/contacts", None).await;
    assert_eq!(status, 200);
    assert!(started.elapsed() >= Duration::from_millis(500));
    let started = Instant::now();
    let _ = get(&t, "/_sandbox/stats").await;
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "control plane is not delayed"
    );

    t.config(json!({"latencyMs": 0, "errorRate": 1.0})).await;
    let (status, body) = t.hs(&tok, "GET", "/crm/v3/objects/contacts", None).await;
    assert_eq!(status, 500);
    assert_eq!(body["status"], "error");
    let jb = t.jobber_token().await;
    let (status, _) = t.gql(&jb, "{ clients { totalCount } }", json!({})).await;
    assert_eq!(status, 503);

    let r = t
        .http
        .put(t.url("/_sandbox/config"))
        .json(&json!({"errorRate": 2.0}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
}
