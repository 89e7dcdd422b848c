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
