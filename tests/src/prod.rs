//! A production-posture installation for attack tests: no sandbox URL, app credentials for
//! HubSpot only (pointed at the sandbox by explicit base URLs), two orgs and a Member key, and a
//! loopback "internal service" that counts every connection made to it.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use reqwest::Method;
use serde_json::{json, Value};

use crate::{bin_path, procs, Proc, AMQP_URL, PG_ADMIN_URL};
/// A loopback listener standing for an internal service: it counts every connection made to it.
pub struct Trap {
    pub port: u16,
    hits: Arc<AtomicUsize>,
}

impl Trap {
    pub async fn start() -> anyhow::Result<Trap> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let hits = Arc::new(AtomicUsize::new(0));
        let counter = hits.clone();
        tokio::spawn(async move {
            while let Ok((_socket, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
            }
        });
        Ok(Trap { port, hits })
    }

    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

/// One production-posture installation and the two tenants attacking it.
pub struct Prod {
    pub api: String,
    pub sandbox_url: String,
    pub http: reqwest::Client,
    pub owner_a: String,
    pub member_a: String,
    pub owner_b: String,
    pub app_secret: String,
    pub db_name: String,
    pub prefix: String,
    pub processes: Vec<Proc>,
    /// Every 5xx answered, as `METHOD path → status`.
    pub server_errors: Vec<String>,
}

pub const CLIENT_ID: &str = "fc-production-client";

impl Prod {
    pub async fn start(name: &str) -> anyhow::Result<Prod> {
        let id = uuid::Uuid::new_v4().simple().to_string();
        let db_name = format!("fc_e2e_{}", &id[..12]);
        let db_url = format!("postgres://postgres@127.0.0.1:5432/{db_name}");
        let prefix = format!("e2e_{}", &id[..12]);
        let master_key = fluxcascade_store::MasterKey::generate_base64();
        let app_secret = format!("prod-secret-{}", &id[12..]);
        let log_dir = procs::log_dir(name);
        let base_env = |c: &mut std::process::Command| {
            c.env("DATABASE_URL", &db_url)
                .env("AMQP_URL", AMQP_URL)
                .env("FLUXCASCADE_QUEUE_PREFIX", &prefix)
                .env("FLUXCASCADE_MASTER_KEY", &master_key)
                .env_remove("FLUXCASCADE_SANDBOX_URL")
                .env_remove("FLUXCASCADE_ALLOW_PRIVATE_WEBHOOK_URLS");
        };
        let (sandbox, sandbox_url) = Proc::spawn_listening(
            "sandbox",
            &log_dir,
            &["sandbox", "--listen", "127.0.0.1:0"],
            base_env,
        )
        .await?;
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .build()?;
        let resp = http
            .put(format!("{sandbox_url}/_sandbox/config"))
            .json(&json!({"rateLimits": {"enabled": false},
                "secrets": {"hubspot": {"clientId": CLIENT_ID, "clientSecret": app_secret}}}))
            .send()
            .await?;
        if !resp.status().is_success() {
            bail!("sandbox config answered {}", resp.status());
        }
        let run = |args: &[&str]| -> anyhow::Result<String> {
            let mut cmd = std::process::Command::new(bin_path());
            cmd.args(args);
            base_env(&mut cmd);
            let out = cmd.output()?;
            if !out.status.success() {
                bail!("{args:?}: {}", String::from_utf8_lossy(&out.stderr));
            }
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        };
        run(&["migrate"])?;
        let key_of = |out: String| -> anyhow::Result<String> {
            out.lines()
                .find_map(|l| l.strip_prefix("api_key="))
                .map(str::to_owned)
                .context("no api_key printed")
        };
        let owner_a = key_of(run(&[
            "admin",
            "create-org",
            "--name",
            "Attacker",
            "--owner",
            "a@x.test",
        ])?)?;
        let owner_b = key_of(run(&[
            "admin",
            "create-org",
            "--name",
            "Victim",
            "--owner",
            "b@x.test",
        ])?)?;
        let store = fluxcascade_store::Store::connect(&db_url, 2)?;
        let principal = store.authenticate(&owner_a).await?.context("owner key")?;
        let member_a = store
            .create_api_key(
                principal.org_id,
                fluxcascade_store::orgs::Role::Member,
                "member@x.test",
            )
            .await?;
        let hubspot = format!("{sandbox_url}/hubspot");
        let prod_env = |c: &mut std::process::Command| {
            base_env(c);
            c.env("FLUXCASCADE_HUBSPOT_CLIENT_ID", CLIENT_ID)
                .env("FLUXCASCADE_HUBSPOT_CLIENT_SECRET", &app_secret)
                .env("FLUXCASCADE_HUBSPOT_API_BASE", &hubspot)
                .env("FLUXCASCADE_HUBSPOT_OAUTH_BASE", &hubspot)
                .env("FLUXCASCADE_RATE_BUDGET", "off");
        };
        let (ingress, api) = Proc::spawn_listening(
            "ingress",
            &log_dir,
            &["ingress", "--listen", "127.0.0.1:0"],
            prod_env,
        )
        .await?;
        let (worker, _) = Proc::spawn_listening(
            "worker",
            &log_dir,
            &["worker", "--listen", "127.0.0.1:0"],
            prod_env,
        )
        .await?;
        Ok(Prod {
            api,
            sandbox_url,
            http,
            owner_a,
            member_a,
            owner_b,
            app_secret,
            db_name,
            prefix,
            processes: vec![sandbox, ingress, worker],
            server_errors: Vec::new(),
        })
    }

