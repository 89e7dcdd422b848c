//! Shutdown and outages: in-flight jobs are not lost on shutdown, and both the
//! consumer and the publisher recover after the broker connection is cut (via a proxy).

mod common;

use std::time::{Duration, Instant};

use common::{next_seen, ready_count, start, CutProxy, Recorder, TestPrefix};
use fluxcascade_queue::{ConsumerOptions, JobEnvelope, JobKind, Publisher, Topology};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_lets_a_short_job_finish_and_acks_it() {
    let prefix = TestPrefix::new();
    let config = prefix.config();
    let publisher = Publisher::connect(&config).await.expect("publisher");
    let (recorder, mut seen) = Recorder::slow(Duration::from_millis(700), |_| Ok(()));
    let options = ConsumerOptions {
        shutdown_grace: Duration::from_secs(10),
        ..ConsumerOptions::new(vec![JobKind::Sync])
    };
    let (shutdown, consumer) = start(config, options, recorder);
    let job = JobEnvelope::new(JobKind::Sync, "org", Vec::new());
    publisher.publish(&job).await.expect("publish");
    next_seen(&mut seen, 10).await;

    let asked = Instant::now();
    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(10), consumer)
        .await
        .expect("consumer stops within the grace")
        .expect("consumer task");
    assert!(
        asked.elapsed() >= Duration::from_millis(300),
        "did not wait for the job"
    );
    assert_eq!(
        ready_count(&Topology::queue(&prefix.0, JobKind::Sync)).await,
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_cut_off_by_shutdown_is_redelivered_to_the_next_consumer() {
    let prefix = TestPrefix::new();
    let config = prefix.config();
    let publisher = Publisher::connect(&config).await.expect("publisher");
    let (stuck, mut stuck_seen) = Recorder::slow(Duration::from_secs(60), |_| Ok(()));
    let options = ConsumerOptions {
        shutdown_grace: Duration::from_millis(300),
        ..ConsumerOptions::new(vec![JobKind::Batch])
    };
    let (shutdown, consumer) = start(config.clone(), options.clone(), stuck);
    let job = JobEnvelope::new(JobKind::Batch, "org", b"rows".to_vec());
    publisher.publish(&job).await.expect("publish");
    assert_eq!(next_seen(&mut stuck_seen, 10).await.job.job_id, job.job_id);

    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(5), consumer)
        .await
        .expect("consumer gives up on the job after the grace")
        .expect("consumer task");

    let (recorder, mut seen) = Recorder::new(|_| Ok(()));
    let (shutdown, consumer) = start(config, options, recorder);
    let again = next_seen(&mut seen, 10).await;
    assert_eq!(
        (&again.job.job_id, &again.job.payload),
        (&job.job_id, &job.payload)
    );
    // The abandoned delivery counted as an attempt (a job that keeps killing or outliving its
    // worker climbs the retry tiers and is dead-lettered after `max_unsettled` such deliveries).
    assert_eq!(again.job.attempt, 2);
    shutdown.cancel();
    consumer.await.expect("consumer task");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_consumer_reconnects_after_the_connection_is_cut() {
    let prefix = TestPrefix::new();
    let proxy = CutProxy::start().await;
    let publisher = Publisher::connect(&prefix.config())
        .await
        .expect("publisher");
    let (recorder, mut seen) = Recorder::new(|_| Ok(()));
    let (shutdown, consumer) = start(
        prefix.config_at(&proxy.url),
        ConsumerOptions::new(vec![JobKind::Webhook]),
        recorder,
    );

    let before = JobEnvelope::new(JobKind::Webhook, "org", b"before".to_vec());
    publisher.publish(&before).await.expect("publish");
    assert_eq!(next_seen(&mut seen, 10).await.job.job_id, before.job_id);

    proxy.cut();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let during = JobEnvelope::new(JobKind::Webhook, "org", b"during".to_vec());
    publisher
        .publish(&during)
        .await
        .expect("publish while consumer is cut off");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        seen.try_recv().is_err(),
        "the proxy did not cut the consumer off"
    );

    proxy.restore();
    // `before` may come again if the cut beat its ack (at-least-once); `during` must come.
    loop {
        let call = next_seen(&mut seen, 20).await;
        if call.job.job_id == during.job_id {
            break;
        }
        assert_eq!(call.job.job_id, before.job_id, "an unknown job appeared");
    }
    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(10), consumer)
        .await
        .expect("consumer stops")
        .expect("consumer task");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_publisher_fails_fast_while_cut_and_recovers_on_its_own() {
    let prefix = TestPrefix::new();
    let proxy = CutProxy::start().await;
    let publisher = Publisher::connect(&prefix.config_at(&proxy.url))
        .await
        .expect("publisher");
    let job = || JobEnvelope::new(JobKind::Delivery, "org", Vec::new());
    publisher.publish(&job()).await.expect("publish before");

    proxy.cut();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = Instant::now();
    assert!(
        publisher.publish(&job()).await.is_err(),
        "published while cut"
    );
    assert!(started.elapsed() < Duration::from_secs(15));
    assert!(!publisher.is_healthy().await);

    proxy.restore();
    assert!(publisher.is_healthy().await);
    publisher
        .publish(&job())
        .await
        .expect("publish after restore");
    assert_eq!(
        ready_count(&Topology::queue(&prefix.0, JobKind::Delivery)).await,
        2
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_consumer_recovers_when_its_queue_is_deleted_under_it() {
    let prefix = TestPrefix::new();
    let config = prefix.config();
    let publisher = Publisher::connect(&config).await.expect("publisher");
    let (recorder, mut seen) = Recorder::new(|_| Ok(()));
    let (shutdown, consumer) = start(
        config.clone(),
        ConsumerOptions::new(vec![JobKind::Sync, JobKind::Batch]),
        recorder,
    );
    let first = JobEnvelope::new(JobKind::Sync, "org", Vec::new());
    publisher.publish(&first).await.expect("publish");
    assert_eq!(next_seen(&mut seen, 10).await.job.job_id, first.job_id);

    // An operator deletes the sync queue: the broker cancels that consumer.
    let connection = common::raw_connection().await;
    let channel = connection.create_channel().await.expect("channel");
    channel
        .queue_delete(
            &Topology::queue(&prefix.0, JobKind::Sync),
            lapin::options::QueueDeleteOptions::default(),
        )
        .await
        .expect("delete queue");
    let _ = connection.close(200, "done").await;

    // The consumer re-declares the topology and consumes again.
    let deadline = Instant::now() + Duration::from_secs(20);
    let second = JobEnvelope::new(JobKind::Sync, "org", Vec::new());
    loop {
        // Until the queue exists again, the publish is unroutable (an error, not a loss).
        if publisher.publish(&second).await.is_ok() {
            break;
        }
        assert!(Instant::now() < deadline, "queue never re-declared");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(next_seen(&mut seen, 20).await.job.job_id, second.job_id);
    shutdown.cancel();
    consumer.await.expect("consumer task");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_started_while_the_broker_is_unreachable_connects_later() {
    let prefix = TestPrefix::new();
    let proxy = CutProxy::start().await;
    proxy.cut();
    let (recorder, mut seen) = Recorder::new(|_| Ok(()));
    let (shutdown, consumer) = start(
        prefix.config_at(&proxy.url),
        ConsumerOptions::new(vec![JobKind::Sync]),
        recorder,
    );
    let publisher = Publisher::connect(&prefix.config())
        .await
        .expect("publisher");
    let job = JobEnvelope::new(JobKind::Sync, "org", Vec::new());
    publisher.publish(&job).await.expect("publish");
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert!(seen.try_recv().is_err(), "consumed through a cut proxy");

    proxy.restore();
    assert_eq!(next_seen(&mut seen, 20).await.job.job_id, job.job_id);
    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(10), consumer)
        .await
        .expect("consumer stops")
        .expect("consumer task");
}
