//! The HubSpot adapter against the sandbox over HTTP: OAuth, full and incremental reads,
//! batch reads and writes, and the 401 refresh path.

mod common;

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use fluxcascade_core::{Cursor, ProviderKind};
use fluxcascade_providers::{
    HubspotClient, ListQuery, Provider, ProviderError, TokenSource, WriteOp, WriteResult,
};
use serde_json::json;

#[tokio::test]
async fn oauth_code_exchange_gives_an_expiring_token_set() {
    let sb = common::start().await;
    let t = sb.connect_oauth(ProviderKind::Hubspot).await;
    assert!(!t.access_token.is_empty());
    assert!(t.refresh_token.is_some());
    assert!(t.expires_at.is_some_and(|e| e > chrono::Utc::now()));
    let again = fluxcascade_providers::refresh(
        ProviderKind::Hubspot,
        sb.app(ProviderKind::Hubspot),
        &reqwest::Client::new(),
        t.refresh_token.as_deref().unwrap(),
    )
    .await
    .expect("refresh");
    assert_ne!(again.access_token, t.access_token);
    let bad = fluxcascade_providers::refresh(
        ProviderKind::Hubspot,
        sb.app(ProviderKind::Hubspot),
        &reqwest::Client::new(),
        "nope",
    )
    .await;
    assert!(matches!(bad, Err(ProviderError::Auth(_))), "{bad:?}");
}

#[tokio::test]
async fn full_list_returns_every_seeded_contact_once() {
    let sb = common::start().await;
    sb.seed("hubspot", "contacts", 250).await;
    let p = sb.provider(ProviderKind::Hubspot).await;
    let records = common::read_all(
        p.as_ref(),
        "contacts",
        ListQuery {
            page_size: 100,
            ..Default::default()
        },
    )
    .await
    .0;
    assert_eq!(records.len(), 250);
    let ids: HashSet<_> = records.iter().map(|r| r.id.clone()).collect();
    assert_eq!(ids.len(), 250, "a contact came back twice");
    assert!(records
        .iter()
        .all(|r| r.fields.get("email").is_some() && r.fields.get("firstname").is_some()));
}

#[tokio::test]
async fn incremental_read_after_patching_returns_the_patched_contacts() {
    let sb = common::start().await;
    sb.seed("hubspot", "contacts", 250).await;
    let p = sb.provider(ProviderKind::Hubspot).await;
    let all = common::read_all(p.as_ref(), "contacts", ListQuery::default())
        .await
        .0;
    // The cursor of a previous sync that ran 1.5 s after seeding: seeded records are older
    // than the look-back window, so only the patched ones may come back.
    let seeded_max = all.iter().map(Cursor::of).max().expect("records");
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let since = Cursor {
        updated_at: chrono::Utc::now(),
        id: String::new(),
    };
    assert!(since.updated_at - seeded_max.updated_at > chrono::Duration::seconds(1));
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let patched: HashSet<String> = all.iter().take(10).map(|r| r.id.clone()).collect();
    for id in &patched {
        sb.patch(
            "hubspot",
            "contacts",
            id,
            json!({"properties": {"firstname": "Patched"}}),
        )
        .await;
    }
    let changed = common::read_all(
        p.as_ref(),
        "contacts",
        ListQuery {
            since: Some(since.clone()),
            page_size: 3,
            ..Default::default()
        },
    )
    .await
    .0;
    let got: HashSet<String> = changed.iter().map(|r| r.id.clone()).collect();
    assert!(
        patched.is_subset(&got),
        "missing patched contacts: {:?}",
        patched.difference(&got).collect::<Vec<_>>()
    );
    // Anything else is only the one-second look-back before the cursor.
    assert_eq!(
        got, patched,
        "only the patched records changed since the cursor"
    );
    assert_eq!(
        changed.len(),
        patched.len(),
        "a changed record came back twice"
    );
    assert!(changed
        .iter()
        .filter(|r| patched.contains(&r.id))
        .all(|r| r.fields["firstname"] == "Patched"));
}

#[tokio::test]
async fn batch_create_of_150_takes_two_calls_and_keeps_op_order() {
    let sb = common::start().await;
    let p = sb.provider(ProviderKind::Hubspot).await;
    let ops: Vec<WriteOp> = (0..150)
        .map(|i| WriteOp::Create {
            fields: json!({"email": format!("new{i}@example.com"), "firstname": "New", "age": i}),
        })
        .collect();
    let results = p.write("contacts", &ops).await.expect("write");
    assert_eq!(results.len(), 150);
    for (i, r) in results.iter().enumerate() {
        match r {
            WriteResult::Ok(rec) => assert_eq!(rec.fields["email"], format!("new{i}@example.com")),
            WriteResult::Failed { message, .. } => panic!("op {i} failed: {message}"),
        }
    }
    assert_eq!(sb.request_count("hubspot", "/batch/create").await, 2);
    assert_eq!(sb.stored("hubspot", "contacts").await.len(), 150);
}

