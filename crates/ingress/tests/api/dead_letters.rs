//! Dead letters: org-scoped list and get without payloads, replay (reopens the failed run, publishes
//! a new first attempt with a confirm, once), delete, and 503 with nothing changed when the broker is down.

use fluxcascade_core::{SyncMode, SyncTrigger};
use fluxcascade_proto::v1::{JobEnvelope, JobKind, SyncJob};
use fluxcascade_proto::Message;
use fluxcascade_store::dead_letters::{DeadLetterKind, NewDeadLetter};
use lapin::options::BasicGetOptions;
use reqwest::{Method, StatusCode};
use serde_json::Value;
use uuid::Uuid;

use crate::harness::{error_fields, App};

/// Records a dead letter through the store (as the worker's recorder does) and returns its id.
async fn record(app: &App, letter: NewDeadLetter) -> String {
    assert!(app.store.record_dead_letter(&letter).await.expect("record"));
    assert!(
        !app.store.record_dead_letter(&letter).await.expect("again"),
        "recorded once per job id"
    );
    let rows = app
        .store
        .admin_list_dead_letters(&Default::default(), 100, None)
        .await
        .expect("list");
    let row = rows
        .iter()
        .find(|r| r.job_id == letter.job_id)
        .expect("row");
    row.id.to_string()
}

/// A dead letter of `kind` for `org`, its message the encoded `envelope` (or `raw`).
fn letter(org: Option<Uuid>, envelope: &JobEnvelope) -> NewDeadLetter {
    let sync = envelope.decode_payload::<SyncJob>().ok();
    let id = |s: Option<&String>| s.and_then(|s| Uuid::parse_str(s).ok());
    NewDeadLetter {
        org_id: org,
        job_id: envelope.job_id.clone(),
        kind: match envelope.kind() {
            JobKind::Sync => DeadLetterKind::Sync,
            JobKind::Batch => DeadLetterKind::Batch,
            JobKind::Webhook => DeadLetterKind::Webhook,
            _ => DeadLetterKind::Delivery,
        },
        mapping_id: id(sync.as_ref().map(|s| &s.mapping_id)),
        sync_id: id(sync.as_ref().map(|s| &s.sync_id)),
        reason: "gave up after 8 attempts: provider returned 503".into(),
        attempts: 8,
        first_failed_at: Some(chrono::Utc::now()),
        message: envelope.encode_to_vec(),
    }
}

fn sync_envelope(org: Uuid, sync_id: Uuid, mapping_id: Uuid) -> JobEnvelope {
    let job = SyncJob {
        sync_id: sync_id.to_string(),
        mapping_id: mapping_id.to_string(),
        epoch: 0,
    };
    let mut env = JobEnvelope::with_message(JobKind::Sync, org.to_string(), &job);
    env.attempt = 8;
    env.reason = "gave up after 8 attempts: provider returned 503".into();
    env.first_failed_at_unix_ms = 1_700_000_000_000;
    env
}

/// A failed sync run of a real mapping in the first org: (mapping id, run id).
async fn failed_run(app: &App) -> (Uuid, Uuid) {
    let hub = app.connection(&app.owner, "hubspot").await;
    let jobber = app.connection(&app.owner, "jobber").await;
    let mapping: Uuid = app
        .mapping(&app.owner, &hub, &jobber)
        .await
        .parse()
        .expect("id");
    let org = app.org_id().await;
    let run = app
        .store
        .create_sync(org, mapping, SyncTrigger::Manual, SyncMode::Full)
        .await
        .expect("run");
    assert!(app
        .store
        .fail_sync(org, run.id, "provider kept failing")
        .await
        .expect("fail"));
    (mapping, run.id)
}

/// The next job waiting in `{prefix}.sync`, if any.
async fn take_sync_job(app: &App) -> Option<JobEnvelope> {
    let (conn, ch) = app.amqp().await;
    let got = ch
        .basic_get(
            &format!("{}.sync", app.prefix),
            BasicGetOptions { no_ack: true },
        )
        .await
        .expect("basic.get");
    let _ = conn.close(200, "bye").await;
    got.map(|m| JobEnvelope::decode(m.delivery.data.as_slice()).expect("envelope"))
}

