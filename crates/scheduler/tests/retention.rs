//! Retention against a real Postgres: old finished runs (with their batches and record errors),
//! webhook events, finished deliveries and year-old audit entries are purged in batches; running
//! runs, young rows, a run an unreplayed dead letter belongs to, the latest run of a mapping,
//! pending deliveries and audit entries younger than the audit retention are kept; two purgers
//! running at once share the work.

use std::time::Duration;

use fluxcascade_core::MappingSpec;
use fluxcascade_scheduler::retention::{self, Purged, RetentionConfig};
use fluxcascade_store::connections::NewConnection;
use fluxcascade_store::{MasterKey, Store};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

const PG_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";
const DAY: u64 = 86_400;

/// 30 days of history, 365 of audit, two rows per statement (so every purge takes several).
const CONFIG: RetentionConfig = RetentionConfig {
    interval: Duration::from_secs(3600),
    history: Duration::from_secs(30 * DAY),
    audit: Duration::from_secs(365 * DAY),
    batch: 2,
};

struct World {
    store: Store,
    sql: tokio_postgres::Client,
    db: String,
    org_id: Uuid,
    key: MasterKey,
}

impl World {
    async fn start() -> World {
        let short = Uuid::new_v4().simple().to_string();
        let db = format!("fc_retention_{}", &short[..12]);
        let url = format!("postgres://postgres@127.0.0.1:5432/{db}");
        fluxcascade_store::ensure_database(&url).await.expect("db");
        let store = Store::connect(&url, 4).expect("store");
        store.migrate().await.expect("migrate");
        let (sql, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
            .await
            .expect("sql");
        tokio::spawn(conn);
        let (org_id, _) = store
            .create_org("retention", "o@x.test")
            .await
            .expect("org");
        World {
            store,
            sql,
            db,
            org_id,
            key: MasterKey::from_base64(&MasterKey::generate_base64()).expect("key"),
        }
    }

    async fn connection(&self) -> Uuid {
        self.store
            .create_connection(
                self.org_id,
                &self.key,
                NewConnection {
                    provider: "hubspot".into(),
                    account_name: "h".into(),
                    external_account_id: Uuid::new_v4().to_string(),
                    access_token: "t".into(),
                    refresh_token: None,
                    expires_at: None,
                    instance_url: None,
                },
            )
            .await
            .expect("connection")
            .id
    }

    async fn mapping(&self) -> Uuid {
        let (a, b) = (self.connection().await, self.connection().await);
        let spec: MappingSpec = serde_json::from_value(serde_json::json!({
            "name": "contacts",
            "source": {"connectionId": a, "object": "contacts"},
            "target": {"connectionId": b, "object": "contacts"},
            "fieldPairs": [{"sourceField": "email", "targetField": "email"}]
        }))
        .expect("spec");
        self.store
            .create_mapping(self.org_id, &spec)
            .await
            .expect("mapping")
            .id
    }

    /// A run of `mapping` created `days` ago with `status` (finished then, unless still going),
    /// with one batch and `errors` record errors.
    async fn run(&self, mapping: Uuid, status: &str, days: f64, errors: usize) -> Uuid {
        let id = Uuid::now_v7();
        let secs = days * DAY as f64;
        self.sql
            .execute(
                "INSERT INTO sync_runs (id, org_id, mapping_id, status, trigger, mode, created_at, finished_at)
                 VALUES ($1, $2, $3, $4, 'manual', 'full', now() - make_interval(secs => $5),
                         CASE WHEN $4 IN ('pending', 'running') THEN NULL
                              ELSE now() - make_interval(secs => $5) END)",
                &[&id, &self.org_id, &mapping, &status, &secs],
            )
            .await
            .expect("run");
        self.sql
            .execute(
                "INSERT INTO sync_batches (sync_id, batch_no, org_id, worker, read_count, created_count,
                    updated_count, skipped_count, failed_count)
                 VALUES ($1, 0, $2, 'w', 1, 1, 0, 0, 0)",
                &[&id, &self.org_id],
            )
            .await
            .expect("batch");
        for i in 0..errors {
            self.sql
                .execute(
                    "INSERT INTO sync_errors (sync_id, org_id, record_id, code, message)
                     VALUES ($1, $2, $3, 'invalid', 'bad email')",
                    &[&id, &self.org_id, &i.to_string()],
                )
                .await
                .expect("error");
        }
        id
    }

