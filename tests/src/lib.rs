//! End-to-end test support: spawns the real `fluxcascade` processes against the local Postgres and
//! RabbitMQ with a private database and queue prefix, and talks to them over HTTP.

mod options;
pub mod otlp;
pub mod procs;
pub mod prod;
pub mod proxy;
mod sandbox;

use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use serde_json::{json, Value};

pub use options::Options;
pub use procs::{bin_path, write_bench_json, Proc};
pub use proxy::FaultProxy;

pub const PG_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";
pub const AMQP_URL: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";
/// Where the local Postgres and RabbitMQ listen (the proxies' upstreams).
pub const PG_ADDR: &str = "127.0.0.1:5432";
pub const AMQP_ADDR: &str = "127.0.0.1:5672";

/// A sandbox record's provider-native fields: HubSpot keeps them under `properties`,
/// Jobber's GraphQL objects carry them at the top level.
pub fn fields(record: &Value) -> &Value {
    match record.get("properties") {
        Some(p) if p.is_object() => p,
        _ => record,
    }
}

/// One isolated FluxCascade installation: its own database, queue prefix, sandbox, ingress and workers.
pub struct TestEnv {
    pub name: String,
    pub db_url: String,
    pub prefix: String,
    pub master_key: String,
    pub sandbox_url: String,
    pub api_url: String,
    pub api_key: String,
    pub http: reqwest::Client,
    pub sandbox: Proc,
    pub ingress: Proc,
    pub workers: Vec<Proc>,
    pub log_dir: std::path::PathBuf,
    /// The broker URL(s) the test's own clients use (direct, never through a proxy).
    pub amqp_url: String,
    /// Between the processes and Postgres, with [`Options::db_proxy`].
    pub db_proxy: Option<FaultProxy>,
    /// Between the processes and RabbitMQ, with [`Options::amqp_proxy`].
    pub amqp_proxy: Option<FaultProxy>,
    /// What the processes get as `DATABASE_URL`, `AMQP_URL` and extra environment.
    proc_db_url: String,
    proc_amqp_url: String,
    proc_env: Vec<(String, String)>,
}

impl TestEnv {
    /// Starts a sandbox, migrates a fresh database, starts the ingress and `workers` workers,
    /// and creates an org. The sandbox's rate limits are switched off unless a test turns them on.
    pub async fn start(name: &str, workers: usize) -> anyhow::Result<TestEnv> {
        TestEnv::start_with(name, workers, Options::default()).await
    }

