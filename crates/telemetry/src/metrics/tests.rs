//! Unit tests of the metric families: each helper moves its families, histograms render buckets.

use std::time::Duration;

use super::labels::{status_class, JobOutcome, ReapAction};
use super::*;

#[test]
fn incremented_counter_appears_in_render_with_labels() {
    let m = Metrics::new().unwrap();
    m.jobs_processed.with_label_values(&["sync", "ok"]).inc();
    m.jobs_processed.with_label_values(&["sync", "ok"]).inc();
    m.provider_requests
        .with_label_values(&["hubspot", status_class(429)])
        .inc();
    let text = m.render();
    assert!(
        text.contains(r#"fluxcascade_jobs_processed_total{kind="sync",outcome="ok"} 2"#),
        "{text}"
    );
    assert!(
        text.contains(r#"fluxcascade_provider_requests_total{provider="hubspot",status="429"} 1"#),
        "{text}"
    );
    assert!(text.contains("# TYPE fluxcascade_jobs_processed_total counter"));
}

#[test]
fn histograms_render_buckets_sum_and_count() {
    let m = Metrics::new().unwrap();
    m.observe_job(
        "batch",
        JobOutcome::Ok,
        Duration::from_millis(300),
        Some(Duration::from_secs(3)),
    );
    m.scheduler_lag.observe(2.0);
    let text = m.render();
    assert!(
        text.contains(
            r#"fluxcascade_job_duration_seconds_bucket{kind="batch",outcome="ok",le="0.5"} 1"#
        ),
        "{text}"
    );
    assert!(
        text.contains(
            r#"fluxcascade_job_duration_seconds_bucket{kind="batch",outcome="ok",le="0.25"} 0"#
        ),
        "{text}"
    );
    assert!(text.contains(r#"fluxcascade_job_duration_seconds_count{kind="batch",outcome="ok"} 1"#));
    assert!(text.contains("fluxcascade_scheduler_lag_seconds_count 1"));
    assert!(text.contains("# TYPE fluxcascade_job_duration_seconds histogram"));
    assert!(
        text.contains(
            r#"fluxcascade_job_queue_wait_seconds_bucket{kind="batch",outcome="ok",le="2.5"} 0"#
        ),
        "{text}"
    );
    assert!(
        text.contains(
            r#"fluxcascade_job_queue_wait_seconds_bucket{kind="batch",outcome="ok",le="5"} 1"#
        ),
        "{text}"
    );
}

#[test]
fn http_requests_are_timed_by_route_method_and_status_class() {
    let m = Metrics::new().unwrap();
    m.observe_http("/v1/syncs/{id}", "GET", 404, Duration::from_millis(3));
    m.observe_http("/v1/syncs/{id}", "BREW", 201, Duration::from_millis(3));
    let text = m.render();
    assert!(
        text.contains(r#"fluxcascade_http_requests_total{route="/v1/syncs/{id}",status="404"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(
            r#"fluxcascade_http_request_duration_seconds_bucket{method="GET",route="/v1/syncs/{id}",status="4xx",le="0.005"} 1"#
        ),
        "{text}"
    );
    assert!(
        text.contains(
            r#"fluxcascade_http_request_duration_seconds_bucket{method="GET",route="/v1/syncs/{id}",status="4xx",le="0.0025"} 0"#
        ),
        "{text}"
    );
    assert!(
        text.contains(
            r#"fluxcascade_http_request_duration_seconds_count{method="other",route="/v1/syncs/{id}",status="2xx"} 1"#
        ),
        "{text}"
    );
}

#[test]
fn each_job_outcome_moves_its_own_counter() {
    let m = Metrics::new().unwrap();
    for outcome in JobOutcome::ALL {
        m.observe_job("webhook", outcome, Duration::from_millis(1), None);
    }
    m.observe_job("webhook", JobOutcome::Retry, Duration::from_millis(1), None);
    let text = m.render();
    assert!(
        !text.contains("fluxcascade_job_queue_wait_seconds_count"),
        "no wait given, none observed: {text}"
    );
    for (line, n) in [
        (r#"fluxcascade_jobs_retried_total{kind="webhook"}"#, 2),
        (r#"fluxcascade_jobs_deferred_total{kind="webhook"}"#, 1),
        (r#"fluxcascade_jobs_dead_lettered_total{kind="webhook"}"#, 1),
        (
            r#"fluxcascade_jobs_processed_total{kind="webhook",outcome="retry"}"#,
            2,
        ),
        (
            r#"fluxcascade_jobs_processed_total{kind="webhook",outcome="ok"}"#,
            1,
        ),
    ] {
        assert!(text.contains(&format!("{line} {n}")), "{line}: {text}");
    }
}

#[test]
fn provider_requests_without_a_response_are_labelled_error() {
    let m = Metrics::new().unwrap();
    m.observe_provider_request("jobber", None, Duration::from_millis(20));
    m.observe_provider_request("jobber", Some(429), Duration::from_millis(20));
    let text = m.render();
    assert!(
        text.contains(r#"fluxcascade_provider_requests_total{provider="jobber",status="error"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(
            r#"fluxcascade_provider_request_duration_seconds_bucket{provider="jobber",status="429",le="0.025"} 1"#
        ),
        "{text}"
    );
}

#[test]
fn records_runs_and_reaper_families_move() {
    let m = Metrics::new().unwrap();
    m.observe_records(3, 2, 1, 0);
    m.observe_reaped(ReapAction::Failed);
    m.runs_finished.with_label_values(&["partial"]).inc();
    m.runs_unfinished.set(7);
    m.runs_lease_expired.set(2);
    let text = m.render();
    for line in [
        r#"fluxcascade_records_synced_total{outcome="created"} 3"#,
        r#"fluxcascade_records_synced_total{outcome="updated"} 2"#,
        r#"fluxcascade_records_synced_total{outcome="failed"} 0"#,
        r#"fluxcascade_runs_reaped_total{action="failed"} 1"#,
        r#"fluxcascade_runs_finished_total{status="partial"} 1"#,
        "fluxcascade_runs_unfinished 7",
        "fluxcascade_runs_lease_expired 2",
    ] {
        assert!(text.contains(line), "{line}: {text}");
    }
}

#[test]
fn family_names_list_families_that_have_no_sample_yet() {
    let m = Metrics::new().unwrap();
    let names = m.family_names();
    assert!(names.contains(&"fluxcascade_token_refresh_failures_total".to_owned()));
    assert!(names.contains(&"fluxcascade_http_request_duration_seconds".to_owned()));
    assert!(names.contains(&"fluxcascade_runs_lease_expired".to_owned()));
    assert!(!m
        .render()
        .contains("fluxcascade_token_refresh_failures_total"));
}

#[test]
fn shared_instance_is_the_same_object_and_keeps_counts() {
    let a = metrics();
    let b = metrics();
    assert!(std::ptr::eq(a, b));
    a.webhooks_received
        .with_label_values(&["jobber", "accepted"])
        .inc();
    assert!(b.render().contains(
        r#"fluxcascade_webhooks_received_total{outcome="accepted",provider="jobber"} 1"#
    ));
}

#[test]
fn family_lists_match_what_the_registry_exports() {
    let m = Metrics::new().unwrap();
    let d = Duration::from_millis(1);
    m.observe_http("/healthz", "GET", 200, d);
    m.observe_job("sync", JobOutcome::Ok, d, Some(d));
    for outcome in JobOutcome::ALL {
        m.observe_job("sync", outcome, d, None);
    }
    m.observe_provider_request("hubspot", Some(200), d);
    m.provider_rate_limited
        .with_label_values(&["hubspot"])
        .inc();
    m.budget_wait_seconds.observe(0.1);
    m.token_refresh_failures
        .with_label_values(&["hubspot", "error"])
        .inc();
    m.observe_records(1, 1, 1, 1);
    m.runs_finished.with_label_values(&["completed"]).inc();
    m.observe_reaped(ReapAction::Resumed);
    m.scheduler_lag.observe(1.0);
    m.webhooks_received
        .with_label_values(&["hubspot", "accepted"])
        .inc();
    let gathered = m.registry.gather();
    let all: Vec<String> = gathered.iter().map(|f| f.name().to_owned()).collect();
    let histograms: Vec<String> = gathered
        .iter()
        .filter(|f| f.get_field_type() == prometheus::proto::MetricType::HISTOGRAM)
        .map(|f| f.name().to_owned())
        .collect();
    assert_eq!(m.family_names(), all);
    assert_eq!(m.histogram_names(), histograms);
}
