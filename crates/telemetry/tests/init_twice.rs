//! `init_tracing` end to end: safe to call twice, JSON lines when asked.
//!
//! The JSON test re-runs this test binary as a child process with the
//! environment set, because the global subscriber can be installed only once
//! per process.

use std::process::Command;

const CHILD_ENV: &str = "FLUXCASCADE_TELEMETRY_TEST_CHILD";

#[test]
fn init_tracing_twice_is_harmless() {
    fluxcascade_telemetry::init_tracing("test");
    fluxcascade_telemetry::init_tracing("test-again");
    tracing::info!(answer = 42, "still logging after two inits");
    assert!(tracing::dispatcher::has_been_set());
}

/// Runs only as the child of `json_format_writes_one_json_object_per_line`.
#[test]
fn child_logs_once() {
    if std::env::var_os(CHILD_ENV).is_none() {
        return;
    }
    fluxcascade_telemetry::init_tracing("child");
    fluxcascade_telemetry::init_tracing("child");
    tracing::info!(job_id = "j-1", attempt = 2, "child says hello");
    tracing::debug!("filtered out by RUST_LOG=info");
}

#[test]
fn json_format_writes_one_json_object_per_line() {
    let exe = std::env::current_exe().unwrap();
    let out = Command::new(exe)
        .args([
            "--exact",
            "child_logs_once",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, "1")
        .env("FLUXCASCADE_LOG_FORMAT", "json")
        .env("RUST_LOG", "info")
        .output()
        .unwrap();
    assert!(out.status.success(), "child failed: {out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<serde_json::Value> = stderr
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let hello = lines
        .iter()
        .find(|v| v["fields"]["message"] == "child says hello")
        .unwrap_or_else(|| panic!("no hello line in {stderr}"));
    assert_eq!(hello["level"], "INFO");
    assert_eq!(hello["fields"]["job_id"], "j-1");
    assert_eq!(hello["fields"]["attempt"], 2);
    assert!(!stderr.contains("filtered out"), "{stderr}");
}