    /// [`TestEnv::start`] with the processes wired as `options` says (proxies, brokers, env).
    pub async fn start_with(
        name: &str,
        workers: usize,
        options: Options,
    ) -> anyhow::Result<TestEnv> {
        let id = uuid::Uuid::new_v4().simple().to_string();
        let short = &id[..12];
        let db_name = format!("fc_e2e_{short}");
        let db_url = format!("postgres://postgres@{PG_ADDR}/{db_name}");
        let prefix = format!("e2e_{short}");
        let master_key = fluxcascade_store::MasterKey::generate_base64();
        let log_dir = procs::log_dir(name);
        let amqp_url = options.amqp_url.clone().unwrap_or_else(|| AMQP_URL.into());
        if options.amqp_proxy && options.amqp_url.is_some() {
            bail!("Options: amqp_proxy proxies the local broker only, not amqp_url");
        }
        let db_proxy = options
            .db_proxy
            .then(|| FaultProxy::start(PG_ADDR.parse().expect("PG_ADDR")))
            .transpose()?;
        let amqp_proxy = options
            .amqp_proxy
            .then(|| FaultProxy::start(AMQP_ADDR.parse().expect("AMQP_ADDR")))
            .transpose()?;
        let proc_db_url = match &db_proxy {
            Some(p) => format!("postgres://postgres@{}/{db_name}", p.addr()),
            None => db_url.clone(),
        };
        let proc_amqp_url = match &amqp_proxy {
            Some(p) => format!("amqp://guest:guest@{}/%2f", p.addr()),
            None => amqp_url.clone(),
        };
        let proc_env = options.env.clone();
        let env = |p: &mut std::process::Command| {
            p.env("DATABASE_URL", &db_url)
                .env("AMQP_URL", &amqp_url)
                .env("FLUXCASCADE_QUEUE_PREFIX", &prefix)
                .env("FLUXCASCADE_MASTER_KEY", &master_key);
        };
        let proc_env_fn = |p: &mut std::process::Command| {
            env(p);
            p.env("DATABASE_URL", &proc_db_url)
                .env("AMQP_URL", &proc_amqp_url);
            for (k, v) in &proc_env {
                p.env(k, v);
            }
        };
        let (sandbox, sandbox_url) = Proc::spawn_listening(
            "sandbox",
            &log_dir,
            &["sandbox", "--listen", "127.0.0.1:0"],
            |c| env(c),
        )
        .await?;
        let run = |args: &[&str]| -> anyhow::Result<String> {
            let mut cmd = std::process::Command::new(bin_path());
            cmd.args(args);
            env(&mut cmd);
            let out = cmd
                .output()
                .with_context(|| format!("running fluxcascade {args:?}"))?;
            if !out.status.success() {
                bail!(
                    "fluxcascade {args:?} failed: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        };
        run(&["migrate"])?;
        let api_key = create_org(&db_url, &prefix, &master_key, name)?;
        let sandbox_url_env = sandbox_url.clone();
        let (ingress, api_url) = Proc::spawn_listening(
            "ingress",
            &log_dir,
            &["ingress", "--listen", "127.0.0.1:0"],
            |c| {
                proc_env_fn(c);
                c.env("FLUXCASCADE_SANDBOX_URL", &sandbox_url_env)
                    // The tests' webhook receivers listen on loopback.
                    .env("FLUXCASCADE_ALLOW_PRIVATE_WEBHOOK_URLS", "true");
            },
        )
        .await?;
        let mut me = TestEnv {
            name: name.to_string(),
            db_url,
            prefix,
            master_key,
            sandbox_url,
            api_url,
            api_key,
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()?,
            sandbox,
            ingress,
            workers: Vec::new(),
            log_dir,
            amqp_url: amqp_url.clone(),
            db_proxy,
            amqp_proxy,
            proc_db_url: proc_db_url.clone(),
            proc_amqp_url: proc_amqp_url.clone(),
            proc_env,
        };
        me.sandbox_config(json!({"rateLimits": {"enabled": false}}))
            .await?;
        for _ in 0..workers {
            me.add_worker(&[]).await?;
        }
        Ok(me)
    }

    /// Starts one more worker process; `extra_env` overrides (e.g. concurrency, or
    /// `FLUXCASCADE_RATE_BUDGET=documented` to pace requests by the providers' limits).
    pub async fn add_worker(&mut self, extra_env: &[(&str, &str)]) -> anyhow::Result<()> {
        let n = self.workers.len() + 1;
        let (db, prefix, key, sb) = (
            self.proc_db_url.clone(),
            self.prefix.clone(),
            self.master_key.clone(),
            self.sandbox_url.clone(),
        );
        let amqp = self.proc_amqp_url.clone();
        let mut extra = self.proc_env.clone();
        extra.extend(
            extra_env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string())),
        );
        let (proc, _health) =
            Proc::spawn_listening(&format!("worker-{n}"), &self.log_dir, &["worker"], |c| {
                c.env("DATABASE_URL", &db)
                    .env("AMQP_URL", &amqp)
                    .env("FLUXCASCADE_QUEUE_PREFIX", &prefix)
                    .env("FLUXCASCADE_MASTER_KEY", &key)
                    .env("FLUXCASCADE_SANDBOX_URL", &sb)
                    // Like the sandbox's limits, request budgets are off unless a test turns
                    // them on (`FLUXCASCADE_RATE_BUDGET=documented`).
                    .env("FLUXCASCADE_RATE_BUDGET", "off")
                    // The tests' webhook receivers listen on loopback; a test may set `false`.
                    .env("FLUXCASCADE_ALLOW_PRIVATE_WEBHOOK_URLS", "true");
                for (k, v) in &extra {
                    c.env(k, v);
                }
            })
            .await?;
        self.workers.push(proc);
        Ok(())
    }

    /// Stops the ingress and starts a new one with `extra_env` on top of the usual environment
    /// (e.g. other master keys); [`TestEnv::api_url`] then points at it.
    pub async fn restart_ingress(&mut self, extra_env: &[(&str, &str)]) -> anyhow::Result<()> {
        self.ingress.stop();
        let (ingress, api_url) = Proc::spawn_listening(
            "ingress-restarted",
            &self.log_dir,
            &["ingress", "--listen", "127.0.0.1:0"],
            |c| {
                c.env("DATABASE_URL", &self.proc_db_url)
                    .env("AMQP_URL", &self.proc_amqp_url)
                    .env("FLUXCASCADE_QUEUE_PREFIX", &self.prefix)
                    .env("FLUXCASCADE_MASTER_KEY", &self.master_key)
                    .env("FLUXCASCADE_SANDBOX_URL", &self.sandbox_url)
                    .env("FLUXCASCADE_ALLOW_PRIVATE_WEBHOOK_URLS", "true");
                for (k, v) in &self.proc_env {
                    c.env(k, v);
                }
                for (k, v) in extra_env {
                    c.env(k, v);
                }
            },
        )
        .await?;
        self.ingress = ingress;
        self.api_url = api_url;
        Ok(())
    }

    /// Connects the sandbox's default account of `provider` the way a user's browser would;
    /// returns the connection id. See [`TestEnv::connect_account`].
    pub async fn connect(&self, provider: &str) -> anyhow::Result<String> {
        let conn = self.connect_account(provider, None).await?;
        conn["id"]
            .as_str()
            .map(str::to_owned)
            .context("connection without id")
    }

    /// The OAuth flow through the ingress, as a browser follows it: `GET /v1/oauth/{provider}/
    /// authorize` (with the API key) redirects to the sandbox's consent page, which
    /// auto-approves (as `account`, when given) and redirects to our callback, which exchanges
    /// the code and answers 201 with the connection.
    pub async fn connect_account(
        &self,
        provider: &str,
        account: Option<&str>,
    ) -> anyhow::Result<Value> {
        let mut query = vec![("accountName", format!("{provider} e2e"))];
        if let Some(a) = account {
            query.push(("accountHint", a.to_owned()));
            query[0].1 = format!("{provider} {a}");
        }
        let resp = self
            .http
            .get(format!("{}/v1/oauth/{provider}/authorize", self.api_url))
            .query(&query)
            .bearer_auth(&self.api_key)
            .send()
            .await?;
        let consent = redirect_target(&resp, "authorize")?;
        let resp = self.http.get(&consent).send().await?;
        let callback = redirect_target(&resp, "the provider's consent page")?;
        let resp = self.http.get(&callback).send().await?;
        let status = resp.status();
        let body: Value = resp.json().await.unwrap_or(Value::Null);
        if status.as_u16() != 201 {
            bail!("the OAuth callback answered {status}: {body}");
        }
        Ok(body)
    }

    /// Calls the API with this env's key; returns status and JSON body.
    pub async fn api(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<(u16, Value)> {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.api_url))
            .bearer_auth(&self.api_key);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await?;
        let status = resp.status().as_u16();
        let text = resp.text().await?;
        Ok((
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        ))
    }

