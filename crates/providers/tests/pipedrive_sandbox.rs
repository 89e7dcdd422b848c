//! The Pipedrive adapter against the sandbox over HTTP: OAuth with `api_domain`, full and
//! incremental reads, one-request-per-record writes, per-record failures, 429s waited out,
//! `get_many`, and webhook subscriptions.

mod common;

use std::collections::HashSet;
use std::sync::Arc;

use fluxcascade_core::{Cursor, ProviderKind, Record};
use fluxcascade_providers::{
    connect, ConnectionContext, ListQuery, PipedriveClient, Provider, ProviderApp, ProviderError,
    StaticToken, WriteOp, WriteResult,
};
use serde_json::{json, Value};

/// A connected adapter whose API host comes from the token response's `api_domain` (the app's
/// `api_base` points nowhere, so using it would fail).
async fn pipedrive(sb: &common::TestSandbox) -> Arc<dyn Provider> {
    let tokens = sb.connect_oauth(ProviderKind::Pipedrive).await;
    assert_eq!(
        tokens.instance_url.as_deref(),
        Some(sb.url("/pipedrive").as_str())
    );
    let mut config = sb.config.clone();
    config.pipedrive.as_mut().expect("pipedrive").api_base = "http://127.0.0.1:9/nowhere".into();
    let ctx = ConnectionContext {
        instance_url: tokens.instance_url.clone(),
        ..ConnectionContext::simple(
            Arc::new(StaticToken(tokens.access_token)),
            reqwest::Client::new(),
        )
    };
    connect(ProviderKind::Pipedrive, &config, ctx).expect("connect")
}

async fn stats(sb: &common::TestSandbox) -> Value {
    sb.http
        .get(sb.url("/_sandbox/stats"))
        .send()
        .await
        .expect("stats")
        .json()
        .await
        .expect("stats json")
}

#[tokio::test]
async fn full_list_pages_through_every_person_once() {
    let sb = common::start().await;
    sb.seed("pipedrive", "persons", 250).await;
    let p = pipedrive(&sb).await;
    let query = ListQuery {
        page_size: 100,
        ..Default::default()
    };
    let (records, pages) = common::read_all(p.as_ref(), "persons", query).await;
    assert_eq!(pages, 3);
    assert_eq!(records.len(), 250);
    let ids: HashSet<_> = records.iter().map(|r| r.id.clone()).collect();
    assert_eq!(ids.len(), 250, "a person came back twice");
    assert!(records.iter().all(|r| r.fields["first_name"].is_string()
        && r.fields["emails"][0]["value"]
            .as_str()
            .is_some_and(|e| e.contains('@'))));
    assert_eq!(
        sb.request_count("pipedrive", "GET /api/v2/persons").await,
        3
    );
}

#[tokio::test]
async fn incremental_read_returns_exactly_the_changed_records() {
    let sb = common::start().await;
    sb.seed("pipedrive", "deals", 40).await;
    let p = pipedrive(&sb).await;
    let (all, _) = common::read_all(p.as_ref(), "deals", ListQuery::default()).await;
    assert_eq!(all.len(), 40);
    // Seeded deals end a second before now; the previous sync's cursor is in a later second.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let since = Cursor {
        updated_at: chrono::Utc::now(),
        id: String::new(),
    };
    let changed: HashSet<String> = ["3", "11", "12", "29", "40"].map(String::from).into();
    for id in &changed {
        sb.patch(
            "pipedrive",
            "deals",
            id,
            json!({"title": format!("Changed {id}")}),
        )
        .await;
    }
    let query = ListQuery {
        since: Some(since),
        page_size: 2,
        ..Default::default()
    };
    let (got, pages) = common::read_all(p.as_ref(), "deals", query).await;
    assert_eq!(pages, 3);
    let ids: HashSet<String> = got.iter().map(|r| r.id.clone()).collect();
    assert_eq!(ids, changed);
    assert_eq!(got.len(), changed.len(), "a changed deal came back twice");
    assert!(got
        .iter()
        .all(|r| r.fields["title"].as_str().unwrap().starts_with("Changed")));
    assert!(
        got.windows(2).all(|w| w[0].updated_at <= w[1].updated_at),
        "incremental reads go in update_time order"
    );
    assert_eq!(
        p.timestamp_resolution("deals"),
        std::time::Duration::from_secs(1)
    );
}

