//! Secrets never reach logs: after an end-to-end run (four providers connected through OAuth,
//! tokens refreshed, a sync, a provider webhook, a signed outbound delivery), the complete output
//! of every process contains none of the tokens, keys and secrets that were issued.

use std::time::Duration;

use anyhow::Context;
use fluxcascade_tests::TestEnv;
use reqwest::Method;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A loopback receiver answering every request 200, counting them.
async fn receiver() -> anyhow::Result<(String, std::sync::Arc<std::sync::atomic::AtomicUsize>)> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/hook", listener.local_addr()?);
    let count = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = count.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let seen = seen.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 64 * 1024];
                let _ = socket.read(&mut buf).await;
                seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let _ = socket
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                    .await;
            });
        }
    });
    Ok((url, count))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_process_output_contains_an_issued_token_or_secret() -> anyhow::Result<()> {
    // Debug logs: the most a process ever writes (HTTP clients, the broker, the pool), so the
    // redacting writer and the code's own care are both exercised. This test binary runs this
    // one test, so the variable is set before any process is spawned.
    std::env::set_var("E2E_RUST_LOG", "debug");
    let env = TestEnv::start("secrets_in_logs", 1).await?;
    // Short-lived tokens, so the worker refreshes during the run.
    env.sandbox_config(json!({"tokenTtlSeconds": 4})).await?;
    let mut secrets: Vec<(String, String)> = vec![
        ("API key".into(), env.api_key.clone()),
        ("master key".into(), env.master_key.clone()),
    ];
    let mut connections = Vec::new();
    for provider in ["hubspot", "jobber", "pipedrive", "salesforce"] {
        let c = env.connect_account(provider, None).await?;
        if let Some(url) = c["webhookUrl"].as_str() {
            let secret = url.rsplit_once("?s=").context("secret in url")?.1;
            secrets.push(("Salesforce hook secret".into(), secret.to_owned()));
        }
        connections.push(c["id"].as_str().context("id")?.to_owned());
    }
    let (hook_url, delivered) = receiver().await?;
    let webhook = env
        .api_ok(
            Method::POST,
            "/v1/webhooks",
            Some(json!({"url": hook_url, "events": ["sync.completed"]})),
        )
        .await?;
    secrets.push((
        "outbound webhook secret".into(),
        webhook["secret"].as_str().context("secret")?.to_owned(),
    ));

    env.seed("hubspot", "contacts", 30).await?;
    let mapping = env
        .contacts_to_clients(&connections[0], &connections[1])
        .await?;
    tokio::time::sleep(Duration::from_secs(5)).await; // the first tokens expire: refreshes
    let sync = env.trigger_sync(&mapping, "full").await?;
    let done = env.wait_sync(&sync, Duration::from_secs(120)).await?;
    assert_eq!(done["status"], "completed", "{done}");
    for _ in 0..100 {
        if delivered.load(std::sync::atomic::Ordering::SeqCst) > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        delivered.load(std::sync::atomic::Ordering::SeqCst) > 0,
        "delivered"
    );

    // The tokens as they stand now (after refreshes), from the sealed store.
    let store = fluxcascade_store::Store::connect(&env.db_url, 2)?;
    let key = fluxcascade_store::MasterKey::from_base64(&env.master_key)?;
    let org = store
        .authenticate(&env.api_key)
        .await?
        .context("key")?
        .org_id;
    for id in &connections {
        let creds = store
            .load_credentials(org, id.parse()?, &key)
            .await
            .context("credentials")?;
        secrets.push((
            format!("{} access token", creds.provider),
            creds.access_token,
        ));
        if let Some(r) = creds.refresh_token {
            secrets.push((format!("{} refresh token", creds.provider), r));
        }
    }

    let mut output = String::new();
    for entry in std::fs::read_dir(&env.log_dir)? {
        let path = entry?.path();
        output.push_str(&std::fs::read_to_string(&path).unwrap_or_default());
    }
    assert!(
        output.contains("sync") && output.len() > 1_000,
        "the logs were read"
    );
    for (what, secret) in &secrets {
        assert!(secret.len() >= 8, "{what} is a real secret");
        assert!(
            !output.contains(secret.as_str()),
            "the {what} appears in the process output under {}",
            env.log_dir.display()
        );
    }
    Ok(())
}
