//! Shared helpers for the sandbox integration tests: start a sandbox, get tokens.
#![allow(dead_code)]

use fluxcascade_sandbox::Sandbox;
use serde_json::{json, Value};

pub struct TestSandbox {
    pub base: String,
    pub http: reqwest::Client,
}

/// Starts a sandbox on an ephemeral port; rate limits off unless `limits` is true.
pub async fn start_with(limits: bool) -> TestSandbox {
    let sb = Sandbox::bind("127.0.0.1:0").await.expect("bind");
    let base = sb.base_url();
    tokio::spawn(sb.run_until_stopped());
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let t = TestSandbox { base, http };
    t.config(json!({"rateLimits": {"enabled": limits}})).await;
    t
}

pub async fn start() -> TestSandbox {
    start_with(false).await
}

impl TestSandbox {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn config(&self, patch: Value) -> Value {
        let r = self
            .http
            .put(self.url("/_sandbox/config"))
            .json(&patch)
            .send()
            .await
            .expect("config");
        assert_eq!(r.status(), 200);
        r.json().await.expect("config json")
    }

    pub async fn seed(&self, provider: &str, object: &str, count: u64) {
        let r = self
            .http
            .post(self.url(&format!("/_sandbox/{provider}/{object}/seed")))
            .json(&json!({"count": count, "seed": 42}))
            .send()
            .await
            .expect("seed");
        assert_eq!(r.status(), 200);
        let v: Value = r.json().await.expect("seed json");
        assert_eq!(v["created"], count);
    }

    /// GETs `authorize_path` with `client_id=sandbox-client`, `redirect_uri=http://localhost/cb`
    /// and the `extra` query pairs (e.g. `state`, `account`, `response_type`), asserts the 302
    /// and returns the redirect's `location`.
    pub async fn authorize_redirect(&self, authorize_path: &str, extra: &[(&str, &str)]) -> String {
        let mut q = vec![
            ("client_id", "sandbox-client"),
            ("redirect_uri", "http://localhost/cb"),
        ];
        q.extend_from_slice(extra);
        let r = self
            .http
            .get(self.url(authorize_path))
            .query(&q)
            .send()
            .await
            .expect("authorize");
        assert_eq!(r.status(), 302);
        r.headers()["location"]
            .to_str()
            .expect("location")
            .to_owned()
    }

    /// The authorize step of the code flow (see [`Self::authorize_redirect`]); returns the
    /// `code` query parameter of the redirect.
    pub async fn authorize_code(&self, authorize_path: &str, extra: &[(&str, &str)]) -> String {
        let loc = self.authorize_redirect(authorize_path, extra).await;
        url::Url::parse(&loc)
            .expect("redirect")
            .query_pairs()
            .find(|(k, _)| k == "code")
            .map(|(_, v)| v.into_owned())
            .expect("code")
    }

    /// Runs authorize → code → token; returns the token response.
    pub async fn oauth(&self, provider: &str, account: Option<&str>) -> Value {
        let (authorize, token) = match provider {
            "hubspot" => ("/hubspot/oauth/authorize", "/hubspot/oauth/v1/token"),
            _ => ("/jobber/api/oauth/authorize", "/jobber/api/oauth/token"),
        };
        let mut extra = vec![("state", "xyz")];
        if let Some(a) = account {
            extra.push(("account", a));
        }
        let loc = self.authorize_redirect(authorize, &extra).await;
        let url = url::Url::parse(&loc).expect("redirect url");
        let params: std::collections::HashMap<String, String> =
            url.query_pairs().into_owned().collect();
        assert_eq!(params["state"], "xyz");
        assert!(loc.starts_with("http://localhost/cb?"));
        let r = self
            .http
            .post(self.url(token))
            .form(&[
                ("grant_type", "authorization_code"),
                ("client_id", "sandbox-client"),
                ("client_secret", "sandbox-secret"),
                ("redirect_uri", "http://localhost/cb"),
                ("code", params["code"].as_str()),
            ])
            .send()
            .await
            .expect("token");
        assert_eq!(r.status(), 200);
        r.json().await.expect("token json")
    }

    pub async fn hubspot_token(&self) -> String {
        self.oauth("hubspot", None).await["access_token"]
            .as_str()
            .expect("access_token")
            .to_owned()
    }

    pub async fn jobber_token(&self) -> String {
        self.oauth("jobber", None).await["access_token"]
            .as_str()
            .expect("access_token")
            .to_owned()
    }

    /// Calls a HubSpot endpoint; returns (status, body).
    pub async fn hs(
        &self,
        token: &str,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let m = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut req = self
            .http
            .request(m, self.url(&format!("/hubspot{path}")))
            .bearer_auth(token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.expect("hubspot call");
        let status = r.status().as_u16();
        let text = r.text().await.expect("body");
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// Posts a GraphQL request to Jobber; returns (status, body).
    pub async fn gql(&self, token: &str, query: &str, variables: Value) -> (u16, Value) {
        let r = self
            .http
            .post(self.url("/jobber/api/graphql"))
            .bearer_auth(token)
            .header("X-JOBBER-GRAPHQL-VERSION", "2025-01-20")
            .json(&json!({"query": query, "variables": variables}))
            .send()
            .await
            .expect("graphql call");
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }
}

/// authorize → code → token for Salesforce; the token response.
pub async fn salesforce_tokens(t: &TestSandbox) -> Value {
    let code = t
        .authorize_code(
            "/salesforce/services/oauth2/authorize",
            &[("response_type", "code"), ("state", "s1")],
        )
        .await;
    let r = t
        .http
        .post(t.url("/salesforce/services/oauth2/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("client_id", "sandbox-client"),
            ("client_secret", "sandbox-secret"),
            ("redirect_uri", "http://localhost/cb"),
            ("code", code.as_str()),
        ])
        .send()
        .await
        .expect("token");
    assert_eq!(r.status(), 200);
    r.json().await.expect("token json")
}
