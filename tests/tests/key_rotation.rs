//! End to end (issue 12 item 4): rotating the master key online. Connections and a webhook secret
//! are sealed under key A; the ingress and workers restart with B current and A previous; a sync
//! runs (with tokens expiring and being refreshed) while `fluxcascade admin reseal` re-seals; the
//! sync completes with the right counts, a second reseal has nothing to do, a worker with only
//! key B syncs again, and a worker with only key A fails the run with an error naming key B's id
//! and no key material.

use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use fluxcascade_store::{MasterKey, SealedToken};
use fluxcascade_tests::{bin_path, TestEnv};
use reqwest::Method;
use serde_json::json;

const WAIT: Duration = Duration::from_secs(240);
const CONTACTS: u64 = 600;

/// The key id inside every sealed value of the env's database: (connection tokens, webhook secrets).
async fn sealed_key_ids(env: &TestEnv) -> anyhow::Result<(Vec<String>, Vec<String>)> {
    let db = env.db().await?;
    let mut tokens = Vec::new();
    for row in db
        .query(
            "SELECT access_token, refresh_token FROM connections WHERE deleted_at IS NULL",
            &[],
        )
        .await?
    {
        let access: Vec<u8> = row.get(0);
        tokens.push(SealedToken::key_id_of(&access)?);
        if let Some(refresh) = row.get::<_, Option<Vec<u8>>>(1) {
            tokens.push(SealedToken::key_id_of(&refresh)?);
        }
    }
    let mut secrets = Vec::new();
    for row in db.query("SELECT secret FROM webhooks", &[]).await? {
        let secret: Vec<u8> = row.get(0);
        secrets.push(SealedToken::key_id_of(&secret)?);
    }
    Ok((tokens, secrets))
}

