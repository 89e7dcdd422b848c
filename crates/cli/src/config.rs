//! Configuration: read once from the environment into typed settings; secrets redact in `Debug`.

use std::time::Duration;

use anyhow::{bail, Context};
use fluxcascade_core::ProviderKind;
use fluxcascade_providers::egress::WebhookUrls;
use fluxcascade_providers::Secret;
use fluxcascade_providers::{
    ProviderApp, ProvidersConfig, RateBudgets, WindowLimit, SANDBOX_CLIENT_ID,
    SANDBOX_CLIENT_SECRET,
};
use fluxcascade_queue::QueueConfig;

#[derive(Debug, Clone)]
pub struct Settings {
    pub database_url: Secret,
    pub amqp_url: Secret,
    pub master_key: Option<Secret>,
    /// `FLUXCASCADE_MASTER_KEYS_PREVIOUS`: keys that still open what they sealed (comma-separated,
    /// each `base64` or `id:base64`), kept until `admin reseal` has moved everything off them.
    pub master_keys_previous: Option<Secret>,
    pub listen: Option<String>,
    /// `FLUXCASCADE_PUBLIC_URL`: where providers and browsers reach the ingress.
    pub public_url: Option<String>,
    /// `FLUXCASCADE_SESSION_TTL_SECS`: how long a console session lives (default 12 h).
    pub session_ttl: Duration,
    /// `FLUXCASCADE_OAUTH_REDIRECT_ORIGINS`: comma-separated origins an API OAuth flow's
    /// `redirectTo` may name (default none).
    pub oauth_redirect_origins: Vec<String>,
    /// `FLUXCASCADE_METRICS_LISTEN`: where the ingress serves `/metrics` (never its API port);
    /// `off`: nowhere.
    pub metrics_listen: Option<String>,
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
    /// `FLUXCASCADE_RETRY_DELAYS`: the four retry tier delays (`None`: the production
    /// 1s,10s,1m,10m). Every process of a queue prefix must use the same ones.
    pub retry_delays: Option<Vec<Duration>>,
    /// `FLUXCASCADE_WEBHOOK_CONCURRENCY`: webhook jobs in flight per worker, on their own consumer.
    pub webhook_concurrency: usize,
    /// `FLUXCASCADE_RETRY_WINDOW`: how long outages and provider faults are retried per job.
    pub retry_window: Duration,
    /// `FLUXCASCADE_RUN_LEASE_SECONDS`: a run whose lease is this old is resumed by the reaper.
    pub run_lease: Duration,
    /// `FLUXCASCADE_REAPER_INTERVAL_SECONDS`: how often the scheduler looks for expired leases.
    pub reaper_interval: Duration,
    /// `FLUXCASCADE_ORG_MAX_BATCHES` / `FLUXCASCADE_CONNECTION_MAX_BATCHES`: batch jobs of one
    /// org / writing one connection running at once across the fleet (0: no cap).
    pub batch_caps: fluxcascade_store::BatchCaps,
    /// `FLUXCASCADE_PAGE_SIZE`: records per page read from a source (one batch job per page).
    pub page_size: u32,
    /// `FLUXCASCADE_RETENTION_DAYS` (runs, webhook events, deliveries; default 30),
    /// `FLUXCASCADE_AUDIT_RETENTION_DAYS` (default 365) and
    /// `FLUXCASCADE_RETENTION_INTERVAL_SECONDS` (how often the scheduler purges; default 3600).
    pub retention: fluxcascade_scheduler::retention::RetentionConfig,
}

/// Default `FLUXCASCADE_ORG_MAX_BATCHES`: two thirds of a typical fleet (3 workers × 8 slots),
/// leaving the rest to other orgs.
pub const DEFAULT_ORG_MAX_BATCHES: u32 = 16;
/// Default `FLUXCASCADE_CONNECTION_MAX_BATCHES`: at 4 the unthrottled bulk sync (bench-sync, one
/// connection, 16 slots) lost a third of its rate to capped batches cycling; at 8 it is unchanged.
pub const DEFAULT_CONNECTION_MAX_BATCHES: u32 = 8;

/// Parses `90`, `90s`, `500ms`, `15m`, `1h`, `2d` (a bare number is seconds).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let n: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration like 90s, 15m or 1h"))?;
    let d = match unit.trim() {
        "ms" => Duration::from_millis(n),
        "" | "s" => Duration::from_secs(n),
        "m" => Duration::from_secs(n.saturating_mul(60)),
        "h" => Duration::from_secs(n.saturating_mul(3600)),
        "d" => Duration::from_secs(n.saturating_mul(86_400)),
        other => return Err(format!("{text:?}: unknown unit {other:?} (ms, s, m, h, d)")),
    };
    if d.is_zero() {
        return Err(format!("{text:?} must be longer than zero"));
    }
    Ok(d)
}

