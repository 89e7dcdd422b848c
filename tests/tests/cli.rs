//! The user CLI against a running stack, as a user runs it: `mappings create -f`, `syncs run
//! --follow` (exit code, final counts, `--output json`), a bad mapping file naming its field,
//! and `login` storing an owner-only credentials file the next commands use without env vars.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use anyhow::Context;
use fluxcascade_tests::{bin_path, TestEnv};
use serde_json::{json, Value};
use tokio::io::AsyncWriteExt;

/// What one run of the binary gave.
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Run {
    fn json(&self) -> anyhow::Result<Value> {
        serde_json::from_str(&self.stdout)
            .with_context(|| format!("stdout is not JSON: {}{}", self.stdout, self.stderr))
    }
}

/// Runs `fluxcascade args…` with only `vars` for the API (no FLUXCASCADE_API_* of the caller),
/// its config dir under `home`, `stdin` piped in.
async fn cli(home: &Path, vars: &[(&str, &str)], args: &[&str], stdin: &str) -> Run {
    let mut child = tokio::process::Command::new(bin_path())
        .args(args)
        .env_remove("FLUXCASCADE_API_URL")
        .env_remove("FLUXCASCADE_API_KEY")
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("HOME", home)
        .envs(vars.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run fluxcascade");
    let mut input = child.stdin.take().expect("stdin");
    input
        .write_all(stdin.as_bytes())
        .await
        .expect("write stdin");
    drop(input);
    let out = child.wait_with_output().await.expect("wait fluxcascade");
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A scratch directory removed at the end.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn mapping(hubspot: &str, jobber: &str, email_transform: &str) -> Value {
    json!({
        "name": "contacts to clients (cli)",
        "source": {"connectionId": hubspot, "object": "contacts"},
        "target": {"connectionId": jobber, "object": "clients"},
        "fieldPairs": [
            {"sourceField": "firstname", "targetField": "firstName"},
            {"sourceField": "lastname", "targetField": "lastName", "required": true},
            {"sourceField": "email", "targetField": "emails[0].address", "transform": email_transform}
        ]
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_creates_a_mapping_and_follows_its_run_from_the_command_line() -> anyhow::Result<()>
{
    let env = TestEnv::start("cli_user", 1).await?;
    env.seed("hubspot", "contacts", 30).await?;
    let hubspot = env.connect("hubspot").await?;
    let jobber = env.connect("jobber").await?;
    let scratch =
        Scratch(std::env::temp_dir().join(format!("fc-cli-e2e-{}", uuid::Uuid::new_v4().simple())));
    let home = scratch.0.as_path();
    std::fs::create_dir_all(home)?;
    let api = [
        ("FLUXCASCADE_API_URL", env.api_url.as_str()),
        ("FLUXCASCADE_API_KEY", env.api_key.as_str()),
    ];

    // A mapping file with an unknown transform: non-zero, and stderr names the field.
    let bad = home.join("bad.json");
    std::fs::write(&bad, mapping(&hubspot, &jobber, "shout").to_string())?;
    let run = cli(
        home,
        &api,
        &["mappings", "create", "-f", bad.to_str().unwrap()],
        "",
    )
    .await;
    assert_eq!(run.code, Some(1), "{}{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains("(field: fieldPairs[2].transform)"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("unknown transform"), "{}", run.stderr);

    // The good file creates the mapping (`--output json` is the API's mapping).
    let good = home.join("mapping.json");
    std::fs::write(&good, mapping(&hubspot, &jobber, "lowercase").to_string())?;
    let run = cli(
        home,
        &api,
        &[
            "--output",
            "json",
            "mappings",
            "create",
            "-f",
            good.to_str().unwrap(),
        ],
        "",
    )
    .await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let created = run.json()?;
    let id = created["id"].as_str().context("mapping id")?.to_string();
    assert_eq!(created["source"]["object"], "contacts");

    // A preview reads 3 sample contacts and shows what would be written; nothing is.
    let run = cli(
        home,
        &api,
        &[
            "mappings",
            "preview",
            "-f",
            good.to_str().unwrap(),
            "--sample",
            "3",
            "--output",
            "json",
        ],
        "",
    )
    .await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let preview = run.json()?;
    assert_eq!(
        preview["data"].as_array().map(Vec::len),
        Some(3),
        "{preview}"
    );
    assert!(
        preview["data"][0]["payload"]["lastName"].is_string(),
        "{preview}"
    );

    let run = cli(home, &api, &["mappings", "list"], "").await;
    assert!(
        run.stdout.contains(&id) && run.stdout.contains("contacts → clients"),
        "{}{}",
        run.stdout,
        run.stderr
    );

    // `syncs run --follow` waits for the end, prints the final counts and exits 0.
    let run = cli(
        home,
        &api,
        &["syncs", "run", "--mapping", &id, "--follow"],
        "",
    )
    .await;
    assert_eq!(run.code, Some(0), "{}{}", run.stdout, run.stderr);
    let field = |name: &str| -> Option<String> {
        run.stdout
            .lines()
            .find_map(|l| l.strip_prefix(name).map(|v| v.trim().to_string()))
    };
    assert_eq!(
        field("status").as_deref(),
        Some("completed"),
        "{}",
        run.stdout
    );
    assert_eq!(field("read").as_deref(), Some("30"), "{}", run.stdout);
    assert_eq!(field("created").as_deref(), Some("30"), "{}", run.stdout);
    assert_eq!(field("failed").as_deref(), Some("0"), "{}", run.stdout);
    assert!(
        run.stderr.contains("completed"),
        "without a terminal, status changes are lines on stderr: {}",
        run.stderr
    );
    assert_eq!(env.sandbox_records("jobber", "clients").await?.len(), 30);

    // `--output json` is parseable and carries the counts (a full rerun: all unchanged).
    let run = cli(
        home,
        &api,
        &[
            "syncs",
            "run",
            "--mapping",
            &id,
            "--full",
            "--follow",
            "--output",
            "json",
        ],
        "",
    )
    .await;
    assert_eq!(run.code, Some(0), "{}{}", run.stdout, run.stderr);
    let done = run.json()?;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["counts"]["read"], 30, "{done}");
    assert_eq!(done["counts"]["skipped"], 30, "{done}");
    assert_eq!(done["counts"]["created"], 0, "{done}");
    let sync_id = done["id"].as_str().context("sync id")?;

    let run = cli(
        home,
        &api,
        &["--output", "json", "syncs", "errors", sync_id],
        "",
    )
    .await;
    assert_eq!(run.json()?["data"], json!([]), "{}", run.stderr);

    // A run whose every record fails (a required field no contact has) exits 1.
    let mut failing = mapping(&hubspot, &jobber, "lowercase");
    failing["name"] = json!("always fails (cli)");
    failing["fieldPairs"][1]["sourceField"] = json!("no_such_property");
    let failing_file = home.join("failing.json");
    std::fs::write(&failing_file, failing.to_string())?;
    let run = cli(
        home,
        &api,
        &[
            "--output",
            "json",
            "mappings",
            "create",
            "-f",
            failing_file.to_str().unwrap(),
        ],
        "",
    )
    .await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let failing_id = run.json()?["id"].as_str().context("id")?.to_string();
    let run = cli(
        home,
        &api,
        &["syncs", "run", "--mapping", &failing_id, "--follow"],
        "",
    )
    .await;
    assert_eq!(run.code, Some(1), "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("status   failed"), "{}", run.stdout);
    assert!(
        run.stdout
            .contains("record errors: fluxcascade syncs errors"),
        "{}",
        run.stdout
    );

    // An unknown mapping id: the API's 422 names the field.
    let missing = uuid::Uuid::new_v4().to_string();
    let run = cli(home, &api, &["syncs", "run", "--mapping", &missing], "").await;
    assert_eq!(run.code, Some(1));
    assert!(run.stderr.contains("(field: mappingId)"), "{}", run.stderr);

    // login: a wrong key stores nothing; the right one is stored 0600 and used without env vars.
    let creds = home.join("config/fluxcascade/credentials.toml");
    let url_only = [("FLUXCASCADE_API_URL", env.api_url.as_str())];
    let run = cli(home, &url_only, &["login", "--api-key-stdin"], "fc_wrong\n").await;
    assert_eq!(run.code, Some(1), "{}", run.stdout);
    assert!(run.stderr.contains("unauthorized"), "{}", run.stderr);
    assert!(!creds.exists());
    let key_line = format!("{}\n", env.api_key);
    let run = cli(
        home,
        &[],
        &["login", "--api-url", &env.api_url, "--api-key-stdin"],
        &key_line,
    )
    .await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(!run.stdout.contains(&env.api_key) && !run.stderr.contains(&env.api_key));
    let mode = std::fs::metadata(&creds)?.permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "{}", creds.display());

    let run = cli(home, &[], &["connections", "list"], "").await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(
        run.stdout.contains(&hubspot) && run.stdout.contains(&jobber),
        "{}",
        run.stdout
    );

    let run = cli(home, &[], &["logout"], "").await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(!creds.exists());
    let run = cli(home, &[], &["connections", "list"], "").await;
    assert_eq!(run.code, Some(1));
    assert!(run.stderr.contains("fluxcascade login"), "{}", run.stderr);
    Ok(())
}
