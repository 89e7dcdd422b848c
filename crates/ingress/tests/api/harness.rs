//! The test harness: one isolated API per test (private database, queue prefix), HTTP helpers.

use std::sync::Arc;
use std::time::Duration;

use fluxcascade_core::ProviderKind;
use fluxcascade_ingress::{Ingress, IngressConfig};
use fluxcascade_providers::egress::{Resolver, StaticResolver, WebhookUrls};
use fluxcascade_providers::{ProvidersConfig, TokenSet};
use fluxcascade_queue::{Publisher, QueueConfig, Topology};
use fluxcascade_store::orgs::Role;
use fluxcascade_store::{MasterKey, Store};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

const PG_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";
const AMQP_URL: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";

/// Production webhook URL policy (public `https` only), with the tests' receiver names resolving
/// to a public address without a network: `hooks.example.com` and `x.test` to 93.184.215.14,
/// `internal.example.com` to 10.0.0.7 and `localhost` to 127.0.0.1.
pub fn production_webhook_urls() -> WebhookUrls {
    let public = ["93.184.215.14".parse().expect("ip")];
    WebhookUrls::public_only().with_resolver(Resolver::fixed(
        StaticResolver::default()
            .with("hooks.example.com", &public)
            .with("x.test", &public)
            .with("internal.example.com", &["10.0.0.7".parse().expect("ip")])
            .with("localhost", &["127.0.0.1".parse().expect("ip")]),
    ))
}

/// One isolated API: its own database and queue prefix, dropped at the end (even on panic).
pub struct App {
    pub base: String,
    /// The metrics listener (`/metrics`), apart from the API.
    pub metrics: String,
    pub http: reqwest::Client,
    pub store: Store,
    pub db: String,
    pub prefix: String,
    pub shutdown: CancellationToken,
    /// The first org's owner key.
    pub owner: String,
    /// The in-process sandbox the providers point at (`http://127.0.0.1:PORT`).
    pub sandbox: String,
    pub providers: ProvidersConfig,
    /// The master key the app seals tokens with.
    pub key: Arc<MasterKey>,
}

impl App {
    pub async fn start() -> App {
        App::start_with(None).await
    }

    /// With `dead_broker`, the publisher points at a port where no broker listens.
    pub async fn start_with(dead_broker: Option<&str>) -> App {
        App::launch(dead_broker, None, 8).await
    }

    /// With a database pool of `size` connections (built like the ingress's: a request waits
    /// at most `DB_WAIT_TIMEOUT` for one).
    pub async fn start_with_pool(size: usize) -> App {
        App::launch(None, None, size).await
    }

    /// With these providers' apps (e.g. a production posture with some not configured).
    pub async fn start_with_providers(providers: ProvidersConfig) -> App {
        App::launch(None, Some(providers), 8).await
    }

