//! The Salesforce adapter against the sandbox over HTTP: SOQL paging, the compound
//! (SystemModstamp, Id) cursor across a tie group, Collections writes, refresh on 401 and the
//! daily request limit.

mod common;

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use fluxcascade_core::{Cursor, ProviderKind, Record};
use fluxcascade_providers::{
    connect, ConnectionContext, ListQuery, Provider, ProviderError, TokenSet, TokenSource, WriteOp,
    WriteResult,
};
use serde_json::json;

/// The adapter for a fresh OAuth connection, on the token response's `instance_url`.
async fn salesforce(sb: &common::TestSandbox) -> Arc<dyn Provider> {
    let t = sb.connect_oauth(ProviderKind::Salesforce).await;
    assert!(t
        .account_id
        .as_deref()
        .is_some_and(|o| o.starts_with("00D")));
    let instance_url = t.instance_url.clone();
    assert_eq!(
        instance_url.as_deref(),
        Some(sb.salesforce_instance.as_str()),
        "instance_url is an origin (no path), as a real org's is"
    );
    let parsed = url::Url::parse(instance_url.as_deref().unwrap_or_default()).expect("a URL");
    assert_eq!(parsed.path(), "/", "no path: {parsed}");
    let mut ctx = ConnectionContext::simple(
        Arc::new(fluxcascade_providers::StaticToken(t.access_token)),
        reqwest::Client::new(),
    );
    ctx.instance_url = instance_url;
    connect(ProviderKind::Salesforce, &sb.config, ctx).expect("connect")
}

fn ids(records: &[Record]) -> Vec<String> {
    records.iter().map(|r| r.id.clone()).collect()
}

#[tokio::test]
async fn full_read_returns_every_contact_once_over_several_pages() {
    let sb = common::start().await;
    sb.seed("salesforce", "Contact", 450).await;
    let p = salesforce(&sb).await;
    let (records, pages) = common::read_all(
        p.as_ref(),
        "Contact",
        ListQuery {
            page_size: 200,
            ..Default::default()
        },
    )
    .await;
    assert_eq!(pages, 3);
    assert_eq!(records.len(), 450);
    assert_eq!(ids(&records).into_iter().collect::<HashSet<_>>().len(), 450);
    let first = &records[0];
    assert!(first.fields.get("attributes").is_none());
    assert!(first.fields["LastName"]
        .as_str()
        .is_some_and(|s| !s.is_empty()));
    assert_eq!(first.fields["Id"], first.id.as_str());
    assert_eq!(first.updated_at.timestamp_subsec_millis(), 0);
    assert_eq!(
        p.timestamp_resolution("Contact"),
        std::time::Duration::from_secs(1)
    );
    // The object name may be given in any case or as the plural.
    let page = p
        .list("contacts", &ListQuery::default())
        .await
        .expect("plural name");
    assert_eq!(page.records.len(), 450);
}

