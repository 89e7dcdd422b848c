//! The reaper against a real Postgres and RabbitMQ: a run whose lease expired is resumed under a
//! new epoch (its coordinator re-published), a run without progress for the retry window is
//! failed with a reason, a live lease is left alone, and deferred webhook ids whose run is gone
//! are started.

use std::time::Duration;

use fluxcascade_core::{MappingSpec, SyncMode, SyncTrigger};
use fluxcascade_proto::v1::{JobEnvelope, SyncJob};
use fluxcascade_proto::Message;
use fluxcascade_queue::{JobKind, Publisher, QueueConfig, Topology};
use fluxcascade_scheduler::reaper;
use fluxcascade_store::connections::NewConnection;
use fluxcascade_store::leases::ReapPolicy;
use fluxcascade_store::{MasterKey, Store};
use lapin::options::BasicGetOptions;
use uuid::Uuid;

const PG_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";
const AMQP_URL: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";

const POLICY: ReapPolicy = ReapPolicy {
    lease: Duration::from_secs(120),
    window: Duration::from_secs(3600),
    limit: 100,
};

/// A private database and queue prefix, dropped at the end.
struct World {
    store: Store,
    sql: tokio_postgres::Client,
    publisher: Publisher,
    db: String,
    prefix: String,
    org_id: Uuid,
    key: MasterKey,
}

