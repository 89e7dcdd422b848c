//! Manual load check: starts a sandbox and pushes HubSpot batch writes and Jobber mutations
//! through it from several concurrent clients, printing records written per second.
//!
//! `cargo run --release -p fluxcascade-sandbox --example sandbox_load`

use std::time::Instant;

use fluxcascade_sandbox::Sandbox;
use serde_json::{json, Value};

const CLIENTS: usize = 8;
const ROUNDS: usize = 40;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let sb = Sandbox::bind("127.0.0.1:0").await?;
    let base = sb.base_url();
    tokio::spawn(sb.run_until_stopped());
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    http.put(format!("{base}/_sandbox/config"))
        .json(&json!({"rateLimits": {"enabled": false}}))
        .send()
        .await?;
    http.post(format!("{base}/_sandbox/hubspot/contacts/seed"))
        .json(&json!({"count": 20000}))
        .send()
        .await?;
    let token = token(
        &http,
        &base,
        "/hubspot/oauth/authorize",
        "/hubspot/oauth/v1/token",
    )
    .await?;
    let jtoken = token_j(&http, &base).await?;

    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..CLIENTS {
        let (http, base, token) = (http.clone(), base.clone(), token.clone());
        tasks.push(tokio::spawn(async move {
            let mut n = 0usize;
            for r in 0..ROUNDS {
                let inputs: Vec<Value> = (0..100)
                    .map(|i| json!({"properties": {"email": format!("l{c}-{r}-{i}@x.io"), "firstname": "L"}}))
                    .collect();
                let resp = http
                    .post(format!("{base}/hubspot/crm/v3/objects/contacts/batch/create"))
                    .bearer_auth(&token)
                    .json(&json!({"inputs": inputs}))
                    .send()
                    .await;
                if resp.is_ok_and(|r| r.status() == 201) {
                    n += 100;
                }
            }
            n
        }));
    }
    let mut written = 0;
    for t in tasks {
        written += t.await?;
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "hubspot batch/create: {written} records in {secs:.2}s = {:.0}/s",
        written as f64 / secs
    );

    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..CLIENTS {
        let (http, base, token) = (http.clone(), base.clone(), jtoken.clone());
        tasks.push(tokio::spawn(async move {
            let mut n = 0usize;
            for r in 0..ROUNDS * 5 {
                let resp = http
                    .post(format!("{base}/jobber/api/graphql"))
                    .bearer_auth(&token)
                    .header("X-JOBBER-GRAPHQL-VERSION", "2025-01-20")
                    .json(&json!({
                        "query": "mutation($input: ClientCreateInput!) { clientCreate(input: $input) { client { id } userErrors { message } } }",
                        "variables": {"input": {"firstName": format!("J{c}"), "lastName": format!("{r}"), "emails": [{"address": "j@x.io"}]}}
                    }))
                    .send()
                    .await;
                if resp.is_ok_and(|r| r.status() == 200) {
                    n += 1;
                }
            }
            n
        }));
    }
    let mut written = 0;
    for t in tasks {
        written += t.await?;
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "jobber clientCreate: {written} records in {secs:.2}s = {:.0}/s",
        written as f64 / secs
    );

    let started = Instant::now();
    let mut n = 0;
    for _ in 0..50 {
        let resp = http
            .post(format!("{base}/hubspot/crm/v3/objects/contacts/search"))
            .bearer_auth(&token)
            .json(&json!({"filterGroups": [{"filters": [{"propertyName": "lastmodifieddate", "operator": "GT", "value": "0"}]}],
                          "sorts": [{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}], "limit": 200}))
            .send()
            .await?;
        if resp.status() == 200 {
            n += 1;
        }
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "hubspot search over 52k records: {n} in {secs:.2}s = {:.0} searches/s",
        n as f64 / secs
    );
    Ok(())
}

async fn token(
    http: &reqwest::Client,
    base: &str,
    authorize: &str,
    token: &str,
) -> anyhow::Result<String> {
    let r = http
        .get(format!(
            "{base}{authorize}?client_id=sandbox-client&redirect_uri=http://localhost/cb"
        ))
        .send()
        .await?;
    let loc = r.headers()["location"].to_str()?.to_owned();
    let code = url::Url::parse(&loc)?
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    let v: Value = http
        .post(format!("{base}{token}"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("client_id", "sandbox-client"),
            ("client_secret", "sandbox-secret"),
            ("redirect_uri", "http://localhost/cb"),
            ("code", code.as_str()),
        ])
        .send()
        .await?
        .json()
        .await?;
    Ok(v["access_token"].as_str().unwrap_or_default().to_owned())
}

async fn token_j(http: &reqwest::Client, base: &str) -> anyhow::Result<String> {
    token(
        http,
        base,
        "/jobber/api/oauth/authorize",
        "/jobber/api/oauth/token",
    )
    .await
}
