//! `make bench` (scheduler part): 100,000 enabled schedules in 50 time zones — 10,000 due every
//! minute, the rest hourly or daily — fired by 2 real `fluxcascade scheduler` replicas over
//! `BENCH_SCHEDULER_MINUTES` minutes of fire times (default 5). Measures firing, not syncs: no
//! workers run; a stand-in marks the pending scheduled runs completed at second 30 of each minute
//! (so the next minute's fires start runs instead of being skipped), and the queue is deleted with
//! the environment at the end. Reports fire lag (recorded − scheduled) p50/p99, doubled and missed
//! fire times against the times `core::schedule` computes, and the replicas' CPU per tick from
//! `/proc/<pid>/stat`. Prints a table and writes `target/bench/scheduler.json`.
//!
//! The org and its connections are made through the API; the 100,000 mappings are copies of one
//! API-created mapping inserted with SQL (due at once, like a mapping just created or changed), so
//! the first ticks also show the cost of computing every schedule's next fire time once.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use fluxcascade_core::schedule::next_fire;
use fluxcascade_tests::TestEnv;
use serde_json::json;
use uuid::Uuid;

const ZONES: [&str; 50] = [
    "UTC",
    "Europe/London",
    "Europe/Paris",
    "Europe/Berlin",
    "Europe/Madrid",
    "Europe/Rome",
    "Europe/Amsterdam",
    "Europe/Stockholm",
    "Europe/Warsaw",
    "Europe/Athens",
    "Europe/Helsinki",
    "Europe/Istanbul",
    "Europe/Moscow",
    "Europe/Lisbon",
    "Europe/Dublin",
    "Africa/Cairo",
    "Africa/Lagos",
    "Africa/Johannesburg",
    "Africa/Nairobi",
    "Asia/Dubai",
    "Asia/Tehran",
    "Asia/Karachi",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "Asia/Dhaka",
    "Asia/Yangon",
    "Asia/Bangkok",
    "Asia/Singapore",
    "Asia/Shanghai",
    "Asia/Hong_Kong",
    "Asia/Tokyo",
    "Asia/Seoul",
    "Australia/Perth",
    "Australia/Adelaide",
    "Australia/Sydney",
    "Australia/Lord_Howe",
    "Pacific/Auckland",
    "Pacific/Chatham",
    "Pacific/Honolulu",
    "Pacific/Kiritimati",
    "America/Anchorage",
    "America/Los_Angeles",
    "America/Denver",
    "America/Phoenix",
    "America/Chicago",
    "America/New_York",
    "America/Halifax",
    "America/St_Johns",
    "America/Sao_Paulo",
    "America/Argentina/Buenos_Aires",
];

const REPLICAS: usize = 2;

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Schedule `i`: the first `every_minute` fire each minute, the others alternate hourly (at
/// minute `i % 60`) and daily (at `i % 60` past hour `(i / 60) % 24`), in zone `i % 50`.
fn schedule(i: usize, every_minute: usize) -> (String, &'static str) {
    let cron = if i < every_minute {
        "* * * * *".to_string()
    } else if i % 2 == 1 {
        format!("{} * * * *", i % 60)
    } else {
        format!("{} {} * * *", i % 60, (i / 60) % 24)
    };
    (cron, ZONES[i % ZONES.len()])
}

/// A process's user + system CPU time (`/proc/<pid>/stat` fields 14 and 15).
fn cpu_seconds(pid: u32) -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the command name, which is in parentheses and may contain spaces.
    let rest = stat.rsplit_once(')').context("malformed stat")?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = f[11].parse::<u64>()? + f[12].parse::<u64>()?;
    // SAFETY-free: sysconf is a plain libc query without pointers.
    #[allow(unsafe_code)]
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    Ok(ticks as f64 / hz)
}

async fn sleep_until(t: DateTime<Utc>) {
    if let Ok(d) = (t - Utc::now()).to_std() {
        tokio::time::sleep(d).await;
    }
}

