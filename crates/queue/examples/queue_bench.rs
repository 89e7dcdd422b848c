//! Queue benchmark: raw lapin ceiling vs. `Publisher::publish_many` + `run_consumer`
//! on the local RabbitMQ, same durability (quorum queue, persistent, confirms, manual acks).
//!
//! `cargo run -p fluxcascade-queue --release --example queue_bench`
//! Env: `AMQP_URL` (default local guest), `BENCH_N` (default 50000), `BENCH_ROUNDS`
//! (default 3; raw and ours alternate, the median of each figure is reported since the
//! machine is shared). Prints a table and writes `target/bench/queue.json`.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use fluxcascade_queue::{
    async_trait, run_consumer, ConsumerOptions, JobEnvelope, JobError, JobHandler, JobKind,
    Publisher, QueueConfig, Topology,
};
use futures::stream::{FuturesUnordered, StreamExt};
use lapin::options::{
    BasicAckOptions, BasicCancelOptions, BasicConsumeOptions, BasicPublishOptions, BasicQosOptions,
    ConfirmSelectOptions,
};
use lapin::publisher_confirm::Confirmation;
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Messages in flight for the raw publisher; ours gets the same via concurrent batches.
const WINDOW: usize = 1000;
const BATCH: usize = 500;
const PUBLISH_TASKS: usize = WINDOW / BATCH;
const PREFETCH: u16 = 500;
const PHASE_TIMEOUT: Duration = Duration::from_secs(180);
/// Time a consumer gets to connect before a combined phase starts its clock.
const CONSUMER_SETTLE: Duration = Duration::from_millis(500);

