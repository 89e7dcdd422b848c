//! `make run` as a new user meets it: the script starts everything, the demo sync completes with
//! 1,000 Jobber clients matching the mapping, and Ctrl-C stops every process.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use fluxcascade_tests::{bin_path, fields, PG_ADMIN_URL};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn make_run_starts_the_system_and_the_demo_sync_completes() -> anyhow::Result<()> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("repo root")
        .to_path_buf();
    let id = uuid::Uuid::new_v4().simple().to_string();
    let db = format!("fc_e2e_run_{}", &id[..12]);
    let prefix = format!("e2e_run_{}", &id[..12]);
    let state = std::env::temp_dir().join(format!("fluxcascade-run-{}", &id[..12]));
    let (api, sandbox) = (
        format!("127.0.0.1:{}", free_port()),
        format!("127.0.0.1:{}", free_port()),
    );
    let mut child = Command::new(root.join("scripts/run.sh"))
        .env("FLUXCASCADE_BIN", bin_path())
        .env(
            "DATABASE_URL",
            format!("postgres://postgres@127.0.0.1:5432/{db}"),
        )
        .env("FLUXCASCADE_QUEUE_PREFIX", &prefix)
        .env("FLUXCASCADE_API_LISTEN", &api)
        .env("FLUXCASCADE_SANDBOX_LISTEN", &sandbox)
        .env("FLUXCASCADE_STATE_DIR", &state)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()?;
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            println!("run.sh| {line}");
            let _ = tx.send(line);
        }
    });
    let mut up = false;
    let mut outcome = String::new();
    while let Ok(line) = rx.recv_timeout(Duration::from_secs(300)) {
        if line.contains("Sync:") {
            outcome = line.clone();
        }
        if line.contains("Press Ctrl-C") {
            up = true;
            break;
        }
    }
    let result = async {
        assert!(up, "make run did not come up; last sync line: {outcome}");
        assert!(
            outcome.contains("completed"),
            "demo sync outcome: {outcome}"
        );
        let http = reqwest::Client::new();
        let clients: serde_json::Value = http
            .get(format!("http://{sandbox}/_sandbox/jobber/clients"))
            .send()
            .await?
            .json()
            .await?;
        let contacts: serde_json::Value = http
            .get(format!("http://{sandbox}/_sandbox/hubspot/contacts"))
            .send()
            .await?
            .json()
            .await?;
        let clients = clients["data"].as_array().cloned().unwrap_or_default();
        let contacts = contacts["data"].as_array().cloned().unwrap_or_default();
        assert_eq!(contacts.len(), 1000);
        assert_eq!(
            clients.len(),
            1000,
            "the sandbox holds 1,000 Jobber clients"
        );
        for contact in &contacts {
            let f = &fields(contact);
            let email = f["email"].as_str().unwrap_or_default().to_lowercase();
            let client = clients
                .iter()
                .find(|c| fields(c)["emails"][0]["address"].as_str() == Some(email.as_str()))
                .unwrap_or_else(|| panic!("no client for {email}"));
            assert_eq!(fields(client)["firstName"], f["firstname"]);
            assert_eq!(fields(client)["lastName"], f["lastname"]);
            let company = f["company"].as_str().map(str::to_uppercase);
            assert_eq!(
                fields(client)["companyName"].as_str().map(str::to_owned),
                company,
                "companyName is uppercased"
            );
        }
        anyhow::Ok(())
    }
    .await;

    // Ctrl-C stops everything cleanly.
    #[allow(unsafe_code)]
    unsafe {
        libc::kill(child.id() as i32, libc::SIGINT);
    }
    let status = tokio::task::spawn_blocking(move || child.wait()).await??;
    let api_closed = std::net::TcpStream::connect(&api).is_err();
    let sandbox_closed = std::net::TcpStream::connect(&sandbox).is_err();

    if let Ok((c, conn)) = tokio_postgres::connect(PG_ADMIN_URL, tokio_postgres::NoTls).await {
        tokio::spawn(conn);
        let _ = c
            .batch_execute(&format!("DROP DATABASE IF EXISTS \"{db}\" WITH (FORCE)"))
            .await;
    }
    let _ = fluxcascade_queue::Topology::delete(fluxcascade_tests::AMQP_URL, &prefix).await;
    let _ = std::fs::remove_dir_all(&state);

    result?;
    assert!(status.success(), "run.sh exited {status}");
    assert!(
        api_closed && sandbox_closed,
        "every process stopped on Ctrl-C"
    );
    Ok(())
}