fn env_duration(name: &str, default: Duration) -> anyhow::Result<Duration> {
    match env(name) {
        Some(v) => parse_duration(&v).map_err(|e| anyhow::anyhow!("{name}: {e}")),
        None => Ok(default),
    }
}

/// `FLUXCASCADE_OAUTH_REDIRECT_ORIGINS`: each entry an `http(s)://host[:port]` origin.
fn oauth_redirect_origins_from(raw: Option<&str>) -> anyhow::Result<Vec<String>> {
    let Some(raw) = raw else {
        return Ok(Vec::new());
    };
    raw.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            let url = url::Url::parse(s)
                .map_err(|e| anyhow::anyhow!("FLUXCASCADE_OAUTH_REDIRECT_ORIGINS: {s:?}: {e}"))?;
            if !matches!(url.scheme(), "https" | "http") || url.host().is_none() {
                bail!("FLUXCASCADE_OAUTH_REDIRECT_ORIGINS: {s:?} is not an http(s) origin");
            }
            Ok(url.origin().ascii_serialization())
        })
        .collect()
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
        let providers = providers_from(env)?;
        Ok(Settings {
            database_url: Secret::new(
                env("DATABASE_URL")
                    .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/fluxcascade".into()),
            ),
            amqp_url: Secret::new(
                env("AMQP_URL").unwrap_or_else(|| "amqp://guest:guest@127.0.0.1:5672/%2f".into()),
            ),
            master_key: env("FLUXCASCADE_MASTER_KEY").map(Secret::new),
            master_keys_previous: env("FLUXCASCADE_MASTER_KEYS_PREVIOUS").map(Secret::new),
            listen: env("FLUXCASCADE_LISTEN"),
            public_url: env("FLUXCASCADE_PUBLIC_URL"),
            session_ttl: Duration::from_secs(env_parse(
                "FLUXCASCADE_SESSION_TTL_SECS",
                fluxcascade_ingress::console::session::DEFAULT_SESSION_TTL.as_secs(),
            )?)
            .max(Duration::from_secs(60)),
            oauth_redirect_origins: oauth_redirect_origins_from(
                env("FLUXCASCADE_OAUTH_REDIRECT_ORIGINS").as_deref(),
            )?,
            metrics_listen: match env("FLUXCASCADE_METRICS_LISTEN") {
                Some(v) if v == "off" => None,
                Some(v) => Some(v),
                None => Some(fluxcascade_ingress::DEFAULT_METRICS_LISTEN.into()),
            },
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
            retry_delays: retry_delays_from(env("FLUXCASCADE_RETRY_DELAYS").as_deref())?,
            webhook_concurrency: env_parse(
                "FLUXCASCADE_WEBHOOK_CONCURRENCY",
                (worker_concurrency / 2).max(2),
            )?,
            retry_window: env_duration(
                "FLUXCASCADE_RETRY_WINDOW",
                fluxcascade_queue::DEFAULT_RETRY_WINDOW,
            )?,
            run_lease: Duration::from_secs(env_parse("FLUXCASCADE_RUN_LEASE_SECONDS", 120)?.max(1)),
            reaper_interval: Duration::from_secs(
                env_parse("FLUXCASCADE_REAPER_INTERVAL_SECONDS", 15)?.max(1),
            ),
            batch_caps: batch_caps_from(env)?,
            page_size: match env_parse("FLUXCASCADE_PAGE_SIZE", 100u32)? {
                n @ 1..=100 => n,
                n => bail!("FLUXCASCADE_PAGE_SIZE={n} must be between 1 and 100"),
            },
            retention: retention_from(env)?,
        })
        .and_then(Settings::validated)
    }

    /// Refuses an `AMQP_URL` list with a bad entry (named by position, never echoed).
    fn validated(self) -> anyhow::Result<Settings> {
        fluxcascade_queue::parse_amqp_urls(self.amqp_url.expose()).context("AMQP_URL")?;
        Ok(self)
    }

    pub fn queue(&self) -> QueueConfig {
        let mut q = QueueConfig::new(self.amqp_url.expose(), &self.queue_prefix);
        q.prefetch = u16::try_from(self.worker_concurrency).unwrap_or(u16::MAX);
        q.retry_delays.clone_from(&self.retry_delays);
        q.retry_window = self.retry_window;
        q
    }

    /// The master keys: `FLUXCASCADE_MASTER_KEY` seals, `FLUXCASCADE_MASTER_KEYS_PREVIOUS` still
    /// open. Errors name the variable (and entry), never a key.
    pub fn master_key(&self) -> anyhow::Result<fluxcascade_store::MasterKey> {
        let Some(k) = &self.master_key else {
            bail!("FLUXCASCADE_MASTER_KEY is not set (base64 of 32 random bytes; `fluxcascade admin gen-key` makes one)");
        };
        let key = fluxcascade_store::MasterKey::from_config(
            k.expose(),
            self.master_keys_previous.as_ref().map(Secret::expose),
        )?;
        tracing::info!(
            key_id = %key.key_id(),
            previous_key_ids = ?key.previous_key_ids(),
            "master keys loaded"
        );
        Ok(key)
    }
}

