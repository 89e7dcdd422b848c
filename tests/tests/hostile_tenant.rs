//! The attack suite (issue "Hardening"): a deployment in production posture — no sandbox URL,
//! app credentials for HubSpot only, pointed at the sandbox by explicit base URLs — driven by two
//! organizations through the real API. Every attack gets a 4xx naming the field; no process
//! exits; a loopback listener the suite runs (the "internal service") is never contacted; no
//! response is a 5xx. Also proptest-generated bodies on every public JSON endpoint.

use std::time::Duration;

use anyhow::Context;
use fluxcascade_tests::prod::{sandbox_token, Prod, Trap};
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::TestRunner;
use reqwest::Method;
use serde_json::{json, Value};

/// The 422 details' fields of an error body.
fn fields(v: &Value) -> Vec<String> {
    v["error"]["details"]
        .as_array()
        .map(|d| {
            d.iter()
                .filter_map(|x| x["field"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn mapping(connection: &str, pairs: Value) -> Value {
    json!({
        "name": "attack",
        "source": {"connectionId": connection, "object": "contacts"},
        "target": {"connectionId": connection, "object": "companies"},
        "fieldPairs": pairs,
    })
}

/// Asserts a 4xx whose details name `field` (or, for `field` = "", any 4xx).
fn assert_refused(what: &str, (status, body): &(u16, Value), want: u16, field: &str) {
    assert_eq!(*status, want, "{what}: {body}");
    if !field.is_empty() {
        assert!(
            fields(body).iter().any(|f| f == field),
            "{what}: details should name {field}: {body}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostile_tenant_gets_4xx_naming_the_field_and_reaches_nothing() -> anyhow::Result<()> {
    let mut env = Prod::start("hostile_tenant").await?;
    let trap = Trap::start().await?;
    let (owner_a, member_a, owner_b) = (
        env.owner_a.clone(),
        env.member_a.clone(),
        env.owner_b.clone(),
    );
    let conn_a = env.connect_hubspot(&owner_a, "attacker").await?;
    let conn_b = env.connect_hubspot(&owner_b, "victim").await?;
    let conn = conn_a["id"].as_str().context("id")?.to_owned();
    let deep_path = vec!["x"; 100_000].join(".");

    // One request must not kill a process: a path of 100,000 segments, as a Member's preview
    // and as an Admin's mapping.
    let r = env
        .call(
            Method::POST,
            "/v1/mappings/preview",
            &member_a,
            json!({"mapping": mapping(&conn, json!([{"sourceField": "firstname", "targetField": deep_path}])),
                   "records": [{"firstname": "x"}]}),
        )
        .await?;
    assert_refused(
        "deep path preview",
        &r,
        422,
        "mapping.fieldPairs[0].targetField",
    );
    let r = env
        .call(
            Method::POST,
            "/v1/mappings",
            &owner_a,
            mapping(
                &conn,
                json!([{"sourceField": deep_path, "targetField": "name"}]),
            ),
        )
        .await?;
    assert_refused("deep path mapping", &r, 422, "fieldPairs[0].sourceField");

    // 20,000 field pairs × 100 records, 10,000 associations.
    let pairs: Vec<Value> = (0..20_000)
        .map(|i| json!({"sourceField": "a", "targetField": format!("f{i}")}))
        .collect();
    let records: Vec<Value> = (0..100).map(|i| json!({"a": i})).collect();
    let r = env
        .call(
            Method::POST,
            "/v1/mappings/preview",
            &member_a,
            json!({"mapping": mapping(&conn, json!(pairs)), "records": records}),
        )
        .await?;
    assert_refused("20,000 pairs", &r, 422, "mapping.fieldPairs");
    let mut spec = mapping(
        &conn,
        json!([{"sourceField": "firstname", "targetField": "name"}]),
    );
    spec["associations"] = json!(vec![
        json!({"source": "contacts", "mappingId": uuid::Uuid::new_v4(), "targetField": "x"});
        10_000
    ]);
    let r = env
        .call(Method::POST, "/v1/mappings", &owner_a, spec)
        .await?;
    assert_refused("10,000 associations", &r, 422, "associations");

    // Nesting, NUL, lengths.
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000)).into_bytes();
    let r = env
        .send(Method::POST, "/v1/mappings", Some(&owner_a), Some(deep))
        .await?;
    assert_refused("deep JSON", &r, 422, "body");
    let mut spec = mapping(
        &conn,
        json!([{"sourceField": "firstname", "targetField": "name"}]),
    );
    spec["name"] = json!("evil\u{0}");
    let r = env
        .call(Method::POST, "/v1/mappings", &owner_a, spec.clone())
        .await?;
    assert_refused("NUL in a name", &r, 422, "name");
    spec["name"] = json!("n".repeat(201));
    let r = env
        .call(Method::POST, "/v1/mappings", &owner_a, spec.clone())
        .await?;
    assert_refused("long name", &r, 422, "name");
    spec["name"] = json!("ok");
    spec["fieldPairs"] = json!([{"sourceField": "phone", "targetField": "phone", "transform": "phone_e164",
        "transformOptions": {"region": "US", "pad": "x".repeat(5000)}}]);
    let r = env
        .call(Method::POST, "/v1/mappings", &owner_a, spec.clone())
        .await?;
    assert_refused(
        "huge transformOptions",
        &r,
        422,
        "fieldPairs[0].transformOptions",
    );
    spec["fieldPairs"] = json!([{"sourceField": "firstname", "targetField": "name"}]);
    spec["schedule"] = json!({"cron": "0 0 30 2 *", "timezone": "UTC"});
    let r = env
        .call(Method::POST, "/v1/mappings", &owner_a, spec.clone())
        .await?;
    assert_refused("a cron that never fires", &r, 422, "schedule.cron");
    let r = env
        .call(
            Method::POST,
            "/v1/connections",
            &owner_a,
            json!({"provider": "hubspot", "accountName": "a\u{0}", "credentials": {"accessToken": "t"}}),
        )
        .await?;
    assert_refused("NUL in accountName", &r, 422, "accountName");

    // SSRF: instance URLs and webhook URLs pointing inside.
    let inside = format!("http://127.0.0.1:{}/", trap.port);
    for provider in ["salesforce", "pipedrive"] {
        let r = env
            .call(
                Method::POST,
                "/v1/connections",
                &owner_a,
                json!({"provider": provider, "credentials": {"accessToken": "t"}, "instanceUrl": inside}),
            )
            .await?;
        assert_refused(&format!("{provider} instanceUrl"), &r, 422, "instanceUrl");
    }
    let p = trap.port;
    for url in [
        format!("https://127.0.0.1:{p}/"),
        format!("http://127.0.0.1:{p}/"),
        format!("https://localhost:{p}/"),
        format!("https://[::1]:{p}/"),
        format!("https://0.0.0.0:{p}/"),
        format!("https://2130706433:{p}/"),
        format!("https://0x7f.1:{p}/"),
        format!("https://0177.0.0.1:{p}/"),
        format!("https://127.1:{p}/"),
        format!("https://[::ffff:127.0.0.1]:{p}/"),
        format!("https://example.com/{}", "a".repeat(2_100)),
    ] {
        let r = env
            .call(
                Method::POST,
                "/v1/webhooks",
                &owner_a,
                json!({"url": url, "events": ["sync.completed"]}),
            )
            .await?;
        assert_refused(&format!("webhook url {url:.60}"), &r, 422, "url");
    }

    // Another tenant's account: A claims B's portal with its own token.
    let victim_portal = conn_b["externalAccountId"].as_str().context("portal")?;
    assert_ne!(
        victim_portal,
        conn_a["externalAccountId"].as_str().unwrap_or("")
    );
    // Tokens are never shown by the API: A takes a fresh grant of its own portal from HubSpot.
    let token_a = sandbox_token(&env, "attacker").await?;
    let r = env
        .call(
            Method::POST,
            "/v1/connections",
            &owner_a,
            json!({"provider": "hubspot", "externalAccountId": victim_portal,
                   "credentials": {"accessToken": token_a}}),
        )
        .await?;
    assert_refused("claiming another portal", &r, 422, "externalAccountId");

    // Secrets fail closed: Jobber has no app credentials here; the sandbox's public secret
    // does not sign HubSpot webhooks.
    let r = env
        .send(
            Method::POST,
            "/hooks/jobber",
            None,
            Some(br#"{"data":{}}"#.to_vec()),
        )
        .await?;
    assert_eq!(r.0, 404, "{}", r.1);
    assert_eq!(r.1["error"]["code"], "provider_not_configured");
    let r = env
        .send(
            Method::GET,
            "/v1/oauth/jobber/authorize",
            Some(&owner_a),
            None,
        )
        .await?;
    assert_eq!(r.0, 404, "{}", r.1);
    assert_eq!(r.1["error"]["code"], "provider_not_configured");
    let body = json!([{"eventId": 1, "portalId": victim_portal, "subscriptionType": "contact.propertyChange",
        "objectId": 1, "occurredAt": 0}])
    .to_string();
    let ts = chrono::Utc::now().timestamp_millis().to_string();
    let uri = format!("{}/hooks/hubspot", env.api);
    let forged = fluxcascade_tests::hubspot_signature("sandbox-secret", &uri, &body, &ts);
    let resp = env
        .http
        .post(&uri)
        .header("X-HubSpot-Signature-v3", forged)
        .header("X-HubSpot-Request-Timestamp", &ts)
        .header("content-type", "application/json")
        .body(body.clone())
        .send()
        .await?;
    assert_eq!(
        resp.status().as_u16(),
        401,
        "the sandbox secret signs nothing here"
    );
    let genuine = fluxcascade_tests::hubspot_signature(&env.app_secret, &uri, &body, &ts);
    let resp = env
        .http
        .post(&uri)
        .header("X-HubSpot-Signature-v3", genuine)
        .header("X-HubSpot-Request-Timestamp", &ts)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await?;
    assert_eq!(resp.status().as_u16(), 200, "the real app secret verifies");

    // /metrics is not on the public API port.
    let r = env.send(Method::GET, "/metrics", None, None).await?;
    assert_eq!(r.0, 404, "{}", r.1);

    fuzz_public_endpoints(&mut env, &conn, &owner_a).await?;

    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(env.all_running(), Vec::<String>::new(), "no process exited");
    assert_eq!(trap.hits(), 0, "nothing reached the internal listener");
    assert_eq!(env.server_errors, Vec::<String>::new(), "no 5xx");
    let (s, _) = env.send(Method::GET, "/healthz", None, None).await?;
    assert_eq!(s, 200);
    Ok(())
}

/// Any JSON a hostile client might send: nested, huge, unicode, NUL, wrong types.
fn hostile_json() -> impl Strategy<Value = Value> {
    use proptest::prelude::*;
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| json!(f)),
        ".{0,40}".prop_map(Value::String),
        "[\\x00-\\x1f]{1,5}".prop_map(Value::String),
        (0usize..70_000).prop_map(|n| Value::String("é".repeat(n))),
        prop_oneof![
            Just("hubspot"),
            Just("contacts"),
            Just("a.b[0].c"),
            Just("phone_e164"),
            Just("* * * * *"),
            Just("sync.completed"),
            Just("https://example.com/hook"),
            Just("00000000-0000-0000-0000-000000000000"),
        ]
        .prop_map(|s| Value::String(s.into())),
    ];
    leaf.prop_recursive(6, 64, 8, |inner| {
        let keys = prop_oneof![
            Just("name".to_owned()),
            Just("provider".to_owned()),
            Just("credentials".to_owned()),
            Just("accessToken".to_owned()),
            Just("mapping".to_owned()),
            Just("records".to_owned()),
            Just("fieldPairs".to_owned()),
            Just("sourceField".to_owned()),
            Just("targetField".to_owned()),
            Just("transform".to_owned()),
            Just("transformOptions".to_owned()),
            Just("source".to_owned()),
            Just("target".to_owned()),
            Just("connectionId".to_owned()),
            Just("object".to_owned()),
            Just("schedule".to_owned()),
            Just("cron".to_owned()),
            Just("url".to_owned()),
            Just("events".to_owned()),
            Just("mappingId".to_owned()),
            Just("mode".to_owned()),
            ".{0,12}",
        ];
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            proptest::collection::btree_map(keys, inner, 0..8)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Proptest-generated bodies on every public JSON endpoint: 0 5xx, 0 aborts.
async fn fuzz_public_endpoints(env: &mut Prod, conn: &str, key: &str) -> anyhow::Result<()> {
    let mut runner = TestRunner::deterministic();
    let strategy = hostile_json();
    let mut bodies: Vec<Value> = Vec::new();
    for _ in 0..60 {
        let tree = strategy
            .new_tree(&mut runner)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        bodies.push(tree.current());
    }
    // Some shaped ones, so the fuzz gets past the outer parse into validation.
    for b in bodies.clone().into_iter().take(20) {
        bodies.push(
            json!({"name": b, "source": {"connectionId": conn, "object": "contacts"},
            "target": {"connectionId": conn, "object": "companies"},
            "fieldPairs": [{"sourceField": b, "targetField": "name", "transformOptions": b}]}),
        );
        bodies.push(
            json!({"mapping": {"name": "m", "source": {"connectionId": conn, "object": "contacts"},
            "target": {"connectionId": conn, "object": "companies"},
            "fieldPairs": [{"sourceField": "a", "targetField": "b"}]}, "records": [b]}),
        );
    }
    let (s, m) = env
        .call(
            Method::POST,
            "/v1/mappings",
            key,
            mapping(
                conn,
                json!([{"sourceField": "firstname", "targetField": "name"}]),
            ),
        )
        .await?;
    assert_eq!(s, 201, "{m}");
    let mapping_id = m["id"].as_str().context("mapping id")?.to_owned();
    let endpoints: Vec<(Method, String)> = vec![
        (Method::POST, "/v1/connections".into()),
        (Method::POST, "/v1/mappings".into()),
        (Method::POST, "/v1/mappings/preview".into()),
        (Method::PATCH, format!("/v1/mappings/{mapping_id}")),
        (Method::POST, "/v1/syncs".into()),
        (Method::POST, "/v1/webhooks".into()),
        (Method::POST, "/hooks/hubspot".into()),
        (Method::POST, "/hooks/jobber".into()),
    ];
    for body in &bodies {
        let bytes = serde_json::to_vec(body)?;
        for (method, path) in &endpoints {
            let (status, answer) = env
                .send(method.clone(), path, Some(key), Some(bytes.clone()))
                .await?;
            assert!(status < 500, "{method} {path} answered {status}: {answer}");
        }
    }
    // Raw garbage and a body that is valid JSON for nobody.
    for raw in [
        &b"\xff\xfe{"[..],
        b"{\"a\":",
        b"nul\x00l",
        b"[]",
        b"\"\\u0000\"",
    ] {
        for (method, path) in &endpoints {
            let (status, answer) = env
                .send(method.clone(), path, Some(key), Some(raw.to_vec()))
                .await?;
            assert!(status < 500, "{method} {path} answered {status}: {answer}");
        }
    }
    Ok(())
}