    pub async fn api_ok(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        let (status, v) = self.api(method.clone(), path, body).await?;
        if !(200..300).contains(&status) {
            bail!("{method} {path} answered {status}: {v}");
        }
        Ok(v)
    }

    /// POSTs a HubSpot webhook `body` to the ingress's `/hooks/hubspot`, timestamped now and signed
    /// with `secret` as HubSpot signs (see [`hubspot_signature`]).
    pub async fn post_hubspot_webhook(
        &self,
        body: &str,
        secret: &str,
    ) -> anyhow::Result<reqwest::Response> {
        let uri = format!("{}/hooks/hubspot", self.api_url);
        let ts = chrono::Utc::now().timestamp_millis().to_string();
        Ok(self
            .http
            .post(&uri)
            .header("content-type", "application/json")
            .header("X-HubSpot-Request-Timestamp", &ts)
            .header(
                "X-HubSpot-Signature-v3",
                hubspot_signature(secret, &uri, body, &ts),
            )
            .body(body.to_owned())
            .send()
            .await?)
    }

    /// The Prometheus text a process serves at `{health}/metrics`.
    pub async fn metrics(&self, health: &str) -> anyhow::Result<String> {
        Ok(self
            .http
            .get(format!("{health}/metrics"))
            .send()
            .await?
            .text()
            .await?)
    }

    /// `POST /v1/mappings` with `spec` (a 2xx, or an error naming the answer); the new mapping's id.
    pub async fn create_mapping(&self, spec: Value) -> anyhow::Result<String> {
        let m = self
            .api_ok(reqwest::Method::POST, "/v1/mappings", Some(spec))
            .await?;
        m["id"]
            .as_str()
            .map(str::to_owned)
            .context("mapping without id")
    }

