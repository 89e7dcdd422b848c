//! `fluxcascade dead-letters` (REST, one organization) and `fluxcascade admin dead-letters`
//! (database, every row) run as an operator runs them, against a real ingress, Postgres and RabbitMQ.

use std::sync::Arc;

use fluxcascade_ingress::{Ingress, IngressConfig};
use fluxcascade_proto::v1::{JobEnvelope, JobKind};
use fluxcascade_proto::Message;
use fluxcascade_queue::{Publisher, QueueConfig, Topology};
use fluxcascade_store::dead_letters::{DeadLetterKind, NewDeadLetter};
use fluxcascade_store::{MasterKey, Store};
use tokio::process::Command;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

const AMQP_URL: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";

/// A private database and queue prefix, removed at the end (even on panic).
struct Env {
    db: String,
    prefix: String,
    shutdown: CancellationToken,
}

impl Env {
    fn database_url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:5432/{}", self.db)
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        self.shutdown.cancel();
        let (db, prefix) = (self.db.clone(), self.prefix.clone());
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async move {
                let admin = "postgres://postgres@127.0.0.1:5432/postgres";
                if let Ok((c, conn)) = tokio_postgres::connect(admin, tokio_postgres::NoTls).await {
                    tokio::spawn(conn);
                    let _ = c
                        .batch_execute(&format!("DROP DATABASE IF EXISTS \"{db}\" WITH (FORCE)"))
                        .await;
                }
                let _ = Topology::delete(AMQP_URL, &prefix).await;
            });
        })
        .join();
    }
}

