//! The consumer's job metrics against a real broker: each settled job is counted by kind and
//! outcome (ok, retry, deferred, dead) and timed; retries, deferrals and dead letters move their
//! own counters; a first delivery's queue wait is observed. (Its own test binary: the
//! process-wide registry is this test's alone, so the counts are exact.)

mod common;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{get_one, start, Recorder, TestPrefix};
use fluxcascade_queue::{ConsumerOptions, JobEnvelope, JobError, JobKind, Publisher, Topology};
use fluxcascade_telemetry::metrics;

fn series(name: &str, labels: &str) -> f64 {
    let line = format!("{name}{{{labels}}}");
    metrics()
        .render()
        .lines()
        .find_map(|l| l.strip_prefix(&line)?.trim().parse().ok())
        .unwrap_or(0.0)
}

/// Waits until every `(name, labels, value)` holds, failing with the rendering after 10 s.
async fn eventually(expected: &[(&str, &str, f64)]) {
    for _ in 0..200 {
        if expected.iter().all(|(n, l, v)| series(n, l) == *v) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("expected {expected:?} in:\n{}", metrics().render());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_settled_job_moves_its_outcome_counters() {
    let prefix = TestPrefix::new();
    let config = prefix.config();
    let publisher = Publisher::connect(&config).await.expect("publisher");
    let webhook_calls = Arc::new(AtomicU32::new(0));
    let sync_calls = Arc::new(AtomicU32::new(0));
    let (w, s) = (Arc::clone(&webhook_calls), Arc::clone(&sync_calls));
    let (recorder, _seen) = Recorder::new(move |job| match job.kind() {
        JobKind::Webhook if w.fetch_add(1, Ordering::SeqCst) == 0 => {
            Err(JobError::transient("provider returned 503"))
        }
        JobKind::Sync if s.fetch_add(1, Ordering::SeqCst) == 0 => Err(JobError::Deferred {
            message: "rate limited".into(),
            wait: Duration::from_millis(100),
        }),
        JobKind::Delivery => Err(JobError::permanent("the subscription was deleted")),
        _ => Ok(()),
    });
    let (shutdown, consumer) = start(
        config,
        ConsumerOptions::new(vec![JobKind::Sync, JobKind::Webhook, JobKind::Delivery]),
        recorder,
    );
    for kind in [JobKind::Sync, JobKind::Webhook, JobKind::Delivery] {
        let job = JobEnvelope::new(kind, "org-1", b"x".to_vec());
        publisher.publish(&job).await.expect("publish");
    }

    let processed = "fluxcascade_jobs_processed_total";
    eventually(&[
        (processed, r#"kind="webhook",outcome="retry""#, 1.0),
        (processed, r#"kind="webhook",outcome="ok""#, 1.0),
        (processed, r#"kind="sync",outcome="deferred""#, 1.0),
        (processed, r#"kind="sync",outcome="ok""#, 1.0),
        (processed, r#"kind="delivery",outcome="dead""#, 1.0),
        ("fluxcascade_jobs_retried_total", r#"kind="webhook""#, 1.0),
        ("fluxcascade_jobs_deferred_total", r#"kind="sync""#, 1.0),
        (
            "fluxcascade_jobs_dead_lettered_total",
            r#"kind="delivery""#,
            1.0,
        ),
        (
            "fluxcascade_job_duration_seconds_count",
            r#"kind="webhook",outcome="ok""#,
            1.0,
        ),
        (
            "fluxcascade_job_duration_seconds_bucket",
            r#"kind="delivery",outcome="dead",le="+Inf""#,
            1.0,
        ),
        // Three first deliveries, labelled with how they ended; the retried and the deferred
        // job's second delivery are not queue waits.
        (
            "fluxcascade_job_queue_wait_seconds_count",
            r#"kind="webhook",outcome="retry""#,
            1.0,
        ),
        (
            "fluxcascade_job_queue_wait_seconds_count",
            r#"kind="sync",outcome="deferred""#,
            1.0,
        ),
        (
            "fluxcascade_job_queue_wait_seconds_count",
            r#"kind="delivery",outcome="dead""#,
            1.0,
        ),
    ])
    .await;
    assert!(
        series("fluxcascade_jobs_retried_total", r#"kind="sync""#) == 0.0,
        "a deferral is not a retry"
    );
    for labels in [
        r#"kind="webhook",outcome="ok""#,
        r#"kind="sync",outcome="ok""#,
    ] {
        assert_eq!(
            series("fluxcascade_job_queue_wait_seconds_count", labels),
            0.0,
            "{labels}: a retried or deferred delivery is no queue wait"
        );
    }
    assert!(get_one(&Topology::dead_queue(&prefix.0), 10)
        .await
        .is_some());
    shutdown.cancel();
    consumer.await.expect("consumer task");
}
