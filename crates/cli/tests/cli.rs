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
