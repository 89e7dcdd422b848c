//! The dead-letter recorder against a real broker: a dead letter is recorded and acked; a sink
//! that cannot record (the database is down) delays recording but never loses the message.

mod common;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{next_seen, raw_connection, ready_count, start, Recorder, TestPrefix};
use fluxcascade_proto::Message;
use fluxcascade_queue::{
    async_trait, run_dead_letter_consumer, ConsumerOptions, DeadLetter, DeadLetterSink,
    JobEnvelope, JobError, JobKind, Publisher, QueueConfig, SinkError, Topology,
};
use lapin::options::BasicPublishOptions;
use lapin::BasicProperties;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Records dead letters in memory, failing the first `failures` calls like a database that is down.
struct MemorySink {
    failures: u32,
    calls: AtomicU32,
    recorded: Mutex<Vec<DeadLetter>>,
    tx: mpsc::UnboundedSender<u32>,
}

impl MemorySink {
    fn new(failures: u32) -> (Arc<MemorySink>, mpsc::UnboundedReceiver<u32>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let sink = MemorySink {
            failures,
            calls: AtomicU32::new(0),
            recorded: Mutex::new(Vec::new()),
            tx,
        };
        (Arc::new(sink), rx)
    }

    fn recorded(&self) -> Vec<DeadLetter> {
        self.recorded.lock().expect("lock").clone()
    }
}

#[async_trait]
impl DeadLetterSink for MemorySink {
    async fn record(&self, letter: &DeadLetter) -> Result<(), SinkError> {
        let call = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        let _ = self.tx.send(call);
        if call <= self.failures {
            return Err(SinkError("database unavailable".into()));
        }
        let mut recorded = self.recorded.lock().expect("lock");
        if !recorded.iter().any(|r| r.job_id == letter.job_id) {
            recorded.push(letter.clone());
        }
        Ok(())
    }
}

fn start_recorder(
    config: QueueConfig,
    sink: Arc<MemorySink>,
) -> (CancellationToken, tokio::task::JoinHandle<()>) {
    let shutdown = CancellationToken::new();
    let token = shutdown.clone();
    let handle = tokio::spawn(async move {
        run_dead_letter_consumer(config, sink, token)
            .await
            .expect("dead-letter consumer");
    });
    (shutdown, handle)
}

/// Waits until the sink was called `calls` times.
async fn wait_calls(rx: &mut mpsc::UnboundedReceiver<u32>, calls: u32) {
    loop {
        let n = tokio::time::timeout(Duration::from_secs(30), rx.recv())
            .await
            .expect("timed out waiting for the sink")
            .expect("sink channel closed");
        if n >= calls {
            return;
        }
    }
}

