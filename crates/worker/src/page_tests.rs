//! The write path of both legs in process: the real `WorkerHandler` and Postgres (its own test
//! database) around an in-memory provider, covering create, update, unchanged and echo skips,
//! both conflict outcomes, and reverse creates behind intents surviving a crash (the same path
//! against the sandbox over HTTP is in `page_sandbox_tests.rs`).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, Utc};
use fluxcascade_core::decide::Leg;
use fluxcascade_core::{ConflictResolution, MappingSpec, ProviderKind, Record};
use fluxcascade_providers::egress::ProviderMode;
use fluxcascade_providers::{
    ListQuery, Page, Provider, ProviderError, ProvidersConfig, RateBudgets, WriteOp, WriteResult,
};
use fluxcascade_queue::{JobError, Publisher, QueueConfig, RetryPolicy};
use fluxcascade_store::links::BatchCommit;
use fluxcascade_store::MasterKey;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::adapters::{Adapter, Adapters};
use crate::batch::{commit_counted, BatchKey};
use crate::handler::WorkerHandler;
use crate::leg::LegCtx;
use crate::testdb::TestDb;

/// Both objects of the mapping in memory: `contacts` (source) and `clients` (target).
#[derive(Default)]
pub(super) struct Mem {
    records: Mutex<BTreeMap<(String, String), Record>>,
    last: Mutex<Option<DateTime<Utc>>>,
    writes: Mutex<u64>,
    /// The next write is carried out, then fails as if the worker died before committing.
    crash_after_write: AtomicBool,
}

impl Mem {
    fn tick(&self) -> DateTime<Utc> {
        let mut last = self.last.lock().unwrap();
        let now = Utc::now().max(last.map_or(Utc::now(), |l| l + Duration::milliseconds(1)));
        *last = Some(now);
        now
    }

    fn put(&self, object: &str, id: &str, fields: Value) -> Record {
        let record = Record {
            id: id.to_string(),
            updated_at: self.tick(),
            fields,
            deleted: false,
        };
        self.records
            .lock()
            .unwrap()
            .insert((object.to_string(), id.to_string()), record.clone());
        record
    }

    fn all(&self, object: &str) -> Vec<Record> {
        let records = self.records.lock().unwrap();
        let mut v: Vec<Record> = records
            .iter()
            .filter(|((o, _), _)| o == object)
            .map(|(_, r)| r.clone())
            .collect();
        v.sort_by_key(|r| r.updated_at);
        v
    }

    fn writes(&self) -> u64 {
        *self.writes.lock().unwrap()
    }
}

#[async_trait::async_trait]
impl Provider for Mem {
    async fn list(&self, object: &str, query: &ListQuery) -> Result<Page, ProviderError> {
        let since = query.since.as_ref().map(|c| c.updated_at);
        let records = self
            .all(object)
            .into_iter()
            .filter(|r| since.is_none_or(|s| r.updated_at >= s))
            .collect();
        Ok(Page {
            records,
            next_page: None,
        })
    }

    async fn get_many(
        &self,
        object: &str,
        ids: &[String],
        _fields: &[String],
    ) -> Result<Vec<Record>, ProviderError> {
        Ok(self
            .all(object)
            .into_iter()
            .filter(|r| ids.contains(&r.id))
            .collect())
    }

    async fn write(
        &self,
        object: &str,
        ops: &[WriteOp],
    ) -> Result<Vec<WriteResult>, ProviderError> {
        let mut results = Vec::new();
        for op in ops {
            let record = match op {
                WriteOp::Create { fields } => {
                    let n = self.all(object).len() + 1;
                    self.put(object, &format!("{object}-{n}"), fields.clone())
                }
                WriteOp::Update { id, fields } => self.put(object, id, fields.clone()),
            };
            results.push(WriteResult::Ok(record));
        }
        *self.writes.lock().unwrap() += ops.len() as u64;
        if self.crash_after_write.swap(false, Ordering::SeqCst) {
            return Err(ProviderError::Transient("connection reset".into()));
        }
        Ok(results)
    }

    fn max_batch(&self, _object: &str) -> usize {
        100
    }
}

/// A worker's write path in process: its own database, a bidirectional `contacts` → `clients`
/// mapping, and the adapters each leg writes through.
pub(super) struct Fixture {
    pub db: TestDb,
    pub handler: WorkerHandler,
    mem: Arc<Mem>,
    /// What the forward leg writes to (the target) and the reverse leg (the source).
    writes: [Adapter; 2],
    mapping_id: Uuid,
    sync_id: Uuid,
    batch_no: i32,
}

impl Fixture {
    /// Both sides in memory.
    async fn new() -> Fixture {
        let mem = Arc::new(Mem::default());
        let side = |kind| Adapter {
            kind,
            provider: mem.clone(),
        };
        let writes = [side(ProviderKind::Jobber), side(ProviderKind::Hubspot)];
        let pairs = json!([
            {"sourceField": "firstname", "targetField": "firstName"},
            {"sourceField": "email", "targetField": "email", "transform": "lowercase"}
        ]);
        Fixture::with_writes(pairs, writes, mem).await
    }