/// Waits until the wall clock is past `t`'s second, so a change lands on a later SystemModstamp.
async fn next_second_after(t: chrono::DateTime<chrono::Utc>) {
    while chrono::Utc::now().timestamp() <= t.timestamp() {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn incremental_read_from_a_cursor_returns_exactly_the_changed_records() {
    let sb = common::start().await;
    sb.seed("salesforce", "Contact", 300).await;
    let p = salesforce(&sb).await;
    let (records, _) = common::read_all(p.as_ref(), "Contact", ListQuery::default()).await;
    let cursor = records.last().map(Cursor::of).expect("cursor");
    next_second_after(cursor.updated_at).await;
    let changed = [&records[7].id, &records[150].id, &records[299].id];
    for id in changed {
        sb.patch("salesforce", "Contact", id, json!({"Title": "Changed"}))
            .await;
    }
    let (after, _) = common::read_all(
        p.as_ref(),
        "Contact",
        ListQuery {
            since: Some(cursor),
            fields: vec!["Title".into()],
            ..Default::default()
        },
    )
    .await;
    assert_eq!(
        ids(&after),
        changed.iter().map(|s| (*s).clone()).collect::<Vec<_>>()
    );
    assert!(after.iter().all(|r| r.fields["Title"] == "Changed"));
    let (none, _) = common::read_all(
        p.as_ref(),
        "Contact",
        ListQuery {
            since: after.last().map(Cursor::of),
            ..Default::default()
        },
    )
    .await;
    assert!(none.is_empty(), "nothing changed after the last cursor");
}

#[tokio::test]
async fn five_hundred_records_sharing_one_system_modstamp_are_each_read_once() {
    let sb = common::start().await;
    sb.seed("salesforce", "Contact", 500).await;
    let p = salesforce(&sb).await;
    let query = ListQuery {
        page_size: 200,
        ..Default::default()
    };
    let (records, pages) = common::read_all(p.as_ref(), "Contact", query.clone()).await;
    assert_eq!(pages, 3);
    assert_eq!(records.len(), 500);
    let stamps: HashSet<_> = records.iter().map(|r| r.updated_at).collect();
    assert_eq!(stamps.len(), 1, "one tie group");
    let all = ids(&records);
    assert_eq!(all.iter().collect::<HashSet<_>>().len(), 500);

    // Resume from a cursor in the middle of the tie group, on a page boundary and off it.
    for at in [199, 249] {
        let (rest, _) = common::read_all(
            p.as_ref(),
            "Contact",
            ListQuery {
                since: Some(Cursor::of(&records[at])),
                ..query.clone()
            },
        )
        .await;
        assert_eq!(ids(&rest), all[at + 1..].to_vec(), "resume after #{at}");
    }
}

#[tokio::test]
async fn create_and_update_roundtrip_through_collections() {
    let sb = common::start().await;
    let p = salesforce(&sb).await;
    assert_eq!(p.max_batch("Contact"), 200);
    let results = p
        .write(
            "Contact",
            &[WriteOp::Create {
                fields: json!({"FirstName": "Ada", "LastName": "Lovelace", "Email": "ada@example.com"}),
            }],
        )
        .await
        .expect("create");
    let WriteResult::Ok(created) = &results[0] else {
        panic!("create failed: {results:?}")
    };
    assert!(created.id.starts_with("003") && created.id.len() == 18);
    assert_eq!(created.fields["Email"], "ada@example.com");
    let stored = sb.stored("salesforce", "Contact").await;
    assert_eq!(stored.len(), 1);
    assert_eq!(
        stored[0]["SystemModstamp"],
        created.fields["SystemModstamp"]
    );

    next_second_after(created.updated_at).await;
    let results = p
        .write(
            "Contact",
            &[WriteOp::Update {
                id: created.id.clone(),
                fields: json!({"Phone": "(617) 555-0100", "SystemModstamp": "ignored"}),
            }],
        )
        .await
        .expect("update");
    let WriteResult::Ok(updated) = &results[0] else {
        panic!("update failed: {results:?}")
    };
    assert_eq!(updated.id, created.id);
    assert_eq!(updated.fields["Phone"], "(617) 555-0100");
    assert_eq!(updated.fields["LastName"], "Lovelace");
    assert!(updated.updated_at > created.updated_at);

    let got = p
        .get_many(
            "Contact",
            &[created.id.clone(), "003000000000000AAA".into()],
            &[],
        )
        .await
        .expect("get_many");
    assert_eq!(ids(&got), vec![created.id.clone()]);
}

#[tokio::test]
async fn one_invalid_record_fails_only_itself() {
    let sb = common::start().await;
    let p = salesforce(&sb).await;
    let results = p
        .write(
            "Contact",
            &[
                WriteOp::Create {
                    fields: json!({"LastName": "One"}),
                },
                WriteOp::Create {
                    fields: json!({"FirstName": "NoLastName"}),
                },
                WriteOp::Update {
                    id: "003000000000000AAA".into(),
                    fields: json!({"LastName": "Ghost"}),
                },
                WriteOp::Create {
                    fields: json!({"LastName": "Three", "Email": "three@example.com"}),
                },
            ],
        )
        .await
        .expect("write");
    assert_eq!(results.len(), 4);
    assert!(matches!(&results[0], WriteResult::Ok(r) if r.fields["LastName"] == "One"));
    assert!(
        matches!(&results[1], WriteResult::Failed { code, message } if code == "REQUIRED_FIELD_MISSING" && message.contains("LastName")),
        "{:?}",
        results[1]
    );
    assert!(
        matches!(&results[2], WriteResult::Failed { .. }),
        "{:?}",
        results[2]
    );
    assert!(matches!(&results[3], WriteResult::Ok(r) if r.fields["LastName"] == "Three"));
    assert_eq!(sb.stored("salesforce", "Contact").await.len(), 2);
}

/// A token source that refreshes through the real OAuth refresh grant when invalidated.
struct Refreshing {
    app: fluxcascade_providers::ProviderApp,
    current: Mutex<TokenSet>,
    refreshes: AtomicUsize,
}

#[async_trait::async_trait]
impl TokenSource for Refreshing {
    async fn access_token(&self) -> Result<String, ProviderError> {
        Ok(self.current.lock().expect("lock").access_token.clone())
    }
    async fn invalidate(&self, _token: &str) -> Result<(), ProviderError> {
        let refresh_token = self.current.lock().expect("lock").refresh_token.clone();
        let fresh = fluxcascade_providers::refresh(
            ProviderKind::Salesforce,
            &self.app,
            &reqwest::Client::new(),
            refresh_token.as_deref().unwrap_or_default(),
        )
        .await?;
        self.refreshes.fetch_add(1, Ordering::SeqCst);
        *self.current.lock().expect("lock") = fresh;
        Ok(())
    }
}

#[tokio::test]
async fn an_expired_session_is_refreshed_once_and_the_call_succeeds() {
    let sb = common::start().await;
    sb.seed("salesforce", "Contact", 5).await;
    // Sessions issued now are already past their timeout; the refreshed one is not.
    sb.configure(json!({"tokenTtlSeconds": 0})).await;
    let t = sb.connect_oauth(ProviderKind::Salesforce).await;
    sb.configure(json!({"tokenTtlSeconds": 1800})).await;
    let tokens = Arc::new(Refreshing {
        app: sb.app(ProviderKind::Salesforce).clone(),
        current: Mutex::new(t.clone()),
        refreshes: AtomicUsize::new(0),
    });
    let mut ctx = ConnectionContext::simple(tokens.clone(), reqwest::Client::new());
    ctx.instance_url = t.instance_url.clone();
    let p = connect(ProviderKind::Salesforce, &sb.config, ctx).expect("connect");
    let page = p
        .list("Contact", &ListQuery::default())
        .await
        .expect("list after refresh");
    assert_eq!(page.records.len(), 5);
    assert_eq!(tokens.refreshes.load(Ordering::SeqCst), 1);
    assert_eq!(
        sb.request_count("salesforce", "/query").await,
        2,
        "one 401, one success"
    );
}

#[tokio::test]
async fn request_limit_exceeded_surfaces_as_rate_limited() {
    let sb = common::start().await;
    sb.configure(json!({"rateLimits": {"enabled": true, "salesforce": {"dailyApiRequests": 2}}}))
        .await;
    let p = salesforce(&sb).await;
    for _ in 0..2 {
        p.list("Contact", &ListQuery::default())
            .await
            .expect("within the limit");
    }
    let err = p
        .list("Contact", &ListQuery::default())
        .await
        .expect_err("past the daily limit");
    match err {
        ProviderError::RateLimited { retry_after } => {
            assert_eq!(retry_after, std::time::Duration::from_secs(15 * 60))
        }
        other => panic!("expected RateLimited, got {other:?}"),
    }
    assert_eq!(
        sb.request_count("salesforce", "/query").await,
        3,
        "no retry inside the adapter"
    );
}

#[tokio::test]
async fn an_expired_query_locator_restarts_after_the_last_record_read() {
    let sb = common::start().await;
    sb.seed("salesforce", "Contact", 450).await;
    let p = salesforce(&sb).await;
    let query = ListQuery {
        page_size: 200,
        ..Default::default()
    };
    let (all, _) = common::read_all(p.as_ref(), "Contact", query.clone()).await;
    let first = p.list("Contact", &query).await.expect("first page");
    let token = first.next_page.expect("more pages");
    // The locator is gone (as after Salesforce's 15 idle minutes); the resume cursor is not.
    let (locator, resume) = token
        .split_once('#')
        .expect("token carries its resume cursor");
    let (path, offset) = locator.rsplit_once('/').expect("locator path");
    let expired = format!(
        "{path}/01gEXPIREDEXPIRED-{}#{resume}",
        offset.rsplit('-').next().unwrap_or("200")
    );
    let (rest, _) = common::read_all(
        p.as_ref(),
        "Contact",
        ListQuery {
            page: Some(expired),
            ..query
        },
    )
    .await;
    let mut seen = ids(&first.records);
    seen.extend(ids(&rest));
    assert_eq!(seen, ids(&all), "every record once, in order");
}