    /// The demo's mapping: HubSpot contacts → Jobber clients.
    pub async fn contacts_to_clients(&self, hubspot: &str, jobber: &str) -> anyhow::Result<String> {
        self.create_mapping(json!({
            "name": "contacts to clients",
            "source": {"connectionId": hubspot, "object": "contacts"},
            "target": {"connectionId": jobber, "object": "clients"},
            "fieldPairs": [
                {"sourceField": "firstname", "targetField": "firstName"},
                {"sourceField": "lastname", "targetField": "lastName", "required": true},
                {"sourceField": "email", "targetField": "emails[0].address", "transform": "lowercase"}
            ]
        }))
        .await
    }

    pub async fn trigger_sync(&self, mapping_id: &str, mode: &str) -> anyhow::Result<String> {
        let s = self
            .api_ok(
                reqwest::Method::POST,
                "/v1/syncs",
                Some(json!({"mappingId": mapping_id, "mode": mode})),
            )
            .await?;
        s["id"]
            .as_str()
            .map(str::to_owned)
            .context("sync without id")
    }

    /// Polls a sync until it is completed, partial or failed.
    pub async fn wait_sync(&self, sync_id: &str, timeout: Duration) -> anyhow::Result<Value> {
        let deadline = Instant::now() + timeout;
        loop {
            let s = self
                .api_ok(reqwest::Method::GET, &format!("/v1/syncs/{sync_id}"), None)
                .await?;
            if matches!(
                s["status"].as_str(),
                Some("completed" | "partial" | "failed")
            ) {
                return Ok(s);
            }
            if Instant::now() > deadline {
                bail!("sync {sync_id} not finished after {timeout:?}: {s}");
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// A client on this env's database.
    pub async fn db(&self) -> anyhow::Result<tokio_postgres::Client> {
        let (client, conn) = tokio_postgres::connect(&self.db_url, tokio_postgres::NoTls).await?;
        tokio::spawn(conn);
        Ok(client)
    }
}

impl Drop for TestEnv {
    fn drop(&mut self) {
        for w in &mut self.workers {
            w.stop();
        }
        self.ingress.stop();
        self.sandbox.stop();
        let db = self
            .db_url
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_string();
        let prefix = self.prefix.clone();
        let amqp_url = self.amqp_url.clone();
        // Every process is stopped: the proxies can go (and must not hold a cut over cleanup).
        self.db_proxy.take();
        self.amqp_proxy.take();
        // Own runtime on a plain thread: Drop may run inside the test's runtime.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            if let Ok(rt) = rt {
                rt.block_on(async move {
                    if let Ok((c, conn)) =
                        tokio_postgres::connect(PG_ADMIN_URL, tokio_postgres::NoTls).await
                    {
                        tokio::spawn(conn);
                        let _ = c
                            .batch_execute(&format!(
                                "DROP DATABASE IF EXISTS \"{db}\" WITH (FORCE)"
                            ))
                            .await;
                    }
                    let _ = fluxcascade_queue::Topology::delete(&amqp_url, &prefix).await;
                });
            }
        })
        .join();
    }
}