#[tokio::test]
async fn dead_letters_are_listed_per_org_newest_first_without_payloads() {
    let app = App::start().await;
    let org = app.org_id().await;
    let other_key = app.other_org().await;
    let other = app
        .store
        .authenticate(&other_key)
        .await
        .expect("auth")
        .expect("principal")
        .org_id;
    let (sync_a, mapping_a) = (Uuid::now_v7(), Uuid::now_v7());
    let first = record(
        &app,
        letter(Some(org), &sync_envelope(org, sync_a, mapping_a)),
    )
    .await;
    let webhook = JobEnvelope::new(JobKind::Webhook, org.to_string(), b"events".to_vec());
    let second = record(&app, letter(Some(org), &webhook)).await;
    let third_env = sync_envelope(org, Uuid::now_v7(), Uuid::now_v7());
    let third = record(&app, letter(Some(org), &third_env)).await;
    let foreign = record(
        &app,
        letter(
            Some(other),
            &sync_envelope(other, Uuid::now_v7(), Uuid::now_v7()),
        ),
    )
    .await;
    let orphan_env = JobEnvelope::new(JobKind::Webhook, "", b"x".to_vec());
    let orphan = record(&app, letter(None, &orphan_env)).await;

    let member = app.member_key().await;
    let (s, page) = app
        .call(Method::GET, "/v1/dead-letters?limit=2", Some(&member), None)
        .await;
    assert_eq!(s, StatusCode::OK, "{page}");
    let ids = |v: &Value| -> Vec<String> {
        v["data"]
            .as_array()
            .expect("data")
            .iter()
            .map(|d| d["id"].as_str().expect("id").to_string())
            .collect()
    };
    assert_eq!(ids(&page), vec![third.clone(), second.clone()]);
    let cursor = page["nextCursor"].as_str().expect("a next page");
    let (_, rest) = app
        .call(
            Method::GET,
            &format!("/v1/dead-letters?limit=2&cursor={cursor}"),
            Some(&member),
            None,
        )
        .await;
    assert_eq!(ids(&rest), vec![first.clone()]);
    assert!(rest["nextCursor"].is_null());

    let item = &page["data"][0];
    assert_eq!(item["jobId"], third_env.job_id.as_str());
    assert_eq!(item["kind"], "sync");
    assert_eq!(item["attempts"], 8);
    assert_eq!(
        item["reason"],
        "gave up after 8 attempts: provider returned 503"
    );
    assert!(item["replayedAt"].is_null());
    for field in ["firstFailedAt", "lastFailedAt", "syncId", "mappingId"] {
        assert!(item[field].is_string(), "{field}: {item}");
    }
    let text = page.to_string();
    assert!(
        !text.contains("message") && !text.contains("payload"),
        "no payload bytes: {text}"
    );

    let query = |q: String| {
        let app = &app;
        let key = app.owner.clone();
        async move {
            let (s, v) = app
                .call(
                    Method::GET,
                    &format!("/v1/dead-letters?{q}"),
                    Some(&key),
                    None,
                )
                .await;
            assert_eq!(s, StatusCode::OK, "{v}");
            ids(&v)
        }
    };
    assert_eq!(query("kind=webhook".into()).await, vec![second.clone()]);
    assert_eq!(query(format!("syncId={sync_a}")).await, vec![first.clone()]);
    assert_eq!(
        query(format!("mappingId={mapping_a}")).await,
        vec![first.clone()]
    );
    let (s, v) = app
        .call(
            Method::GET,
            "/v1/dead-letters?kind=nope",
            Some(&app.owner),
            None,
        )
        .await;
    assert_eq!(
        (s, error_fields(&v)),
        (StatusCode::UNPROCESSABLE_ENTITY, vec!["kind".to_string()])
    );

    let (s, one) = app
        .call(
            Method::GET,
            &format!("/v1/dead-letters/{first}"),
            Some(&member),
            None,
        )
        .await;
    assert_eq!(
        (s, one["id"].as_str()),
        (StatusCode::OK, Some(first.as_str()))
    );
    // Another org's dead letter and one of no org are not there for this org.
    for id in [&foreign, &orphan] {
        let (s, _) = app
            .call(
                Method::GET,
                &format!("/v1/dead-letters/{id}"),
                Some(&app.owner),
                None,
            )
            .await;
        assert_eq!(s, StatusCode::NOT_FOUND);
    }
    let (_, theirs) = app
        .call(Method::GET, "/v1/dead-letters", Some(&other_key), None)
        .await;
    assert_eq!(ids(&theirs), vec![foreign.clone()]);
    let (s, _) = app.call(Method::GET, "/v1/dead-letters", None, None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_replay_reopens_the_failed_run_and_publishes_a_first_attempt_once() {
    let app = App::start().await;
    let org = app.org_id().await;
    let (mapping, run) = failed_run(&app).await;
    let original = sync_envelope(org, run, mapping);
    let id = record(&app, letter(Some(org), &original)).await;
    let path = format!("/v1/dead-letters/{id}/replay");

    let member = app.member_key().await;
    let (s, _) = app.call(Method::POST, &path, Some(&member), None).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let other = app.other_org().await;
    let (s, _) = app.call(Method::POST, &path, Some(&other), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "another org's dead letter");

    let (s, v) = app.call(Method::POST, &path, Some(&app.owner), None).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    let replay_job_id = v["replayJobId"].as_str().expect("replayJobId").to_string();
    assert_ne!(replay_job_id, original.job_id);

    let job = take_sync_job(&app)
        .await
        .expect("the replayed job is queued");
    assert_eq!(job.job_id, replay_job_id);
    assert_eq!(
        (job.kind(), job.org_id.as_str(), &job.payload),
        (JobKind::Sync, org.to_string().as_str(), &original.payload)
    );
    assert_eq!(
        (
            job.attempt,
            job.first_failed_at_unix_ms,
            job.reason.as_str()
        ),
        (1, 0, "")
    );

    let (_, sync) = app
        .call(
            Method::GET,
            &format!("/v1/syncs/{run}"),
            Some(&app.owner),
            None,
        )
        .await;
    assert_eq!(sync["status"], "running", "{sync}");
    assert!(sync["finishedAt"].is_null() && sync["error"].is_null());

    let (_, dead) = app
        .call(
            Method::GET,
            &format!("/v1/dead-letters/{id}"),
            Some(&member),
            None,
        )
        .await;
    assert_eq!(dead["replayJobId"], replay_job_id.as_str());
    assert!(dead["replayedAt"].is_string());

    let (s, v) = app.call(Method::POST, &path, Some(&app.owner), None).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("already_replayed"))
    );
    assert!(
        take_sync_job(&app).await.is_none(),
        "nothing published twice"
    );
}

