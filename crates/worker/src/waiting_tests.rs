//! `hold_run_while_deferred` against Postgres: a job deferred by a provider's rate limit makes
//! its run show which provider and until when; a deferral that is not a rate limit (the batch
//! caps) and a failure that is no deferral show nothing.

use std::sync::Arc;
use std::time::Duration;

use fluxcascade_core::{MappingSpec, ProviderKind, SyncMode, SyncTrigger};
use fluxcascade_providers::egress::ProviderMode;
use fluxcascade_providers::{ProvidersConfig, RateBudgets};
use fluxcascade_queue::{JobError, Publisher, QueueConfig, RetryPolicy};
use fluxcascade_store::MasterKey;
use serde_json::json;
use uuid::Uuid;

use crate::adapters::Adapters;
use crate::error::WorkerError;
use crate::handler::WorkerHandler;
use crate::testdb::TestDb;

const LEASE: Duration = Duration::from_secs(60);

/// A running run and a handler on its database.
async fn running_run(db: &TestDb) -> (WorkerHandler, Uuid) {
    let key = Arc::new(MasterKey::from_base64(&MasterKey::generate_base64()).unwrap());
    let target = TestDb::connection(&db.store, db.org_id, &key).await;
    let spec: MappingSpec = serde_json::from_value(json!({
        "name": "waits",
        "source": {"connectionId": db.connection_id.to_string(), "object": "contacts"},
        "target": {"connectionId": target.to_string(), "object": "clients"},
        "fieldPairs": [{"sourceField": "email", "targetField": "email"}]
    }))
    .unwrap();
    let mapping = db.store.create_mapping(db.org_id, &spec).await.unwrap();
    let run = db
        .store
        .create_sync(db.org_id, mapping.id, SyncTrigger::Manual, SyncMode::Full)
        .await
        .unwrap();
    db.store
        .start_sync(db.org_id, run.id, LEASE)
        .await
        .unwrap()
        .unwrap();
    let providers = ProvidersConfig {
        mode: ProviderMode::Sandbox,
        hubspot: None,
        jobber: None,
        pipedrive: None,
        salesforce: None,
    };
    let adapters = Adapters::new(
        db.store.clone(),
        key,
        providers,
        RateBudgets::documented(),
        reqwest::Client::new(),
        crate::deliveries::RelaySignal::default(),
    );
    let publisher = Publisher::lazy(&QueueConfig::new("amqp://127.0.0.1:1/%2f", "unused")).unwrap();
    let retry = RetryPolicy {
        delays: [Duration::from_secs(1); 4],
        window: Duration::from_secs(60),
    };
    let handler = WorkerHandler::new(
        db.store.clone(),
        publisher,
        adapters,
        "test-worker".into(),
        retry,
        100,
        LEASE,
    );
    (handler, run.id)
}

/// What a job's boundary does with its failure: classify it once, then hold the run.
async fn hold(handler: &WorkerHandler, sync_id: uuid::Uuid, e: WorkerError) {
    let provider = e.provider();
    handler
        .hold_run_while_deferred(sync_id, &JobError::from(e), provider)
        .await;
}

fn deferred(secs: u64) -> JobError {
    JobError::Deferred {
        message: "rate limited".into(),
        wait: Duration::from_secs(secs),
    }
}

#[tokio::test]
async fn a_cap_deferral_shows_no_wait() {
    let db = TestDb::new().await;
    let (handler, sync_id) = running_run(&db).await;
    hold(&handler, sync_id, deferred(600).into()).await;
    let run = db
        .store
        .get_sync(db.org_id, sync_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(run.waiting, None);
}

#[tokio::test]
async fn a_rate_limit_deferral_names_the_provider_and_the_end_of_the_wait() {
    let db = TestDb::new().await;
    let (handler, sync_id) = running_run(&db).await;
    // A failure that is not a deferral records nothing.
    hold(
        &handler,
        sync_id,
        WorkerError::at(ProviderKind::Jobber)(JobError::transient("503")),
    )
    .await;
    let run = db
        .store
        .get_sync(db.org_id, sync_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(run.waiting, None);

    let limited = fluxcascade_providers::ProviderError::RateLimited {
        retry_after: Duration::from_secs(300),
    };
    hold(
        &handler,
        sync_id,
        WorkerError::at(ProviderKind::Jobber)(limited),
    )
    .await;
    let run = db
        .store
        .get_sync(db.org_id, sync_id)
        .await
        .unwrap()
        .unwrap();
    let waiting = run.waiting.expect("waiting");
    assert_eq!(waiting.provider, ProviderKind::Jobber);
    let left = (waiting.until - chrono::Utc::now()).num_seconds();
    assert!((290..=300).contains(&left), "{left}");
}
