//! OAuth lifecycle end to end: connecting each provider through `/v1/oauth/{provider}/authorize`
//! and `/callback`, several accounts of one provider side by side, tokens that live 5 seconds
//! through a sync of over a minute, Jobber's rotating refresh tokens across worker restarts, and
//! a revoked refresh token expiring only its own connection.

use std::time::{Duration, Instant};

use anyhow::Context;
use fluxcascade_tests::{redirect_target, TestEnv};
use reqwest::Method;
use serde_json::{json, Value};
use uuid::Uuid;

/// Requests the sandbox answered for `provider` on `endpoint` (any status when `status` is None).
fn requests(stats: &Value, provider: &str, endpoint: &str, status: Option<u64>) -> u64 {
    stats["requests"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| r["provider"] == provider && r["endpoint"] == endpoint)
        .filter(|r| status.is_none_or(|s| r["status"] == s))
        .map(|r| r["count"].as_u64().unwrap_or(0))
        .sum()
}

#[tokio::test]
async fn each_provider_connects_through_oauth_and_accounts_sit_side_by_side() {
    let env = TestEnv::start("oauth_connect", 0).await.expect("env");

    let alpha = env
        .connect_account("hubspot", Some("alpha"))
        .await
        .expect("alpha");
    let beta = env
        .connect_account("hubspot", Some("beta"))
        .await
        .expect("beta");
    assert_eq!(alpha["status"], "active", "{alpha}");
    assert_eq!(alpha["accountName"], "hubspot alpha");
    let (pa, pb) = (
        alpha["externalAccountId"].as_str().unwrap_or_default(),
        beta["externalAccountId"].as_str().unwrap_or_default(),
    );
    assert!(
        !pa.is_empty() && !pb.is_empty() && pa != pb,
        "two portals: {alpha} {beta}"
    );

    for provider in ["jobber", "pipedrive", "salesforce"] {
        let conn = env
            .connect_account(provider, None)
            .await
            .unwrap_or_else(|e| panic!("{provider}: {e:#}"));
        assert_eq!(conn["provider"], provider);
        assert_eq!(conn["status"], "active", "{conn}");
        if provider != "pipedrive" {
            assert!(
                !conn["externalAccountId"]
                    .as_str()
                    .unwrap_or_default()
                    .is_empty(),
                "{provider} connection knows its account: {conn}"
            );
        }
    }
    let salesforce = env
        .api_ok(Method::GET, "/v1/connections", None)
        .await
        .unwrap();
    let orgs: Vec<&str> = salesforce["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["provider"] == "salesforce")
        .filter_map(|c| c["externalAccountId"].as_str())
        .collect();
    assert!(orgs.iter().all(|o| o.starts_with("00D")), "{orgs:?}");

    // A state is single use: replaying the provider's redirect is refused.
    let started: Value = env
        .http
        .get(format!("{}/v1/oauth/hubspot/authorize", env.api_url))
        .header("accept", "application/json")
        .bearer_auth(&env.api_key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let consent = started["authorizeUrl"].as_str().expect("authorizeUrl");
    let resp = env.http.get(consent).send().await.unwrap();
    let callback = redirect_target(&resp, "consent").unwrap();
    assert_eq!(env.http.get(&callback).send().await.unwrap().status(), 201);
    let again = env.http.get(&callback).send().await.unwrap();
    assert_eq!(again.status(), 400);
    let body: Value = again.json().await.unwrap();
    assert_eq!(body["error"]["code"], "invalid_state", "{body}");

    // Forged state, no API key, unknown provider.
    let forged = env
        .http
        .get(format!(
            "{}/v1/oauth/hubspot/callback?code=x&state=forged",
            env.api_url
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 400);
    let anonymous = env
        .http
        .get(format!("{}/v1/oauth/hubspot/authorize", env.api_url))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    let (status, _) = env
        .api(Method::GET, "/v1/oauth/zoho/authorize", None)
        .await
        .unwrap();
    assert_eq!(status, 404);
}

/// The current refresh token of a connection, read the way the worker reads it.
async fn refresh_token(env: &TestEnv, connection_id: &str) -> anyhow::Result<String> {
    let store = fluxcascade_store::Store::connect(&env.db_url, 2)?;
    let key = fluxcascade_store::MasterKey::from_base64(&env.master_key)?;
    let id = Uuid::parse_str(connection_id)?;
    let org: Uuid = env
        .db()
        .await?
        .query_one("SELECT org_id FROM connections WHERE id = $1", &[&id])
        .await?
        .get(0);
    let creds = store.load_credentials(org, id, &key).await?;
    creds.refresh_token.context("no refresh token")
}

#[tokio::test]
async fn five_second_tokens_last_a_sync_of_over_a_minute_and_rotation_survives_restarts() {
    const N: u64 = 2_000;
    let mut env = TestEnv::start("oauth_ttl", 0).await.expect("env");
    env.sandbox_config(json!({"tokenTtlSeconds": 5}))
        .await
        .unwrap();
    env.seed("hubspot", "contacts", N).await.unwrap();
    let hubspot = env.connect("hubspot").await.unwrap();
    let jobber = env.connect("jobber").await.unwrap();
    let first_jobber_refresh = refresh_token(&env, &jobber).await.unwrap();
    let mapping = env.contacts_to_clients(&hubspot, &jobber).await.unwrap();
    // One job at a time, every request 400 ms late: the sync outlives a dozen token lifetimes.
    env.sandbox_config(json!({"latencyMs": 400})).await.unwrap();
    env.add_worker(&[("FLUXCASCADE_WORKER_CONCURRENCY", "1")])
        .await
        .unwrap();

    let started = Instant::now();
    let sync = env.trigger_sync(&mapping, "full").await.unwrap();
    let done = env
        .wait_sync(&sync, Duration::from_secs(600))
        .await
        .unwrap();
    let took = started.elapsed();
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["counts"]["created"], N, "{done}");
    assert_eq!(
        done["counts"]["failed"], 0,
        "no record failed for auth: {done}"
    );
    assert!(took > Duration::from_secs(60), "the sync took {took:?}");

    let stats = env.sandbox_stats().await.unwrap();
    let hubspot_refreshes = requests(&stats, "hubspot", "POST /oauth/v1/token", Some(200));
    let jobber_refreshes = requests(&stats, "jobber", "POST /api/oauth/token", Some(200));
    // The code exchange is one of them. HubSpot is read in the first seconds of the run (a
    // few refreshes); Jobber is written to all the way through: a 5 s token over more than a
    // minute needs a dozen refreshes.
    assert!(
        hubspot_refreshes >= 3,
        "hubspot token grants: {hubspot_refreshes}"
    );
    assert!(
        jobber_refreshes >= 12,
        "jobber token grants: {jobber_refreshes}"
    );
    let clients = env.sandbox_records("jobber", "clients").await.unwrap();
    assert_eq!(clients.len(), N as usize);

    // Jobber rotated the refresh token: the one issued at connect time is dead now.
    let current = refresh_token(&env, &jobber).await.unwrap();
    assert_ne!(
        current, first_jobber_refresh,
        "the stored refresh token rotated"
    );
    let replay = env
        .http
        .post(format!("{}/jobber/api/oauth/token", env.sandbox_url))
        .form(&[
            ("grant_type", "refresh_token"),
            ("client_id", "sandbox-client"),
            ("client_secret", "sandbox-secret"),
            ("refresh_token", first_jobber_refresh.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(
        replay.status(),
        400,
        "a reused Jobber refresh token is rejected"
    );
    let body: Value = replay.json().await.unwrap();
    assert_eq!(body["error"], "invalid_grant", "{body}");

    // New worker processes start from the stored (rotated) token and keep working.
    env.sandbox_config(json!({"latencyMs": 0})).await.unwrap();
    for w in env.workers.iter_mut() {
        w.stop();
    }
    env.workers.clear();
    env.add_worker(&[]).await.unwrap();
    tokio::time::sleep(Duration::from_secs(6)).await; // every cached access token has expired
    for i in 0..3 {
        let id = clients_source_id(&env, i).await;
        env.http
            .patch(format!(
                "{}/_sandbox/hubspot/contacts/{id}",
                env.sandbox_url
            ))
            .json(&json!({"properties": {"firstname": format!("Rotated{i}")}}))
            .send()
            .await
            .unwrap()
            .error_for_status()
            .unwrap();
    }
    let sync = env.trigger_sync(&mapping, "incremental").await.unwrap();
    let done = env
        .wait_sync(&sync, Duration::from_secs(120))
        .await
        .unwrap();
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["counts"]["updated"], 3, "{done}");
    let conn = env
        .api_ok(Method::GET, &format!("/v1/connections/{jobber}"), None)
        .await
        .unwrap();
    assert_eq!(conn["status"], "active", "{conn}");
}

/// The id of the `i`-th HubSpot contact in the sandbox.
async fn clients_source_id(env: &TestEnv, i: usize) -> String {
    let contacts = env.sandbox_records("hubspot", "contacts").await.unwrap();
    contacts[i]["id"].as_str().expect("contact id").to_owned()
}

#[tokio::test]
async fn a_revoked_refresh_token_expires_its_connection_and_fails_only_its_syncs() {
    let env = TestEnv::start("oauth_revoke", 1).await.expect("env");
    env.sandbox_config(json!({"tokenTtlSeconds": 5}))
        .await
        .unwrap();
    env.seed_account("hubspot", "contacts", "alpha", 20)
        .await
        .unwrap();
    env.seed_account("hubspot", "contacts", "beta", 20)
        .await
        .unwrap();
    let alpha = env.connect_account("hubspot", Some("alpha")).await.unwrap();
    let beta = env.connect_account("hubspot", Some("beta")).await.unwrap();
    let jobber = env.connect("jobber").await.unwrap();
    let alpha_id = alpha["id"].as_str().unwrap().to_owned();
    let beta_id = beta["id"].as_str().unwrap().to_owned();
    let alpha_map = env.contacts_to_clients(&alpha_id, &jobber).await.unwrap();
    let beta_map = env.contacts_to_clients(&beta_id, &jobber).await.unwrap();

    // The user uninstalls the app from portal alpha: its refresh (and access) tokens die.
    let revoked: Value = env
        .http
        .post(format!(
            "{}/_sandbox/oauth/hubspot/revoke?account=alpha",
            env.sandbox_url
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(revoked["revokedRefreshTokens"], 1, "{revoked}");
    tokio::time::sleep(Duration::from_secs(6)).await;

    let failed = env.trigger_sync(&alpha_map, "full").await.unwrap();
    let failed = env
        .wait_sync(&failed, Duration::from_secs(120))
        .await
        .unwrap();
    assert_eq!(failed["status"], "failed", "{failed}");
    let message = failed["error"].as_str().unwrap_or_default();
    assert!(
        message.contains("reconnect"),
        "the run says to reconnect: {failed}"
    );
    let conn = env
        .api_ok(Method::GET, &format!("/v1/connections/{alpha_id}"), None)
        .await
        .unwrap();
    assert_eq!(conn["status"], "expired", "{conn}");
    assert!(
        conn["statusMessage"]
            .as_str()
            .unwrap_or_default()
            .contains("reconnect"),
        "{conn}"
    );

    // The other portal's connection is untouched and syncs.
    let ok = env.trigger_sync(&beta_map, "full").await.unwrap();
    let ok = env.wait_sync(&ok, Duration::from_secs(120)).await.unwrap();
    assert_eq!(ok["status"], "completed", "{ok}");
    assert_eq!(ok["counts"]["created"], 20, "{ok}");
    let conn = env
        .api_ok(Method::GET, &format!("/v1/connections/{beta_id}"), None)
        .await
        .unwrap();
    assert_eq!(conn["status"], "active", "{conn}");
    let jobber_conn = env
        .api_ok(Method::GET, &format!("/v1/connections/{jobber}"), None)
        .await
        .unwrap();
    assert_eq!(jobber_conn["status"], "active", "{jobber_conn}");
}