/// The retention settings; days and the interval are whole numbers of at least 1.
fn retention_from(
    var: impl Fn(&str) -> Option<String>,
) -> anyhow::Result<fluxcascade_scheduler::retention::RetentionConfig> {
    let positive = |name: &str, default: u64| -> anyhow::Result<u64> {
        match var(name) {
            None => Ok(default),
            Some(v) => match v.trim().parse::<u64>() {
                Ok(n) if (1..=36_500).contains(&n) => Ok(n),
                _ => bail!("{name}={v:?} must be a whole number from 1 to 36500"),
            },
        }
    };
    const DAY: u64 = 86_400;
    Ok(fluxcascade_scheduler::retention::RetentionConfig {
        interval: Duration::from_secs(positive("FLUXCASCADE_RETENTION_INTERVAL_SECONDS", 3600)?),
        history: Duration::from_secs(positive("FLUXCASCADE_RETENTION_DAYS", 30)? * DAY),
        audit: Duration::from_secs(positive("FLUXCASCADE_AUDIT_RETENTION_DAYS", 365)? * DAY),
        ..Default::default()
    })
}

/// `FLUXCASCADE_RETRY_DELAYS`: four comma-separated durations (`200ms,1s,2s,5s`, as
/// [`parse_duration`] reads them), non-zero and non-decreasing; unset: the production tiers.
fn retry_delays_from(value: Option<&str>) -> anyhow::Result<Option<Vec<Duration>>> {
    let Some(value) = value else {
        return Ok(None);
    };
    let delays = value
        .split(',')
        .map(|d| parse_duration(d.trim()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| anyhow::anyhow!("FLUXCASCADE_RETRY_DELAYS={value:?}: {e}"))?;
    let mut check = QueueConfig::new("", "");
    check.retry_delays = Some(delays.clone());
    check
        .tier_delays()
        .map_err(|e| anyhow::anyhow!("FLUXCASCADE_RETRY_DELAYS={value:?}: {e}"))?;
    Ok(Some(delays))
}

/// The fleet-wide batch caps; each at most [`fluxcascade_store::BatchCaps::MAX`].
fn batch_caps_from(
    var: impl Fn(&str) -> Option<String>,
) -> anyhow::Result<fluxcascade_store::BatchCaps> {
    let cap = |name: &str, default: u32| -> anyhow::Result<u32> {
        let n = match var(name) {
            Some(v) => v
                .trim()
                .parse::<u32>()
                .map_err(|e| anyhow::anyhow!("{name}={v:?} is invalid: {e}"))?,
            None => default,
        };
        if n > fluxcascade_store::BatchCaps::MAX {
            bail!(
                "{name}={n} is more than {}",
                fluxcascade_store::BatchCaps::MAX
            );
        }
        Ok(n)
    };
    Ok(fluxcascade_store::BatchCaps {
        per_org: cap("FLUXCASCADE_ORG_MAX_BATCHES", DEFAULT_ORG_MAX_BATCHES)?,
        per_connection: cap(
            "FLUXCASCADE_CONNECTION_MAX_BATCHES",
            DEFAULT_CONNECTION_MAX_BATCHES,
        )?,
    })
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

/// The providers' apps. With `FLUXCASCADE_SANDBOX_URL` every provider points at the sandbox;
/// otherwise (production) a provider is configured only by both `FLUXCASCADE_<PROVIDER>_CLIENT_ID`
/// and `_CLIENT_SECRET` (optionally `_API_BASE`, `_OAUTH_BASE`) and is absent without them.
/// Refused: an id without a secret or a secret without an id, and the sandbox's public
/// credentials outside sandbox mode.
fn providers_from(var: impl Fn(&str) -> Option<String>) -> anyhow::Result<ProvidersConfig> {
    if let Some(url) = var("FLUXCASCADE_SANDBOX_URL") {
        return Ok(ProvidersConfig::sandbox(url.trim_end_matches('/')));
    }
    let mut config = ProvidersConfig::production();
    for kind in ProviderKind::ALL {
        let p = kind.as_str().to_uppercase();
        let id_var = format!("FLUXCASCADE_{p}_CLIENT_ID");
        let secret_var = format!("FLUXCASCADE_{p}_CLIENT_SECRET");
        let (client_id, client_secret) = match (var(&id_var), var(&secret_var)) {
            (None, None) => continue,
            (Some(_), None) => bail!(
                "{id_var} is set but {secret_var} is not: set both to enable {kind}, or neither"
            ),
            (None, Some(_)) => bail!(
                "{secret_var} is set but {id_var} is not: set both to enable {kind}, or neither"
            ),
            (Some(id), Some(secret)) => (id, secret),
        };
        if client_secret == SANDBOX_CLIENT_SECRET {
            bail!("{secret_var} is the sandbox's public secret; it is accepted only with FLUXCASCADE_SANDBOX_URL");
        }
        if client_id == SANDBOX_CLIENT_ID {
            bail!("{id_var} is the sandbox's client id; it is accepted only with FLUXCASCADE_SANDBOX_URL");
        }
        let mut app = ProviderApp::production(kind, client_id, Secret::from(client_secret));
        if let Some(v) = var(&format!("FLUXCASCADE_{p}_API_BASE")) {
            app.api_base = v;
        }
        if let Some(v) = var(&format!("FLUXCASCADE_{p}_OAUTH_BASE")) {
            app.oauth_base = v;
        }
        *config.app_mut(kind) = Some(app);
    }
    Ok(config)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    #[test]
    fn durations_read_like_people_write_them() {
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("15m"), Ok(Duration::from_secs(900)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("1 week").is_err());
        assert!(parse_duration("h").is_err());
    }

    fn parse(vars: &[(&str, &str)]) -> anyhow::Result<ProvidersConfig> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        // Like `env`: an empty value is unset.
        providers_from(|name| vars.get(name).cloned().filter(|v| !v.is_empty()))
    }

    #[test]
    fn retry_delays_are_four_non_decreasing_durations() {
        assert_eq!(retry_delays_from(None).unwrap(), None);
        assert_eq!(
            retry_delays_from(Some("200ms, 1s,2s,5m")).unwrap(),
            Some(vec![
                Duration::from_millis(200),
                Duration::from_secs(1),
                Duration::from_secs(2),
                Duration::from_secs(300),
            ])
        );
        for bad in [
            "1s,2s,3s",
            "1s,2s,3s,4s,5s",
            "2s,1s,3s,4s",
            "0s,1s,2s,3s",
            "1s,2s,x,4s",
        ] {
            let e = retry_delays_from(Some(bad)).unwrap_err();
            assert!(e.to_string().contains("FLUXCASCADE_RETRY_DELAYS"), "{e}");
        }
    }

    #[test]
    fn retention_defaults_and_refuses_nonsense() {
        let parse = |vars: &[(&str, &str)]| {
            let vars: HashMap<String, String> = vars
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            retention_from(|name| vars.get(name).cloned())
        };
        let r = parse(&[]).unwrap();
        assert_eq!(r.history, Duration::from_secs(30 * 86_400));
        assert_eq!(r.audit, Duration::from_secs(365 * 86_400));
        assert_eq!(r.interval, Duration::from_secs(3600));
        let r = parse(&[
            ("FLUXCASCADE_RETENTION_DAYS", "7"),
            ("FLUXCASCADE_AUDIT_RETENTION_DAYS", "90"),
            ("FLUXCASCADE_RETENTION_INTERVAL_SECONDS", "60"),
        ])
        .unwrap();
        assert_eq!(r.history, Duration::from_secs(7 * 86_400));
        assert_eq!(r.audit, Duration::from_secs(90 * 86_400));
        assert_eq!(r.interval, Duration::from_secs(60));
        for (name, bad) in [
            ("FLUXCASCADE_RETENTION_DAYS", "0"),
            ("FLUXCASCADE_AUDIT_RETENTION_DAYS", "-1"),
            ("FLUXCASCADE_RETENTION_INTERVAL_SECONDS", "1h"),
        ] {
            let e = parse(&[(name, bad)]).unwrap_err();
            assert!(e.to_string().contains(name), "{e}");
        }
    }

    #[test]
    fn batch_caps_default_and_refuse_nonsense() {
        let caps = |vars: &[(&str, &str)]| {
            let vars: HashMap<String, String> = vars
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            batch_caps_from(|name| vars.get(name).cloned())
        };
        let c = caps(&[]).unwrap();
        assert_eq!((c.per_org, c.per_connection), (16, 8));
        let c = caps(&[
            ("FLUXCASCADE_ORG_MAX_BATCHES", "0"),
            ("FLUXCASCADE_CONNECTION_MAX_BATCHES", "2"),
        ])
        .unwrap();
        assert_eq!((c.per_org, c.per_connection), (0, 2));
        assert!(caps(&[("FLUXCASCADE_ORG_MAX_BATCHES", "-1")]).is_err());
        assert!(caps(&[("FLUXCASCADE_CONNECTION_MAX_BATCHES", "5000")]).is_err());
    }

    #[test]
    fn only_providers_with_both_credentials_are_configured() {
        let c = parse(&[
            ("FLUXCASCADE_HUBSPOT_CLIENT_ID", "hs-app"),
            ("FLUXCASCADE_HUBSPOT_CLIENT_SECRET", "hs-s3cret"),
            (
                "FLUXCASCADE_PIPEDRIVE_OAUTH_BASE",
                "https://ignored.example",
            ),
        ])
        .unwrap();
        let hubspot = c.app(ProviderKind::Hubspot).expect("hubspot configured");
        assert_eq!(hubspot.client_id, "hs-app");
        assert_eq!(hubspot.client_secret.expose(), "hs-s3cret");
        assert_eq!(hubspot.api_base, "https://api.hubapi.com");
        for kind in [
            ProviderKind::Jobber,
            ProviderKind::Pipedrive,
            ProviderKind::Salesforce,
        ] {
            assert!(c.app(kind).is_none(), "{kind} has no credentials");
        }
        assert!(parse(&[]).unwrap().app(ProviderKind::Jobber).is_none());
    }

    #[test]
    fn half_configured_providers_refuse_to_start_naming_the_missing_variable() {
        let e = parse(&[("FLUXCASCADE_JOBBER_CLIENT_ID", "j")]).unwrap_err();
        assert!(
            e.to_string()
                .contains("FLUXCASCADE_JOBBER_CLIENT_SECRET is not"),
            "{e}"
        );
        let e = parse(&[("FLUXCASCADE_SALESFORCE_CLIENT_SECRET", "s")]).unwrap_err();
        assert!(
            e.to_string()
                .contains("FLUXCASCADE_SALESFORCE_CLIENT_ID is not"),
            "{e}"
        );
        // An empty secret is no secret: never an HMAC key of zero bytes.
        let e = parse(&[
            ("FLUXCASCADE_HUBSPOT_CLIENT_ID", "h"),
            ("FLUXCASCADE_HUBSPOT_CLIENT_SECRET", ""),
        ])
        .unwrap_err();
        assert!(
            e.to_string()
                .contains("FLUXCASCADE_HUBSPOT_CLIENT_SECRET is not"),
            "{e}"
        );
    }

    #[test]
    fn the_sandbox_credentials_are_refused_outside_sandbox_mode() {
        let e = parse(&[
            ("FLUXCASCADE_HUBSPOT_CLIENT_ID", "real-app"),
            ("FLUXCASCADE_HUBSPOT_CLIENT_SECRET", SANDBOX_CLIENT_SECRET),
        ])
        .unwrap_err();
        assert!(
            e.to_string()
                .contains("FLUXCASCADE_HUBSPOT_CLIENT_SECRET is the sandbox's public secret"),
            "{e}"
        );
        let e = parse(&[
            ("FLUXCASCADE_PIPEDRIVE_CLIENT_ID", SANDBOX_CLIENT_ID),
            ("FLUXCASCADE_PIPEDRIVE_CLIENT_SECRET", "x"),
        ])
        .unwrap_err();
        assert!(
            e.to_string()
                .contains("FLUXCASCADE_PIPEDRIVE_CLIENT_ID is the sandbox's client id"),
            "{e}"
        );
        // In sandbox mode they are what every provider uses.
        let c = parse(&[("FLUXCASCADE_SANDBOX_URL", "http://127.0.0.1:9100/")]).unwrap();
        let jobber = c
            .app(ProviderKind::Jobber)
            .expect("sandbox configures jobber");
        assert_eq!(jobber.client_secret.expose(), SANDBOX_CLIENT_SECRET);
        assert_eq!(jobber.api_base, "http://127.0.0.1:9100/jobber");
    }
}
