//! `deploy/check.sh` validates deploy/ for real: it passes on the repository's files and fails,
//! naming the defect, on copies broken the way a careless edit would break them (a schema typo, a
//! lost KEDA trigger, a misspelt variable, an invalid compose key, an unpinned base image).

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// Runs deploy/check.sh on `dir` (the repository's crates are the source of truth).
fn check(dir: &Path) -> (bool, String) {
    let out = Command::new("bash")
        .arg(root().join("deploy/check.sh"))
        .arg(dir)
        .env("FLUXCASCADE_SRC", root())
        .output()
        .expect("run deploy/check.sh");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// A copy of deploy/ with `find` replaced by `replace` in `file`; check.sh must fail with `expect`.
fn broken(case: &str, file: &str, find: &str, replace: &str, expect: &str) {
    let dir = std::env::temp_dir().join(format!("fc-deploy-check-{}-{case}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    copy_dir(&root().join("deploy"), &dir);
    let path = dir.join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        text.contains(find),
        "{case}: {file} no longer contains {find:?}"
    );
    std::fs::write(&path, text.replacen(find, replace, 1)).unwrap();
    let (ok, output) = check(&dir);
    std::fs::remove_dir_all(&dir).ok();
    assert!(!ok, "{case}: check.sh passed a broken {file}:\n{output}");
    assert!(
        output.contains(expect),
        "{case}: expected {expect:?} in:\n{output}"
    );
}

#[test]
fn the_repository_deploy_files_pass() {
    let (ok, output) = check(&root().join("deploy"));
    assert!(ok, "deploy/check.sh failed:\n{output}");
    for line in [
        "Kubernetes documents validate",
        "Postgres connections at full scale",
        "variables the binary reads are set",
        "docker-compose.yml validates against the compose-spec schema",
    ] {
        assert!(output.contains(line), "missing {line:?} in:\n{output}");
    }
}

#[test]
fn a_misspelt_kubernetes_field_fails() {
    broken(
        "k8s-typo",
        "k8s/worker-deployment.yaml",
        "terminationGracePeriodSeconds:",
        "terminationGracePeriodSecond:",
        "k8s/worker-deployment.yaml (Deployment fluxcascade-worker)",
    );
}

#[test]
fn a_lost_keda_trigger_fails() {
    broken(
        "keda-trigger",
        "k8s/worker-scaledobject.yaml",
        "queueName: fluxcascade.webhook",
        "queueName: fluxcascade.sync",
        "no trigger on consumed queue fluxcascade.webhook",
    );
}

#[test]
fn an_invalid_keda_field_fails() {
    broken(
        "keda-schema",
        "k8s/worker-scaledobject.yaml",
        "mode: QueueLength",
        "mode: QueueLenght",
        "k8s/worker-scaledobject.yaml (ScaledObject fluxcascade-worker)",
    );
}

#[test]
fn a_misspelt_variable_fails() {
    broken(
        "env-typo",
        "k8s/configmap.yaml",
        "FLUXCASCADE_PUBLIC_URL:",
        "FLUXCASCADE_PUBLIC_ULR:",
        "k8s/: sets FLUXCASCADE_PUBLIC_ULR, which the binary does not read",
    );
}

#[test]
fn an_invalid_compose_key_fails() {
    broken(
        "compose-schema",
        "docker-compose.yml",
        "    stop_grace_period: 60s",
        "    stop_grace_periode: 60s",
        "does not validate against the compose-spec schema",
    );
}

#[test]
fn an_unpinned_base_image_fails() {
    broken(
        "dockerfile-pin",
        "Dockerfile",
        "ARG RUST_IMAGE=rust:1.95.0-slim-bookworm",
        "ARG RUST_IMAGE=rust:1-slim-bookworm",
        "RUST_IMAGE=rust:1-slim-bookworm is not pinned",
    );
}