#[tokio::main]
async fn main() {
    let url = std::env::var("AMQP_URL")
        .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".to_owned());
    let n: usize = std::env::var("BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50_000);
    let rounds: usize = std::env::var("BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3)
        .max(1);
    let raw_prefix = format!("fcbench-raw-{}", uuid::Uuid::new_v4().simple());
    let ours_prefix = format!("fcbench-ours-{}", uuid::Uuid::new_v4().simple());

    let result = run(&url, n, rounds, &raw_prefix, &ours_prefix).await;
    for prefix in [&raw_prefix, &ours_prefix] {
        if let Err(error) = Topology::delete(&url, prefix).await {
            eprintln!("cleanup of {prefix} failed: {error}");
        }
    }
    match result {
        Ok(report) => {
            print_table(&report);
            match write_json(&report) {
                Ok(path) => println!("\nwrote {}", path.display()),
                Err(error) => eprintln!("writing JSON failed: {error}"),
            }
        }
        Err(error) => {
            eprintln!("benchmark failed: {error}");
            std::process::exit(1);
        }
    }
}

struct Report {
    n: usize,
    rounds: Vec<(Rates, Rates)>,
    raw: Rates,
    ours: Rates,
}

/// Jobs per second of each phase.
#[derive(Clone, Copy)]
struct Rates {
    publish_only: f64,
    consume_only: f64,
    both: f64,
}

async fn run(
    url: &str,
    n: usize,
    rounds: usize,
    raw_prefix: &str,
    ours_prefix: &str,
) -> Result<Report, BoxError> {
    let mut results = Vec::with_capacity(rounds);
    for round in 1..=rounds {
        let raw = phase(
            &format!("raw {round}/{rounds}"),
            bench_raw(url, n, raw_prefix),
        )
        .await?;
        let ours = phase(
            &format!("ours {round}/{rounds}"),
            bench_ours(url, n, ours_prefix),
        )
        .await?;
        eprintln!("  both: raw {:.0}/s ours {:.0}/s", raw.both, ours.both);
        results.push((raw, ours));
    }
    let median_of = |pick: &dyn Fn(&(Rates, Rates)) -> f64| {
        let mut values: Vec<f64> = results.iter().map(pick).collect();
        values.sort_by(f64::total_cmp);
        values[values.len() / 2]
    };
    let raw = Rates {
        publish_only: median_of(&|r| r.0.publish_only),
        consume_only: median_of(&|r| r.0.consume_only),
        both: median_of(&|r| r.0.both),
    };
    let ours = Rates {
        publish_only: median_of(&|r| r.1.publish_only),
        consume_only: median_of(&|r| r.1.consume_only),
        both: median_of(&|r| r.1.both),
    };
    Ok(Report {
        n,
        rounds: results,
        raw,
        ours,
    })
}

async fn phase<F: std::future::Future<Output = Result<Rates, BoxError>>>(
    name: &str,
    future: F,
) -> Result<Rates, BoxError> {
    eprintln!("running {name} ...");
    tokio::time::timeout(PHASE_TIMEOUT * 3, future)
        .await
        .map_err(|_| format!("{name} timed out"))?
}

fn rate(n: usize, elapsed: Duration) -> f64 {
    n as f64 / elapsed.as_secs_f64().max(1e-9)
}

fn sample_job(i: usize) -> JobEnvelope {
    JobEnvelope::new(
        JobKind::Sync,
        "org-bench",
        format!("{{\"sync\":{i}}}").into_bytes(),
    )
}

// ---------------------------------------------------------------- raw lapin

async fn connect(url: &str) -> Result<Connection, BoxError> {
    Ok(Connection::connect(
        url,
        ConnectionProperties::default()
            .with_executor(tokio_executor_trait::Tokio::current())
            .with_reactor(tokio_reactor_trait::Tokio),
    )
    .await?)
}

async fn bench_raw(url: &str, n: usize, prefix: &str) -> Result<Rates, BoxError> {
    let pub_conn = connect(url).await?;
    let pub_channel = pub_conn.create_channel().await?;
    pub_channel
        .confirm_select(ConfirmSelectOptions::default())
        .await?;
    Topology::declare(&pub_channel, prefix).await?;
    let con_conn = connect(url).await?;
    let queue = Topology::queue(prefix, JobKind::Sync);
    let exchange = Topology::exchange(prefix);
    let payloads: Vec<(String, Vec<u8>)> = (0..n)
        .map(|i| {
            let job = sample_job(i);
            let bytes = prost::Message::encode_to_vec(&job);
            (job.job_id, bytes)
        })
        .collect();

    let publish_only = raw_publish(&pub_channel, &exchange, &payloads).await?;
    let consume_only = raw_consume(con_conn.create_channel().await?, &queue, n).await?;

    let consumer = tokio::spawn({
        let channel = con_conn.create_channel().await?;
        let queue = queue.clone();
        async move {
            raw_consume(channel, &queue, n)
                .await
                .map_err(|e| e.to_string())
        }
    });
    tokio::time::sleep(CONSUMER_SETTLE).await;
    let started = Instant::now();
    raw_publish(&pub_channel, &exchange, &payloads).await?;
    consumer.await??;
    let both = started.elapsed();

    let _ = pub_conn.close(200, "bench done").await;
    let _ = con_conn.close(200, "bench done").await;
    Ok(Rates {
        publish_only: rate(n, publish_only),
        consume_only: rate(n, consume_only),
        both: rate(n, both),
    })
}

/// Publishes everything with up to WINDOW messages in flight (sends and confirms both
/// concurrent, so frames are written in batches rather than one await per message).
async fn raw_publish(
    channel: &Channel,
    exchange: &str,
    payloads: &[(String, Vec<u8>)],
) -> Result<Duration, BoxError> {
    let started = Instant::now();
    let mut in_flight = FuturesUnordered::new();
    for (id, payload) in payloads {
        if in_flight.len() >= WINDOW {
            check_confirm(in_flight.next().await)?;
        }
        let properties = BasicProperties::default()
            .with_delivery_mode(2)
            .with_content_type("application/x-protobuf".into())
            .with_message_id(id.as_str().into());
        in_flight.push(async move {
            let options = BasicPublishOptions {
                mandatory: true,
                ..Default::default()
            };
            channel
                .basic_publish(exchange, "sync", options, payload, properties)
                .await?
                .await
        });
    }
    while !in_flight.is_empty() {
        check_confirm(in_flight.next().await)?;
    }
    Ok(started.elapsed())
}

fn check_confirm(confirm: Option<lapin::Result<Confirmation>>) -> Result<(), BoxError> {
    match confirm {
        Some(Ok(Confirmation::Ack(None))) => Ok(()),
        other => Err(format!("unexpected confirm: {other:?}").into()),
    }
}

/// Consumes `n` messages with manual acks that are kept in flight, not awaited one by one;
/// returns the time from the first delivery to the last ack.
async fn raw_consume(channel: Channel, queue: &str, n: usize) -> Result<Duration, BoxError> {
    let mut first: Option<Instant> = None;
    channel
        .basic_qos(PREFETCH, BasicQosOptions::default())
        .await?;
    let mut consumer = channel
        .basic_consume(
            queue,
            "",
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await?;
    let mut acks = FuturesUnordered::new();
    let mut received = 0;
    while received < n {
        tokio::select! {
            delivery = consumer.next() => {
                let delivery = delivery.ok_or("consumer ended")??;
                first.get_or_insert_with(Instant::now);
                received += 1;
                acks.push(async move { delivery.acker.ack(BasicAckOptions::default()).await });
            }
            Some(acked) = acks.next(), if !acks.is_empty() => acked?,
        }
    }
    while let Some(acked) = acks.next().await {
        acked?;
    }
    let elapsed = first.map(|t| t.elapsed()).unwrap_or_default();
    channel
        .basic_cancel(consumer.tag().as_str(), BasicCancelOptions::default())
        .await?;
    let _ = channel.close(200, "done").await;
    Ok(elapsed)
}

// ---------------------------------------------------------------- ours

struct Counter {
    handled: AtomicUsize,
    first: OnceLock<Instant>,
    target: usize,
    done: Notify,
}

#[async_trait]
impl JobHandler for Counter {
    async fn handle(&self, _job: &JobEnvelope) -> Result<(), JobError> {
        self.first.get_or_init(Instant::now);
        if self.handled.fetch_add(1, Ordering::Relaxed) + 1 == self.target {
            self.done.notify_one();
        }
        Ok(())
    }
}

async fn bench_ours(url: &str, n: usize, prefix: &str) -> Result<Rates, BoxError> {
    let config = QueueConfig {
        prefetch: PREFETCH,
        ..QueueConfig::new(url, prefix)
    };
    let publisher = Publisher::connect(&config).await?;
    let jobs: Arc<Vec<JobEnvelope>> = Arc::new((0..n).map(sample_job).collect());

    let publish_only = ours_publish(&publisher, &jobs).await?;
    let consume_only = ours_consume(&config, n, None).await?;
    let both = ours_consume(&config, n, Some((&publisher, &jobs))).await?;
    Ok(Rates {
        publish_only: rate(n, publish_only),
        consume_only: rate(n, consume_only),
        both: rate(n, both),
    })
}

/// Publishes in batches of BATCH from PUBLISH_TASKS concurrent tasks.
async fn ours_publish(
    publisher: &Publisher,
    jobs: &Arc<Vec<JobEnvelope>>,
) -> Result<Duration, BoxError> {
    let started = Instant::now();
    let mut tasks = Vec::new();
    for task in 0..PUBLISH_TASKS {
        let publisher = publisher.clone();
        let jobs = Arc::clone(jobs);
        tasks.push(tokio::spawn(async move {
            for chunk in jobs.chunks(BATCH).skip(task).step_by(PUBLISH_TASKS) {
                publisher.publish_many(chunk).await?;
            }
            Ok::<(), fluxcascade_queue::QueueError>(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    Ok(started.elapsed())
}

/// Runs `run_consumer` with a no-op handler until `n` jobs were handled. Alone it is
/// timed from the first handled job; when `publish` is given, the jobs are published
/// at the same time and the clock runs from the start of publishing.
async fn ours_consume(
    config: &QueueConfig,
    n: usize,
    publish: Option<(&Publisher, &Arc<Vec<JobEnvelope>>)>,
) -> Result<Duration, BoxError> {
    let counter = Arc::new(Counter {
        handled: AtomicUsize::new(0),
        first: OnceLock::new(),
        target: n,
        done: Notify::new(),
    });
    let shutdown = CancellationToken::new();
    let options = ConsumerOptions {
        concurrency: usize::from(PREFETCH),
        shutdown_grace: Duration::from_secs(5),
        ..ConsumerOptions::new(vec![JobKind::Sync])
    };
    let consumer = tokio::spawn(run_consumer(
        config.clone(),
        options,
        Arc::clone(&counter) as Arc<dyn JobHandler>,
        shutdown.clone(),
    ));
    let mut started = None;
    if let Some((publisher, jobs)) = publish {
        tokio::time::sleep(CONSUMER_SETTLE).await;
        started = Some(Instant::now());
        ours_publish(publisher, jobs).await?;
    }
    let finished = tokio::time::timeout(PHASE_TIMEOUT, counter.done.notified()).await;
    let elapsed = started
        .or_else(|| counter.first.get().copied())
        .map(|t| t.elapsed())
        .unwrap_or_default();
    shutdown.cancel();
    consumer.await??;
    finished.map_err(|_| {
        format!(
            "consumer handled only {} of {n}",
            counter.handled.load(Ordering::Relaxed)
        )
    })?;
    Ok(elapsed)
}

// ---------------------------------------------------------------- output

fn print_table(report: &Report) {
    let rows = [
        (
            "publish + consume at once",
            report.raw.both,
            report.ours.both,
        ),
        (
            "publish only (confirmed)",
            report.raw.publish_only,
            report.ours.publish_only,
        ),
        (
            "consume only (manual ack)",
            report.raw.consume_only,
            report.ours.consume_only,
        ),
    ];
    println!(
        "\nqueue benchmark: {} jobs x {} rounds (median), quorum queue, persistent, confirms, manual acks",
        report.n,
        report.rounds.len()
    );
    println!(
        "{:<28} {:>12} {:>12} {:>7}",
        "phase", "raw jobs/s", "ours jobs/s", "ratio"
    );
    for (name, raw, ours) in rows {
        println!(
            "{:<28} {:>12.0} {:>12.0} {:>7.2}",
            name,
            raw,
            ours,
            ours / raw
        );
    }
}

fn write_json(report: &Report) -> std::io::Result<PathBuf> {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    let dir = target.join("bench");
    std::fs::create_dir_all(&dir)?;
    let rates = |r: &Rates| {
        serde_json::json!({
            "both_jobs_per_s": r.both,
            "publish_only_jobs_per_s": r.publish_only,
            "consume_only_jobs_per_s": r.consume_only,
        })
    };
    let json = serde_json::json!({
        "benchmark": "queue",
        "n": report.n,
        "window": WINDOW,
        "batch": BATCH,
        "prefetch": PREFETCH,
        "statistic": "median over rounds",
        "raw": rates(&report.raw),
        "ours": rates(&report.ours),
        "rounds": report.rounds.iter().map(|(raw, ours)| serde_json::json!({
            "raw": rates(raw),
            "ours": rates(ours),
        })).collect::<Vec<_>>(),
        "ratio_both": report.ours.both / report.raw.both,
        "ratio_publish_only": report.ours.publish_only / report.raw.publish_only,
        "ratio_consume_only": report.ours.consume_only / report.raw.consume_only,
    });
    let path = dir.join("queue.json");
    std::fs::write(&path, serde_json::to_vec_pretty(&json).unwrap_or_default())?;
    Ok(path)
}