/// `fluxcascade admin reseal --batch 2` with key B current and A previous; its stdout.
fn reseal(env: &TestEnv, current: &str, previous: &str) -> anyhow::Result<String> {
    let out = std::process::Command::new(bin_path())
        .args(["admin", "reseal", "--batch", "2"])
        .env("DATABASE_URL", &env.db_url)
        .env("AMQP_URL", &env.amqp_url)
        .env("FLUXCASCADE_QUEUE_PREFIX", &env.prefix)
        .env("FLUXCASCADE_MASTER_KEY", current)
        .env("FLUXCASCADE_MASTER_KEYS_PREVIOUS", previous)
        .output()
        .context("running fluxcascade admin reseal")?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        bail!(
            "admin reseal failed: {stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(stdout)
}

/// Waits until the run has committed a batch and is still running, so what follows lands mid-run.
async fn wait_mid_run(env: &TestEnv, sync_id: &str) -> anyhow::Result<()> {
    let db = env.db().await?;
    let deadline = Instant::now() + WAIT;
    loop {
        let row = db
            .query_one(
                "SELECT status::text, (SELECT count(*)::bigint FROM sync_batches WHERE sync_id = r.id)
                   FROM sync_runs r WHERE id = $1::text::uuid",
                &[&sync_id],
            )
            .await?;
        let (status, batches): (String, i64) = (row.get(0), row.get(1));
        if status != "running" && status != "pending" {
            bail!("the run ended ({status}) before the reseal could start mid-run");
        }
        if batches >= 1 {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("the run committed no batch in {WAIT:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn stop_workers(env: &mut TestEnv) {
    for w in &mut env.workers {
        w.stop();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_master_key_rotates_online_and_the_old_key_can_be_dropped() -> anyhow::Result<()> {
    let mut env = TestEnv::start("key_rotation", 0).await?;
    let key_a = env.master_key.clone();
    let key_b = MasterKey::generate_base64();
    let id_a = MasterKey::from_base64(&key_a)?.key_id().to_owned();
    let id_b = MasterKey::from_base64(&key_b)?.key_id().to_owned();

    // Under key A: the mapping's two connections, a few more, and a webhook subscription. Tokens
    // live 4 s, so workers refresh them (sealing anew) while the reseal runs.
    env.sandbox_config(json!({"tokenTtlSeconds": 4})).await?;
    env.seed("hubspot", "contacts", CONTACTS).await?;
    let hubspot = env.connect("hubspot").await?;
    let jobber = env.connect("jobber").await?;
    for i in 0..4 {
        env.connect_account("pipedrive", Some(&format!("extra-{i}")))
            .await?;
    }
    env.api_ok(
        Method::POST,
        "/v1/webhooks",
        Some(json!({"url": "https://example.com/hook", "events": ["connection.expired"]})),
    )
    .await?;
    let mapping = env.contacts_to_clients(&hubspot, &jobber).await?;
    let (tokens, secrets) = sealed_key_ids(&env).await?;
    assert!(
        tokens.len() >= 6 && tokens.iter().all(|id| *id == id_a),
        "{tokens:?}"
    );
    assert_eq!(secrets, vec![id_a.clone()]);

    // Restart with B current and A previous; the sandbox is slowed so the sync outlasts the
    // tokens and the reseal.
    let rotated = [
        ("FLUXCASCADE_MASTER_KEY", key_b.as_str()),
        ("FLUXCASCADE_MASTER_KEYS_PREVIOUS", key_a.as_str()),
    ];
    env.restart_ingress(&rotated).await?;
    env.sandbox_config(json!({"latencyMs": 250})).await?;
    env.add_worker(&rotated).await?;
    env.add_worker(&rotated).await?;

    let sync = env.trigger_sync(&mapping, "incremental").await?;
    wait_mid_run(&env, &sync).await?;
    let out = {
        let (b, a) = (key_b.clone(), key_a.clone());
        let env_ref = &env;
        tokio::task::block_in_place(|| reseal(env_ref, &b, &a))?
    };
    assert!(out.contains("connections: "), "{out}");
    assert!(
        out.contains(&format!("done: everything is under key {id_b}")),
        "{out}"
    );
    let run = env.wait_sync(&sync, WAIT).await?;
    assert_eq!(run["status"], "completed", "{run}");
    assert_eq!(run["counts"]["read"], CONTACTS, "{run}");
    assert_eq!(run["counts"]["created"], CONTACTS, "{run}");
    assert_eq!(run["counts"]["failed"], 0, "{run}");
    assert_eq!(
        env.sandbox_records("jobber", "clients").await?.len() as u64,
        CONTACTS,
        "one client per contact"
    );

    // Idempotent: nothing is left under A, and a second run says so. New secrets are under B.
    let again = tokio::task::block_in_place(|| reseal(&env, &key_b, &key_a))?;
    assert!(again.contains("nothing to re-seal"), "{again}");
    env.connect_account("pipedrive", Some("after-rotation"))
        .await?;
    let (tokens, secrets) = sealed_key_ids(&env).await?;
    assert!(tokens.iter().all(|id| *id == id_b), "{tokens:?}");
    assert_eq!(secrets, vec![id_b.clone()]);

    // Key A dropped: a worker with only B reads every connection the mapping uses.
    stop_workers(&mut env);
    env.sandbox_config(json!({"latencyMs": 0})).await?;
    env.add_worker(&[
        ("FLUXCASCADE_MASTER_KEY", &key_b),
        ("FLUXCASCADE_MASTER_KEYS_PREVIOUS", ""),
    ])
    .await?;
    env.seed("hubspot", "contacts", 20).await?;
    let second = env
        .wait_sync(&env.trigger_sync(&mapping, "incremental").await?, WAIT)
        .await?;
    assert_eq!(second["status"], "completed", "{second}");
    assert_eq!(second["counts"]["created"], 20, "{second}");
    assert_eq!(second["counts"]["failed"], 0, "{second}");

    // A worker with only key A cannot: the run fails naming B's key id, never a key.
    stop_workers(&mut env);
    env.add_worker(&[
        ("FLUXCASCADE_MASTER_KEY", &key_a),
        ("FLUXCASCADE_MASTER_KEYS_PREVIOUS", ""),
    ])
    .await?;
    let third = env
        .wait_sync(&env.trigger_sync(&mapping, "full").await?, WAIT)
        .await?;
    assert_eq!(third["status"], "failed", "{third}");
    let error = third["error"].as_str().unwrap_or_default();
    assert!(
        error.contains(&format!("master key id {id_b}")),
        "the error names the missing key id: {third}"
    );
    for (name, secret) in [("A", &key_a), ("B", &key_b)] {
        assert!(
            !third.to_string().contains(secret.as_str()),
            "key {name} in {third}"
        );
    }
    stop_workers(&mut env);
    for entry in std::fs::read_dir(&env.log_dir)? {
        let path = entry?.path();
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        for (name, secret) in [("A", &key_a), ("B", &key_b)] {
            assert!(
                !text.contains(secret.as_str()),
                "key {name} in {}",
                path.display()
            );
        }
    }
    Ok(())
}