/// Runs the binary; (success, stdout, stderr).
async fn fluxcascade(env: &Env, vars: &[(&str, &str)], args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_fluxcascade"))
        .args(args)
        .env_remove("FLUXCASCADE_API_KEY")
        .env_remove("FLUXCASCADE_API_URL")
        .env("DATABASE_URL", env.database_url())
        .env("AMQP_URL", AMQP_URL)
        .env("FLUXCASCADE_QUEUE_PREFIX", &env.prefix)
        .envs(vars.iter().copied())
        .output()
        .await
        .expect("run fluxcascade");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn letter(
    org: Option<Uuid>,
    job_id: &str,
    kind: DeadLetterKind,
    message: Vec<u8>,
) -> NewDeadLetter {
    NewDeadLetter {
        org_id: org,
        job_id: job_id.into(),
        kind,
        mapping_id: None,
        sync_id: None,
        reason: format!("reason of {job_id}"),
        attempts: 8,
        first_failed_at: None,
        message,
    }
}

/// The id of the dead letter recorded for `job_id`.
async fn id_of(store: &Store, job_id: &str) -> String {
    let rows = store
        .admin_list_dead_letters(&Default::default(), 100, None)
        .await
        .expect("list");
    rows.iter()
        .find(|r| r.job_id == job_id)
        .expect("recorded")
        .id
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_letters_are_listed_replayed_and_deleted_from_the_command_line() {
    let short = Uuid::new_v4().simple().to_string();
    let env = Env {
        db: format!("fluxcascade_test_cli_{short}"),
        prefix: format!("cli_test_{short}"),
        shutdown: CancellationToken::new(),
    };
    fluxcascade_store::ensure_database(&env.database_url())
        .await
        .expect("database");
    let store = Store::connect(&env.database_url(), 4).expect("store");
    store.migrate().await.expect("migrate");
    let publisher = Publisher::connect(&QueueConfig::new(AMQP_URL, &env.prefix))
        .await
        .expect("publisher");
    let key = Arc::new(MasterKey::from_base64(&MasterKey::generate_base64()).expect("key"));
    let config = IngressConfig {
        listen: "127.0.0.1:0".into(),
        metrics_listen: None,
        ..IngressConfig::default()
    };
    let ingress = Ingress::build(config, store.clone(), publisher, key)
        .await
        .expect("ingress");
    let api_url = format!("http://{}", ingress.local_addr());
    tokio::spawn(ingress.run_until_stopped(env.shutdown.clone()));
    let (org, api_key) = store
        .create_org("Acme", "ops@acme.test")
        .await
        .expect("org");

    let webhook = JobEnvelope::new(JobKind::Webhook, org.to_string(), b"events".to_vec());
    let orphan = JobEnvelope::new(JobKind::Webhook, "", b"events".to_vec());
    for row in [
        letter(
            Some(org),
            &webhook.job_id,
            DeadLetterKind::Webhook,
            webhook.encode_to_vec(),
        ),
        letter(
            Some(org),
            "raw-1",
            DeadLetterKind::Unknown,
            b"\xff junk".to_vec(),
        ),
        letter(
            None,
            &orphan.job_id,
            DeadLetterKind::Webhook,
            orphan.encode_to_vec(),
        ),
    ] {
        assert!(store.record_dead_letter(&row).await.expect("record"));
    }
    let api = [
        ("FLUXCASCADE_API_URL", api_url.as_str()),
        ("FLUXCASCADE_API_KEY", api_key.as_str()),
    ];

    let (ok, _, err) = fluxcascade(&env, &api[..1], &["dead-letters", "list"]).await;
    assert!(!ok && err.contains("FLUXCASCADE_API_KEY"), "{err}");

    let (ok, out, err) = fluxcascade(&env, &api, &["dead-letters", "list"]).await;
    assert!(ok, "{err}");
    assert!(
        out.contains(&webhook.job_id) && out.contains("raw-1"),
        "{out}"
    );
    assert!(out.contains("reason of raw-1"), "{out}");
    assert!(!out.contains(&orphan.job_id), "no other org's rows: {out}");
    let (_, out, _) = fluxcascade(&env, &api, &["dead-letters", "list", "--kind", "unknown"]).await;
    assert!(
        out.contains("raw-1") && !out.contains(&webhook.job_id),
        "{out}"
    );

    let id = id_of(&store, &webhook.job_id).await;
    let (ok, out, err) = fluxcascade(&env, &api, &["dead-letters", "replay", &id]).await;
    assert!(ok && out.starts_with("replayed as job "), "{out}{err}");
    let (ok, _, err) = fluxcascade(&env, &api, &["dead-letters", "replay", &id]).await;
    assert!(!ok && err.contains("already_replayed"), "{err}");
    let raw = id_of(&store, "raw-1").await;
    let (ok, _, err) = fluxcascade(&env, &api, &["dead-letters", "replay", &raw]).await;
    assert!(!ok && err.contains("not_replayable"), "{err}");
    let (ok, out, err) = fluxcascade(&env, &api, &["dead-letters", "delete", &raw]).await;
    assert!(ok && out.contains("deleted"), "{out}{err}");

    // The admin sees every row, including the job of no organization, and can replay it.
    let (ok, out, err) = fluxcascade(&env, &[], &["admin", "dead-letters", "list"]).await;
    assert!(ok, "{err}");
    assert!(
        out.contains(&orphan.job_id) && out.contains("org -"),
        "{out}"
    );
    assert!(
        out.contains(&webhook.job_id) && out.contains("replayed as"),
        "{out}"
    );
    assert!(!out.contains("raw-1"), "deleted: {out}");
    let orphan_id = id_of(&store, &orphan.job_id).await;
    let (ok, out, err) =
        fluxcascade(&env, &[], &["admin", "dead-letters", "replay", &orphan_id]).await;
    assert!(ok && out.starts_with("replayed as job "), "{out}{err}");
    let (ok, _, err) =
        fluxcascade(&env, &[], &["admin", "dead-letters", "delete", &orphan_id]).await;
    assert!(ok, "{err}");
    let (ok, _, err) =
        fluxcascade(&env, &[], &["admin", "dead-letters", "delete", &orphan_id]).await;
    assert!(!ok && err.contains("no dead letter"), "{err}");
}