    /// Sends a request with `key` (none: no Authorization) and a raw body; records 5xx.
    pub async fn send(
        &mut self,
        method: Method,
        path: &str,
        key: Option<&str>,
        body: Option<Vec<u8>>,
    ) -> anyhow::Result<(u16, Value)> {
        let mut req = self
            .http
            .request(method.clone(), format!("{}{path}", self.api));
        if let Some(k) = key {
            req = req.bearer_auth(k);
        }
        if let Some(b) = body {
            req = req.header("content-type", "application/json").body(b);
        }
        let resp = req
            .send()
            .await
            .with_context(|| format!("{method} {path}"))?;
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap_or_default();
        if status >= 500 {
            self.server_errors
                .push(format!("{method} {path} → {status}: {text}"));
        }
        Ok((
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        ))
    }

    pub async fn call(
        &mut self,
        method: Method,
        path: &str,
        key: &str,
        body: Value,
    ) -> anyhow::Result<(u16, Value)> {
        let bytes = serde_json::to_vec(&body)?;
        self.send(method, path, Some(key), Some(bytes)).await
    }

    /// Connects `account` of HubSpot through the OAuth flow, as the org of `key`.
    pub async fn connect_hubspot(&mut self, key: &str, account: &str) -> anyhow::Result<Value> {
        let resp = self
            .http
            .get(format!("{}/v1/oauth/hubspot/authorize", self.api))
            .query(&[("accountHint", account)])
            .bearer_auth(key)
            .send()
            .await?;
        let consent = crate::redirect_target(&resp, "authorize")?;
        let resp = self.http.get(&consent).send().await?;
        let callback = crate::redirect_target(&resp, "consent")?;
        let resp = self.http.get(&callback).send().await?;
        let status = resp.status();
        let body: Value = resp.json().await?;
        if status.as_u16() != 201 {
            bail!("callback answered {status}: {body}");
        }
        Ok(body)
    }

    /// Every process still running (none aborted or exited).
    pub fn all_running(&mut self) -> Vec<String> {
        self.processes
            .iter_mut()
            .filter_map(|p| (!p.is_running()).then(|| p.name.clone()))
            .collect()
    }
}

impl Drop for Prod {
    fn drop(&mut self) {
        for p in &mut self.processes {
            p.stop();
        }
        let (db, prefix) = (self.db_name.clone(), self.prefix.clone());
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            if let Ok(rt) = rt {
                rt.block_on(cleanup(&db, &prefix));
            }
        })
        .join();
    }
}

async fn cleanup(db: &str, prefix: &str) {
    if let Ok((client, conn)) = tokio_postgres::connect(PG_ADMIN_URL, tokio_postgres::NoTls).await {
        tokio::spawn(conn);
        let _ = client
            .batch_execute(&format!("DROP DATABASE IF EXISTS \"{db}\" WITH (FORCE)"))
            .await;
    }
    let _ = fluxcascade_queue::Topology::delete(AMQP_URL, prefix).await;
}

/// A fresh access token for `account`, granted by the provider (the sandbox) to our app.
pub async fn sandbox_token(env: &Prod, account: &str) -> anyhow::Result<String> {
    let redirect = "http://127.0.0.1:1/cb";
    let resp = env
        .http
        .get(format!("{}/hubspot/oauth/authorize", env.sandbox_url))
        .query(&[
            ("client_id", CLIENT_ID),
            ("redirect_uri", redirect),
            ("state", "s"),
            ("scope", "crm.objects.contacts.read"),
            ("account", account),
        ])
        .send()
        .await?;
    let target = crate::redirect_target(&resp, "sandbox consent")?;
    let code = url::Url::parse(&target)?
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .context("no code")?;
    let token: Value = env
        .http
        .post(format!("{}/hubspot/oauth/v1/token", env.sandbox_url))
        .form(&[
            ("grant_type", "authorization_code"),
            ("client_id", CLIENT_ID),
            ("client_secret", env.app_secret.as_str()),
            ("redirect_uri", redirect),
            ("code", code.as_str()),
        ])
        .send()
        .await?
        .json()
        .await?;
    token["access_token"]
        .as_str()
        .map(str::to_owned)
        .with_context(|| format!("no access token: {token}"))
}