/// A fire time of a mapping.
type FireKey = (Uuid, DateTime<Utc>);

/// Every fire time of every schedule in `[from, to)`, as `core::schedule` computes them.
fn expected_fires(
    specs: &[(Uuid, String, &'static str)],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> anyhow::Result<HashSet<FireKey>> {
    let mut out = HashSet::new();
    for (id, cron, tz) in specs {
        let mut t = next_fire(cron, tz, from - TimeDelta::seconds(1))?;
        while t < to {
            out.insert((*id, t));
            t = next_fire(cron, tz, t)?;
        }
    }
    Ok(out)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let total = env_num("BENCH_SCHEDULER_SCHEDULES", 100_000) as usize;
    let every_minute = (env_num("BENCH_SCHEDULER_EVERY_MINUTE", 10_000) as usize).min(total);
    let minutes = env_num("BENCH_SCHEDULER_MINUTES", 5).max(1) as i64;

    let env = TestEnv::start("bench-scheduler", 0).await?;
    let hubspot = env.connect("hubspot").await?;
    let jobber = env.connect("jobber").await?;
    let template: Uuid = env.contacts_to_clients(&hubspot, &jobber).await?.parse()?;
    let db = env.db().await?;

    // 1. The schedules: copies of the API-made mapping, each with its own cron and zone.
    let started = Instant::now();
    let specs: Vec<(Uuid, String, &'static str)> = (0..total)
        .map(|i| {
            let (cron, tz) = schedule(i, every_minute);
            (Uuid::now_v7(), cron, tz)
        })
        .collect();
    for chunk in specs.chunks(10_000) {
        let ids: Vec<Uuid> = chunk.iter().map(|s| s.0).collect();
        let crons: Vec<&str> = chunk.iter().map(|s| s.1.as_str()).collect();
        let zones: Vec<&str> = chunk.iter().map(|s| s.2).collect();
        db.execute(
            "INSERT INTO mappings (id, org_id, name, source_connection_id, target_connection_id, spec,
                 enabled, next_fire_at)
             SELECT u.id, t.org_id, 'bench ' || u.cron || ' ' || u.tz, t.source_connection_id,
                 t.target_connection_id,
                 jsonb_set(t.spec, '{schedule}', jsonb_build_object('cron', u.cron, 'timezone', u.tz)),
                 true, now()
             FROM unnest($1::uuid[], $2::text[], $3::text[]) AS u(id, cron, tz), mappings t
             WHERE t.id = $4",
            &[&ids, &crons, &zones, &template],
        )
        .await?;
    }
    db.batch_execute("ANALYZE mappings").await?;
    let inserted = started.elapsed();
    let plan: Vec<String> = db
        .query(
            "EXPLAIN SELECT m.id FROM mappings m
             WHERE m.next_fire_at <= now() AND m.enabled AND m.deleted_at IS NULL
             ORDER BY m.next_fire_at LIMIT 500 FOR NO KEY UPDATE OF m SKIP LOCKED",
            &[],
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let plan_uses_index = plan.iter().any(|l| l.contains("mappings_next_fire"));
    println!(
        "inserted {total} schedules in {:.1} s; claim plan: {}",
        inserted.as_secs_f64(),
        plan.join(" / ")
    );

    // 2. Two replicas; wait until their first ticks have computed every schedule's next fire time.
    let log = std::env::var("BENCH_SCHEDULER_LOG").unwrap_or_else(|_| "warn".into());
    let mut replicas = Vec::new();
    for r in 0..REPLICAS {
        replicas.push(
            env.start_scheduler(&format!("scheduler-{r}"), &[("RUST_LOG", &log)])
                .await?,
        );
    }
    let created: DateTime<Utc> = db
        .query_one("SELECT max(created_at) FROM mappings", &[])
        .await?
        .get(0);
    let sweep_started = Instant::now();
    loop {
        let left: i64 = db
            .query_one(
                "SELECT count(*) FROM mappings WHERE next_fire_at <= $1",
                &[&created],
            )
            .await?
            .get(0);
        if left == 0 {
            break;
        }
        anyhow::ensure!(
            sweep_started.elapsed() < Duration::from_secs(600),
            "{left} schedules still not looked at after 10 minutes"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let first_sweep = sweep_started.elapsed();
    println!(
        "first sweep (next fire time of {total} schedules): {:.1} s",
        first_sweep.as_secs_f64()
    );

    // 3. The stand-in for workers: at second 30 of each minute the pending scheduled runs end.
    let finisher_db = env.db().await?;
    let finisher = tokio::spawn(async move {
        loop {
            let now = Utc::now();
            let next =
                now.duration_trunc(TimeDelta::minutes(1)).unwrap_or(now) + TimeDelta::seconds(30);
            let next = if next <= now {
                next + TimeDelta::minutes(1)
            } else {
                next
            };
            sleep_until(next).await;
            let _ = finisher_db
                .execute(
                    "UPDATE sync_runs SET status = 'completed', started_at = now(), finished_at = now()
                     WHERE status = 'pending' AND trigger = 'schedule'",
                    &[],
                )
                .await;
        }
    });

    // 4. The measured window: whole minutes of fire times, starting at the next minute boundary
    // at least 5 s away.
    let now = Utc::now();
    let mut w0 = now.duration_trunc(TimeDelta::minutes(1))? + TimeDelta::minutes(1);
    if w0 - now < TimeDelta::seconds(5) {
        w0 += TimeDelta::minutes(1);
    }
    let w1 = w0 + TimeDelta::minutes(minutes);
    println!("measuring fire times in [{w0}, {w1})");
    sleep_until(w0 - TimeDelta::milliseconds(500)).await;
    let pids: Vec<u32> = replicas
        .iter()
        .map(|(p, _)| p.pid().context("scheduler exited"))
        .collect::<anyhow::Result<_>>()?;
    let cpu0: Vec<f64> = pids
        .iter()
        .map(|p| cpu_seconds(*p))
        .collect::<anyhow::Result<_>>()?;
    sleep_until(w1 - TimeDelta::milliseconds(500)).await;
    let cpu1: Vec<f64> = pids
        .iter()
        .map(|p| cpu_seconds(*p))
        .collect::<anyhow::Result<_>>()?;
    // Late fires of the last minute still count (and show as lag), so wait a little more.
    sleep_until(w1 + TimeDelta::seconds(10)).await;
    finisher.abort();

    // 5. What was recorded, against what should have been.
    let rows = db
        .query(
            "SELECT mapping_id, fire_at, status, recorded_at FROM schedule_fires
             WHERE fire_at >= $1 AND fire_at < $2",
            &[&w0, &w1],
        )
        .await?;
    let expected = expected_fires(&specs, w0, w1)?;
    let mut recorded: HashMap<FireKey, (String, Option<DateTime<Utc>>)> = HashMap::new();
    let mut doubled = 0u64;
    for r in &rows {
        if recorded
            .insert((r.get(0), r.get(1)), (r.get(2), r.get(3)))
            .is_some()
        {
            doubled += 1;
        }
    }
    let missed = expected
        .iter()
        .filter(|k| !matches!(recorded.get(k), Some((s, _)) if s == "fired" || s == "skipped"))
        .count();
    let unexpected = recorded.keys().filter(|k| !expected.contains(k)).count();
    let fired = recorded.values().filter(|(s, _)| s == "fired").count();
    let skipped = recorded.values().filter(|(s, _)| s == "skipped").count();
    let mut lags: Vec<f64> = recorded
        .iter()
        .filter_map(|((_, at), (_, rec))| rec.map(|r| (r - *at).num_microseconds().unwrap_or(0)))
        .map(|us| us as f64 / 1e6)
        .collect();
    lags.sort_by(f64::total_cmp);
    let (p50, p99, max) = (
        percentile(&lags, 0.5),
        percentile(&lags, 0.99),
        lags.last().copied().unwrap_or(f64::NAN),
    );
    // Doubled runs or jobs, over the whole run: one run and one published job per fired fire time.
    let fired_all: i64 = db
        .query_one(
            "SELECT count(*) FROM schedule_fires WHERE status = 'fired'",
            &[],
        )
        .await?
        .get(0);
    let runs_all: i64 = db
        .query_one(
            "SELECT count(*) FROM sync_runs WHERE trigger = 'schedule'",
            &[],
        )
        .await?
        .get(0);
    let mut published = 0.0;
    for (_, health) in &replicas {
        let text = env.metrics(health).await?;
        published += text
            .lines()
            .find_map(|l| l.strip_prefix("fluxcascade_scheduler_lag_seconds_count "))
            .and_then(|v| v.trim().parse::<f64>().ok())
            .unwrap_or(0.0);
    }
    let doubled_runs = (runs_all - fired_all).max(0) as u64;
    let doubled_jobs = (published as i64 - fired_all).max(0) as u64;
    let ticks = (minutes * 60) as f64;
    let cpu: Vec<f64> = cpu0.iter().zip(&cpu1).map(|(a, b)| b - a).collect();
    let cpu_ms_per_tick: Vec<f64> = cpu.iter().map(|c| c * 1000.0 / ticks).collect();
    let fires_per_minute = expected.len() as f64 / minutes as f64;
    for (p, _) in &mut replicas {
        p.stop();
    }

    println!();
    println!("| scheduler scale: {total} schedules, {} zones, {every_minute} every minute, {REPLICAS} replicas, {minutes} min | value | target |", ZONES.len());
    println!("|---|---|---|");
    println!(
        "| fire times due in the window | {} ({fires_per_minute:.0}/min; {fired} fired, {skipped} skipped) | |",
        expected.len()
    );
    println!("| fire lag (recorded − scheduled) p50 / p99 / max | {p50:.3} s / {p99:.3} s / {max:.3} s | p99 ≤ 1 s |");
    println!(
        "| doubled (fire rows / runs / published jobs) | {doubled} / {doubled_runs} / {doubled_jobs} | 0 |"
    );
    println!("| missed | {missed} (unexpected fire times: {unexpected}) | 0 |");
    for (r, (c, t)) in cpu.iter().zip(&cpu_ms_per_tick).enumerate() {
        println!(
            "| scheduler-{r} CPU | {c:.2} s in {ticks:.0} ticks = {t:.1} ms/tick ({:.1} % of a core) | |",
            c * 100.0 / ticks
        );
    }
    println!(
        "| first sweep: next fire time of every schedule, once | {:.1} s | |",
        first_sweep.as_secs_f64()
    );
    println!("| claim query uses the next_fire_at index | {plan_uses_index} | true |");

    let out = json!({
        "schedules": total, "zones": ZONES.len(), "every_minute": every_minute, "replicas": REPLICAS,
        "minutes": minutes, "window": {"from": w0, "to": w1},
        "fire_times": expected.len(), "fired": fired, "skipped": skipped,
        "lag_seconds": {"p50": p50, "p99": p99, "max": max},
        "doubled": {"fire_rows": doubled, "runs": doubled_runs, "jobs": doubled_jobs},
        "missed": missed, "unexpected": unexpected,
        "cpu_seconds": cpu, "cpu_ms_per_tick": cpu_ms_per_tick,
        "first_sweep_seconds": first_sweep.as_secs_f64(),
        "insert_seconds": inserted.as_secs_f64(),
        "claim_plan": plan, "claim_plan_uses_index": plan_uses_index,
    });
    fluxcascade_tests::write_bench_json("scheduler", &out)?;
    // Dropping the environment deletes its database and its queues (the published jobs with them).
    drop(db);
    drop(env);
    Ok(())
}
