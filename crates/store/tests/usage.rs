//! Usage per organization against a real Postgres: each piece of work is counted once, by the
//! transaction that commits it (a retried batch, a redelivered webhook event count nothing more),
//! runs given back leave it, and one org's work never shows in another's usage.

use std::time::Duration;

use chrono::{Days, Utc};
use fluxcascade_core::{Counts, MappingSpec, RunLeg, SyncMode, SyncStatus, SyncTrigger};
use fluxcascade_store::connections::NewConnection;
use fluxcascade_store::hook_events::RoutedEvent;
use fluxcascade_store::links::BatchCommit;
use fluxcascade_store::schedules::{ClaimOutcome, ScheduleStep};
use fluxcascade_store::syncs::Checkpoint;
use fluxcascade_store::usage::{Usage, UsageReport};
use fluxcascade_store::{MasterKey, Store};
use uuid::Uuid;

const LEASE: Duration = Duration::from_secs(60);

/// A private database with two orgs; the first has two connections and a mapping between them.
struct Db {
    store: Store,
    /// The mapping's target connection.
    target_id: Uuid,
    name: String,
    key: MasterKey,
    org_id: Uuid,
    other_org: Uuid,
    connection_id: Uuid,
    mapping_id: Uuid,
}

impl Db {
    async fn new() -> Db {
        let short = Uuid::new_v4().simple().to_string();
        let name = format!("fluxcascade_store_test_{}", &short[..12]);
        let url = format!("postgres://postgres@127.0.0.1:5432/{name}");
        fluxcascade_store::ensure_database(&url)
            .await
            .expect("create database");
        let store = Store::connect(&url, 20).expect("store");
        store.migrate().await.expect("migrate");
        let (org_id, _) = store.create_org("Acme", "owner@acme.test").await.unwrap();
        let (other_org, _) = store.create_org("Other", "owner@other.test").await.unwrap();
        let key = MasterKey::from_base64(&MasterKey::generate_base64()).unwrap();
        let mut ids = Vec::new();
        for provider in ["hubspot", "jobber"] {
            let new = NewConnection {
                provider: provider.into(),
                account_name: provider.into(),
                external_account_id: Uuid::new_v4().to_string(),
                access_token: "t".into(),
                refresh_token: None,
                expires_at: None,
                instance_url: None,
            };
            ids.push(store.create_connection(org_id, &key, new).await.unwrap().id);
        }
        let spec: MappingSpec = serde_json::from_value(serde_json::json!({
            "name": "contacts to clients",
            "source": {"connectionId": ids[0].to_string(), "object": "contacts"},
            "target": {"connectionId": ids[1].to_string(), "object": "clients"},
            "fieldPairs": [{"sourceField": "email", "targetField": "emails[0].address"}]
        }))
        .unwrap();
        let mapping_id = store.create_mapping(org_id, &spec).await.unwrap().id;
        Db {
            store,
            target_id: ids[1],
            name,
            key,
            org_id,
            other_org,
            connection_id: ids[0],
            mapping_id,
        }
    }

    /// Another mapping of the first org between its connections, on `schedule` (a cron).
    async fn scheduled_mapping(&self, name: &str, target: Uuid) -> Uuid {
        let spec: MappingSpec = serde_json::from_value(serde_json::json!({
            "name": name,
            "source": {"connectionId": self.connection_id.to_string(), "object": "contacts"},
            "target": {"connectionId": target.to_string(), "object": "clients"},
            "fieldPairs": [{"sourceField": "email", "targetField": "emails[0].address"}],
            "schedule": {"cron": "*/5 * * * *", "timezone": "UTC"}
        }))
        .unwrap();
        self.store
            .create_mapping(self.org_id, &spec)
            .await
            .unwrap()
            .id
    }

    /// Usage over yesterday..=tomorrow (UTC), so a test crossing midnight still sees all of it.
    async fn usage(&self, org_id: Uuid) -> UsageReport {
        let today = Utc::now().date_naive();
        let from = today.checked_sub_days(Days::new(1)).unwrap();
        let to = today.checked_add_days(Days::new(1)).unwrap();
        self.store.usage(org_id, from, to).await.expect("usage")
    }

