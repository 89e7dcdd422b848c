//! The Jobber adapter against the sandbox over HTTP: OAuth with rotating refresh tokens,
//! paged and incremental client reads, create/edit round trips, and throttling.

mod common;

use std::collections::HashSet;
use std::sync::Arc;

use fluxcascade_core::{Cursor, ProviderKind};
use fluxcascade_providers::{
    refresh, JobberClient, ListQuery, Provider, ProviderError, StaticToken, WriteOp, WriteResult,
};
use serde_json::json;

#[tokio::test]
async fn refresh_rotates_the_refresh_token_and_the_old_one_dies() {
    let sb = common::start().await;
    let first = sb.connect_oauth(ProviderKind::Jobber).await;
    let expires = first.expires_at.expect("expiry read from the JWT");
    assert!(
        expires > chrono::Utc::now() && expires < chrono::Utc::now() + chrono::Duration::hours(2)
    );
    let old = first.refresh_token.clone().expect("refresh token");
    let http = reqwest::Client::new();
    let second = refresh(
        ProviderKind::Jobber,
        sb.app(ProviderKind::Jobber),
        &http,
        &old,
    )
    .await
    .expect("refresh");
    let new = second.refresh_token.clone().expect("rotated refresh token");
    assert_ne!(new, old);
    assert_ne!(second.access_token, first.access_token);
    let reused = refresh(
        ProviderKind::Jobber,
        sb.app(ProviderKind::Jobber),
        &http,
        &old,
    )
    .await;
    assert!(
        matches!(reused, Err(ProviderError::Auth(_))),
        "old refresh token still worked: {reused:?}"
    );
    refresh(
        ProviderKind::Jobber,
        sb.app(ProviderKind::Jobber),
        &http,
        &new,
    )
    .await
    .expect("new refresh token works");
}

