//! Retry tiers and the dead-letter queue: transient failures come back with a higher
//! attempt, permanent/exhausted/undecodable jobs land in `{prefix}.dead` with a reason.

mod common;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{get_one, next_seen, raw_connection, reason_header, start, Recorder, TestPrefix};
use fluxcascade_proto::Message;
use fluxcascade_queue::{ConsumerOptions, JobEnvelope, JobError, JobKind, Publisher, Topology};
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::BasicProperties;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transient_failures_are_retried_with_increasing_attempts() {
    let prefix = TestPrefix::new();
    let config = prefix.config();
    let publisher = Publisher::connect(&config).await.expect("publisher");
    let calls = Arc::new(AtomicU32::new(0));
    let counter = Arc::clone(&calls);
    let (recorder, mut seen) = Recorder::new(move |_| {
        if counter.fetch_add(1, Ordering::SeqCst) < 2 {
            Err(JobError::transient("provider returned 503"))
        } else {
            Ok(())
        }
    });
    let (shutdown, consumer) = start(
        config,
        ConsumerOptions::new(vec![JobKind::Webhook]),
        recorder,
    );
    let job = JobEnvelope::new(JobKind::Webhook, "org-7", b"event".to_vec());
    publisher
        .with_traceparent("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
        .publish(&job)
        .await
        .expect("publish");

    let started = Instant::now();
    let first = next_seen(&mut seen, 10).await;
    let second = next_seen(&mut seen, 10).await;
    let third = next_seen(&mut seen, 10).await;
    let attempts: Vec<u32> = [&first, &second, &third]
        .iter()
        .map(|s| s.job.attempt)
        .collect();
    assert_eq!(attempts, vec![1, 2, 3]);
    for call in [&first, &second, &third] {
        assert_eq!(call.job.job_id, job.job_id);
        assert_eq!(call.job.payload, job.payload);
        assert_eq!(
            call.traceparent.as_deref(),
            Some("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
        );
    }
    assert_eq!(second.job.reason, "provider returned 503");
    // Tier 1 (≥75 ms with jitter) then tier 2 (≥150 ms): the retries did wait.
    assert!(started.elapsed() >= Duration::from_millis(200));
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(seen.try_recv().is_err(), "handled again after success");
    assert!(get_one(&Topology::dead_queue(&prefix.0), 0).await.is_none());
    shutdown.cancel();
    consumer.await.expect("consumer task");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn permanent_failure_goes_to_the_dead_letter_queue_with_its_reason() {
    let prefix = TestPrefix::new();
    let config = prefix.config();
    let publisher = Publisher::connect(&config).await.expect("publisher");
    let (recorder, mut seen) =
        Recorder::new(|_| Err(JobError::permanent("mapping m-1 was deleted")));
    let (shutdown, consumer) = start(config, ConsumerOptions::new(vec![JobKind::Sync]), recorder);
    let job = JobEnvelope::new(JobKind::Sync, "org-1", b"sync".to_vec());
    publisher.publish(&job).await.expect("publish");

    assert_eq!(next_seen(&mut seen, 10).await.job.job_id, job.job_id);
    let (bytes, properties) = get_one(&Topology::dead_queue(&prefix.0), 10)
        .await
        .expect("a dead letter");
    let dead = JobEnvelope::decode(bytes.as_slice()).expect("dead letter is an envelope");
    assert_eq!(dead.job_id, job.job_id);
    assert_eq!(dead.reason, "mapping m-1 was deleted");
    assert_eq!(dead.attempt, 1);
    assert_eq!(
        reason_header(&properties).as_deref(),
        Some("mapping m-1 was deleted")
    );
    assert!(seen.try_recv().is_err(), "a permanent failure was retried");
    shutdown.cancel();
    consumer.await.expect("consumer task");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_that_keeps_failing_is_dead_lettered_once_the_retry_window_has_passed() {
    let prefix = TestPrefix::new();
    let mut config = prefix.config();
    config.retry_window = Duration::from_secs(2);
    let publisher = Publisher::connect(&config).await.expect("publisher");
    let (recorder, mut seen) = Recorder::new(|_| Err(JobError::transient("timeout")));
    let (shutdown, consumer) = start(
        config,
        ConsumerOptions::new(vec![JobKind::Delivery]),
        recorder,
    );
    let job = JobEnvelope::new(JobKind::Delivery, "org-1", Vec::new());
    let started = Instant::now();
    publisher.publish(&job).await.expect("publish");

    // Retried on climbing tiers (100..400 ms here) for the whole window, far more than a
    // handful of attempts, then dead-lettered.
    let (bytes, _) = get_one(&Topology::dead_queue(&prefix.0), 15)
        .await
        .expect("a dead letter");
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    let mut attempts = Vec::new();
    while let Ok(call) = seen.try_recv() {
        attempts.push(call.job.attempt);
    }
    let expected: Vec<u32> = (1..=attempts.len() as u32).collect();
    assert_eq!(attempts, expected, "every retry is the next attempt");
    assert!(attempts.len() >= 5, "{attempts:?}");
    let dead = JobEnvelope::decode(bytes.as_slice()).expect("envelope");
    assert_eq!(dead.job_id, job.job_id);
    assert!(dead.first_failed_at_unix_ms > 0);
    assert_eq!(
        dead.reason,
        format!(
            "gave up after retrying for 2s ({} attempts): timeout",
            attempts.len()
        )
    );
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(seen.try_recv().is_err(), "retried after the dead letter");
    shutdown.cancel();
    consumer.await.expect("consumer task");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_is_retried_past_the_window_and_never_dead_lettered() {
    let prefix = TestPrefix::new();
    let mut config = prefix.config();
    config.retry_window = Duration::from_millis(500);
    let publisher = Publisher::connect(&config).await.expect("publisher");
    // The database is "down" for the first 8 attempts (well past the window), then back.
    let (recorder, mut seen) = Recorder::new(|job| {
        if job.attempt <= 8 {
            Err(JobError::infrastructure("error connecting to server"))
        } else {
            Ok(())
        }
    });
    let (shutdown, consumer) = start(config, ConsumerOptions::new(vec![JobKind::Sync]), recorder);
    let job = JobEnvelope::new(JobKind::Sync, "org-1", Vec::new());
    publisher.publish(&job).await.expect("publish");
    for attempt in 1..=9 {
        assert_eq!(next_seen(&mut seen, 15).await.job.attempt, attempt);
    }
    assert!(get_one(&Topology::dead_queue(&prefix.0), 1).await.is_none());
    shutdown.cancel();
    consumer.await.expect("consumer task");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deferred_job_gives_its_slot_back_and_consumes_no_attempt() {
    let prefix = TestPrefix::new();
    let config = prefix.config();
    let publisher = Publisher::connect(&config).await.expect("publisher");
    let (recorder, mut seen) = Recorder::new(|job| {
        if job.payload == b"throttled" && job.reason.is_empty() {
            Err(JobError::Deferred {
                message: "rate limited".into(),
                wait: Duration::from_millis(250),
            })
        } else {
            Ok(())
        }
    });
    // One slot: while the throttled job waits, the other job runs.
    let options = ConsumerOptions {
        concurrency: 1,
        ..ConsumerOptions::new(vec![JobKind::Batch])
    };
    let (shutdown, consumer) = start(config, options, recorder);
    let throttled = JobEnvelope::new(JobKind::Batch, "org-a", b"throttled".to_vec());
    let other = JobEnvelope::new(JobKind::Batch, "org-b", b"other".to_vec());
    publisher.publish(&throttled).await.expect("publish");
    publisher.publish(&other).await.expect("publish");
    let first = next_seen(&mut seen, 10).await;
    assert_eq!(first.job.job_id, throttled.job_id);
    let second = next_seen(&mut seen, 10).await;
    assert_eq!(
        second.job.job_id, other.job_id,
        "the other job ran while it waited"
    );
    let back = next_seen(&mut seen, 10).await;
    assert_eq!(back.job.job_id, throttled.job_id);
    assert_eq!(back.job.attempt, 1, "waiting consumed no attempt");
    assert_eq!(
        back.job.first_failed_at_unix_ms, 0,
        "waiting is not failing"
    );
    shutdown.cancel();
    consumer.await.expect("consumer task");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_bytes_are_dead_lettered_unchanged_and_the_consumer_goes_on() {
    let prefix = TestPrefix::new();
    let config = prefix.config();
    let publisher = Publisher::connect(&config).await.expect("publisher");
    let (recorder, mut seen) = Recorder::new(|_| Ok(()));
    let (shutdown, consumer) = start(config, ConsumerOptions::new(vec![JobKind::Sync]), recorder);

    let garbage = vec![0xff, 0xff, 0xff, 0xff, 0x01, 0x02];
    let connection = raw_connection().await;
    let channel = connection.create_channel().await.expect("channel");
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await
        .expect("confirms");
    channel
        .basic_publish(
            &Topology::exchange(&prefix.0),
            "sync",
            BasicPublishOptions::default(),
            &garbage,
            BasicProperties::default().with_message_id("not-a-job".into()),
        )
        .await
        .expect("publish garbage")
        .await
        .expect("confirm garbage");
    let _ = connection.close(200, "done").await;

    let (bytes, properties) = get_one(&Topology::dead_queue(&prefix.0), 10)
        .await
        .expect("garbage dead-lettered");
    assert_eq!(bytes, garbage);
    assert_eq!(
        properties.message_id().as_ref().map(|s| s.as_str()),
        Some("not-a-job")
    );
    let reason = reason_header(&properties).expect("reason header");
    assert!(reason.starts_with("undecodable envelope"), "{reason}");

    // The consumer survived and still handles real jobs.
    let job = JobEnvelope::new(JobKind::Sync, "org-1", Vec::new());
    publisher.publish(&job).await.expect("publish");
    assert_eq!(next_seen(&mut seen, 10).await.job.job_id, job.job_id);
    shutdown.cancel();
    consumer.await.expect("consumer task");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_is_honoured() {
    let prefix = TestPrefix::new();
    let config = prefix.config();
    let publisher = Publisher::connect(&config).await.expect("publisher");
    let (recorder, mut seen) = Recorder::new(|job| {
        if job.attempt == 1 {
            Err(JobError::Transient {
                message: "429 Too Many Requests".into(),
                retry_after: Some(Duration::from_millis(250)),
            })
        } else {
            Ok(())
        }
    });
    let (shutdown, consumer) = start(config, ConsumerOptions::new(vec![JobKind::Sync]), recorder);
    publisher
        .publish(&JobEnvelope::new(JobKind::Sync, "org", Vec::new()))
        .await
        .expect("publish");
    next_seen(&mut seen, 10).await;
    let failed_at = Instant::now();
    let retried = next_seen(&mut seen, 10).await;
    assert_eq!(retried.job.attempt, 2);
    assert_eq!(retried.job.reason, "429 Too Many Requests");
    // The 300 ms tier is the smallest at least 250 ms, with no jitter below it.
    assert!(
        failed_at.elapsed() >= Duration::from_millis(250),
        "{:?}",
        failed_at.elapsed()
    );
    shutdown.cancel();
    consumer.await.expect("consumer task");
}
