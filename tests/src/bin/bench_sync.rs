//! `make bench` (sync part): records/s of a 20,000-record HubSpot → Jobber sync against the sandbox with
//! worker peak RSS, the same sync with OpenTelemetry tracing on (every span sampled, exported over
//! OTLP/HTTP to an in-process receiver) beside it with the overhead, and how one sync scales with
//! 1, 2 and 4 worker processes when the sandbox adds latency.
//! Prints a table and writes `target/bench/sync.json`. `BENCH_TRACING=0` skips the traced run.

use std::time::{Duration, Instant};

use fluxcascade_tests::otlp::OtlpReceiver;
use fluxcascade_tests::{Options, TestEnv};
use serde_json::{json, Value};

fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// One full sync of `records` contacts with `workers` worker processes; returns (records/s, peak RSS MiB, sync).
/// With `traces`, every process exports every span to it.
async fn run(
    label: &str,
    records: u64,
    workers: usize,
    concurrency: &str,
    latency_ms: u64,
    traces: Option<&OtlpReceiver>,
) -> anyhow::Result<(f64, f64, Value)> {
    let options = Options {
        env: traces.map(OtlpReceiver::env).unwrap_or_default(),
        ..Options::default()
    };
    let mut env = TestEnv::start_with(label, 0, options).await?;
    for _ in 0..workers {
        env.add_worker(&[
            ("FLUXCASCADE_WORKER_CONCURRENCY", concurrency),
            ("RUST_LOG", "warn"),
        ])
        .await?;
    }
    env.seed("hubspot", "contacts", records).await?;
    let hubspot = env.connect("hubspot").await?;
    let jobber = env.connect("jobber").await?;
    let mapping = env.contacts_to_clients(&hubspot, &jobber).await?;
    env.sandbox_config(json!({"latencyMs": latency_ms})).await?;
    let started = Instant::now();
    let sync_id = env.trigger_sync(&mapping, "full").await?;
    let done = env.wait_sync(&sync_id, Duration::from_secs(1800)).await?;
    let secs = started.elapsed().as_secs_f64();
    anyhow::ensure!(done["status"] == "completed", "bench sync ended {done}");
    let rss = env
        .workers
        .iter()
        .filter_map(|w| w.pid().and_then(peak_rss_kib))
        .max()
        .unwrap_or(0) as f64
        / 1024.0;
    Ok((records as f64 / secs, rss, done))
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let records: u64 = std::env::var("BENCH_RECORDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let scale_records: u64 = std::env::var("BENCH_SCALE_RECORDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(8_000);
    let scale_concurrency = std::env::var("BENCH_SCALE_CONCURRENCY").unwrap_or_else(|_| "1".into());

    let (throughput, rss, _) = run("bench-throughput", records, 2, "8", 0, None).await?;
    let traced = if std::env::var("BENCH_TRACING").as_deref() == Ok("0") {
        None
    } else {
        let receiver = OtlpReceiver::start(false).await?;
        let (rps, _, _) = run("bench-traced", records, 2, "8", 0, Some(&receiver)).await?;
        // The last batches are exported within the 100 ms schedule delay.
        tokio::time::sleep(Duration::from_secs(2)).await;
        Some((rps, receiver.count()))
    };
    let mut scaling = Vec::new();
    for workers in [1usize, 2, 4] {
        let (rps, _, _) = run(
            &format!("bench-scale-{workers}"),
            scale_records,
            workers,
            &scale_concurrency,
            50,
            None,
        )
        .await?;
        scaling.push((workers, rps));
    }
    let base = scaling[0].1;
    println!();
    println!("| benchmark | value | target |");
    println!("|---|---|---|");
    println!("| HubSpot → Jobber sync, {records} records, 2 workers | {throughput:.0} records/s | ≥ 2,000 |");
    if let Some((rps, spans)) = traced {
        let overhead = (throughput - rps) / throughput * 100.0;
        println!(
            "| same sync, tracing on (100 % sampled, {spans} spans to an in-process OTLP receiver) | {rps:.0} records/s (overhead {overhead:.1} % vs {throughput:.0} off) | ≤ 10 % |"
        );
    }
    println!("| worker peak RSS | {rss:.1} MiB | ≤ 100 MiB |");
    for (w, rps) in &scaling {
        println!(
            "| latency 50 ms, {scale_records} records, {w} worker(s) × concurrency {scale_concurrency} | {rps:.0} records/s ({:.2}×) | 4 workers ≥ 3.5× |",
            rps / base
        );
    }
    let out = json!({
        "sync": {"records": records, "workers": 2, "records_per_second": throughput, "worker_peak_rss_mib": rss},
        "tracing": traced.map(|(rps, spans)| json!({"records_per_second_off": throughput,
            "records_per_second_on": rps, "overhead_percent": (throughput - rps) / throughput * 100.0,
            "sampling": 1.0, "spans_exported": spans})),
        "scaling": scaling.iter().map(|(w, r)| json!({"workers": w, "records_per_second": r, "speedup": r / base,
            "latency_ms": 50, "records": scale_records, "concurrency": scale_concurrency})).collect::<Vec<_>>(),
    });
    fluxcascade_tests::write_bench_json("sync", &out)?;
    Ok(())
}