    /// The forward leg writes through `writes[0]`, the reverse leg through `writes[1]`.
    pub(super) async fn with_writes(pairs: Value, writes: [Adapter; 2], mem: Arc<Mem>) -> Fixture {
        let db = TestDb::new().await;
        let key = Arc::new(MasterKey::from_base64(&MasterKey::generate_base64()).unwrap());
        let target = TestDb::connection(&db.store, db.org_id, &key).await;
        let spec: MappingSpec = serde_json::from_value(json!({
            "name": "write path",
            "source": {"connectionId": db.connection_id.to_string(), "object": "contacts"},
            "target": {"connectionId": target.to_string(), "object": "clients"},
            "direction": "bidirectional",
            "fieldPairs": pairs
        }))
        .expect("spec");
        let mapping = db.store.create_mapping(db.org_id, &spec).await.unwrap();
        let run = db
            .store
            .create_sync(
                db.org_id,
                mapping.id,
                fluxcascade_core::SyncTrigger::Manual,
                fluxcascade_core::SyncMode::Full,
            )
            .await
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
        // Never connected: the write path publishes nothing.
        let publisher =
            Publisher::lazy(&QueueConfig::new("amqp://127.0.0.1:1/%2f", "unused")).unwrap();
        let retry = RetryPolicy {
            delays: [std::time::Duration::from_secs(1); 4],
            window: std::time::Duration::from_secs(60),
        };
        let handler = WorkerHandler::new(
            db.store.clone(),
            publisher,
            adapters,
            "test-worker".into(),
            retry,
            100,
            std::time::Duration::from_secs(60),
        );
        Fixture {
            db,
            handler,
            mem,
            writes,
            mapping_id: mapping.id,
            sync_id: run.id,
            batch_no: 0,
        }
    }

    /// The context of a job of `leg`, writing through that leg's adapter.
    pub(super) async fn ctx(&mut self, leg: Leg, policy: ConflictResolution) -> LegCtx {
        let mapping = self
            .db
            .store
            .get_mapping(self.db.org_id, self.mapping_id)
            .await
            .unwrap()
            .unwrap();
        let compiled = self.handler.compile(&mapping).unwrap();
        self.batch_no += 1;
        let (object, reversed) = match leg {
            Leg::Forward => ("clients", None),
            Leg::Reverse => ("contacts", Some(compiled.engine.reversed())),
        };
        LegCtx {
            key: BatchKey {
                org_id: self.db.org_id,
                sync_id: self.sync_id,
                mapping_id: self.mapping_id,
                batch_no: self.batch_no,
                reverse: leg == Leg::Reverse,
            },
            leg,
            mapping,
            compiled,
            reversed,
            adapter: match leg {
                Leg::Forward => self.writes[0].clone(),
                Leg::Reverse => self.writes[1].clone(),
            },
            object: object.into(),
            policy: Some(policy),
        }
    }

    /// One page of `leg` over the records of the object it reads, written and committed.
    async fn page(
        &mut self,
        leg: Leg,
        policy: ConflictResolution,
    ) -> Result<BatchCommit, JobError> {
        let read = match leg {
            Leg::Forward => "contacts",
            Leg::Reverse => "clients",
        };
        let records = self.mem.all(read);
        let ctx = self.ctx(leg, policy).await;
        let commit = self.handler.write_page(&ctx, &records).await?;
        assert!(commit_counted(&self.db.store, &commit).await.unwrap());
        Ok(commit)
    }

    /// Links (with a twin) of every record of the source object.
    async fn links(&self) -> usize {
        let ids: Vec<String> = self.mem.all("contacts").into_iter().map(|r| r.id).collect();
        let links = self
            .db
            .store
            .load_links(self.db.org_id, self.mapping_id, &ids)
            .await
            .unwrap();
        links.values().filter(|l| l.target_id.is_some()).count()
    }
}

pub(super) fn counts(c: &BatchCommit) -> (u64, u64, u64, u64) {
    (
        c.counts.created,
        c.counts.updated,
        c.counts.skipped,
        c.counts.failed,
    )
}

pub(super) const NEWEST: ConflictResolution = ConflictResolution::NewestWins;

