//! `scripts/services.sh` (the set-up behind `make run`, `make test` and `.ci/run`) pointed at closed
//! ports in check-only mode: it names exactly what is missing and the command that starts or
//! installs it, and exits non-zero. The machine's own PostgreSQL and RabbitMQ are never touched.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

/// A port nothing listens on: bound, then released.
fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

fn run_check(pg_port: u16, amqp_port: u16, path: Option<&Path>) -> (Output, String) {
    let mut cmd = Command::new("bash");
    cmd.arg(root().join("scripts/services.sh"))
        .arg("--check")
        .env("FLUXCASCADE_SETUP_PG_PORT", pg_port.to_string())
        .env("FLUXCASCADE_SETUP_AMQP_PORT", amqp_port.to_string())
        .env("FLUXCASCADE_SETUP_WAIT_SECONDS", "1");
    if let Some(p) = path {
        cmd.env("PATH", p);
    }
    let out = cmd.output().expect("run scripts/services.sh");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out, text)
}

fn which(tool: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(tool))
            .find(|p| p.is_file())
    })
}

#[test]
fn closed_ports_are_reported_with_the_command_that_starts_each_service() {
    let (pg, amqp) = (closed_port(), closed_port());
    let (out, text) = run_check(pg, amqp, None);
    assert!(
        !out.status.success(),
        "must fail with nothing listening:\n{text}"
    );
    let pg_line = text
        .lines()
        .position(|l| l.starts_with("MISSING: PostgreSQL") && l.contains(&pg.to_string()))
        .unwrap_or_else(|| panic!("no PostgreSQL line naming port {pg}:\n{text}"));
    let pg_fix = text.lines().nth(pg_line + 1).unwrap_or_default();
    let amqp_line = text
        .lines()
        .position(|l| l.starts_with("MISSING: RabbitMQ") && l.contains(&amqp.to_string()))
        .unwrap_or_else(|| panic!("no RabbitMQ line naming port {amqp}:\n{text}"));
    let amqp_fix = text.lines().nth(amqp_line + 1).unwrap_or_default();

    // The fix is the exact command for what this machine has: a cluster to create or start when
    // PostgreSQL is installed, the apt-get line when it is not.
    if which("pg_ctlcluster").is_some() {
        assert!(
            pg_fix.contains(&format!("pg_createcluster --start -p {pg} "))
                || pg_fix.contains("pg_ctlcluster --skip-systemctl-redirect"),
            "{pg_fix}"
        );
    } else {
        assert!(pg_fix.contains("apt-get install -y postgresql"), "{pg_fix}");
    }
    if which("rabbitmq-server").is_some() {
        assert!(
            amqp_fix.contains(&format!("RABBITMQ_NODE_PORT={amqp} "))
                && amqp_fix.contains("rabbitmq-server -detached"),
            "{amqp_fix}"
        );
    } else {
        assert!(
            amqp_fix.contains("apt-get install -y rabbitmq-server"),
            "{amqp_fix}"
        );
    }
    assert!(
        ["2", "3", "4"]
            .iter()
            .any(|n| text.contains(&format!("{n} problem(s)"))),
        "{text}"
    );
    // Check-only changed nothing: still nothing on those ports.
    for port in [pg, amqp] {
        assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
    }
}

#[test]
fn absent_services_are_reported_with_the_install_command() {
    // A PATH holding only the shell tools the script uses: PostgreSQL, RabbitMQ and Python are
    // "not installed" there.
    let dir = std::env::temp_dir().join(format!("fc-setup-path-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for tool in [
        "bash", "timeout", "sleep", "id", "awk", "sed", "grep", "sort", "tail", "cat",
    ] {
        let target = which(tool).unwrap_or_else(|| panic!("{tool} not on PATH"));
        let link = dir.join(tool);
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(target, link).unwrap();
    }
    let (pg, amqp) = (closed_port(), closed_port());
    let (out, text) = run_check(pg, amqp, Some(&dir));
    std::fs::remove_dir_all(&dir).ok();
    assert_eq!(out.status.code(), Some(1), "{text}");
    for (what, fix) in [
        (
            format!("MISSING: PostgreSQL is not installed (nothing answers on 127.0.0.1:{pg})"),
            "apt-get install -y postgresql",
        ),
        (
            format!("MISSING: RabbitMQ is not installed (nothing answers on 127.0.0.1:{amqp})"),
            "apt-get install -y rabbitmq-server",
        ),
        (
            "MISSING: python3 is not installed".to_string(),
            "apt-get install -y python3 python3-pip",
        ),
        (
            "MISSING: chromium and/or chromedriver are not installed".to_string(),
            "apt-get install -y chromium chromium-driver",
        ),
    ] {
        let at = text
            .lines()
            .position(|l| l.starts_with(&what))
            .unwrap_or_else(|| panic!("no line {what:?}:\n{text}"));
        let next = text.lines().nth(at + 1).unwrap_or_default();
        assert!(
            next.trim_start().starts_with("fix: ") && next.contains(fix),
            "{next}"
        );
    }
    assert!(text.contains("4 problem(s)"), "{text}");
}

#[test]
fn the_running_services_pass_the_check() {
    // The machine's services (started by `make test` through this same script) are found as is.
    let out = Command::new("bash")
        .arg(root().join("scripts/services.sh"))
        .arg("--check")
        .output()
        .expect("run scripts/services.sh");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("ok: PostgreSQL on 127.0.0.1:5432"), "{text}");
    assert!(text.contains("ok: RabbitMQ on 127.0.0.1:5672"), "{text}");
}