    /// `providers`: `None` points every provider at the in-process sandbox.
    async fn launch(
        dead_broker: Option<&str>,
        providers: Option<ProvidersConfig>,
        pool: usize,
    ) -> App {
        let short = Uuid::new_v4().simple().to_string();
        let db = format!("fluxcascade_test_{short}");
        let prefix = format!("ingress_test_{short}");
        let db_url = format!("postgres://postgres@127.0.0.1:5432/{db}");
        fluxcascade_store::ensure_database(&db_url)
            .await
            .expect("create database");
        let store = Store::connect_with_wait(&db_url, pool, fluxcascade_ingress::DB_WAIT_TIMEOUT)
            .expect("store");
        store.migrate().await.expect("migrate");
        let publisher = match dead_broker {
            None => Publisher::connect(&QueueConfig::new(AMQP_URL, &prefix))
                .await
                .expect("publisher"),
            Some(url) => Publisher::lazy(&QueueConfig::new(url, &prefix)).expect("lazy publisher"),
        };
        let key = Arc::new(MasterKey::from_base64(&MasterKey::generate_base64()).expect("key"));
        let sandbox_server = fluxcascade_sandbox::Sandbox::bind("127.0.0.1:0")
            .await
            .expect("sandbox");
        let sandbox = sandbox_server.base_url();
        tokio::spawn(sandbox_server.run_until_stopped());
        let providers = providers.unwrap_or_else(|| ProvidersConfig::sandbox(&sandbox));
        let config = IngressConfig {
            listen: "127.0.0.1:0".into(),
            max_body_bytes: 1024 * 1024,
            providers: providers.clone(),
            webhook_urls: production_webhook_urls(),
            ..IngressConfig::default()
        };
        let ingress = Ingress::build(config, store.clone(), publisher, key.clone())
            .await
            .expect("build");
        let base = format!("http://{}", ingress.local_addr());
        let metrics = format!(
            "http://{}",
            ingress
                .metrics_addr()
                .expect("metrics are served by default")
        );
        let shutdown = CancellationToken::new();
        tokio::spawn(ingress.run_until_stopped(shutdown.clone()));
        let (_, owner) = store
            .create_org("Acme", "owner@acme.test")
            .await
            .expect("org");
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(20))
            .build()
            .expect("client");
        App {
            base,
            metrics,
            http,
            store,
            db,
            prefix,
            shutdown,
            owner,
            sandbox,
            providers,
            key,
        }
    }

    /// A new org's owner key.
    pub async fn other_org(&self) -> String {
        self.store
            .create_org("Other", "owner@other.test")
            .await
            .expect("org")
            .1
    }

    pub async fn member_key(&self) -> String {
        let p = self
            .store
            .authenticate(&self.owner)
            .await
            .expect("auth")
            .expect("owner");
        self.store
            .create_api_key(p.org_id, Role::Member, "member@acme.test")
            .await
            .expect("key")
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        key: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(k) = key {
            req = req.bearer_auth(k);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status();
        let text = resp.text().await.expect("body");
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        key: &str,
        body: Vec<u8>,
    ) -> (StatusCode, Value) {
        let resp = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(key)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("request");
        let status = resp.status();
        let text = resp.text().await.expect("body");
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    /// Tokens for the sandbox's account `account` of `provider`, through the provider's OAuth
    /// (authorize → code → token exchange), as a user connecting elsewhere would hold them.
    pub async fn sandbox_tokens(&self, provider: &str, account: &str) -> TokenSet {
        let kind = ProviderKind::parse(provider).expect("provider");
        let app = self
            .providers
            .app(kind)
            .expect("the sandbox configures every provider");
        let redirect = "http://127.0.0.1:1/callback";
        let url = format!(
            "{}&account={account}",
            fluxcascade_providers::authorize_url(kind, app, redirect, "st")
        );
        let no_redirects = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        let resp = no_redirects.get(url).send().await.expect("authorize");
        let location = resp.headers()["location"].to_str().expect("location");
        let code = url::Url::parse(location)
            .expect("redirect")
            .query_pairs()
            .find(|(k, _)| k == "code")
            .expect("code")
            .1
            .into_owned();
        fluxcascade_providers::exchange_code(kind, app, &self.http, &code, redirect)
            .await
            .expect("token exchange")
    }

    /// `POST /v1/connections` importing tokens the sandbox issued for `account`.
    pub async fn import_connection(
        &self,
        key: &str,
        provider: &str,
        account: &str,
        extra: Value,
    ) -> (StatusCode, Value) {
        let tokens = self.sandbox_tokens(provider, account).await;
        let mut body = json!({"provider": provider, "accountName": "Acct",
            "credentials": {"accessToken": tokens.access_token}});
        if let Some(instance) = &tokens.instance_url {
            body["instanceUrl"] = json!(instance);
        }
        if let (Value::Object(b), Value::Object(e)) = (&mut body, extra) {
            b.extend(e);
        }
        self.call(Method::POST, "/v1/connections", Some(key), Some(body))
            .await
    }

    pub async fn connection(&self, key: &str, provider: &str) -> String {
        let (status, v) = self
            .import_connection(key, provider, "acct", json!({}))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{v}");
        v["id"].as_str().expect("id").to_string()
    }

    pub async fn mapping(&self, key: &str, source: &str, target: &str) -> String {
        let (status, v) = self
            .call(
                Method::POST,
                "/v1/mappings",
                Some(key),
                Some(mapping_body(source, target)),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{v}");
        v["id"].as_str().expect("id").to_string()
    }

    /// A plain connection to the app's database, for tests that arrange state with SQL.
    pub async fn sql(&self) -> tokio_postgres::Client {
        let (c, conn) = tokio_postgres::connect(
            &format!("postgres://postgres@127.0.0.1:5432/{}", self.db),
            tokio_postgres::NoTls,
        )
        .await
        .expect("db");
        tokio::spawn(conn);
        c
    }

    /// The first org's id (its owner key's).
    pub async fn org_id(&self) -> Uuid {
        self.store
            .authenticate(&self.owner)
            .await
            .expect("auth")
            .expect("owner")
            .org_id
    }

    /// A raw AMQP connection and channel to the local broker, to look at the queues.
    pub async fn amqp(&self) -> (lapin::Connection, lapin::Channel) {
        let conn = lapin::Connection::connect(
            AMQP_URL,
            lapin::ConnectionProperties::default()
                .with_executor(tokio_executor_trait::Tokio::current())
                .with_reactor(tokio_reactor_trait::Tokio),
        )
        .await
        .expect("amqp");
        let ch = conn.create_channel().await.expect("channel");
        (conn, ch)
    }

    /// Messages waiting in `{prefix}.sync`.
    pub async fn sync_queue_depth(&self) -> u32 {
        let (conn, ch) = self.amqp().await;
        let q = ch
            .queue_declare(
                &format!("{}.sync", self.prefix),
                lapin::options::QueueDeclareOptions {
                    passive: true,
                    ..Default::default()
                },
                lapin::types::FieldTable::default(),
            )
            .await
            .expect("the sync queue exists");
        let n = q.message_count();
        let _ = conn.close(200, "bye").await;
        n
    }
}

impl Drop for App {
    fn drop(&mut self) {
        self.shutdown.cancel();
        let (db, prefix) = (self.db.clone(), self.prefix.clone());
        // Own runtime on a plain thread: Drop runs inside the test's runtime.
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async move {
                if let Ok((c, conn)) =
                    tokio_postgres::connect(PG_ADMIN_URL, tokio_postgres::NoTls).await
                {
                    tokio::spawn(conn);
                    let _ = c
                        .batch_execute(&format!("DROP DATABASE IF EXISTS \"{db}\" WITH (FORCE)"))
                        .await;
                }
                let _ = Topology::delete(AMQP_URL, &prefix).await;
            });
        })
        .join();
    }
}

pub fn mapping_body(source: &str, target: &str) -> Value {
    json!({
        "name": "HubSpot contacts to Jobber clients",
        "source": {"connectionId": source, "object": "contacts"},
        "target": {"connectionId": target, "object": "clients"},
        "fieldPairs": [
            {"sourceField": "firstname", "targetField": "firstName"},
            {"sourceField": "email", "targetField": "emails[0].address", "transform": "lowercase"}
        ],
        "match": {"sourceField": "email", "targetField": "emails[0].address"}
    })
}

pub fn error_fields(v: &Value) -> Vec<String> {
    v["error"]["details"]
        .as_array()
        .map(|d| {
            d.iter()
                .filter_map(|x| x["field"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}