#[tokio::test]
async fn list_pages_through_every_client_once() {
    let sb = common::start().await;
    sb.seed("jobber", "clients", 45).await;
    let p = sb.provider(ProviderKind::Jobber).await;
    let (records, pages) = common::read_all(
        p.as_ref(),
        "clients",
        ListQuery {
            page_size: 20,
            ..Default::default()
        },
    )
    .await;
    assert_eq!(pages, 3);
    assert_eq!(records.len(), 45);
    let ids: HashSet<_> = records.iter().map(|r| r.id.clone()).collect();
    assert_eq!(ids.len(), 45);
    let stored: HashSet<String> = sb
        .stored("jobber", "clients")
        .await
        .iter()
        .filter_map(|c| c["id"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(ids, stored);
    assert!(records
        .iter()
        .all(|r| r.fields["firstName"].is_string() && r.fields["emails"].is_array()));
}

#[tokio::test]
async fn incremental_list_returns_clients_changed_since_the_cursor() {
    let sb = common::start().await;
    sb.seed("jobber", "clients", 30).await;
    let p = sb.provider(ProviderKind::Jobber).await;
    let (all, _) = common::read_all(p.as_ref(), "clients", ListQuery::default()).await;
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
    let patched: HashSet<String> = all.iter().take(4).map(|r| r.id.clone()).collect();
    for id in &patched {
        sb.patch("jobber", "clients", id, json!({"lastName": "Changed"}))
            .await;
    }
    let (changed, _) = common::read_all(
        p.as_ref(),
        "clients",
        ListQuery {
            since: Some(since.clone()),
            page_size: 2,
            ..Default::default()
        },
    )
    .await;
    let got: HashSet<String> = changed.iter().map(|r| r.id.clone()).collect();
    assert!(
        patched.is_subset(&got),
        "missing: {:?}",
        patched.difference(&got).collect::<Vec<_>>()
    );
    assert_eq!(
        got, patched,
        "only the patched records changed since the cursor"
    );
    assert_eq!(
        changed.len(),
        patched.len(),
        "a changed record came back twice"
    );
}

#[tokio::test]
async fn create_then_edit_round_trips_through_jobber() {
    let sb = common::start().await;
    let p = sb.provider(ProviderKind::Jobber).await;
    let create = WriteOp::Create {
        fields: json!({
            "firstName": "Ada", "lastName": "Lovelace", "companyName": "Engines Ltd",
            "emails": [{"address": "ada@example.com", "description": "MAIN", "primary": true}],
            "phones": [{"number": "+14155550100", "description": "MOBILE", "primary": true}],
            "billingAddress": {"street1": "1 Main St", "city": "Springfield", "province": "IL", "postalCode": "62701", "country": "US"}
        }),
    };
    let invalid = WriteOp::Create {
        fields: json!({"firstName": "X", "title": "Captain"}),
    };
    // Jobber itself refuses a client without any name (userErrors in a 200).
    let nameless = WriteOp::Create {
        fields: json!({"emails": [{"address": "nobody@example.com"}]}),
    };
    let results = p
        .write("clients", &[create, invalid, nameless])
        .await
        .expect("create");
    assert!(
        matches!(&results[2], WriteResult::Failed { code, message } if code == "provider_rejected" && message.contains("name")),
        "{:?}",
        results[2]
    );
    let created = match &results[0] {
        WriteResult::Ok(r) => r.clone(),
        WriteResult::Failed { message, .. } => panic!("create failed: {message}"),
    };
    assert!(matches!(&results[1], WriteResult::Failed { code, .. } if code == "invalid_field"));
    assert_eq!(created.fields["emails"][0]["address"], "ada@example.com");
    assert_eq!(created.fields["billingAddress"]["city"], "Springfield");

    let edit = WriteOp::Update {
        id: created.id.clone(),
        fields: json!({"firstName": "Augusta", "emails": [{"address": "augusta@example.com"}]}),
    };
    let results = p.write("clients", &[edit]).await.expect("edit");
    let edited = match &results[0] {
        WriteResult::Ok(r) => r.clone(),
        WriteResult::Failed { message, .. } => panic!("edit failed: {message}"),
    };
    assert_eq!(edited.id, created.id);
    assert_eq!(edited.fields["firstName"], "Augusta");
    assert_eq!(edited.fields["lastName"], "Lovelace");
    let emails = edited.fields["emails"].as_array().expect("emails");
    assert_eq!(
        emails.len(),
        1,
        "the stored email was edited, not duplicated: {emails:?}"
    );
    assert_eq!(emails[0]["address"], "augusta@example.com");

    let read = p
        .get_many(
            "clients",
            &[
                created.id.clone(),
                "Z2lkOi8vSm9iYmVyL0NsaWVudC85OTk5OTk=".into(),
            ],
            &[],
        )
        .await
        .expect("get_many");
    assert_eq!(read.len(), 1);
    assert_eq!(read[0].fields["firstName"], "Augusta");
}

#[tokio::test]
async fn editing_a_missing_client_is_a_record_failure() {
    let sb = common::start().await;
    let p = sb.provider(ProviderKind::Jobber).await;
    let op = WriteOp::Update {
        id: "Z2lkOi8vSm9iYmVyL0NsaWVudC85OTk5OTk=".into(),
        fields: json!({"firstName": "Nobody"}),
    };
    let results = p.write("clients", &[op]).await.expect("write");
    assert!(
        matches!(&results[0], WriteResult::Failed { .. }),
        "{:?}",
        results[0]
    );
}

#[tokio::test]
async fn throttled_queries_become_rate_limited() {
    let sb = common::start().await;
    sb.seed("jobber", "clients", 5).await;
    let token = sb.connect_oauth(ProviderKind::Jobber).await.access_token;
    sb.configure(json!({"rateLimits": {"enabled": true, "jobber": {"maximumAvailable": 50, "restoreRate": 1}}})).await;
    let client = JobberClient::new(
        sb.app(ProviderKind::Jobber),
        Arc::new(StaticToken(token)),
        reqwest::Client::new(),
    )
    .with_rate_limit_retries(0);
    let err = client
        .list(
            "clients",
            &ListQuery {
                page_size: 100,
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    match err {
        ProviderError::RateLimited { retry_after } => assert!(retry_after.as_secs() >= 1),
        other => panic!("expected RateLimited, got {other:?}"),
    }
}
