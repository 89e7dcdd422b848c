//! The `fluxcascade` binary's own commands, run as a user runs them. (Building this test is also
//! what builds `target/<profile>/fluxcascade` for the end-to-end tests, with the same features.)

use std::process::Command;

fn fluxcascade(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_fluxcascade"))
        .args(args)
        .output()
        .expect("run fluxcascade")
}

#[test]
fn gen_key_prints_a_fresh_32_byte_master_key() {
    let a = fluxcascade(&["admin", "gen-key"]);
    let b = fluxcascade(&["admin", "gen-key"]);
    assert!(a.status.success());
    let key = String::from_utf8_lossy(&a.stdout).trim().to_string();
    assert!(
        fluxcascade_store::MasterKey::from_base64(&key).is_ok(),
        "{key:?} is a usable master key"
    );
    assert_ne!(a.stdout, b.stdout, "keys are random");
}

#[test]
fn roles_refuse_to_start_without_a_master_key_and_say_why() {
    let out = Command::new(env!("CARGO_BIN_EXE_fluxcascade"))
        .arg("worker")
        .env_remove("FLUXCASCADE_MASTER_KEY")
        .env("DATABASE_URL", "postgres://postgres@127.0.0.1:1/none")
        .output()
        .expect("run");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("FLUXCASCADE_MASTER_KEY"), "{err}");
}

#[test]
fn unknown_commands_fail_with_usage() {
    let out = fluxcascade(&["frobnicate"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("Usage"));
}

#[test]
fn a_bad_amqp_url_list_or_retry_delays_refuse_to_start_without_echoing_the_secret() {
    for (var, value, expected) in [
        (
            "AMQP_URL",
            "amqp://fc:s3cret@h1:5672/%2f,http://fc:s3cret@h2/",
            "entry 2 of 2",
        ),
        ("FLUXCASCADE_RETRY_DELAYS", "1s,2s,3s", "exactly 4 delays"),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_fluxcascade"))
            .arg("worker")
            .env("FLUXCASCADE_MASTER_KEY", "unused")
            .env("DATABASE_URL", "postgres://postgres@127.0.0.1:1/none")
            .env(var, value)
            .output()
            .expect("run");
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(expected), "{var}: {err}");
        assert!(!err.contains("s3cret"), "{err}");
    }
}

/// Every Deployment's init container runs `fluxcascade migrate` (deploy/k8s): pods starting
/// together must all succeed on a fresh database, one applying, the others waiting for its lock.
#[test]
fn concurrent_migrate_runs_all_succeed_on_a_fresh_database() {
    let name = format!("fluxcascade_cli_migrate_{}", &uuid_like(std::process::id()));
    let url = format!("postgres://postgres@127.0.0.1:5432/{name}");
    let children: Vec<_> = (0..4)
        .map(|_| {
            Command::new(env!("CARGO_BIN_EXE_fluxcascade"))
                .arg("migrate")
                .env("DATABASE_URL", &url)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("spawn migrate")
        })
        .collect();
    let outputs: Vec<_> = children
        .into_iter()
        .map(|c| c.wait_with_output().expect("migrate output"))
        .collect();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (applied, versions) = rt.block_on(async {
        let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
            .await
            .expect("connect");
        tokio::spawn(conn);
        let row = client
            .query_one(
                "SELECT count(*), count(DISTINCT version) FROM refinery_schema_history",
                &[],
            )
            .await
            .expect("history");
        drop(client);
        let (admin, conn) = tokio_postgres::connect(
            "postgres://postgres@127.0.0.1:5432/postgres",
            tokio_postgres::NoTls,
        )
        .await
        .expect("connect admin");
        tokio::spawn(conn);
        admin
            .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .await
            .expect("drop test database");
        (row.get::<_, i64>(0), row.get::<_, i64>(1))
    });
    for out in &outputs {
        assert!(
            out.status.success(),
            "a concurrent migrate failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert!(applied > 0);
    assert_eq!(applied, versions, "each migration applied exactly once");
}

fn uuid_like(pid: u32) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("{pid}_{nanos}")
}

/// `AMQP_URL` may use TLS (`amqps://`, managed brokers): the configuration accepts it (the command
/// gets as far as the database), while a non-AMQP scheme is refused naming the variable.
#[test]
fn an_amqps_url_is_accepted_by_the_configuration() {
    let run = |amqp_url: &str| {
        let out = Command::new(env!("CARGO_BIN_EXE_fluxcascade"))
            .arg("migrate")
            .env("DATABASE_URL", "postgres://postgres@127.0.0.1:1/none")
            .env("AMQP_URL", amqp_url)
            .output()
            .expect("run");
        assert!(!out.status.success(), "no database on port 1");
        String::from_utf8_lossy(&out.stderr).to_string()
    };
    let tls =
        run("amqps://fc:s3cret@mq.example.com/%2f,amqps://fc:s3cret@mq2.example.com:5671/%2f");
    assert!(!tls.contains("AMQP_URL"), "amqps refused: {tls}");
    assert!(!tls.contains("s3cret"), "{tls}");
    let bad = run("amqpx://fc:s3cret@mq.example.com/%2f");
    assert!(bad.contains("AMQP_URL"), "{bad}");
}