/// A job that fails permanently goes to `{prefix}.dead` through the real consumer.
async fn dead_letter_a_job(prefix: &TestPrefix, payload: &[u8]) -> JobEnvelope {
    let config = prefix.config();
    let publisher = Publisher::connect(&config).await.expect("publisher");
    let (handler, mut seen) = Recorder::new(|_| Err(JobError::permanent("mapping was deleted")));
    let (stop, consumer) = start(config, ConsumerOptions::new(vec![JobKind::Sync]), handler);
    let job = JobEnvelope::new(JobKind::Sync, "org-1", payload.to_vec());
    publisher.publish(&job).await.expect("publish");
    assert_eq!(next_seen(&mut seen, 15).await.job.job_id, job.job_id);
    stop.cancel();
    consumer.await.expect("consumer task");
    job
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_letter_is_recorded_with_its_reason_and_bytes_then_acked() {
    let prefix = TestPrefix::new();
    let job = dead_letter_a_job(&prefix, b"sync payload").await;
    let (sink, mut calls) = MemorySink::new(0);
    let (stop, recorder) = start_recorder(prefix.config(), Arc::clone(&sink));
    wait_calls(&mut calls, 1).await;
    stop.cancel();
    recorder.await.expect("recorder task");

    let recorded = sink.recorded();
    assert_eq!(recorded.len(), 1);
    let letter = &recorded[0];
    assert_eq!(letter.job_id, job.job_id);
    assert_eq!(letter.reason, "mapping was deleted");
    let envelope = letter.envelope.as_ref().expect("a decoded envelope");
    assert_eq!(envelope.payload, b"sync payload");
    assert_eq!(envelope.kind(), JobKind::Sync);
    assert_eq!(
        JobEnvelope::decode(letter.raw.as_slice()).expect("raw bytes are the envelope"),
        *envelope
    );
    // Acked: once the recorder is gone nothing returns to the queue.
    assert_eq!(ready_count(&Topology::dead_queue(&prefix.0)).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sink_failing_three_times_records_the_dead_letter_once_and_loses_nothing() {
    let prefix = TestPrefix::new();
    let job = dead_letter_a_job(&prefix, b"p").await;
    let (sink, mut calls) = MemorySink::new(3);
    let (stop, recorder) = start_recorder(prefix.config(), Arc::clone(&sink));
    wait_calls(&mut calls, 4).await;
    stop.cancel();
    recorder.await.expect("recorder task");
    let recorded = sink.recorded();
    assert_eq!(
        recorded
            .iter()
            .map(|r| r.job_id.as_str())
            .collect::<Vec<_>>(),
        vec![job.job_id.as_str()]
    );
    assert_eq!(ready_count(&Topology::dead_queue(&prefix.0)).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_letter_never_recorded_stays_in_the_queue_when_the_recorder_stops() {
    let prefix = TestPrefix::new();
    let job = dead_letter_a_job(&prefix, b"p").await;
    let (sink, mut calls) = MemorySink::new(u32::MAX);
    let (stop, recorder) = start_recorder(prefix.config(), Arc::clone(&sink));
    wait_calls(&mut calls, 2).await;
    stop.cancel();
    recorder.await.expect("recorder task");
    assert!(sink.recorded().is_empty());
    assert_eq!(ready_count(&Topology::dead_queue(&prefix.0)).await, 1);

    // The next recorder (the database is back) records it.
    let (sink, mut calls) = MemorySink::new(0);
    let (stop, recorder) = start_recorder(prefix.config(), Arc::clone(&sink));
    wait_calls(&mut calls, 1).await;
    stop.cancel();
    recorder.await.expect("recorder task");
    assert_eq!(sink.recorded()[0].job_id, job.job_id);
    assert_eq!(ready_count(&Topology::dead_queue(&prefix.0)).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_that_is_no_job_is_recorded_raw_under_its_message_id() {
    let prefix = TestPrefix::new();
    let config = prefix.config();
    let publisher = Publisher::connect(&config).await.expect("publisher");
    assert!(publisher.is_healthy().await, "the topology is declared");
    let (handler, _seen) = Recorder::new(|_| Ok(()));
    let (stop, consumer) = start(
        config.clone(),
        ConsumerOptions::new(vec![JobKind::Batch]),
        handler,
    );
    let connection = raw_connection().await;
    let channel = connection.create_channel().await.expect("channel");
    let garbage = b"\xff\xff\xff not an envelope".to_vec();
    channel
        .basic_publish(
            &Topology::exchange(&prefix.0),
            "batch",
            BasicPublishOptions::default(),
            &garbage,
            BasicProperties::default().with_message_id("msg-raw-1".into()),
        )
        .await
        .expect("publish")
        .await
        .expect("sent");
    let _ = connection.close(200, "done").await;

    let (sink, mut calls) = MemorySink::new(0);
    let (stop_recorder, recorder) = start_recorder(config, Arc::clone(&sink));
    wait_calls(&mut calls, 1).await;
    stop_recorder.cancel();
    recorder.await.expect("recorder task");
    stop.cancel();
    consumer.await.expect("consumer task");
    let letter = &sink.recorded()[0];
    assert_eq!(letter.job_id, "msg-raw-1");
    assert!(letter.envelope.is_none());
    assert_eq!(letter.raw, garbage);
    assert!(
        letter.reason.starts_with("undecodable envelope"),
        "{}",
        letter.reason
    );
}