#[tokio::test]
async fn batch_update_and_get_many_round_trip() {
    let sb = common::start().await;
    sb.seed("hubspot", "contacts", 5).await;
    let p = sb.provider(ProviderKind::Hubspot).await;
    let all = common::read_all(p.as_ref(), "contacts", ListQuery::default())
        .await
        .0;
    let mut ops: Vec<WriteOp> = all
        .iter()
        .map(|r| WriteOp::Update {
            id: r.id.clone(),
            fields: json!({"lastname": format!("L{}", r.id)}),
        })
        .collect();
    ops.insert(
        2,
        WriteOp::Update {
            id: "999999".into(),
            fields: json!({"lastname": "ghost"}),
        },
    );
    let results = p.write("contacts", &ops).await.expect("write");
    assert_eq!(results.len(), 6);
    assert!(
        matches!(&results[2], WriteResult::Failed { .. }),
        "{:?}",
        results[2]
    );
    for (op, r) in ops.iter().zip(&results) {
        if let (WriteOp::Update { id, .. }, WriteResult::Ok(rec)) = (op, r) {
            assert_eq!(&rec.id, id);
        }
    }
    let ids: Vec<String> = all
        .iter()
        .map(|r| r.id.clone())
        .chain(["999999".to_owned()])
        .collect();
    let read = p.get_many("contacts", &ids, &[]).await.expect("get_many");
    assert_eq!(read.len(), 5);
    assert!(read
        .iter()
        .all(|r| r.fields["lastname"] == format!("L{}", r.id)));
}

/// Hands out a bad token first; `invalidate` switches to the good one.
struct StaleThenFresh {
    good: String,
    invalidated: AtomicUsize,
}

#[async_trait::async_trait]
impl TokenSource for StaleThenFresh {
    async fn access_token(&self) -> Result<String, ProviderError> {
        Ok(if self.invalidated.load(Ordering::SeqCst) == 0 {
            "stale".into()
        } else {
            self.good.clone()
        })
    }
    async fn invalidate(&self, token: &str) -> Result<(), ProviderError> {
        assert_eq!(token, "stale");
        self.invalidated.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

#[tokio::test]
async fn a_401_invalidates_the_token_once_and_retries() {
    let sb = common::start().await;
    sb.seed("hubspot", "contacts", 3).await;
    let good = sb.connect_oauth(ProviderKind::Hubspot).await.access_token;
    let tokens = Arc::new(StaleThenFresh {
        good,
        invalidated: AtomicUsize::new(0),
    });
    let client = HubspotClient::new(
        sb.app(ProviderKind::Hubspot),
        tokens.clone(),
        reqwest::Client::new(),
    );
    let page = client
        .list("contacts", &ListQuery::default())
        .await
        .expect("list after refresh");
    assert_eq!(page.records.len(), 3);
    assert_eq!(tokens.invalidated.load(Ordering::SeqCst), 1);

    // A token that cannot be refreshed ends in Auth.
    let dead = HubspotClient::new(
        sb.app(ProviderKind::Hubspot),
        Arc::new(fluxcascade_providers::StaticToken("revoked".into())),
        reqwest::Client::new(),
    );
    let err = dead
        .list("contacts", &ListQuery::default())
        .await
        .unwrap_err();
    assert!(matches!(err, ProviderError::Auth(_)), "{err:?}");
}

#[tokio::test]
async fn unsupported_objects_are_permanent_errors() {
    let sb = common::start().await;
    let p = sb.provider(ProviderKind::Hubspot).await;
    let r = p.list("widgets", &ListQuery::default()).await;
    assert!(matches!(r, Err(ProviderError::Permanent(_))));
}

#[tokio::test]
async fn incremental_read_of_12000_changes_past_the_10000_search_cap_returns_all_of_them() {
    let sb = common::start().await;
    sb.seed("hubspot", "contacts", 500).await;
    let before: HashSet<String> = sb
        .stored("hubspot", "contacts")
        .await
        .iter()
        .filter_map(|r| r["id"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(before.len(), 500);
    // The adapter reads from one second before the cursor (its look-back).
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    let since = Cursor {
        updated_at: chrono::Utc::now(),
        id: String::new(),
    };
    // A seed stamps its records one millisecond apart, ending now: wait until all 12,000
    // stamps fall after the cursor. Then 12,000 contacts changed after it: more than one
    // search may page through.
    tokio::time::sleep(std::time::Duration::from_millis(12_100)).await;
    sb.seed("hubspot", "contacts", 12_000).await;
    let p = sb.provider(ProviderKind::Hubspot).await;
    let query = ListQuery {
        since: Some(since),
        page_size: 200,
        ..Default::default()
    };
    let records = common::read_all(p.as_ref(), "contacts", query).await.0;
    let ids: HashSet<_> = records.iter().map(|r| r.id.clone()).collect();
    assert_eq!(ids.len(), 12_000, "every changed contact is read");
    assert!(
        ids.is_disjoint(&before),
        "contacts unchanged since the cursor are not read"
    );
    // Re-anchoring re-reads only the records at the anchor time, not whole pages.
    assert!(
        records.len() < 12_000 + 10,
        "{} records read",
        records.len()
    );
}

#[tokio::test]
async fn a_429_past_the_retry_budget_is_rate_limited_with_the_providers_wait() {
    let sb = common::start().await;
    sb.seed("hubspot", "contacts", 3).await;
    let token = sb.connect_oauth(ProviderKind::Hubspot).await.access_token;
    sb.configure(json!({"rateLimits": {"enabled": true, "hubspot": {"tenSecondly": 2}}}))
        .await;
    let client = HubspotClient::new(
        sb.app(ProviderKind::Hubspot),
        Arc::new(fluxcascade_providers::StaticToken(token)),
        reqwest::Client::new(),
    )
    .with_rate_limit_retries(0);
    let mut outcomes = Vec::new();
    for _ in 0..3 {
        outcomes.push(client.list("contacts", &ListQuery::default()).await);
    }
    assert!(outcomes[0].is_ok() && outcomes[1].is_ok());
    match &outcomes[2] {
        Err(ProviderError::RateLimited { retry_after }) => {
            assert!(
                retry_after.as_secs() >= 1 && retry_after.as_secs() <= 10,
                "{retry_after:?}"
            )
        }
        other => panic!("expected RateLimited, got {other:?}"),
    }
}