/// `fluxcascade admin create-org` on an env's database; the new org's owner API key.
fn create_org(db_url: &str, prefix: &str, master_key: &str, name: &str) -> anyhow::Result<String> {
    let out = std::process::Command::new(bin_path())
        .args([
            "admin",
            "create-org",
            "--name",
            name,
            "--owner",
            "owner@e2e.test",
        ])
        .env("DATABASE_URL", db_url)
        .env("AMQP_URL", AMQP_URL)
        .env("FLUXCASCADE_QUEUE_PREFIX", prefix)
        .env("FLUXCASCADE_MASTER_KEY", master_key)
        .output()
        .context("running fluxcascade admin create-org")?;
    if !out.status.success() {
        bail!(
            "fluxcascade admin create-org failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("api_key="))
        .context("create-org printed no api_key")?
        .to_string())
}

impl TestEnv {
    /// Creates another org (`fluxcascade admin create-org`); returns its owner's API key. Act as
    /// it with [`TestEnv::act_as`].
    pub fn create_org(&self, name: &str) -> anyhow::Result<String> {
        create_org(&self.db_url, &self.prefix, &self.master_key, name)
    }

    /// Makes every later API call (and OAuth connect) with `api_key`; returns the key used so far.
    pub fn act_as(&mut self, api_key: &str) -> String {
        std::mem::replace(&mut self.api_key, api_key.to_owned())
    }

    /// Starts one more `fluxcascade ingress` process named `name` against this env's database,
    /// broker and sandbox (another replica behind the same load balancer, as it were; the
    /// caller owns it: stop it with `Proc::stop`); returns it and its API URL.
    pub async fn start_ingress_replica(&self, name: &str) -> anyhow::Result<(Proc, String)> {
        Proc::spawn_listening(
            name,
            &self.log_dir,
            &["ingress", "--listen", "127.0.0.1:0"],
            |c| {
                c.env("DATABASE_URL", &self.proc_db_url)
                    .env("AMQP_URL", &self.proc_amqp_url)
                    .env("FLUXCASCADE_QUEUE_PREFIX", &self.prefix)
                    .env("FLUXCASCADE_MASTER_KEY", &self.master_key)
                    .env("FLUXCASCADE_SANDBOX_URL", &self.sandbox_url)
                    .env("FLUXCASCADE_ALLOW_PRIVATE_WEBHOOK_URLS", "true");
                for (k, v) in &self.proc_env {
                    c.env(k, v);
                }
            },
        )
        .await
    }

    /// Starts a `fluxcascade scheduler` process named `name` on this env (the caller owns it:
    /// stop it with `Proc::stop`); returns it and its health URL.
    pub async fn start_scheduler(
        &self,
        name: &str,
        extra_env: &[(&str, &str)],
    ) -> anyhow::Result<(Proc, String)> {
        Proc::spawn_listening(name, &self.log_dir, &["scheduler"], |c| {
            c.env("DATABASE_URL", &self.proc_db_url)
                .env("AMQP_URL", &self.proc_amqp_url)
                .env("FLUXCASCADE_QUEUE_PREFIX", &self.prefix)
                .env("FLUXCASCADE_MASTER_KEY", &self.master_key);
            for (k, v) in &self.proc_env {
                c.env(k, v);
            }
            for (k, v) in extra_env {
                c.env(k, v);
            }
        })
        .await
    }
}

/// HubSpot's v3 webhook signature (base64 HMAC-SHA256 with the app secret over method + URL +
/// body + timestamp), computed here independently of the sandbox and the ingress.
pub fn hubspot_signature(secret: &str, uri: &str, body: &str, ts: &str) -> String {
    use base64::Engine;
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(ring::hmac::sign(
        &key,
        format!("POST{uri}{body}{ts}").as_bytes(),
    ))
}

impl TestEnv {
    /// Fresh Jobber tokens for the sandbox's default account, through Jobber's OAuth (authorize →
    /// code → token exchange), as a user (re)connecting the app would get them: the token
    /// response, with `access_token` and `refresh_token`.
    pub async fn fresh_jobber_tokens(&self) -> anyhow::Result<Value> {
        let redirect = "http://127.0.0.1:1/cb";
        let resp = self
            .http
            .get(format!("{}/jobber/api/oauth/authorize", self.sandbox_url))
            .query(&[
                ("client_id", "sandbox-client"),
                ("redirect_uri", redirect),
                ("response_type", "code"),
                ("state", "s"),
            ])
            .send()
            .await?;
        let target = redirect_target(&resp, "sandbox consent")?;
        let code = url::Url::parse(&target)?
            .query_pairs()
            .find(|(k, _)| k == "code")
            .map(|(_, v)| v.into_owned())
            .context("no code")?;
        let token: Value = self
            .http
            .post(format!("{}/jobber/api/oauth/token", self.sandbox_url))
            .form(&[
                ("grant_type", "authorization_code"),
                ("client_id", "sandbox-client"),
                ("client_secret", "sandbox-secret"),
                ("redirect_uri", redirect),
                ("code", code.as_str()),
            ])
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        if token["access_token"].as_str().is_none() {
            bail!("no access token: {token}");
        }
        Ok(token)
    }
}

/// The `Location` of a redirect answer.
pub fn redirect_target(resp: &reqwest::Response, what: &str) -> anyhow::Result<String> {
    resp.headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .with_context(|| format!("{what} answered {} without a redirect", resp.status()))
}