    async fn dead_letter(&self, sync_id: Uuid, replayed: bool) {
        self.sql
            .execute(
                "INSERT INTO dead_letters (id, org_id, job_id, kind, sync_id, reason, attempts,
                    last_failed_at, message_size, replayed_at)
                 VALUES ($1, $2, $3, 'sync', $4, 'boom', 3, now(), 0,
                         CASE WHEN $5 THEN now() END)",
                &[
                    &Uuid::now_v7(),
                    &self.org_id,
                    &Uuid::new_v4().to_string(),
                    &sync_id,
                    &replayed,
                ],
            )
            .await
            .expect("dead letter");
    }

    async fn count(&self, sql: &str) -> i64 {
        self.sql.query_one(sql, &[]).await.expect(sql).get(0)
    }

    async fn exists(&self, run: Uuid) -> bool {
        self.sql
            .query_opt("SELECT 1 FROM sync_runs WHERE id = $1", &[&run])
            .await
            .expect("run")
            .is_some()
    }

    async fn drop_all(self) {
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

#[tokio::test]
async fn old_history_is_purged_in_batches_and_what_is_young_running_or_needed_is_kept() {
    let w = World::start().await;
    let m = w.mapping().await;
    let old_a = w.run(m, "completed", 40.0, 0).await;
    let old_b = w.run(m, "partial", 35.0, 5).await;
    let replayed = w.run(m, "failed", 37.0, 1).await;
    w.dead_letter(replayed, true).await;
    let awaiting_replay = w.run(m, "failed", 38.0, 1).await;
    w.dead_letter(awaiting_replay, false).await;
    let young = w.run(m, "completed", 1.0, 2).await;
    let running = w.run(m, "running", 40.0, 0).await;
    // Another mapping's only run is its latest outcome: kept however old.
    let other = w.mapping().await;
    let latest_of_other = w.run(other, "completed", 50.0, 1).await;

    let conn = w.connection().await;
    for (event, days) in [("e1", 40.0), ("e2", 31.0), ("e3", 45.0), ("e4", 2.0)] {
        w.sql
            .execute(
                "INSERT INTO webhook_events (connection_id, event_id, org_id, job_id, received_at)
                 VALUES ($1, $2, $3, 'j', now() - make_interval(secs => $4))",
                &[&conn, &event, &w.org_id, &(days * DAY as f64)],
            )
            .await
            .expect("event");
    }
    let (hook, _) = w
        .store
        .create_webhook(
            w.org_id,
            &w.key,
            "https://example.com/h",
            &["sync.completed".into()],
        )
        .await
        .expect("webhook");
    for (status, days) in [
        ("delivered", 40.0),
        ("failed", 33.0),
        ("pending", 40.0),
        ("delivered", 3.0),
    ] {
        let id = Uuid::now_v7();
        w.sql
            .execute(
                "INSERT INTO webhook_deliveries (id, org_id, webhook_id, event_id, event_type,
                    subject_id, body, status, created_at)
                 VALUES ($1, $2, $3, $4, 'sync.completed', $4, '{}', $5,
                         now() - make_interval(secs => $6))",
                &[
                    &id,
                    &w.org_id,
                    &hook.id,
                    &Uuid::now_v7(),
                    &status,
                    &(days * DAY as f64),
                ],
            )
            .await
            .expect("delivery");
        w.sql
            .execute(
                "INSERT INTO webhook_attempts (delivery_id, attempt, org_id, duration_ms)
                 VALUES ($1, 1, $2, 5)",
                &[&id, &w.org_id],
            )
            .await
            .expect("attempt");
    }
    for days in [400.0, 380.0, 100.0] {
        w.sql
            .execute(
                "INSERT INTO audit_entries (id, org_id, at, action, target_type)
                 VALUES ($1, $2, now() - make_interval(secs => $3), 'mapping.updated', 'mapping')",
                &[&Uuid::now_v7(), &w.org_id, &(days * DAY as f64)],
            )
            .await
            .expect("audit");
    }

    let purged = retention::round(&CONFIG, &w.store, &CancellationToken::new())
        .await
        .expect("round");
    assert_eq!(
        purged,
        Purged {
            sync_errors: 5 + 1,
            sync_runs: 3,
            webhook_events: 3,
            webhook_deliveries: 2,
            audit_entries: 2,
        }
    );
    for gone in [old_a, old_b, replayed] {
        assert!(!w.exists(gone).await, "old finished run {gone} purged");
    }
    for kept in [awaiting_replay, young, running, latest_of_other] {
        assert!(w.exists(kept).await, "run {kept} kept");
    }
    // A purged run's batches and errors went with it; the kept runs' stayed.
    assert_eq!(
        w.count("SELECT count(*)::bigint FROM sync_batches").await,
        4
    );
    assert_eq!(
        w.count("SELECT count(*)::bigint FROM sync_errors").await,
        1 + 2 + 1
    );
    assert_eq!(
        w.count("SELECT count(*)::bigint FROM webhook_events WHERE event_id = 'e4'")
            .await,
        1
    );
    assert_eq!(
        w.count("SELECT count(*)::bigint FROM webhook_events").await,
        1
    );
    assert_eq!(
        w.count(
            "SELECT count(*)::bigint FROM webhook_deliveries
              WHERE status = 'pending' OR created_at > now() - interval '30 days'"
        )
        .await,
        2
    );
    assert_eq!(
        w.count("SELECT count(*)::bigint FROM webhook_deliveries")
            .await,
        2
    );
    assert_eq!(
        w.count("SELECT count(*)::bigint FROM webhook_attempts")
            .await,
        2
    );
    assert_eq!(
        w.count("SELECT count(*)::bigint FROM audit_entries").await,
        1
    );

    // Nothing else is old: the next round deletes nothing.
    let again = retention::round(&CONFIG, &w.store, &CancellationToken::new())
        .await
        .expect("round");
    assert_eq!(again.total(), 0, "{again:?}");
    w.drop_all().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_purgers_at_once_share_the_work() {
    let w = World::start().await;
    let m = w.mapping().await;
    for i in 0..40 {
        w.run(m, "completed", 60.0 - f64::from(i) * 0.1, 3).await;
    }
    w.run(m, "completed", 0.5, 0).await;
    let config = RetentionConfig { batch: 3, ..CONFIG };
    let token = CancellationToken::new();
    let (a, b) = tokio::join!(
        retention::round(&config, &w.store, &token),
        retention::round(&config, &w.store, &token)
    );
    let (a, b) = (a.expect("first purger"), b.expect("second purger"));
    assert_eq!(a.sync_runs + b.sync_runs, 40, "{a:?} {b:?}");
    // Errors a purger had not reached yet went with their run (cascade), so only the rest is
    // counted: none is left either way.
    assert!(a.sync_errors + b.sync_errors <= 120, "{a:?} {b:?}");
    assert_eq!(w.count("SELECT count(*)::bigint FROM sync_errors").await, 0);
    assert_eq!(w.count("SELECT count(*)::bigint FROM sync_runs").await, 1);
    w.drop_all().await;
}
