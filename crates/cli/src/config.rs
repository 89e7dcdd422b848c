//! Configuration: read once from the environment into typed settings; secrets redact in `Debug`.

use std::time::Duration;

use anyhow::{bail, Context};
use fluxcascade_core::ProviderKind;
use fluxcascade_providers::egress::WebhookUrls;
use fluxcascade_providers::{ProviderApp, ProvidersConfig, RateBudgets, WindowLimit};
use fluxcascade_queue::QueueConfig;

/// A value that must never be printed.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub database_url: Secret,
    pub amqp_url: Secret,
    pub master_key: Option<Secret>,
    pub listen: Option<String>,
    /// `FLUXCASCADE_PUBLIC_URL`: where providers and browsers reach the ingress.
    pub public_url: Option<String>,
    pub worker_concurrency: usize,
    pub queue_prefix: String,
    pub db_pool_size: usize,
    pub providers: ProvidersConfig,
    /// Per-connection request budgets (`FLUXCASCADE_RATE_BUDGET_<PROVIDER>[_SEARCH]`).
    pub rate_budgets: RateBudgets,
    pub shutdown_grace: Duration,
    /// The scheduler runs the latest missed fire time within this window after downtime.
    pub scheduler_catch_up: Duration,
    /// Outbound webhook URLs: public `https` only, unless
    /// `FLUXCASCADE_ALLOW_PRIVATE_WEBHOOK_URLS=true` (local development) allows any `http(s)`.
    pub webhook_urls: WebhookUrls,
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn env_parse<T: std::str::FromStr>(name: &str, default: T) -> anyhow::Result<T>
where
    T::Err: std::fmt::Display,
{
    match env(name) {
        Some(v) => v
            .parse()
            .map_err(|e| anyhow::anyhow!("{name}={v:?} is invalid: {e}")),
        None => Ok(default),
    }
}

impl Settings {
    pub fn from_env() -> anyhow::Result<Settings> {
        let worker_concurrency: usize = env_parse("FLUXCASCADE_WORKER_CONCURRENCY", 8)?;
        if worker_concurrency == 0 {
            bail!("FLUXCASCADE_WORKER_CONCURRENCY must be at least 1");
        }
        let providers = match env("FLUXCASCADE_SANDBOX_URL") {
            Some(url) => ProvidersConfig::sandbox(url.trim_end_matches('/')),
            None => providers_from_env(),
        };
        Ok(Settings {
            database_url: Secret(
                env("DATABASE_URL")
                    .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/fluxcascade".into()),
            ),
            amqp_url: Secret(
                env("AMQP_URL").unwrap_or_else(|| "amqp://guest:guest@127.0.0.1:5672/%2f".into()),
            ),
            master_key: env("FLUXCASCADE_MASTER_KEY").map(Secret),
            listen: env("FLUXCASCADE_LISTEN"),
            public_url: env("FLUXCASCADE_PUBLIC_URL"),
            worker_concurrency,
            queue_prefix: env("FLUXCASCADE_QUEUE_PREFIX").unwrap_or_else(|| "fluxcascade".into()),
            db_pool_size: env_parse("FLUXCASCADE_DB_POOL_SIZE", 2 * worker_concurrency + 8)?,
            providers,
            rate_budgets: rate_budgets_from_env()?,
            shutdown_grace: Duration::from_secs(env_parse(
                "FLUXCASCADE_SHUTDOWN_GRACE_SECONDS",
                30,
            )?),
            scheduler_catch_up: Duration::from_secs(env_parse(
                "FLUXCASCADE_SCHEDULER_CATCH_UP_SECONDS",
                3600,
            )?),
            webhook_urls: webhook_urls_from_env()?,
        })
    }

    pub fn queue(&self) -> QueueConfig {
        let mut q = QueueConfig::new(self.amqp_url.expose(), &self.queue_prefix);
        q.prefetch = u16::try_from(self.worker_concurrency).unwrap_or(u16::MAX);
        q
    }