    async fn total(&self) -> Usage {
        self.usage(self.org_id).await.total
    }

    fn batch(&self, sync_id: Uuid, batch_no: i32, counts: Counts) -> BatchCommit {
        BatchCommit {
            org_id: self.org_id,
            sync_id,
            mapping_id: self.mapping_id,
            batch_no,
            side: "source",
            worker: "test".into(),
            counts,
            max_cursor: None,
            links: Vec::new(),
            dropped_intents: Vec::new(),
            errors: Vec::new(),
        }
    }

    async fn drop_database(self) {
        let Db { store, name, .. } = self;
        drop(store);
        let (client, conn) = tokio_postgres::connect(
            "postgres://postgres@127.0.0.1:5432/postgres",
            tokio_postgres::NoTls,
        )
        .await
        .expect("connect");
        tokio::spawn(conn);
        client
            .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .await
            .expect("drop database");
    }
}

fn counts(read: u64, created: u64, updated: u64, skipped: u64, failed: u64) -> Counts {
    Counts {
        read,
        created,
        updated,
        skipped,
        failed,
        deleted: 0,
    }
}

#[tokio::test]
async fn a_batch_counts_once_however_often_it_is_committed() {
    let db = Db::new().await;
    let run = db
        .store
        .create_sync(
            db.org_id,
            db.mapping_id,
            SyncTrigger::Manual,
            SyncMode::Full,
        )
        .await
        .unwrap();
    db.store
        .start_sync(db.org_id, run.id, LEASE)
        .await
        .unwrap()
        .unwrap();
    let first = db.batch(run.id, 0, counts(10, 4, 3, 2, 1));
    assert!(db.store.commit_batch(&first).await.unwrap());
    // The same batch again, as a redelivered job would commit it: once after, four at once.
    assert!(!db.store.commit_batch(&first).await.unwrap());
    let retries: Vec<_> = (0..4)
        .map(|_| {
            let (store, batch) = (db.store.clone(), first.clone());
            tokio::spawn(async move { store.commit_batch(&batch).await.unwrap() })
        })
        .collect();
    for r in retries {
        assert!(!r.await.unwrap(), "a committed batch does not commit again");
    }
    // Sixteen other batches of the run at once: every one is counted.
    let batches: Vec<_> = (1..=16)
        .map(|n| {
            let (store, batch) = (db.store.clone(), db.batch(run.id, n, counts(5, 3, 2, 0, 0)));
            tokio::spawn(async move { store.commit_batch(&batch).await.unwrap() })
        })
        .collect();
    for b in batches {
        assert!(b.await.unwrap());
    }

    let report = db.usage(db.org_id).await;
    let run_counts = db
        .store
        .get_sync(db.org_id, run.id)
        .await
        .unwrap()
        .unwrap()
        .counts;
    assert_eq!(run_counts, counts(90, 52, 35, 2, 1));
    let expected = Usage {
        runs_manual: 1,
        ..Usage::records(&run_counts)
    };
    assert_eq!(report.total, expected);
    assert_eq!(report.days.len(), 3, "every day of the range is listed");
    assert_eq!(report.by_mapping.len(), 1);
    let m = &report.by_mapping[0];
    assert_eq!(m.mapping_id, db.mapping_id);
    assert_eq!(m.mapping_name.as_deref(), Some("contacts to clients"));
    assert_eq!(m.usage, expected);

    let other = db.usage(db.other_org).await;
    assert_eq!(other.total, Usage::default());
    assert!(other.by_mapping.is_empty());
    db.drop_database().await;
}

