//! The shared request budget end to end: with the sandbox enforcing HubSpot's documented limit
//! for OAuth apps (100 requests per rolling 10 s, 5 searches/s), two workers running two syncs of
//! 5,000 contacts within one portal at once stay under it together: no record fails and fewer
//! than 5% of requests are answered 429 (without the shared budget about a third are).

use std::time::Duration;

use fluxcascade_tests::TestEnv;
use serde_json::{json, Value};

const N: u64 = 5_000;

/// `(all, rate limited)` HubSpot data-API requests the sandbox answered (OAuth excluded).
fn hubspot_requests(stats: &Value) -> (u64, u64) {
    let mut all = 0;
    let mut limited = 0;
    for r in stats["requests"].as_array().into_iter().flatten() {
        let endpoint = r["endpoint"].as_str().unwrap_or_default();
        if r["provider"] != "hubspot" || endpoint.contains("/oauth/") {
            continue;
        }
        let n = r["count"].as_u64().unwrap_or(0);
        all += n;
        if r["status"] == 429 {
            limited += n;
        }
    }
    (all, limited)
}

#[tokio::test]
async fn two_workers_share_one_portals_limit_and_stay_under_it() {
    let mut env = TestEnv::start("rate_budget", 0).await.expect("env");
    // The sandbox's defaults are HubSpot's documented limits; TestEnv turned them off.
    let cfg = env
        .sandbox_config(json!({"rateLimits": {"enabled": true}}))
        .await
        .unwrap();
    assert_eq!(cfg["rateLimits"]["hubspot"]["tenSecondly"], 100, "{cfg}");
    env.seed("hubspot", "contacts", N).await.unwrap();
    let hubspot = env.connect("hubspot").await.unwrap();
    for _ in 0..2 {
        env.add_worker(&[("FLUXCASCADE_RATE_BUDGET", "documented")])
            .await
            .unwrap();
    }
    // A company and a deal per contact, in the same portal, synced at the same time: every
    // read and write of both runs draws on the portal's one budget.
    let mut mappings = Vec::new();
    for (object, name_field) in [("companies", "name"), ("deals", "dealname")] {
        let m = env
            .create_mapping(json!({
                "name": format!("contacts to {object}"),
                "source": {"connectionId": hubspot, "object": "contacts"},
                "target": {"connectionId": hubspot, "object": object},
                "fieldPairs": [
                    {"sourceFields": ["firstname", "lastname"], "targetField": name_field,
                     "transform": "concatenate", "transformOptions": {"separator": " "}},
                    {"sourceField": "email", "targetField": "description"}
                ]
            }))
            .await
            .unwrap();
        mappings.push(m);
    }
    // Two rounds: the first creates everything, a full re-run reads everything again and
    // checks every linked record.
    for (round, created) in [(1, N), (2, 0)] {
        let mut runs = Vec::new();
        for m in &mappings {
            runs.push(env.trigger_sync(m, "full").await.unwrap());
        }
        for run in runs {
            let done = env.wait_sync(&run, Duration::from_secs(600)).await.unwrap();
            assert_eq!(done["status"], "completed", "round {round}: {done}");
            assert_eq!(done["counts"]["created"], created, "round {round}: {done}");
            assert_eq!(done["counts"]["failed"], 0, "round {round}: {done}");
        }
    }

    let stats = env.sandbox_stats().await.unwrap();
    let (all, limited) = hubspot_requests(&stats);
    eprintln!("hubspot requests: {all}, answered 429: {limited}");
    assert!(
        all > 100,
        "the runs needed more than one window's worth of requests ({all})"
    );
    // The bar is 5%; pacing by the shared window should leave next to none (without
    // the budget this scenario measured 8 of 308, each costing a 10 s stall).
    assert!(
        (limited as f64) < 0.01 * all as f64,
        "{limited} of {all} HubSpot requests were answered 429"
    );
    for object in ["companies", "deals"] {
        let records = env.sandbox_records("hubspot", object).await.unwrap();
        assert_eq!(records.len(), N as usize, "{object}");
    }
}
