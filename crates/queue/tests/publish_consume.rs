//! Publish with confirms, consume, ack: the happy path against the real RabbitMQ.

mod common;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use common::{next_seen, ready_count, Recorder, TestPrefix};
use fluxcascade_queue::{
    run_consumer, ConsumerOptions, JobEnvelope, JobHandler, JobKind, Publisher, QueueError,
    Topology,
};
use tokio_util::sync::CancellationToken;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn published_jobs_are_consumed_once_and_acked() {
    let prefix = TestPrefix::new();
    let config = prefix.config();
    let publisher = Publisher::connect(&config)
        .await
        .expect("connect publisher");
    assert!(publisher.is_healthy().await);

    let batch: Vec<JobEnvelope> = (0..20)
        .map(|i| JobEnvelope::new(JobKind::Batch, "org-1", format!("batch {i}").into_bytes()))
        .collect();
    publisher.publish_many(&batch).await.expect("publish batch");
    let traced = JobEnvelope::new(JobKind::Sync, "org-1", b"sync".to_vec());
    publisher
        .with_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
        .publish(&traced)
        .await
        .expect("publish traced");
    // Confirmed means stored: the messages are in their queues before anyone consumes.
    assert_eq!(
        ready_count(&Topology::queue(&prefix.0, JobKind::Batch)).await,
        20
    );
    assert_eq!(
        ready_count(&Topology::queue(&prefix.0, JobKind::Sync)).await,
        1
    );

    let (recorder, mut seen) = Recorder::new(|_| Ok(()));
    let shutdown = CancellationToken::new();
    let consumer = tokio::spawn(run_consumer(
        config.clone(),
        ConsumerOptions {
            concurrency: 4,
            ..ConsumerOptions::new(vec![JobKind::Sync, JobKind::Batch])
        },
        recorder as Arc<dyn JobHandler>,
        shutdown.clone(),
    ));

    let mut ids = HashSet::new();
    let mut traced_seen = None;
    for _ in 0..21 {
        let call = next_seen(&mut seen, 15).await;
        assert_eq!(call.job.attempt, 1);
        if call.job.job_id == traced.job_id {
            traced_seen = Some(call.clone());
        }
        ids.insert(call.job.job_id);
    }
    let mut expected: HashSet<String> = batch.iter().map(|j| j.job_id.clone()).collect();
    expected.insert(traced.job_id.clone());
    assert_eq!(ids, expected);
    let traced_seen = traced_seen.expect("traced job handled");
    assert_eq!(traced_seen.job, traced);
    assert_eq!(
        traced_seen.traceparent.as_deref(),
        Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
    );

    // Nothing is handled twice, and after shutdown nothing is left (all acked).
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(seen.try_recv().is_err(), "a job was delivered twice");
    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(10), consumer)
        .await
        .expect("consumer stops")
        .expect("consumer task")
        .expect("consumer result");
    assert_eq!(
        ready_count(&Topology::queue(&prefix.0, JobKind::Batch)).await,
        0
    );
    assert_eq!(
        ready_count(&Topology::queue(&prefix.0, JobKind::Sync)).await,
        0
    );
}

#[tokio::test]
async fn a_job_without_kind_is_refused_before_sending() {
    let prefix = TestPrefix::new();
    let publisher = Publisher::connect(&prefix.config()).await.expect("connect");
    let job = JobEnvelope::new(JobKind::Unspecified, "org", Vec::new());
    let result = publisher.publish(&job).await;
    assert!(
        matches!(result, Err(QueueError::InvalidJob(_))),
        "{result:?}"
    );
}

#[tokio::test]
async fn connecting_to_a_closed_port_is_an_error() {
    let prefix = TestPrefix::new();
    let config = prefix.config_at("amqp://guest:guest@127.0.0.1:1/%2f");
    assert!(Publisher::connect(&config).await.is_err());
    let lazy = Publisher::lazy(&config).expect("lazy publisher");
    assert!(!lazy.is_healthy().await);
}

/// Counts how many jobs run at the same time.
struct Overlap {
    running: std::sync::atomic::AtomicUsize,
    peak: std::sync::atomic::AtomicUsize,
    done: std::sync::atomic::AtomicUsize,
}

#[fluxcascade_queue::async_trait]
impl JobHandler for Overlap {
    async fn handle(&self, _job: &JobEnvelope) -> Result<(), fluxcascade_queue::JobError> {
        use std::sync::atomic::Ordering;
        let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.fetch_max(now, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(300)).await;
        self.running.fetch_sub(1, Ordering::SeqCst);
        self.done.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_run_concurrently_up_to_the_configured_limit() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let prefix = TestPrefix::new();
    let config = prefix.config();
    let publisher = Publisher::connect(&config).await.expect("publisher");
    let jobs: Vec<JobEnvelope> = (0..12)
        .map(|_| JobEnvelope::new(JobKind::Batch, "org", Vec::new()))
        .collect();
    publisher.publish_many(&jobs).await.expect("publish");

    let overlap = Arc::new(Overlap {
        running: AtomicUsize::new(0),
        peak: AtomicUsize::new(0),
        done: AtomicUsize::new(0),
    });
    let shutdown = CancellationToken::new();
    let consumer = tokio::spawn(run_consumer(
        config,
        ConsumerOptions {
            concurrency: 4,
            ..ConsumerOptions::new(vec![JobKind::Batch])
        },
        Arc::clone(&overlap) as Arc<dyn JobHandler>,
        shutdown.clone(),
    ));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while overlap.done.load(Ordering::SeqCst) < 12 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "jobs not all handled"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(overlap.peak.load(Ordering::SeqCst), 4);
    shutdown.cancel();
    consumer.await.expect("task").expect("consumer");
}
