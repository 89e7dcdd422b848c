//! A run's progress and `waiting` as `GET /v1/syncs/{id}` reads them, against a real Postgres:
//! the total's estimate rules (which runs get one, from what), the exact total once every page is
//! read, total = read once the run ended, and a rate-limit wait shown only while it is current.

use std::time::Duration;

use chrono::Utc;
use fluxcascade_core::{
    Counts, Cursor, MappingSpec, ProviderKind, RunLeg, SyncMode, SyncTrigger, WaitReason,
};
use fluxcascade_store::connections::NewConnection;
use fluxcascade_store::links::{BatchCommit, LinkWrite};
use fluxcascade_store::syncs::{Checkpoint, SyncRow};
use fluxcascade_store::{MasterKey, Store};
use uuid::Uuid;

const LEASE: Duration = Duration::from_secs(60);

/// A private database with an org and a mapping between two connections.
struct Db {
    store: Store,
    name: String,
    org_id: Uuid,
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
        let store = Store::connect(&url, 8).expect("store");
        store.migrate().await.expect("migrate");
        let (org_id, _) = store.create_org("Acme", "owner@acme.test").await.unwrap();
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
            name,
            org_id,
            mapping_id,
        }
    }

    /// A started run of the mapping.
    async fn start(&self, mode: SyncMode) -> Uuid {
        let run = self
            .store
            .create_sync(self.org_id, self.mapping_id, SyncTrigger::Manual, mode)
            .await
            .unwrap();
        self.store
            .start_sync(self.org_id, run.id, LEASE)
            .await
            .unwrap()
            .unwrap();
        run.id
    }

    async fn get(&self, sync_id: Uuid) -> SyncRow {
        self.store
            .get_sync(self.org_id, sync_id)
            .await
            .unwrap()
            .unwrap()
    }

    /// Commits batch `batch_no` reading `read` records, each created, the first `linked` linked.
    async fn commit(&self, sync_id: Uuid, batch_no: i32, read: u64, linked: u64) {
        let links = (0..linked)
            .map(|i| LinkWrite {
                source_id: format!("s{batch_no}-{i}"),
                target_id: format!("t{batch_no}-{i}"),
                source_updated_at: Some(Utc::now()),
                target_updated_at: Some(Utc::now()),
                hash: "h".into(),
            })
            .collect();
        let commit = BatchCommit {
            org_id: self.org_id,
            sync_id,
            mapping_id: self.mapping_id,
            batch_no,
            side: "source",
            worker: "test".into(),
            counts: Counts {
                read,
                created: read,
                ..Counts::default()
            },
            max_cursor: Some(Cursor {
                updated_at: Utc::now() - chrono::Duration::seconds(60),
                id: format!("s{batch_no}"),
            }),
            links,
            dropped_intents: Vec::new(),
            errors: Vec::new(),
        };
        assert!(self.store.commit_batch(&commit).await.unwrap());
    }

    /// The coordinator published `batches` batches of `records` records in all; `done`: every
    /// page is read.
    async fn checkpoint(&self, sync_id: Uuid, batches: i32, records: i64, done: bool) {
        let checkpoint = Checkpoint {
            sync_id,
            epoch: 0,
            leg: RunLeg::Forward,
            page_token: (!done).then_some("next"),
            batches_published: batches,
            records_published: records,
            done,
            lease: LEASE,
        };
        assert!(self.store.checkpoint_sync(&checkpoint).await.unwrap());
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

/// `(total, totalIsEstimate)` of a run now.
async fn total(db: &Db, sync_id: Uuid) -> (Option<u64>, bool) {
    let p = db.get(sync_id).await.progress;
    (p.total, p.total_is_estimate)
}

#[tokio::test]
async fn the_total_is_estimated_only_for_runs_reading_everything_and_exact_at_the_end() {
    let db = Db::new().await;

    // A mapping's first run reads everything, but nothing is known about the source: null.
    let first = db.start(SyncMode::Incremental).await;
    assert_eq!(total(&db, first).await, (None, false));
    db.checkpoint(first, 1, 4, false).await;
    db.commit(first, 0, 4, 4).await;
    let p = db.get(first).await.progress;
    assert_eq!((p.read, p.written, p.processed), (4, 4, 4), "{p:?}");
    // It failed after linking 4 records: a later full run estimates from the links.
    db.store.fail_sync(db.org_id, first, "boom").await.unwrap();
    assert_eq!(
        total(&db, first).await,
        (Some(4), false),
        "an ended run's total is its read count"
    );

    let second = db.start(SyncMode::Full).await;
    assert_eq!(total(&db, second).await, (Some(4), true), "from the links");
    // Pages read beyond the estimate raise it: never below what is published (or read).
    db.checkpoint(second, 2, 7, false).await;
    assert_eq!(total(&db, second).await, (Some(7), true));
    db.commit(second, 0, 5, 5).await;
    db.commit(second, 1, 2, 2).await;
    db.checkpoint(second, 3, 10, true).await;
    assert_eq!(
        total(&db, second).await,
        (Some(10), false),
        "every page read: exact"
    );
    // Its last batch links nothing (say the records were all refused by the target).
    db.commit(second, 2, 3, 0).await;
    db.store
        .try_finalize_sync(db.org_id, second)
        .await
        .unwrap()
        .expect("finalised");
    assert_eq!(total(&db, second).await, (Some(10), false));

    // Incremental with a cursor: what changed says nothing about the previous runs. Null.
    let third = db.start(SyncMode::Incremental).await;
    assert_eq!(total(&db, third).await, (None, false));
    db.checkpoint(third, 0, 0, true).await;
    db.store
        .try_finalize_sync(db.org_id, third)
        .await
        .unwrap()
        .expect("finalised");
    assert_eq!(total(&db, third).await, (Some(0), false));

    // A full run: the read count of the last run that read everything (the full run: 10, not
    // the later incremental's 0) says more about the source than the 7 links.
    let fourth = db.start(SyncMode::Full).await;
    assert_eq!(total(&db, fourth).await, (Some(10), true));
    db.drop_database().await;
}

#[tokio::test]
async fn a_rate_limit_wait_shows_while_it_is_current() {
    let db = Db::new().await;
    let run = db.start(SyncMode::Full).await;
    assert_eq!(db.get(run).await.waiting, None);

    db.store
        .run_waiting(run, ProviderKind::Jobber, Duration::from_secs(120), LEASE)
        .await
        .unwrap();
    let waiting = db.get(run).await.waiting.expect("waiting");
    assert_eq!(waiting.reason, WaitReason::RateLimit);
    assert_eq!(waiting.provider, ProviderKind::Jobber);
    let left = waiting.until - Utc::now();
    assert!(
        left > chrono::Duration::seconds(100) && left <= chrono::Duration::seconds(121),
        "{left:?}"
    );
    // Another org never sees it (nor the run).
    let (other, _) = db
        .store
        .create_org("Other", "owner@other.test")
        .await
        .unwrap();
    assert!(db.store.get_sync(other, run).await.unwrap().is_none());

    // A committed batch: the run moves again.
    db.checkpoint(run, 2, 20, true).await;
    db.commit(run, 0, 10, 10).await;
    assert_eq!(db.get(run).await.waiting, None, "a batch committed since");

    // A wait that is over is not shown.
    db.store
        .run_waiting(run, ProviderKind::Hubspot, Duration::ZERO, LEASE)
        .await
        .unwrap();
    assert_eq!(
        db.get(run).await.waiting,
        None,
        "until is not in the future"
    );

    // A wait on another provider shows that one; in the list too.
    db.store
        .run_waiting(run, ProviderKind::Hubspot, Duration::from_secs(30), LEASE)
        .await
        .unwrap();
    let listed = db
        .store
        .list_syncs(db.org_id, &Default::default(), 10, None)
        .await
        .unwrap();
    assert_eq!(
        listed[0].waiting.map(|w| w.provider),
        Some(ProviderKind::Hubspot)
    );

    // The run ends: nothing to wait on any more.
    db.commit(run, 1, 10, 10).await;
    db.store
        .run_waiting(run, ProviderKind::Jobber, Duration::from_secs(30), LEASE)
        .await
        .unwrap();
    db.store
        .try_finalize_sync(db.org_id, run)
        .await
        .unwrap()
        .expect("finalised");
    let ended = db.get(run).await;
    assert_eq!(ended.waiting, None);
    assert_eq!((ended.progress.total, ended.progress.read), (Some(20), 20));
    // Recording a wait on an ended run changes nothing.
    db.store
        .run_waiting(run, ProviderKind::Jobber, Duration::from_secs(30), LEASE)
        .await
        .unwrap();
    assert_eq!(db.get(run).await.waiting, None);
    db.drop_database().await;
}