#[tokio::test]
async fn a_run_given_back_is_not_counted_and_a_redelivered_webhook_event_counts_once() {
    let db = Db::new().await;
    let run = db
        .store
        .create_sync(
            db.org_id,
            db.mapping_id,
            SyncTrigger::Manual,
            SyncMode::Incremental,
        )
        .await
        .unwrap();
    assert_eq!(db.total().await.runs_manual, 1);
    // The API could not enqueue its job (503): the run is gone, and so is its count.
    db.store
        .discard_pending_sync(db.org_id, run.id)
        .await
        .unwrap();
    assert_eq!(db.total().await, Usage::default());

    let event = |event_id: &str, record_id: &str| RoutedEvent {
        connection_id: db.connection_id,
        org_id: db.org_id,
        event_id: event_id.into(),
        record_id: record_id.into(),
        routes: vec![(db.mapping_id, "source")],
    };
    // Two distinct events (one sent twice in the delivery) start one webhook run.
    let delivery = [event("e1", "r1"), event("e2", "r2"), event("e1", "r1")];
    let out = db
        .store
        .record_hook_events("job-1", &delivery)
        .await
        .unwrap();
    assert_eq!((out.fresh, out.duplicates, out.publish.len()), (2, 1, 1));
    let after_first = Usage {
        runs_webhook: 1,
        webhook_events: 2,
        ..Usage::default()
    };
    assert_eq!(db.total().await, after_first);
    // The provider redelivers the same events: nothing more is used.
    let again = db
        .store
        .record_hook_events("job-2", &delivery)
        .await
        .unwrap();
    assert_eq!((again.fresh, again.duplicates), (0, 3));
    assert_eq!(db.total().await, after_first);
    // The webhook run's job could not be published: the run is given back, the events stay.
    db.store
        .unpublished_webhook_run(db.org_id, out.publish[0].sync_id)
        .await
        .unwrap();
    assert_eq!(
        db.total().await,
        Usage {
            webhook_events: 2,
            ..Usage::default()
        }
    );
    let report = db.usage(db.org_id).await;
    assert_eq!(
        report
            .by_mapping
            .iter()
            .map(|m| m.usage)
            .collect::<Vec<_>>(),
        [Usage::default()],
        "the mapping's row nets to zero; webhook events belong to the org, not a mapping"
    );
    assert_eq!(db.usage(db.other_org).await.total, Usage::default());
    db.drop_database().await;
}

#[tokio::test]
async fn every_outbound_delivery_written_is_counted() {
    let db = Db::new().await;
    for url in ["https://hooks.example.com/a", "https://hooks.example.com/b"] {
        db.store
            .create_webhook(db.org_id, &db.key, url, &["sync.completed".to_string()])
            .await
            .unwrap();
    }
    let run = db
        .store
        .create_sync(
            db.org_id,
            db.mapping_id,
            SyncTrigger::Manual,
            SyncMode::Full,
        )
        .await
        .unwrap();
    let state = db
        .store
        .start_sync(db.org_id, run.id, LEASE)
        .await
        .unwrap()
        .unwrap();
    let done = Checkpoint {
        sync_id: run.id,
        epoch: state.epoch,
        leg: RunLeg::Forward,
        page_token: None,
        batches_published: 1,
        records_published: 3,
        done: true,
        lease: LEASE,
    };
    assert!(db.store.checkpoint_sync(&done).await.unwrap());
    let batch = db.batch(run.id, 0, counts(3, 3, 0, 0, 0));
    assert!(db.store.commit_batch(&batch).await.unwrap());
    let status = db.store.try_finalize_sync(db.org_id, run.id).await.unwrap();
    assert_eq!(status, Some(SyncStatus::Completed));
    // Finalising again (another party racing) writes no delivery.
    assert_eq!(
        db.store.try_finalize_sync(db.org_id, run.id).await.unwrap(),
        None
    );
    let total = db.total().await;
    assert_eq!(
        (total.deliveries, total.records_created, total.runs_manual),
        (2, 3, 1),
        "one sync.completed delivery per subscription"
    );
    // An event nobody subscribed to writes no delivery and counts none.
    let none = db
        .store
        .record_event(
            db.org_id,
            "connection.expired",
            db.connection_id,
            &serde_json::json!({}),
        )
        .await
        .unwrap();
    assert!(none.is_empty());
    assert_eq!(db.total().await.deliveries, 2);
    let report = db.usage(db.org_id).await;
    assert_eq!(report.by_mapping[0].usage.deliveries, 0);
    let days: i64 = report.days.iter().map(|d| d.usage.deliveries).sum();
    assert_eq!(days, 2, "the days add up to the total");
    db.drop_database().await;
}

