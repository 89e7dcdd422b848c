//! `fluxcascade demo`: the demo org of `make run` — connects the sandbox's HubSpot and Jobber through
//! OAuth, seeds contacts, creates a contacts → clients mapping through the REST API and runs a sync.

use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use fluxcascade_core::ProviderKind;
use fluxcascade_store::Store;
use serde_json::{json, Value};

use crate::config::Settings;

#[derive(clap::Args)]
pub struct DemoArgs {
    /// The ingress base URL.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    api: String,
    /// The sandbox base URL.
    #[arg(long, default_value = "http://127.0.0.1:9100")]
    sandbox: String,
    /// How many HubSpot contacts to seed.
    #[arg(long, default_value_t = 1000)]
    contacts: u32,
    /// Give up waiting for the sync after this many seconds.
    #[arg(long, default_value_t = 300)]
    timeout_secs: u64,
}

/// Authorizes the sandbox app for one provider and returns the token response as JSON for the API.
async fn oauth_connect(
    settings: &Settings,
    http: &reqwest::Client,
    kind: ProviderKind,
) -> anyhow::Result<Value> {
    let app = settings.providers.require(kind)?;
    let redirect = "http://127.0.0.1/demo/callback";
    let url = fluxcascade_providers::authorize_url(kind, app, redirect, "demo");
    let resp = http
        .get(&url)
        .send()
        .await
        .with_context(|| format!("{kind} authorize"))?;
    let location = resp
        .headers()
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .with_context(|| {
            format!(
                "{kind} authorize did not redirect (status {})",
                resp.status()
            )
        })?;
    let code = url::Url::parse(location)?
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .context("no code in the authorize redirect")?;
    let tokens = fluxcascade_providers::exchange_code(kind, app, http, &code, redirect)
        .await
        .with_context(|| format!("{kind} token exchange"))?;
    Ok(json!({
        "accessToken": tokens.access_token,
        "refreshToken": tokens.refresh_token,
        "expiresAt": tokens.expires_at.map(|t| t.to_rfc3339()),
    }))
}

async fn api(
    http: &reqwest::Client,
    key: &str,
    method: reqwest::Method,
    url: String,
    body: Option<Value>,
) -> anyhow::Result<Value> {
    let mut req = http.request(method, &url).bearer_auth(key);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.with_context(|| url.clone())?;
    let status = resp.status();
    let value: Value = resp.json().await.unwrap_or(Value::Null);
    if !status.is_success() {
        bail!("{url} answered {status}: {value}");
    }
    Ok(value)
}

pub async fn run(args: DemoArgs) -> anyhow::Result<()> {
    let mut settings = Settings::from_env()?;
    settings.providers =
        fluxcascade_providers::ProvidersConfig::sandbox(args.sandbox.trim_end_matches('/'));
    let store = Store::connect(settings.database_url.expose(), 2)?;
    let (_org, key) = store
        .create_org("Demo Co", "owner@demo.test")
        .await
        .context("creating the demo org")?;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let sb = args.sandbox.trim_end_matches('/');
    let base = args.api.trim_end_matches('/');

    // The sandbox enforces the providers' documented rate limits by default. Jobber's query-cost
    // bucket would stretch a 1,000-client import over minutes of throttling; the demo turns the
    // limits off so it finishes in seconds (the rate-limit tests turn them on).
    http.put(format!("{sb}/_sandbox/config"))
        .json(&json!({"rateLimits": {"enabled": false}}))
        .send()
        .await?
        .error_for_status()
        .context("configuring the sandbox")?;
    let seeded: Value = http
        .post(format!("{sb}/_sandbox/hubspot/contacts/seed"))
        .json(&json!({"count": args.contacts, "seed": 42}))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    println!("seeded HubSpot contacts: {seeded}");

    let mut connections = Vec::new();
    for (kind, name) in [
        (ProviderKind::Hubspot, "Demo HubSpot"),
        (ProviderKind::Jobber, "Demo Jobber"),
    ] {
        let credentials = oauth_connect(&settings, &http, kind).await?;
        let conn = api(
            &http,
            &key,
            reqwest::Method::POST,
            format!("{base}/v1/connections"),
            Some(
                json!({"provider": kind.as_str(), "accountName": name, "credentials": credentials}),
            ),
        )
        .await?;
        connections.push(conn["id"].as_str().unwrap_or_default().to_string());
    }
    let mapping = api(
        &http,
        &key,
        reqwest::Method::POST,
        format!("{base}/v1/mappings"),
        Some(json!({
            "name": "HubSpot contacts → Jobber clients",
            "source": {"connectionId": connections[0], "object": "contacts"},
            "target": {"connectionId": connections[1], "object": "clients"},
            "direction": "source_to_target",
            "fieldPairs": [
                {"sourceField": "firstname", "targetField": "firstName", "required": false},
                {"sourceField": "lastname", "targetField": "lastName", "required": true},
                {"sourceField": "email", "targetField": "emails[0].address", "transform": "lowercase", "required": false},
                {"sourceField": "company", "targetField": "companyName", "transform": "uppercase", "required": false}
            ]
        })),
    )
    .await?;
    let mapping_id = mapping["id"].as_str().unwrap_or_default().to_string();
    let started = Instant::now();
    let sync = api(
        &http,
        &key,
        reqwest::Method::POST,
        format!("{base}/v1/syncs"),
        Some(json!({"mappingId": mapping_id})),
    )
    .await?;
    let sync_id = sync["id"].as_str().unwrap_or_default().to_string();
    println!("sync {sync_id} queued");
    let deadline = Instant::now() + Duration::from_secs(args.timeout_secs);
    let done = loop {
        let s = api(
            &http,
            &key,
            reqwest::Method::GET,
            format!("{base}/v1/syncs/{sync_id}"),
            None,
        )
        .await?;
        if matches!(
            s["status"].as_str(),
            Some("completed" | "partial" | "failed")
        ) {
            break s;
        }
        if Instant::now() > deadline {
            bail!(
                "the demo sync did not finish within {}s: {s}",
                args.timeout_secs
            );
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    println!();
    println!("FluxCascade demo is up.");
    println!("  API key:      {key}");
    println!(
        "  REST API:     {base}   (try: curl -H 'Authorization: Bearer {key}' {base}/v1/syncs)"
    );
    println!("  Sandbox:      {sb}   (try: curl {sb}/_sandbox/stats)");
    println!("  Mapping:      {mapping_id}");
    println!(
        "  Sync:         {sync_id} {} in {:.1}s, counts {}",
        done["status"].as_str().unwrap_or("?"),
        started.elapsed().as_secs_f64(),
        done["counts"]
    );
    if done["status"] != "completed" {
        bail!("the demo sync ended {}: {}", done["status"], done);
    }
    // From now on the sandbox sends signed webhooks for every change made through its control
    // plane, so an edited contact reaches Jobber within moments (a `webhook` run).
    http.put(format!("{sb}/_sandbox/config"))
        .json(&json!({"webhookUrl": base}))
        .send()
        .await?
        .error_for_status()
        .context("pointing the sandbox's webhooks at the ingress")?;
    println!(
        "  Webhooks:     on. Try: curl -X PATCH {sb}/_sandbox/hubspot/contacts/<id> \\\n                  \
         -H 'content-type: application/json' -d '{{\"properties\": {{\"firstname\": \"Grace\"}}}}'\n                \
         then: curl -H 'Authorization: Bearer {key}' '{base}/v1/syncs?mappingId={mapping_id}'"
    );
    Ok(())
}