impl World {
    async fn start() -> World {
        let short = Uuid::new_v4().simple().to_string();
        let db = format!("fc_reaper_{}", &short[..12]);
        let prefix = format!("reaper_{}", &short[..12]);
        let url = format!("postgres://postgres@127.0.0.1:5432/{db}");
        fluxcascade_store::ensure_database(&url).await.expect("db");
        let store = Store::connect(&url, 4).expect("store");
        store.migrate().await.expect("migrate");
        let (sql, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
            .await
            .expect("sql");
        tokio::spawn(conn);
        let publisher = Publisher::connect(&QueueConfig::new(AMQP_URL, &prefix))
            .await
            .expect("publisher");
        let (org_id, _) = store.create_org("reaper", "o@x.test").await.expect("org");
        World {
            store,
            sql,
            publisher,
            db,
            prefix,
            org_id,
            key: MasterKey::from_base64(&MasterKey::generate_base64()).expect("key"),
        }
    }

    async fn mapping(&self) -> Uuid {
        let mut ids = Vec::new();
        for provider in ["hubspot", "jobber"] {
            let c = self
                .store
                .create_connection(
                    self.org_id,
                    &self.key,
                    NewConnection {
                        provider: provider.into(),
                        account_name: provider.into(),
                        external_account_id: Uuid::new_v4().to_string(),
                        access_token: "t".into(),
                        refresh_token: None,
                        expires_at: None,
                        instance_url: None,
                    },
                )
                .await
                .expect("connection");
            ids.push(c.id.to_string());
        }
        let spec: MappingSpec = serde_json::from_value(serde_json::json!({
            "name": "contacts",
            "source": {"connectionId": ids[0], "object": "contacts"},
            "target": {"connectionId": ids[1], "object": "clients"},
            "fieldPairs": [{"sourceField": "email", "targetField": "emails[0].address"}]
        }))
        .expect("spec");
        self.store
            .create_mapping(self.org_id, &spec)
            .await
            .expect("mapping")
            .id
    }

    async fn run(&self, mapping_id: Uuid) -> Uuid {
        self.store
            .create_sync(self.org_id, mapping_id, SyncTrigger::Manual, SyncMode::Full)
            .await
            .expect("run")
            .id
    }

    async fn exec(&self, statement: &str, sync_id: Uuid) {
        self.sql
            .execute(statement, &[&sync_id])
            .await
            .expect(statement);
    }

    async fn status(&self, sync_id: Uuid) -> (String, i32, Option<String>) {
        let r = self
            .sql
            .query_one(
                "SELECT status, coordinator_epoch, error FROM sync_runs WHERE id = $1",
                &[&sync_id],
            )
            .await
            .expect("row");
        (r.get(0), r.get(1), r.get(2))
    }

    /// The sync jobs waiting in the queue: (sync id, epoch).
    async fn sync_jobs(&self) -> Vec<(String, u32)> {
        let conn = lapin::Connection::connect(AMQP_URL, lapin::ConnectionProperties::default())
            .await
            .expect("amqp");
        let ch = conn.create_channel().await.expect("channel");
        let mut out = Vec::new();
        while let Some(m) = ch
            .basic_get(
                &Topology::queue(&self.prefix, JobKind::Sync),
                BasicGetOptions { no_ack: true },
            )
            .await
            .expect("get")
        {
            let env = JobEnvelope::decode(m.delivery.data.as_slice()).expect("envelope");
            let job = SyncJob::decode(env.payload.as_slice()).expect("sync job");
            out.push((job.sync_id, job.epoch));
        }
        let _ = conn.close(200, "done").await;
        out.sort();
        out
    }

    async fn drop_all(self) {
        let _ = Topology::delete(AMQP_URL, &self.prefix).await;
        drop(self.store);
        if let Ok((c, conn)) = tokio_postgres::connect(PG_ADMIN_URL, tokio_postgres::NoTls).await {
            tokio::spawn(conn);
            let _ = c
                .batch_execute(&format!(
                    "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
                    self.db
                ))
                .await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_leases_are_resumed_stale_runs_failed_live_ones_left_alone() {
    let w = World::start().await;
    let (dead, stale, live, fresh) = (
        w.mapping().await,
        w.mapping().await,
        w.mapping().await,
        w.mapping().await,
    );
    let renewed = w.mapping().await;
    let waiting = w.mapping().await;

    // A running run whose coordinator died: its lease expired a minute ago, progress 5 min ago.
    let dead_run = w.run(dead).await;
    w.exec(
        "UPDATE sync_runs SET status = 'running', lease_until = now() - interval '1 minute',
            progress_at = now() - interval '5 minutes' WHERE id = $1",
        dead_run,
    )
    .await;
    // A run stuck behind an outage for longer than the retry window.
    let stale_run = w.run(stale).await;
    w.exec(
        "UPDATE sync_runs SET status = 'running', lease_until = now() - interval '1 minute',
            progress_at = now() - interval '2 hours' WHERE id = $1",
        stale_run,
    )
    .await;
    // A run someone is working on.
    let live_run = w.run(live).await;
    w.exec(
        "UPDATE sync_runs SET status = 'running', lease_until = now() + interval '1 minute',
            progress_at = now() WHERE id = $1",
        live_run,
    )
    .await;
    // A run whose lease had expired, renewed by a batch starting on it just now.
    let renewed_run = w.run(renewed).await;
    w.exec(
        "UPDATE sync_runs SET status = 'running', lease_until = now() - interval '1 minute',
            progress_at = now() - interval '5 minutes' WHERE id = $1",
        renewed_run,
    )
    .await;
    w.store
        .renew_run_lease(renewed_run, Duration::from_secs(120))
        .await
        .expect("renew");
    // A run whose job left to wait out a rate limit two hours into its silence: the lease is held
    // for the wait, but waiting is not progress.
    let waiting_run = w.run(waiting).await;
    w.exec(
        "UPDATE sync_runs SET status = 'running', lease_until = now() - interval '1 minute',
            progress_at = now() - interval '2 hours' WHERE id = $1",
        waiting_run,
    )
    .await;
    w.store
        .hold_run_lease(waiting_run, Duration::from_secs(300))
        .await
        .expect("hold");
    // A pending run created a moment ago (its job is in the queue): not expired yet.
    let fresh_run = w.run(fresh).await;
    // The stale run's mapping has webhook ids deferred behind it.
    w.sql
        .execute(
            "INSERT INTO webhook_deferred (org_id, mapping_id, side, record_id)
             VALUES ($1, $2, 'source', '101'), ($1, $2, 'source', '102')",
            &[&w.org_id, &stale],
        )
        .await
        .expect("deferred");

    let before = w.store.unfinished_runs(POLICY.lease).await.expect("count");
    assert_eq!(
        (before.unfinished, before.lease_expired),
        (6, 2),
        "the dead and the stale run have no live lease"
    );
    let reaped = |action: &str| {
        fluxcascade_telemetry::metrics()
            .runs_reaped
            .with_label_values(&[action])
            .get()
    };
    let (resumed_before, failed_before) = (reaped("resumed"), reaped("failed"));

    reaper::round(&POLICY, &w.store, &w.publisher)
        .await
        .expect("round");

    // Tests in this binary share the registry: counters only grow.
    assert!(reaped("resumed") > resumed_before);
    assert!(reaped("failed") > failed_before);
    let after = w.store.unfinished_runs(POLICY.lease).await.expect("count");
    // The stale run failed; the deferred ids' new run is pending. Nothing is left expired, and
    // the waiting run has made no progress for two hours.
    assert_eq!((after.unfinished, after.lease_expired), (6, 0));
    assert!(
        (7_100..7_400).contains(&after.oldest_progress_age_secs),
        "{after:?}"
    );

    let (status, epoch, _) = w.status(dead_run).await;
    assert_eq!(
        (status.as_str(), epoch),
        ("running", 1),
        "resumed under a new epoch"
    );
    let (status, _, error) = w.status(stale_run).await;
    assert_eq!(status, "failed");
    let error = error.unwrap_or_default();
    assert!(error.contains("no progress for 1h"), "{error}");
    assert_eq!(w.status(live_run).await.1, 0, "a live lease is not touched");
    assert_eq!(
        w.status(renewed_run).await.1,
        0,
        "a renewed lease is not touched"
    );
    assert_eq!(
        w.status(waiting_run).await.0,
        "running",
        "a held lease is not touched"
    );
    let quiet: bool = w
        .sql
        .query_one(
            "SELECT progress_at < now() - interval '1 hour' FROM sync_runs WHERE id = $1",
            &[&waiting_run],
        )
        .await
        .expect("row")
        .get(0);
    assert!(quiet, "holding a lease is not progress");
    assert_eq!(w.status(fresh_run).await.0, "pending");

    // The deferred ids now have their own webhook run, and it is enqueued.
    let row = w
        .sql
        .query_one(
            "SELECT id, webhook_source_ids FROM sync_runs WHERE mapping_id = $1 AND status = 'pending'",
            &[&stale],
        )
        .await
        .expect("a webhook run for the deferred ids");
    let (deferred_run, ids): (Uuid, Vec<String>) = (row.get(0), row.get(1));
    let mut ids = ids;
    ids.sort();
    assert_eq!(ids, vec!["101", "102"]);

    let mut want = vec![(dead_run.to_string(), 1), (deferred_run.to_string(), 0)];
    want.sort();
    assert_eq!(
        w.sync_jobs().await,
        want,
        "one coordinator per resumed or started run"
    );

    // The resumed run has a fresh lease: the next round leaves it alone.
    reaper::round(&POLICY, &w.store, &w.publisher)
        .await
        .expect("round");
    assert_eq!(w.status(dead_run).await.1, 1);
    assert!(w.sync_jobs().await.is_empty());
    w.drop_all().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pending_run_whose_job_never_ran_is_resumed_after_its_lease() {
    let w = World::start().await;
    let mapping = w.mapping().await;
    let run = w.run(mapping).await;
    w.exec(
        "UPDATE sync_runs SET created_at = now() - interval '3 minutes' WHERE id = $1",
        run,
    )
    .await;
    reaper::round(&POLICY, &w.store, &w.publisher)
        .await
        .expect("round");
    assert_eq!(w.status(run).await.1, 1);
    assert_eq!(w.sync_jobs().await, vec![(run.to_string(), 1)]);
    w.drop_all().await;
}