#[tokio::test]
async fn scheduled_runs_count_when_claimed_and_leave_when_released() {
    let db = Db::new().await;
    let a = db
        .scheduled_mapping("every five minutes a", db.target_id)
        .await;
    let b = db
        .scheduled_mapping("every five minutes b", db.target_id)
        .await;
    let now = Utc::now() + chrono::Duration::seconds(1);
    let fire = |_: &_| ScheduleStep {
        fire_at: Some(now),
        next_fire_at: Some(now + chrono::Duration::minutes(5)),
    };
    // One claim transaction creates the runs of both mappings.
    let batch = db.store.claim_due_schedules(now, 10, fire).await.unwrap();
    let runs = |m: Uuid| {
        batch
            .claimed
            .iter()
            .filter(|f| f.mapping_id == m && matches!(f.outcome, ClaimOutcome::Run(_)))
            .count()
    };
    assert_eq!((runs(a), runs(b)), (1, 1), "{batch:?}");
    let report = db.usage(db.org_id).await;
    assert_eq!(report.total, Usage::runs(SyncTrigger::Schedule, 2));
    assert_eq!(report.by_mapping.len(), 2);
    for m in &report.by_mapping {
        assert_eq!(m.usage, Usage::runs(SyncTrigger::Schedule, 1), "{m:?}");
    }
    // Their jobs could not be published: the fires are released and the runs leave usage.
    db.store.release_fires(&batch.claimed).await.unwrap();
    assert_eq!(db.total().await, Usage::default());
    // The next tick claims them again; a manual run meanwhile makes b's fire `skipped`.
    db.store
        .create_sync(db.org_id, b, SyncTrigger::Manual, SyncMode::Incremental)
        .await
        .unwrap();
    let again = db.store.claim_due_schedules(now, 10, fire).await.unwrap();
    let skipped = again
        .claimed
        .iter()
        .filter(|f| matches!(f.outcome, ClaimOutcome::Skipped))
        .count();
    assert_eq!((again.claimed.len(), skipped), (2, 1), "{again:?}");
    let total = db.total().await;
    assert_eq!(
        (total.runs_schedule, total.runs_manual),
        (1, 1),
        "a skipped fire starts no run"
    );
    db.drop_database().await;
}

#[tokio::test]
async fn deleted_counts_reach_the_live_run_the_finished_run_and_usage() {
    let db = Db::new().await;
    let run = db
        .store
        .create_sync(
            db.org_id,
            db.mapping_id,
            fluxcascade_core::SyncTrigger::Manual,
            fluxcascade_core::SyncMode::Full,
        )
        .await
        .unwrap();
    let state = db
        .store
        .start_sync(db.org_id, run.id, LEASE)
        .await
        .unwrap()
        .unwrap();
    // Three tombstones read: two applied, one failed (its twin could not be archived).
    let counts = Counts {
        deleted: 2,
        ..counts(3, 0, 0, 0, 1)
    };
    assert!(db
        .store
        .commit_batch(&db.batch(run.id, 0, counts))
        .await
        .unwrap());
    let live = db.store.get_sync(db.org_id, run.id).await.unwrap().unwrap();
    assert_eq!(live.counts, counts, "a running run sums its batches");
    let done = Checkpoint {
        sync_id: run.id,
        epoch: state.epoch,
        leg: RunLeg::Forward,
        page_token: None,
        batches_published: 1,
        records_published: 3,
        done: true,
        lease: LEASE,
    };
    assert!(db.store.checkpoint_sync(&done).await.unwrap());
    let status = db.store.try_finalize_sync(db.org_id, run.id).await.unwrap();
    assert_eq!(
        status,
        Some(SyncStatus::Partial),
        "applied deletions are successes"
    );
    let finished = db.store.get_sync(db.org_id, run.id).await.unwrap().unwrap();
    assert_eq!(finished.counts, counts, "the finished run keeps them");
    assert_eq!(db.total().await.records_deleted, 2);
    db.drop_database().await;
}
