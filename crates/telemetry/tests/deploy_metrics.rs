//! The Grafana dashboard (`deploy/grafana/fluxcascade.json`) and the Prometheus alert rules
//! (`deploy/prometheus/alerts.yml`) name only metrics this crate's registry exports, with the
//! series suffixes their type has (`_bucket`/`_sum`/`_count` only on histograms), and have the
//! shape their tools load. (The rules were also checked with `promtool check rules`; promtool
//! is not needed to run this test. The YAML is read with python3's `yaml`, part of the machine.)

use std::collections::BTreeSet;
use std::path::PathBuf;

use fluxcascade_telemetry::Metrics;
use regex::Regex;
use serde_json::Value;

fn deploy_file(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../deploy")
        .join(rel)
}

/// Every family's name, and the histograms' names.
fn exported() -> (BTreeSet<String>, BTreeSet<String>) {
    let m = Metrics::new().expect("registry");
    (
        m.family_names().into_iter().collect(),
        m.histogram_names().into_iter().collect(),
    )
}

/// The family a series name in an expression belongs to, or why it does not.
fn family_of(
    series: &str,
    names: &BTreeSet<String>,
    histograms: &BTreeSet<String>,
) -> Result<String, String> {
    if names.contains(series) {
        if histograms.contains(series) {
            return Err(format!(
                "{series} is a histogram: query its _bucket, _sum or _count series"
            ));
        }
        return Ok(series.to_owned());
    }
    for suffix in ["_bucket", "_sum", "_count"] {
        if let Some(base) = series.strip_suffix(suffix) {
            if histograms.contains(base) {
                return Ok(base.to_owned());
            }
        }
    }
    Err(format!("{series} is not exported by the registry"))
}

