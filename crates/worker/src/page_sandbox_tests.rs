//! The write path against the sandbox over real HTTP (zero2prod's `spawn_app`, for the worker):
//! an in-process `WorkerHandler` on its own database writes HubSpot contacts into Jobber clients
//! and reads them back through the real adapters, connected by the real OAuth flow.

use std::sync::Arc;

use fluxcascade_core::decide::Leg;
use fluxcascade_core::{ProviderKind, Record};
use fluxcascade_providers::{
    authorize_url, connect, exchange_code, ConnectionContext, ListQuery, Provider, ProvidersConfig,
    StaticToken,
};
use fluxcascade_sandbox::Sandbox;
use serde_json::{json, Value};

use super::tests::{counts, Fixture, Mem, NEWEST};
use crate::adapters::Adapter;
use crate::batch::commit_counted;

const REDIRECT_URI: &str = "http://localhost/cb";

struct Sandboxed {
    fx: Fixture,
    base: String,
    http: reqwest::Client,
    hubspot: Arc<dyn Provider>,
    jobber: Arc<dyn Provider>,
}

/// A sandbox on an ephemeral port (rate limits off), HubSpot and Jobber accounts connected
/// through OAuth, and the fixture writing through their adapters.
async fn start() -> Sandboxed {
    let sb = Sandbox::bind("127.0.0.1:0").await.expect("bind sandbox");
    let base = sb.base_url();
    tokio::spawn(sb.run_until_stopped());
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("http client");
    let r = http
        .put(format!("{base}/_sandbox/config"))
        .json(&json!({"rateLimits": {"enabled": false}}))
        .send()
        .await
        .expect("config");
    assert_eq!(r.status(), 200);
    let config = ProvidersConfig::sandbox(&base);
    let hubspot = provider(&config, &http, ProviderKind::Hubspot).await;
    let jobber = provider(&config, &http, ProviderKind::Jobber).await;
    let writes = [
        Adapter {
            kind: ProviderKind::Jobber,
            provider: jobber.clone(),
        },
        Adapter {
            kind: ProviderKind::Hubspot,
            provider: hubspot.clone(),
        },
    ];
    let pairs = json!([
        {"sourceField": "firstname", "targetField": "firstName"},
        {"sourceField": "lastname", "targetField": "lastName", "required": true},
        {"sourceField": "email", "targetField": "emails[0].address", "transform": "lowercase"}
    ]);
    let fx = Fixture::with_writes(pairs, writes, Arc::new(Mem::default())).await;
    Sandboxed {
        fx,
        base,
        http,
        hubspot,
        jobber,
    }
}

/// The adapter of a fresh account of `kind`: authorize (the sandbox consents and redirects with
/// a code), exchange the code, connect with the access token.
async fn provider(
    config: &ProvidersConfig,
    http: &reqwest::Client,
    kind: ProviderKind,
) -> Arc<dyn Provider> {
    let app = config
        .app(kind)
        .expect("the sandbox configures every provider");
    let url = authorize_url(kind, app, REDIRECT_URI, "state-1");
    let r = http.get(&url).send().await.expect("authorize");
    assert_eq!(r.status(), 302, "authorize {url}");
    let location = r.headers()["location"].to_str().expect("location");
    let code = url::Url::parse(location)
        .expect("redirect")
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .expect("code");
    let tokens = exchange_code(kind, app, http, &code, REDIRECT_URI)
        .await
        .expect("exchange code");
    let tokens = Arc::new(StaticToken(tokens.access_token));
    connect(
        kind,
        config,
        ConnectionContext::simple(tokens, reqwest::Client::new()),
    )
    .expect("connect")
}

impl Sandboxed {
    async fn control(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut req = self
            .http
            .request(method, format!("{}/_sandbox/{path}", self.base));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.expect("control");
        assert!(r.status().is_success(), "{path}: {}", r.status());
        r.json().await.unwrap_or(Value::Null)
    }