#[tokio::test]
async fn creates_and_updates_round_trip_with_names_joined() {
    let sb = common::start().await;
    let p = pipedrive(&sb).await;
    let ops: Vec<WriteOp> = (0..6)
        .map(|i| WriteOp::Create {
            fields: json!({"first_name": "Grace", "last_name": format!("Hopper{i}"),
                           "emails": [{"value": format!("g{i}@example.com")}]}),
        })
        .collect();
    let results = p.write("persons", &ops).await.expect("write");
    let created: Vec<Record> = results
        .into_iter()
        .enumerate()
        .map(|(i, r)| match r {
            WriteResult::Ok(rec) => {
                assert_eq!(rec.fields["name"], format!("Grace Hopper{i}"), "op order");
                rec
            }
            WriteResult::Failed { message, .. } => panic!("op {i} failed: {message}"),
        })
        .collect();
    assert_eq!(
        sb.request_count("pipedrive", "POST /api/v2/persons").await,
        6
    );
    let id = created[2].id.clone();
    let update = WriteOp::Update {
        id: id.clone(),
        fields: json!({"last_name": "Brewster", "phones": [{"value": "+16175550100"}]}),
    };
    let results = p.write("persons", &[update]).await.expect("update");
    let WriteResult::Ok(updated) = &results[0] else {
        panic!("{:?}", results[0]);
    };
    assert_eq!(updated.fields["name"], "Grace Brewster", "first name kept");
    assert_eq!(updated.fields["phones"][0]["value"], "+16175550100");
    assert!(updated.updated_at >= created[2].updated_at);
    let stored = sb.stored("pipedrive", "persons").await;
    let row = stored
        .iter()
        .find(|r| r["id"].as_u64().map(|n| n.to_string()).as_ref() == Some(&id))
        .unwrap();
    assert_eq!(row["last_name"], "Brewster");
    assert_eq!(row["emails"][0]["value"], "g2@example.com");
}

