//! Shared helpers for the adapter tests against the sandbox over HTTP: start a sandbox,
//! connect through the real OAuth flow, drive the control plane.
#![allow(dead_code)]

use std::sync::Arc;

use fluxcascade_core::{ProviderKind, Record};
use fluxcascade_providers::{
    authorize_url, connect, exchange_code, ConnectionContext, ListQuery, Provider, ProviderApp,
    ProvidersConfig, StaticToken, TokenSet, TokenSource,
};
use fluxcascade_sandbox::Sandbox;
use serde_json::{json, Value};

pub const REDIRECT_URI: &str = "http://localhost/cb";

pub struct TestSandbox {
    pub base: String,
    /// The Salesforce instance origin (its own listener), as token responses name it.
    pub salesforce_instance: String,
    pub config: ProvidersConfig,
    /// Follows no redirects (the OAuth authorize step answers 302).
    pub http: reqwest::Client,
}

/// A sandbox on an ephemeral port with rate limits off.
pub async fn start() -> TestSandbox {
    let sb = Sandbox::bind("127.0.0.1:0").await.expect("bind sandbox");
    let base = sb.base_url();
    let salesforce_instance = sb.salesforce_instance_url();
    tokio::spawn(sb.run_until_stopped());
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("http client");
    let t = TestSandbox {
        config: ProvidersConfig::sandbox(&base),
        base,
        salesforce_instance,
        http,
    };
    t.configure(json!({"rateLimits": {"enabled": false}})).await;
    t
}

/// Every page of a read of `object` from `query` on, following `next_page`;
/// (records, pages). Panics if paging has not ended after 1000 pages.
pub async fn read_all(
    p: &dyn Provider,
    object: &str,
    mut query: ListQuery,
) -> (Vec<Record>, usize) {
    let mut out = Vec::new();
    for pages in 1..=1000 {
        let page = p.list(object, &query).await.expect("list page");
        out.extend(page.records);
        match page.next_page {
            Some(next) => query.page = Some(next),
            None => return (out, pages),
        }
    }
    panic!("paging did not end");
}

impl TestSandbox {
    /// The sandbox's app for `kind` (the sandbox configures every provider).
    pub fn app(&self, kind: ProviderKind) -> &ProviderApp {
        self.config
            .app(kind)
            .expect("the sandbox configures every provider")
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn configure(&self, patch: Value) {
        let r = self
            .http
            .put(self.url("/_sandbox/config"))
            .json(&patch)
            .send()
            .await
            .expect("config");
        assert_eq!(r.status(), 200, "PUT /_sandbox/config");
    }

    pub async fn seed(&self, provider: &str, object: &str, count: u64) {
        let r = self
            .http
            .post(self.url(&format!("/_sandbox/{provider}/{object}/seed")))
            .json(&json!({"count": count}))
            .send()
            .await
            .expect("seed");
        assert_eq!(r.status(), 200, "seed {provider} {object}");
    }

    /// Records as the sandbox stores them (`data` of the control-plane list).
    pub async fn stored(&self, provider: &str, object: &str) -> Vec<Value> {
        let r = self
            .http
            .get(self.url(&format!("/_sandbox/{provider}/{object}")))
            .send()
            .await
            .expect("list");
        assert_eq!(r.status(), 200);
        let v: Value = r.json().await.expect("list json");
        v["data"].as_array().cloned().expect("data array")
    }

    pub async fn patch(&self, provider: &str, object: &str, id: &str, body: Value) {
        let r = self
            .http
            .patch(self.url(&format!("/_sandbox/{provider}/{object}/{id}")))
            .json(&body)
            .send()
            .await
            .expect("patch");
        assert_eq!(r.status(), 200, "patch {provider} {object} {id}");
    }

    /// Requests the sandbox counted whose endpoint ends with `suffix`.
    pub async fn request_count(&self, provider: &str, suffix: &str) -> u64 {
        let r = self
            .http
            .get(self.url("/_sandbox/stats"))
            .send()
            .await
            .expect("stats");
        let v: Value = r.json().await.expect("stats json");
        v["requests"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|r| r["provider"] == provider)
            .filter(|r| r["endpoint"].as_str().is_some_and(|e| e.ends_with(suffix)))
            .map(|r| r["count"].as_u64().unwrap_or(0))
            .sum()
    }

    /// The user's side of OAuth: open our authorize URL (the sandbox approves and redirects
    /// with a code), then exchange the code through the adapter.
    pub async fn connect_oauth(&self, kind: ProviderKind) -> TokenSet {
        let app = self.app(kind);
        let url = authorize_url(kind, app, REDIRECT_URI, "state-1");
        let r = self.http.get(&url).send().await.expect("authorize");
        assert_eq!(r.status(), 302, "authorize {url}");
        let location = r.headers()["location"]
            .to_str()
            .expect("location")
            .to_owned();
        let params: std::collections::HashMap<String, String> = url::Url::parse(&location)
            .expect("redirect")
            .query_pairs()
            .into_owned()
            .collect();
        assert_eq!(params["state"], "state-1");
        exchange_code(
            kind,
            app,
            &reqwest::Client::new(),
            &params["code"],
            REDIRECT_URI,
        )
        .await
        .expect("exchange code")
    }

    pub async fn token_source(&self, kind: ProviderKind) -> Arc<dyn TokenSource> {
        Arc::new(StaticToken(self.connect_oauth(kind).await.access_token))
    }

    /// The adapter for `kind` on a fresh OAuth connection (a static access token from
    /// [`Self::token_source`]) with the config's API base.
    pub async fn provider(&self, kind: ProviderKind) -> Arc<dyn Provider> {
        connect(
            kind,
            &self.config,
            ConnectionContext::simple(self.token_source(kind).await, reqwest::Client::new()),
        )
        .expect("connect")
    }
}
