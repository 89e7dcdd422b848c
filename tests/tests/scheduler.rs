//! End to end: scheduler replicas fire each fire time of a schedule exactly once, and a restarted scheduler runs one catch-up.

use std::time::Duration;

use chrono::{DateTime, Utc};
use fluxcascade_tests::TestEnv;
use reqwest::Method;
use serde_json::json;
use uuid::Uuid;

#[derive(Debug)]
struct Fire {
    fire_at: DateTime<Utc>,
    status: String,
    sync_id: Option<Uuid>,
    reason: Option<String>,
    created_at: DateTime<Utc>,
}

async fn fires(env: &TestEnv, mapping: Uuid) -> anyhow::Result<Vec<Fire>> {
    let db = env.db().await?;
    let rows = db
        .query(
            "SELECT fire_at, status, sync_id, reason, created_at FROM schedule_fires
             WHERE mapping_id = $1 ORDER BY fire_at",
            &[&mapping],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| Fire {
            fire_at: r.get(0),
            status: r.get(1),
            sync_id: r.get(2),
            reason: r.get(3),
            created_at: r.get(4),
        })
        .collect())
}

/// The time the scheduler will next look at the mapping (`mappings.next_fire_at`).
async fn next_fire_at(env: &TestEnv, mapping: Uuid) -> anyhow::Result<Option<DateTime<Utc>>> {
    let db = env.db().await?;
    Ok(db
        .query_one(
            "SELECT next_fire_at FROM mappings WHERE id = $1",
            &[&mapping],
        )
        .await?
        .get(0))
}

async fn set_schedule(env: &TestEnv, mapping: Uuid, cron: Option<&str>) -> anyhow::Result<()> {
    let schedule = cron.map(|c| json!({"cron": c, "timezone": "UTC"}));
    env.api_ok(
        Method::PATCH,
        &format!("/v1/mappings/{mapping}"),
        Some(json!({ "schedule": schedule })),
    )
    .await?;
    Ok(())
}

/// The `fluxcascade_scheduler_lag_seconds` sum and count a scheduler reports.
async fn lag_metric(env: &TestEnv, health: &str) -> anyhow::Result<(f64, f64)> {
    let text = env.metrics(health).await?;
    let value = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    Ok((
        value("fluxcascade_scheduler_lag_seconds_sum "),
        value("fluxcascade_scheduler_lag_seconds_count "),
    ))
}