#[tokio::test]
async fn a_refused_op_fails_only_its_record() {
    let sb = common::start().await;
    sb.seed("pipedrive", "organizations", 2).await;
    let p = pipedrive(&sb).await;
    let ops = vec![
        WriteOp::Create {
            fields: json!({"name": "Good One"}),
        },
        WriteOp::Create {
            fields: json!({"name": "Bad", "shoe_size": 44}),
        },
        WriteOp::Update {
            id: "999999".into(),
            fields: json!({"name": "Ghost"}),
        },
        WriteOp::Update {
            id: "2".into(),
            fields: json!({"name": "Renamed"}),
        },
        WriteOp::Create {
            fields: json!({"owner_id": 1}),
        },
    ];
    let results = p.write("organizations", &ops).await.expect("write");
    assert_eq!(results.len(), 5);
    assert!(matches!(&results[0], WriteResult::Ok(r) if r.fields["name"] == "Good One"));
    match &results[1] {
        WriteResult::Failed { code, message } => {
            assert_eq!(code, "400");
            assert!(message.contains("shoe_size"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(&results[2], WriteResult::Failed { code, .. } if code == "404"));
    assert!(
        matches!(&results[3], WriteResult::Ok(r) if r.id == "2" && r.fields["name"] == "Renamed")
    );
    assert!(
        matches!(&results[4], WriteResult::Failed { message, .. } if message.contains("name")),
        "{:?}",
        results[4]
    );
    assert_eq!(sb.stored("pipedrive", "organizations").await.len(), 3);
}

#[tokio::test]
async fn get_many_returns_the_existing_ids() {
    let sb = common::start().await;
    sb.seed("pipedrive", "persons", 150).await;
    let p = pipedrive(&sb).await;
    let mut ids: Vec<String> = (1..=120).map(|i| i.to_string()).collect();
    ids.extend(["999999".to_owned(), "not-a-number".to_owned()]);
    let got = p.get_many("persons", &ids, &[]).await.expect("get_many");
    let got_ids: HashSet<String> = got.iter().map(|r| r.id.clone()).collect();
    let want: HashSet<String> = (1..=120).map(|i| i.to_string()).collect();
    assert_eq!(got_ids, want);
    assert_eq!(
        sb.request_count("pipedrive", "GET /api/v2/persons").await,
        2,
        "ids go 100 per request"
    );
}

#[tokio::test]
async fn burst_429s_are_waited_out_by_x_ratelimit_reset() {
    let sb = common::start().await;
    sb.seed("pipedrive", "persons", 10).await;
    let p = pipedrive(&sb).await;
    sb.configure(json!({"rateLimits": {"enabled": true, "pipedrive": {"burstPerTwoSeconds": 4}}}))
        .await;
    let ops: Vec<WriteOp> = (1..=8)
        .map(|i| WriteOp::Update {
            id: i.to_string(),
            fields: json!({"name": format!("Burst {i}")}),
        })
        .collect();
    let results = p
        .write("persons", &ops)
        .await
        .expect("write waits the limit out");
    assert!(results.iter().all(|r| matches!(r, WriteResult::Ok(_))));
    let v = stats(&sb).await;
    let limited: u64 = v["requests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["provider"] == "pipedrive" && r["status"] == 429)
        .map(|r| r["count"].as_u64().unwrap())
        .sum();
    assert!(limited > 0, "the sandbox answered 429s: {v}");
    let stored = sb.stored("pipedrive", "persons").await;
    assert!(stored
        .iter()
        .filter(|r| r["id"].as_u64().unwrap() <= 8)
        .all(|r| r["name"].as_str().unwrap().starts_with("Burst")));
}

#[tokio::test]
async fn a_spent_daily_budget_is_not_waited_out() {
    let sb = common::start().await;
    let p = pipedrive(&sb).await;
    sb.configure(json!({"rateLimits": {"enabled": true, "pipedrive": {"dailyTokens": 10}}}))
        .await;
    p.list("persons", &ListQuery::default())
        .await
        .expect("first list fits the budget");
    let err = p.list("persons", &ListQuery::default()).await.unwrap_err();
    assert!(
        matches!(&err, ProviderError::Transient(m) if m.contains("daily")),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_rejected_token_is_an_auth_error() {
    let sb = common::start().await;
    let p = PipedriveClient::new(
        sb.app(ProviderKind::Pipedrive),
        Arc::new(StaticToken("revoked".into())),
        reqwest::Client::new(),
    );
    let err = p.list("persons", &ListQuery::default()).await.unwrap_err();
    assert!(matches!(err, ProviderError::Auth(_)), "{err:?}");
    let err = p.list("leads", &ListQuery::default()).await.unwrap_err();
    assert!(matches!(err, ProviderError::Permanent(_)), "{err:?}");
}

#[tokio::test]
async fn webhook_subscriptions_are_created_and_deleted() {
    let sb = common::start().await;
    let tokens = sb.connect_oauth(ProviderKind::Pipedrive).await;
    let app = ProviderApp {
        api_base: tokens.instance_url.clone().expect("api_domain"),
        ..sb.app(ProviderKind::Pipedrive).clone()
    };
    let p = PipedriveClient::new(
        &app,
        Arc::new(StaticToken(tokens.access_token.clone())),
        reqwest::Client::new(),
    );
    let id = p
        .create_webhook(
            "https://fluxcascade.example/hooks/pipedrive/c-1",
            "*",
            "*",
            "c-1",
            "s3cret",
        )
        .await
        .expect("create webhook");
    let listed: Value = sb
        .http
        .get(sb.url("/pipedrive/api/v1/webhooks"))
        .bearer_auth(&tokens.access_token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let sub = &listed["data"][0];
    assert_eq!(sub["id"].to_string(), id);
    assert_eq!(sub["version"], "2.0");
    assert_eq!(sub["http_auth_user"], "c-1");
    assert_eq!(sub["event_object"], "*");
    let bad = p.create_webhook("not a url", "*", "*", "u", "p").await;
    assert!(matches!(bad, Err(ProviderError::Permanent(_))), "{bad:?}");
    p.delete_webhook(&id).await.expect("delete");
    let again = p.delete_webhook(&id).await;
    assert!(
        matches!(again, Err(ProviderError::Permanent(_))),
        "{again:?}"
    );
}
