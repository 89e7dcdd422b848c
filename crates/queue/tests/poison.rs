//! Poison-proof queue metadata: a huge failure reason never breaks the broker link, and a
//! republish the broker refuses still counts as an attempt, so no job loops uncounted.

mod common;

use std::time::Duration;

use common::{get_one, next_seen, raw_connection, reason_header, start, Recorder, TestPrefix};
use fluxcascade_proto::Message;
use fluxcascade_queue::{
    ConsumerOptions, JobEnvelope, JobError, JobKind, Publisher, Topology, MAX_REASON_BYTES,
};
use lapin::options::ExchangeDeleteOptions;

/// A provider error page of 200 KB, as a failing provider may answer.
fn huge_error() -> String {
    format!(
        "provider answered 500: {}",
        "<div>internal error</div>".repeat(200 * 1024 / 25)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_200_kb_provider_error_retries_with_counted_attempts_then_dead_letters_truncated() {
    let prefix = TestPrefix::new();
    let mut config = prefix.config();
    config.retry_window = Duration::from_millis(700);
    let publisher = Publisher::connect(&config).await.expect("publisher");
    let error = huge_error();
    assert!(error.len() > 200_000);
    let message = error.clone();
    let (recorder, mut seen) = Recorder::new(move |_| Err(JobError::transient(message.clone())));
    let options = ConsumerOptions::new(vec![JobKind::Batch]);
    let (shutdown, consumer) = start(config, options, recorder);
    let job = JobEnvelope::new(JobKind::Batch, "org-1", b"page".to_vec());
    publisher.publish(&job).await.expect("publish");

    let (bytes, properties) = get_one(&Topology::dead_queue(&prefix.0), 15)
        .await
        .expect("the job is dead-lettered once its retry window has passed");
    let mut attempts = Vec::new();
    while let Ok(call) = seen.try_recv() {
        assert_eq!(call.job.job_id, job.job_id);
        if call.job.attempt > 1 {
            // The previous reason travels in the envelope, bounded too.
            assert!(call.job.reason.len() <= MAX_REASON_BYTES);
            assert!(call.job.reason.starts_with("provider answered 500: <div>"));
        }
        attempts.push(call.job.attempt);
    }
    let n = attempts.len() as u32;
    assert!(n >= 3, "{attempts:?}");
    assert_eq!(attempts, (1..=n).collect::<Vec<_>>());
    let dead = JobEnvelope::decode(bytes.as_slice()).expect("envelope");
    assert_eq!(dead.job_id, job.job_id);
    assert_eq!(dead.attempt, n);
    let prefix_text = format!("gave up after retrying for 700ms ({n} attempts): ");
    let header = reason_header(&properties).expect("reason header");
    assert!(header.len() <= MAX_REASON_BYTES, "{} bytes", header.len());
    assert!(
        header.starts_with(&format!("{prefix_text}provider answered 500: <div>")),
        "{}",
        &header[..80]
    );
    let marker = format!("… (truncated, {} bytes)", prefix_text.len() + error.len());
    assert!(
        header.ends_with(&marker),
        "{}",
        &header[header.len() - 60..]
    );
    assert_eq!(dead.reason, header);

    // No redelivery loop: the handler is not called again.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        seen.try_recv().is_err(),
        "handled again after the dead letter"
    );
    shutdown.cancel();
    consumer.await.expect("consumer task");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_republish_the_broker_refuses_counts_as_an_attempt() {
    let prefix = TestPrefix::new();
    let mut config = prefix.config();
    config.retry_window = Duration::from_secs(3);
    let publisher = Publisher::connect(&config).await.expect("publisher");
    let (recorder, mut seen) = Recorder::new(|job| {
        if job.payload == b"ping" {
            Ok(())
        } else {
            Err(JobError::transient("provider returned 503"))
        }
    });
    let options = ConsumerOptions::new(vec![JobKind::Sync]);
    let (shutdown, consumer) = start(config, options, recorder);
    // Once a ping was handled, the consumer has declared its topology.
    let ping = JobEnvelope::new(JobKind::Sync, "org-1", b"ping".to_vec());
    publisher.publish(&ping).await.expect("publish ping");
    assert_eq!(next_seen(&mut seen, 15).await.job.job_id, ping.job_id);

    // The first retry tier's exchange disappears: the broker refuses the republish of
    // attempt 1 (and closes the channel); the consumer requeues the job and reconnects.
    let connection = raw_connection().await;
    let channel = connection.create_channel().await.expect("channel");
    channel
        .exchange_delete(
            &Topology::retry_queue(&prefix.0, 0),
            ExchangeDeleteOptions::default(),
        )
        .await
        .expect("delete the 1s retry exchange");
    let _ = connection.close(200, "done").await;

    let job = JobEnvelope::new(JobKind::Sync, "org-1", b"work".to_vec());
    publisher.publish(&job).await.expect("publish");
    let mut attempts = Vec::new();
    for _ in 0..3 {
        let call = next_seen(&mut seen, 20).await;
        assert_eq!(call.job.job_id, job.job_id);
        attempts.push(call.job.attempt);
    }
    // The redelivery after the refused republish is attempt 2, not attempt 1 again.
    assert_eq!(attempts, vec![1, 2, 3]);
    let (bytes, _) = get_one(&Topology::dead_queue(&prefix.0), 15)
        .await
        .expect("dead-lettered once the retry window has passed");
    let dead = JobEnvelope::decode(bytes.as_slice()).expect("envelope");
    assert_eq!(dead.job_id, job.job_id);
    assert!(
        dead.reason.starts_with("gave up after retrying for 3s (")
            && dead.reason.ends_with("attempts): provider returned 503"),
        "{}",
        dead.reason
    );
    while seen.try_recv().is_ok() {}
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert!(
        seen.try_recv().is_err(),
        "handled again after the dead letter"
    );
    shutdown.cancel();
    consumer.await.expect("consumer task");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_redelivered_past_its_last_attempt_is_dead_lettered_without_running() {
    let prefix = TestPrefix::new();
    let config = prefix.config();
    let publisher = Publisher::connect(&config).await.expect("publisher");
    // The handler never finishes: the consumer is stopped with the job in flight, which
    // hands it back to the broker unsettled, like a worker that died.
    let (recorder, mut seen) = Recorder::slow(Duration::from_secs(3600), |_| Ok(()));
    let options = ConsumerOptions {
        max_unsettled: 1,
        shutdown_grace: Duration::from_millis(100),
        ..ConsumerOptions::new(vec![JobKind::Webhook])
    };
    let (shutdown, consumer) = start(config.clone(), options.clone(), recorder.clone());
    let job = JobEnvelope::new(JobKind::Webhook, "org-1", Vec::new());
    publisher.publish(&job).await.expect("publish");
    assert_eq!(next_seen(&mut seen, 15).await.job.attempt, 1);
    shutdown.cancel();
    consumer.await.expect("consumer task");

    let (shutdown, consumer) = start(config, options, recorder);
    let (bytes, properties) = get_one(&Topology::dead_queue(&prefix.0), 15)
        .await
        .expect("dead-lettered on redelivery");
    let dead = JobEnvelope::decode(bytes.as_slice()).expect("envelope");
    assert_eq!(dead.job_id, job.job_id);
    assert_eq!(dead.attempt, 2);
    let header = reason_header(&properties).expect("reason header");
    assert!(
        header.starts_with("gave up: delivered 2 times without being settled"),
        "{header}"
    );
    assert!(
        seen.try_recv().is_err(),
        "the handler ran past the last attempt"
    );
    shutdown.cancel();
    consumer.await.expect("consumer task");
}