fn assert_spaced(fires: &[Fire], step: i64) {
    for w in fires.windows(2) {
        assert_eq!(
            (w[1].fire_at - w[0].fire_at).num_seconds(),
            step,
            "fire times {} → {}: one missing or extra",
            w[0].fire_at,
            w[1].fire_at
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_fire_each_time_once_and_a_restart_runs_one_catch_up() -> anyhow::Result<()> {
    let env = TestEnv::start("scheduler", 1).await?;
    env.seed("hubspot", "contacts", 5).await?;
    let hubspot = env.connect("hubspot").await?;
    let jobber = env.connect("jobber").await?;
    let mapping: Uuid = env.contacts_to_clients(&hubspot, &jobber).await?.parse()?;

    // 0. A cron that never fires is refused, naming the field; the scheduler never looks at it.
    for body in [
        json!({"schedule": {"cron": "0 0 30 2 *", "timezone": "UTC"}}),
        json!({"schedule": {"cron": "0 0 0 31 4 *", "timezone": "Europe/Paris"}}),
    ] {
        let (status, answer) = env
            .api(
                Method::PATCH,
                &format!("/v1/mappings/{mapping}"),
                Some(body),
            )
            .await?;
        assert_eq!(status, 422, "{answer}");
        assert_eq!(
            answer["error"]["details"][0]["field"], "schedule.cron",
            "{answer}"
        );
    }
    assert_eq!(next_fire_at(&env, mapping).await?, None);

    // 1. Two replicas, a schedule every 2 s for a minute.
    let (mut a, health_a) = env.start_scheduler("scheduler-a", &[]).await?;
    let (mut b, health_b) = env.start_scheduler("scheduler-b", &[]).await?;
    let t0 = Utc::now();
    set_schedule(&env, mapping, Some("*/2 * * * * *")).await?;
    tokio::time::sleep(Duration::from_secs(60)).await;
    let wake = next_fire_at(&env, mapping)
        .await?
        .expect("a scheduled mapping has a wake-up");
    assert!(
        wake > Utc::now() - chrono::Duration::seconds(2)
            && wake <= Utc::now() + chrono::Duration::seconds(2),
        "the wake-up is the coming fire time: {wake}"
    );
    set_schedule(&env, mapping, None).await?;
    assert_eq!(
        next_fire_at(&env, mapping).await?,
        None,
        "no schedule, no wake-up"
    );
    let t1 = Utc::now();
    tokio::time::sleep(Duration::from_millis(1500)).await;

    let part1 = fires(&env, mapping).await?;
    assert!(
        part1.len() >= 29,
        "{} fires in 60 s: {part1:?}",
        part1.len()
    );
    assert!(
        part1[0].fire_at <= t0 + chrono::Duration::seconds(2),
        "{part1:?}"
    );
    assert!(
        part1[part1.len() - 1].fire_at >= t1 - chrono::Duration::seconds(3),
        "{part1:?}"
    );
    assert_spaced(&part1, 2);
    for f in &part1 {
        assert_eq!(
            f.fire_at.timestamp_subsec_micros(),
            0,
            "whole seconds: {f:?}"
        );
    }
    let db = env.db().await?;
    let mut fired = 0;
    for f in &part1 {
        match f.status.as_str() {
            "fired" => {
                fired += 1;
                let sync = f.sync_id.expect("a fired fire has its run");
                let row = db
                    .query_one(
                        "SELECT trigger, mapping_id, created_at FROM sync_runs WHERE id = $1",
                        &[&sync],
                    )
                    .await?;
                assert_eq!(row.get::<_, String>(0), "schedule");
                assert_eq!(row.get::<_, Uuid>(1), mapping);
                let created: DateTime<Utc> = row.get(2);
                assert!(created >= f.fire_at, "run before its fire time: {f:?}");
            }
            "skipped" => assert!(f.reason.is_some(), "{f:?}"),
            other => panic!("fire left {other}: {f:?}"),
        }
    }
    let runs: i64 = db
        .query_one(
            "SELECT count(*) FROM sync_runs WHERE mapping_id = $1 AND trigger = 'schedule'",
            &[&mapping],
        )
        .await?
        .get(0);
    assert_eq!(runs, fired, "one run per fired fire time, none doubled");
    // Runs of 5 records take well under 2 s: nearly every fire starts a run.
    assert!(fired * 4 >= part1.len() as i64 * 3, "{part1:?}");
    let (sa, ca) = lag_metric(&env, &health_a).await?;
    let (sb, cb) = lag_metric(&env, &health_b).await?;
    assert_eq!(
        (ca + cb) as i64,
        fired,
        "each replica observes the lag of its fires"
    );
    println!(
        "part 1: {} fire times, {fired} runs, replica a fired {ca}, b {cb}, mean lag {:.3} s",
        part1.len(),
        (sa + sb) / (ca + cb).max(1.0)
    );
    a.stop();
    b.stop();

    // 2. No scheduler for 30 s, then one restarts just after a fire time: it runs the latest
    // missed fire time once, not one run per missed fire.
    let last_before = part1[part1.len() - 1].fire_at;
    set_schedule(&env, mapping, Some("*/4 * * * * *")).await?;
    tokio::time::sleep(Duration::from_secs(30)).await;
    let now = Utc::now();
    let to_boundary = 4_000 - (now.timestamp_millis().rem_euclid(4_000)) + 150;
    tokio::time::sleep(Duration::from_millis(to_boundary as u64)).await;
    let restart = Utc::now();
    let (mut c, health_c) = env.start_scheduler("scheduler-c", &[]).await?;
    tokio::time::sleep(Duration::from_secs(7)).await;
    set_schedule(&env, mapping, None).await?;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (sc, cc) = lag_metric(&env, &health_c).await?;
    c.stop();

    let part2: Vec<Fire> = fires(&env, mapping)
        .await?
        .into_iter()
        .filter(|f| f.fire_at > last_before)
        .collect();
    let missed = (restart - last_before).num_seconds() / 4;
    assert!(missed >= 7, "the test stopped the scheduler too briefly");
    let catch_up: Vec<&Fire> = part2.iter().filter(|f| f.fire_at < restart).collect();
    assert_eq!(
        catch_up.len(),
        1,
        "one catch-up of {missed} missed: {part2:?}"
    );
    assert!(
        catch_up[0].fire_at >= restart - chrono::Duration::seconds(4),
        "the catch-up is the latest missed fire time: {part2:?}"
    );
    assert!(catch_up[0].created_at >= restart, "{part2:?}");
    assert!(
        part2.len() >= 2,
        "fires continue after the catch-up: {part2:?}"
    );
    assert_spaced(&part2, 4);
    println!(
        "part 2: {missed} missed fire times, 1 catch-up, {} fires since the restart (catch-up included), mean lag {:.3} s",
        part2.len(),
        sc / cc.max(1.0)
    );

    // 3. Replicas racing for one fire time: exactly one claim wins.
    let org: Uuid = db
        .query_one("SELECT org_id FROM mappings WHERE id = $1", &[&mapping])
        .await?
        .get(0);
    let store = fluxcascade_store::Store::connect(&env.db_url, 8)?;
    let at = DateTime::<Utc>::from_timestamp(1_700_000_000, 0).expect("valid time");
    let mut racers = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let store = store.clone();
        racers.spawn(async move { store.claim_fire(org, mapping, at).await });
    }
    let mut won = 0;
    while let Some(r) = racers.join_next().await {
        won += usize::from(r??);
    }
    assert_eq!(won, 1, "exactly one of 8 concurrent claims wins");

    // 4. A fire while the previous run is still going is recorded as skipped, with no run.
    env.sandbox_config(json!({"latencyMs": 3000})).await?;
    let before = fires(&env, mapping).await?.len();
    let (mut d, _) = env.start_scheduler("scheduler-d", &[]).await?;
    set_schedule(&env, mapping, Some("*/2 * * * * *")).await?;
    tokio::time::sleep(Duration::from_secs(9)).await;
    set_schedule(&env, mapping, None).await?;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    d.stop();
    env.sandbox_config(json!({"latencyMs": 0})).await?;
    let all = fires(&env, mapping).await?;
    let skipped: Vec<&Fire> = all
        .iter()
        .filter(|f| f.status == "skipped" && f.fire_at != at)
        .collect();
    assert!(all.len() > before, "{all:?}");
    assert!(!skipped.is_empty(), "slow runs make fires skip: {all:?}");
    for f in &skipped {
        assert!(f.sync_id.is_none() && f.reason.is_some(), "{f:?}");
    }
    let fired = all.iter().filter(|f| f.status == "fired").count() as i64;
    let runs: i64 = db
        .query_one(
            "SELECT count(*) FROM sync_runs WHERE mapping_id = $1 AND trigger = 'schedule'",
            &[&mapping],
        )
        .await?
        .get(0);
    assert_eq!(runs, fired, "skipped fires start no run");
    println!(
        "part 4: {} fires skipped while a run was going",
        skipped.len()
    );
    Ok(())
}