/// Checks every `fluxcascade_*` name in `exprs`; returns the families used.
fn check_exprs(what: &str, exprs: &[String]) -> BTreeSet<String> {
    let (names, histograms) = exported();
    let metric = Regex::new(r"\bfluxcascade_[a-z0-9_]+").expect("regex");
    let mut used = BTreeSet::new();
    let mut problems = Vec::new();
    for expr in exprs {
        let found: Vec<&str> = metric.find_iter(expr).map(|m| m.as_str()).collect();
        if found.is_empty() {
            problems.push(format!("{what}: `{expr}` names no fluxcascade metric"));
        }
        for series in found {
            match family_of(series, &names, &histograms) {
                Ok(family) => {
                    used.insert(family);
                }
                Err(e) => problems.push(format!("{what}: {e} (in `{expr}`)")),
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    used
}

#[test]
fn the_family_check_catches_unknown_names_and_bare_histograms() {
    let (names, histograms) = exported();
    assert!(family_of("fluxcascade_jobs_processed_total", &names, &histograms).is_ok());
    assert_eq!(
        family_of(
            "fluxcascade_job_duration_seconds_bucket",
            &names,
            &histograms
        ),
        Ok("fluxcascade_job_duration_seconds".to_owned())
    );
    assert!(family_of("fluxcascade_job_duration_seconds", &names, &histograms).is_err());
    assert!(family_of(
        "fluxcascade_jobs_processed_total_count",
        &names,
        &histograms
    )
    .is_err());
    assert!(family_of(
        "fluxcascade_http_request_seconds_bucket",
        &names,
        &histograms
    )
    .is_err());
    assert!(family_of("fluxcascade_runs_lease_expired", &names, &histograms).is_ok());
}

#[test]
fn the_dashboard_is_a_grafana_model_over_exported_metrics() {
    let path = deploy_file("grafana/fluxcascade.json");
    let text = std::fs::read_to_string(&path).expect("dashboard");
    let dash: Value = serde_json::from_str(&text).expect("the dashboard is JSON");
    assert_eq!(dash["uid"], "fluxcascade");
    assert!(dash["schemaVersion"].as_u64().unwrap_or(0) >= 36);
    let vars = dash["templating"]["list"].as_array().expect("templating");
    assert!(
        vars.iter().any(|v| v["name"] == "datasource"
            && v["type"] == "datasource"
            && v["query"] == "prometheus"),
        "a Prometheus datasource variable"
    );
    let panels = dash["panels"].as_array().expect("panels");
    let mut ids = BTreeSet::new();
    let mut exprs = Vec::new();
    for p in panels {
        let id = p["id"].as_u64().expect("panel id");
        assert!(ids.insert(id), "panel id {id} is used twice");
        let pos = &p["gridPos"];
        let (x, w) = (pos["x"].as_u64().expect("x"), pos["w"].as_u64().expect("w"));
        assert!(x + w <= 24, "panel {id} is wider than the grid");
        if p["type"] == "row" {
            continue;
        }
        assert_eq!(
            p["datasource"]["uid"], "${datasource}",
            "panel {id} uses the datasource variable"
        );
        let targets = p["targets"].as_array().expect("targets");
        assert!(!targets.is_empty(), "panel {id} has a query");
        for t in targets {
            assert_eq!(t["datasource"]["uid"], "${datasource}");
            exprs.push(t["expr"].as_str().expect("expr").to_owned());
        }
    }
    let used = check_exprs("dashboard", &exprs);
    for wanted in [
        "fluxcascade_http_request_duration_seconds",
        "fluxcascade_job_duration_seconds",
        "fluxcascade_job_queue_wait_seconds",
        "fluxcascade_provider_request_duration_seconds",
        "fluxcascade_provider_rate_limited_total",
        "fluxcascade_records_synced_total",
        "fluxcascade_runs_finished_total",
        "fluxcascade_jobs_dead_lettered_total",
        "fluxcascade_scheduler_lag_seconds",
        "fluxcascade_runs_lease_expired",
        "fluxcascade_token_refresh_failures_total",
    ] {
        assert!(used.contains(wanted), "the dashboard shows {wanted}");
    }
}

/// The alert rules as JSON, through python3's `yaml` (no YAML crate in the build).
fn alert_rules() -> Value {
    let path = deploy_file("prometheus/alerts.yml");
    let out = std::process::Command::new("python3")
        .arg("-c")
        .arg("import json, sys, yaml; json.dump(yaml.safe_load(open(sys.argv[1])), sys.stdout)")
        .arg(&path)
        .output()
        .expect("python3 runs (with its yaml module) to read the alert rules");
    assert!(
        out.status.success(),
        "alerts.yml is not YAML: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("json")
}

#[test]
fn the_alert_rules_are_a_prometheus_rule_file_over_exported_metrics() {
    let rules = alert_rules();
    let groups = rules["groups"].as_array().expect("groups");
    let duration = Regex::new(r"^[0-9]+[smhd]$").expect("regex");
    let mut names = BTreeSet::new();
    let mut exprs = Vec::new();
    for g in groups {
        assert!(g["name"].is_string(), "a group has a name");
        for r in g["rules"].as_array().expect("rules") {
            let name = r["alert"].as_str().expect("every rule is an alert");
            assert!(names.insert(name.to_owned()), "{name} is defined twice");
            let keys: BTreeSet<&str> = r
                .as_object()
                .expect("rule")
                .keys()
                .map(String::as_str)
                .collect();
            let allowed: BTreeSet<&str> = ["alert", "expr", "for", "labels", "annotations"].into();
            assert!(keys.is_subset(&allowed), "{name} has unknown keys {keys:?}");
            if let Some(f) = r.get("for") {
                assert!(
                    duration.is_match(f.as_str().unwrap_or("")),
                    "{name}: for {f}"
                );
            }
            assert!(
                ["critical", "warning", "info"]
                    .contains(&r["labels"]["severity"].as_str().unwrap_or("")),
                "{name} has a severity"
            );
            assert!(
                r["annotations"]["summary"].is_string(),
                "{name} has a summary"
            );
            exprs.push(r["expr"].as_str().expect("expr").to_owned());
        }
    }
    let used = check_exprs("alerts", &exprs);
    for wanted in [
        "fluxcascade_runs_lease_expired",
        "fluxcascade_runs_oldest_progress_age_seconds",
        "fluxcascade_jobs_dead_lettered_total",
        "fluxcascade_provider_rate_limited_total",
        "fluxcascade_scheduler_lag_seconds",
        "fluxcascade_job_queue_wait_seconds",
    ] {
        assert!(used.contains(wanted), "an alert watches {wanted}");
    }
}