#[tokio::test]
async fn undecodable_dead_letters_are_not_replayed_and_any_can_be_deleted() {
    let app = App::start().await;
    let org = app.org_id().await;
    let id = record(
        &app,
        NewDeadLetter {
            org_id: Some(org),
            job_id: "raw-1".into(),
            kind: DeadLetterKind::Unknown,
            mapping_id: None,
            sync_id: None,
            reason: "undecodable envelope: invalid wire type".into(),
            attempts: 0,
            first_failed_at: None,
            message: b"\xff\xff garbage".to_vec(),
        },
    )
    .await;
    let (s, v) = app
        .call(
            Method::POST,
            &format!("/v1/dead-letters/{id}/replay"),
            Some(&app.owner),
            None,
        )
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("not_replayable"))
    );

    let path = format!("/v1/dead-letters/{id}");
    let member = app.member_key().await;
    let (s, _) = app.call(Method::DELETE, &path, Some(&member), None).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let other = app.other_org().await;
    let (s, _) = app.call(Method::DELETE, &path, Some(&other), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = app
        .call(Method::DELETE, &path, Some(&app.owner), None)
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = app.call(Method::GET, &path, Some(&app.owner), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = app
        .call(Method::DELETE, &path, Some(&app.owner), None)
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_replay_the_broker_does_not_confirm_is_503_and_changes_nothing() {
    let app = App::start_with(Some("amqp://guest:guest@127.0.0.1:1/%2f")).await;
    let org = app.org_id().await;
    let (mapping, run) = failed_run(&app).await;
    let id = record(&app, letter(Some(org), &sync_envelope(org, run, mapping))).await;
    let path = format!("/v1/dead-letters/{id}/replay");
    for _ in 0..2 {
        // Twice: a failed replay leaves no claim behind.
        let (s, v) = app.call(Method::POST, &path, Some(&app.owner), None).await;
        assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{v}");
    }
    let (_, sync) = app
        .call(
            Method::GET,
            &format!("/v1/syncs/{run}"),
            Some(&app.owner),
            None,
        )
        .await;
    assert_eq!(sync["status"], "failed", "{sync}");
    assert_eq!(sync["error"], "provider kept failing");
    let (_, dead) = app
        .call(
            Method::GET,
            &format!("/v1/dead-letters/{id}"),
            Some(&app.owner),
            None,
        )
        .await;
    assert!(dead["replayedAt"].is_null() && dead["replayJobId"].is_null());
}