    pub fn master_key(&self) -> anyhow::Result<fluxcascade_store::MasterKey> {
        let Some(k) = &self.master_key else {
            bail!("FLUXCASCADE_MASTER_KEY is not set (base64 of 32 random bytes; `fluxcascade admin gen-key` makes one)");
        };
        fluxcascade_store::MasterKey::from_base64(k.expose()).context("FLUXCASCADE_MASTER_KEY")
    }
}

/// `FLUXCASCADE_ALLOW_PRIVATE_WEBHOOK_URLS=true` lets webhook URLs use `http` and reach
/// loopback and private addresses (local development: `make run` sets it); default `false`.
fn webhook_urls_from_env() -> anyhow::Result<WebhookUrls> {
    if env_parse("FLUXCASCADE_ALLOW_PRIVATE_WEBHOOK_URLS", false)? {
        tracing::warn!("FLUXCASCADE_ALLOW_PRIVATE_WEBHOOK_URLS=true: webhook URLs may reach private and loopback addresses (local development only)");
        Ok(WebhookUrls::allow_private())
    } else {
        Ok(WebhookUrls::public_only())
    }
}

/// The providers' documented limits, each overridable by `FLUXCASCADE_RATE_BUDGET_<PROVIDER>`
/// (general) and `FLUXCASCADE_RATE_BUDGET_<PROVIDER>_SEARCH` as `<requests>/<window>` (`100/10s`)
/// or `off`; `FLUXCASCADE_RATE_BUDGET=off` turns every budget off.
fn rate_budgets_from_env() -> anyhow::Result<RateBudgets> {
    if env("FLUXCASCADE_RATE_BUDGET").as_deref() == Some("off") {
        return Ok(RateBudgets::unlimited());
    }
    let mut budgets = RateBudgets::documented();
    for kind in ProviderKind::ALL {
        let name = format!("FLUXCASCADE_RATE_BUDGET_{}", kind.as_str().to_uppercase());
        let limits = budgets.for_kind_mut(kind);
        for (var, slot) in [
            (name.clone(), &mut limits.general),
            (format!("{name}_SEARCH"), &mut limits.search),
        ] {
            match env(&var).as_deref() {
                None => {}
                Some("off") => *slot = None,
                Some(v) => {
                    *slot = Some(WindowLimit::parse(v).map_err(|e| anyhow::anyhow!("{var}: {e}"))?)
                }
            }
        }
    }
    Ok(budgets)
}

/// Production provider settings: the real hosts, with app credentials (and optional base-URL
/// overrides) from `FLUXCASCADE_<PROVIDER>_CLIENT_ID`, `_CLIENT_SECRET`, `_API_BASE`, `_OAUTH_BASE`.
fn providers_from_env() -> ProvidersConfig {
    let creds = |p: &str| {
        (
            env(&format!("FLUXCASCADE_{p}_CLIENT_ID")).unwrap_or_default(),
            fluxcascade_providers::Secret::from(
                env(&format!("FLUXCASCADE_{p}_CLIENT_SECRET")).unwrap_or_default(),
            ),
        )
    };
    let mut config = ProvidersConfig::production(
        creds("HUBSPOT"),
        creds("JOBBER"),
        creds("PIPEDRIVE"),
        creds("SALESFORCE"),
    );
    let overrides = |p: &str, app: &mut ProviderApp| {
        if let Some(v) = env(&format!("FLUXCASCADE_{p}_API_BASE")) {
            app.api_base = v;
        }
        if let Some(v) = env(&format!("FLUXCASCADE_{p}_OAUTH_BASE")) {
            app.oauth_base = v;
        }
    };
    overrides("HUBSPOT", &mut config.hubspot);
    overrides("JOBBER", &mut config.jobber);
    overrides("PIPEDRIVE", &mut config.pipedrive);
    overrides("SALESFORCE", &mut config.salesforce);
    config
}