    /// Every record of `object` read through `provider` with the mapping's fields.
    async fn read(&mut self, provider: &Arc<dyn Provider>, object: &str, leg: Leg) -> Vec<Record> {
        let ctx = self.fx.ctx(leg, NEWEST).await;
        let fields = match leg {
            Leg::Forward => ctx.compiled.source_fields.clone(),
            Leg::Reverse => ctx.compiled.target_fields.clone(),
        };
        let mut query = ListQuery {
            page_size: 100,
            fields,
            ..Default::default()
        };
        let mut out = Vec::new();
        loop {
            let page = provider.list(object, &query).await.expect("list");
            out.extend(page.records);
            match page.next_page {
                Some(next) => query.page = Some(next),
                None => return out,
            }
        }
    }

    /// One page of `leg` written through the real adapter and committed: its counts.
    async fn write(&mut self, leg: Leg, records: &[Record]) -> (u64, u64, u64, u64) {
        let ctx = self.fx.ctx(leg, NEWEST).await;
        let commit = self
            .fx
            .handler
            .write_page(&ctx, records)
            .await
            .expect("write page");
        assert!(commit_counted(&self.fx.db.store, &commit).await.unwrap());
        counts(&commit)
    }

    async fn jobber_clients(&self) -> Vec<Value> {
        self.control(reqwest::Method::GET, "jobber/clients", None)
            .await["data"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }
}

#[tokio::test]
async fn forward_creates_jobber_clients_then_rewrites_only_the_changed_contact() {
    let mut t = start().await;
    t.control(
        reqwest::Method::POST,
        "hubspot/contacts/seed",
        Some(json!({"count": 3})),
    )
    .await;
    let hubspot = t.hubspot.clone();
    let contacts = t.read(&hubspot, "contacts", Leg::Forward).await;
    assert_eq!(contacts.len(), 3);

    assert_eq!(t.write(Leg::Forward, &contacts).await, (3, 0, 0, 0));
    let clients = t.jobber_clients().await;
    assert_eq!(clients.len(), 3);
    for c in &contacts {
        let email = c.fields["properties"]["email"]
            .as_str()
            .or_else(|| c.fields["email"].as_str())
            .expect("a seeded contact has an email")
            .to_lowercase();
        assert!(
            clients
                .iter()
                .any(|cl| cl["emails"][0]["address"] == email.as_str()),
            "{email} reached Jobber lowercased: {clients:?}"
        );
    }

    // The same records again: unchanged by their link hashes, nothing written.
    assert_eq!(t.write(Leg::Forward, &contacts).await, (0, 0, 3, 0));
    assert_eq!(t.jobber_clients().await.len(), 3);

    // One contact changes in HubSpot: only its client is rewritten.
    let id = contacts[1].id.clone();
    t.control(
        reqwest::Method::PATCH,
        &format!("hubspot/contacts/{id}"),
        Some(json!({"properties": {"firstname": "Grace"}})),
    )
    .await;
    let contacts = t.read(&hubspot, "contacts", Leg::Forward).await;
    assert_eq!(t.write(Leg::Forward, &contacts).await, (0, 1, 2, 0));
    let clients = t.jobber_clients().await;
    assert_eq!(clients.len(), 3);
    assert_eq!(
        clients.iter().filter(|c| c["firstName"] == "Grace").count(),
        1,
        "{clients:?}"
    );
}

#[tokio::test]
async fn the_reverse_leg_reads_our_jobber_writes_back_as_echoes_and_writes_nothing() {
    let mut t = start().await;
    t.control(
        reqwest::Method::POST,
        "hubspot/contacts/seed",
        Some(json!({"count": 4})),
    )
    .await;
    let hubspot = t.hubspot.clone();
    let jobber = t.jobber.clone();
    let contacts = t.read(&hubspot, "contacts", Leg::Forward).await;
    assert_eq!(t.write(Leg::Forward, &contacts).await, (4, 0, 0, 0));
    let before: Vec<(String, Value)> = contacts
        .iter()
        .map(|c| (c.id.clone(), c.fields.clone()))
        .collect();

    let clients = t.read(&jobber, "clients", Leg::Reverse).await;
    assert_eq!(clients.len(), 4);
    assert_eq!(t.write(Leg::Reverse, &clients).await, (0, 0, 4, 0));
    let after = t.read(&hubspot, "contacts", Leg::Forward).await;
    assert_eq!(after.len(), 4, "no contact created on the source");
    for (id, fields) in before {
        let now = after.iter().find(|c| c.id == id).expect("contact kept");
        assert_eq!(now.fields, fields, "contact {id} was not rewritten");
    }
}