#[tokio::test]
async fn forward_creates_then_skips_the_unchanged_and_updates_the_changed() {
    let mut fx = Fixture::new().await;
    fx.mem.put(
        "contacts",
        "c1",
        json!({"firstname": "Ada", "email": "ADA@X.IO"}),
    );
    fx.mem.put(
        "contacts",
        "c2",
        json!({"firstname": "Bob", "email": "bob@x.io"}),
    );
    let first = fx.page(Leg::Forward, NEWEST).await.unwrap();
    assert_eq!(counts(&first), (2, 0, 0, 0));
    assert_eq!(fx.links().await, 2);
    let clients = fx.mem.all("clients");
    assert_eq!(clients.len(), 2);
    assert!(clients.iter().any(|c| c.fields["email"] == "ada@x.io"));

    let again = fx.page(Leg::Forward, NEWEST).await.unwrap();
    assert_eq!(
        counts(&again),
        (0, 0, 2, 0),
        "unchanged records are skipped"
    );
    let writes = fx.mem.writes();

    fx.mem.put(
        "contacts",
        "c1",
        json!({"firstname": "Ada B.", "email": "ada@x.io"}),
    );
    let changed = fx.page(Leg::Forward, NEWEST).await.unwrap();
    assert_eq!(counts(&changed), (0, 1, 1, 0));
    assert_eq!(fx.mem.writes(), writes + 1, "one write for one change");
    assert_eq!(fx.mem.all("clients").len(), 2, "updated in place");
}

#[tokio::test]
async fn our_own_writes_coming_back_are_echoes_and_skipped() {
    let mut fx = Fixture::new().await;
    fx.mem.put(
        "contacts",
        "c1",
        json!({"firstname": "Ada", "email": "ada@x.io"}),
    );
    fx.page(Leg::Forward, NEWEST).await.unwrap();
    let writes = fx.mem.writes();
    let back = fx.page(Leg::Reverse, NEWEST).await.unwrap();
    assert_eq!(
        counts(&back),
        (0, 0, 1, 0),
        "the forward create comes back as an echo"
    );
    let forward = fx.page(Leg::Forward, NEWEST).await.unwrap();
    assert_eq!(counts(&forward), (0, 0, 1, 0));
    assert_eq!(fx.mem.writes(), writes, "no ping-pong");
}

#[tokio::test]
async fn a_conflict_is_written_by_the_winning_leg_only() {
    for (policy, winner) in [
        (ConflictResolution::NewestWins, "Target"),
        (ConflictResolution::SourceWins, "Source"),
    ] {
        let mut fx = Fixture::new().await;
        fx.mem.put(
            "contacts",
            "c1",
            json!({"firstname": "Ada", "email": "ada@x.io"}),
        );
        fx.page(Leg::Forward, policy).await.unwrap();
        let client = fx.mem.all("clients").remove(0);
        // Both sides change; the target changes last.
        fx.mem.put(
            "contacts",
            "c1",
            json!({"firstname": "Source", "email": "ada@x.io"}),
        );
        fx.mem.put(
            "clients",
            &client.id,
            json!({"firstName": "Target", "email": "ada@x.io"}),
        );
        let forward = fx.page(Leg::Forward, policy).await.unwrap();
        let reverse = fx.page(Leg::Reverse, policy).await.unwrap();
        let (forward_writes, reverse_writes) = if winner == "Target" { (0, 1) } else { (1, 0) };
        assert_eq!(forward.counts.updated, forward_writes, "{policy:?}");
        assert_eq!(reverse.counts.updated, reverse_writes, "{policy:?}");
        let source = &fx.mem.all("contacts")[0];
        let target = &fx.mem.all("clients")[0];
        assert_eq!(source.fields["firstname"], winner, "{policy:?}");
        assert_eq!(target.fields["firstName"], winner, "{policy:?}");
    }
}

#[tokio::test]
async fn a_reverse_create_interrupted_after_the_provider_wrote_is_linked_not_repeated() {
    let mut fx = Fixture::new().await;
    for i in 0..3 {
        fx.mem.put(
            "clients",
            &format!("t{i}"),
            json!({"firstName": format!("N{i}"), "email": format!("n{i}@x.io")}),
        );
    }
    fx.mem.crash_after_write.store(true, Ordering::SeqCst);
    let crashed = fx.page(Leg::Reverse, NEWEST).await;
    assert!(
        crashed.is_err(),
        "the attempt dies after the provider created the contacts"
    );
    assert_eq!(fx.mem.all("contacts").len(), 3);
    let ids: Vec<String> = (0..3).map(|i| format!("t{i}")).collect();
    let intents = fx
        .db
        .store
        .load_reverse_intents(fx.db.org_id, fx.mapping_id, &ids)
        .await
        .unwrap();
    assert_eq!(
        intents.len(),
        3,
        "the intents were committed before the create"
    );

    let retry = fx.page(Leg::Reverse, NEWEST).await.unwrap();
    assert_eq!(
        counts(&retry),
        (0, 0, 3, 0),
        "the retry links what was created"
    );
    assert_eq!(fx.mem.all("contacts").len(), 3, "nothing is created twice");
    assert_eq!(fx.links().await, 3);
    let left = fx
        .db
        .store
        .load_reverse_intents(fx.db.org_id, fx.mapping_id, &ids)
        .await
        .unwrap();
    assert!(left.is_empty(), "the commit settled the intents");
    // And the forward leg sees the linked contacts as echoes.
    let forward = fx.page(Leg::Forward, NEWEST).await.unwrap();
    assert_eq!(counts(&forward), (0, 0, 3, 0));
}
