//! The `fluxcascade` binary: one executable for every role (ingress, worker, scheduler, sandbox,
//! migrate), admin commands and the user CLI (`login`, `connections`, `mappings`, `syncs`, …).

mod client;
mod commands;
mod config;
mod credentials;
mod dead_letters;
mod demo;
mod reseal;
mod signals;

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};
use fluxcascade_store::{MasterKey, Store};
use tracing::info;

use crate::commands::output::OutputFormat;
use crate::config::Settings;

/// mimalloc instead of glibc malloc: the hot paths (HTTP handling, JSON, protobuf) allocate a
/// lot from several threads, and glibc's arenas cost as much CPU there as our own code did.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "fluxcascade",
    version,
    about = "Keeps CRM records in sync between HubSpot, Jobber, Pipedrive and Salesforce"
)]
struct Cli {
    /// How the user commands print: aligned columns, or the API's JSON for scripts.
    #[arg(long, global = true, value_enum, default_value_t = OutputFormat::Table)]
    output: OutputFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    #[command(flatten)]
    Role(RoleCommand),
    /// The user commands, through the REST API (FLUXCASCADE_API_URL, FLUXCASCADE_API_KEY or `login`).
    #[command(flatten)]
    User(commands::UserCommand),
}

/// The roles and the operator's commands.
#[derive(Subcommand)]
enum RoleCommand {
    /// Serve the REST API (and, later, provider webhooks).
    Ingress {
        /// Address to listen on (default FLUXCASCADE_LISTEN or 127.0.0.1:8080).
        #[arg(long)]
        listen: Option<String>,
    },
    /// Consume sync and batch jobs.
    Worker {
        /// Health/metrics address (default 127.0.0.1:0: an ephemeral port, printed at start).
        #[arg(long)]
        listen: Option<String>,
    },
    /// Fire mapping schedules (any number of replicas; each fire time runs once).
    Scheduler {
        /// Health/metrics address (default 127.0.0.1:0: an ephemeral port, printed at start).
        #[arg(long)]
        listen: Option<String>,
    },
    /// Emulate the providers' APIs on loopback (dev and tests only).
    Sandbox {
        #[arg(long, default_value = "127.0.0.1:9100")]
        listen: String,
        /// Where the Salesforce instance API listens (the origin token responses name as
        /// `instance_url`); default: an ephemeral port on the `--listen` address.
        #[arg(long)]
        salesforce_listen: Option<String>,
    },
    /// Apply database migrations (creates the database if missing).
    Migrate,
    /// Administrative commands.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Set up a demo org against a running sandbox and ingress, run a sync, print the outcome.
    Demo(demo::DemoArgs),
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Create an organization; prints the owner's API key once.
    CreateOrg {
        #[arg(long)]
        name: String,
        #[arg(long)]
        owner: String,
    },
    /// Print a fresh master key (base64 of 32 random bytes) for FLUXCASCADE_MASTER_KEY.
    GenKey,
    /// Re-seal every connection token and webhook secret not under FLUXCASCADE_MASTER_KEY
    /// (opening them with FLUXCASCADE_MASTER_KEYS_PREVIOUS). Online, idempotent, resumable.
    Reseal {
        /// Rows per batch.
        #[arg(long, default_value_t = 100)]
        batch: u32,
    },
    /// Every organization's dead letters (and those of none), straight from the database.
    DeadLetters {
        #[command(subcommand)]
        command: dead_letters::AdminDeadLettersCommand,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: starting the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    // Tracing (and the OTLP exporter, which needs the runtime for gRPC) before anything else;
    // the roles' own `init_tracing` calls then do nothing.
    if let Some(role) = traced_role(&cli.command) {
        let _runtime = runtime.enter();
        fluxcascade_telemetry::init_tracing(role);
    }
    let result = runtime.block_on(run(cli));
    // The role's components have stopped: flush the spans they ended.
    fluxcascade_telemetry::otel::shutdown();
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// The role whose spans a command exports (`service.name` `fluxcascade-<role>`).
fn traced_role(command: &Command) -> Option<&'static str> {
    match command {
        Command::Role(RoleCommand::Ingress { .. }) => Some("ingress"),
        Command::Role(RoleCommand::Worker { .. }) => Some("worker"),
        Command::Role(RoleCommand::Scheduler { .. }) => Some("scheduler"),
        _ => None,
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::User(command) => commands::run(command, cli.output).await,
        Command::Role(command) => run_role(command).await.map(|()| ExitCode::SUCCESS),
    }
}

/// The roles and admin commands (they print as they always did, whatever `--output` says).
async fn run_role(command: RoleCommand) -> anyhow::Result<()> {
    match command {
        RoleCommand::Ingress { listen } => {
            fluxcascade_telemetry::init_tracing("ingress");
            let settings = Settings::from_env()?;
            // A request waits briefly for a pooled connection, then gets 503 + Retry-After.
            let store = Store::connect_with_wait(
                settings.database_url.expose(),
                settings.db_pool_size,
                fluxcascade_ingress::DB_WAIT_TIMEOUT,
            )?;
            let key = Arc::new(settings.master_key()?);
            let publisher = fluxcascade_queue::Publisher::connect(&settings.queue())
                .await
                .context("connecting to RabbitMQ")?;
            let listen = listen
                .or(settings.listen.clone())
                .unwrap_or_else(|| "127.0.0.1:8080".into());
            let config = fluxcascade_ingress::IngressConfig {
                listen,
                max_body_bytes: 1024 * 1024,
                providers: settings.providers.clone(),
                public_url: settings.public_url.clone().unwrap_or_default(),
                webhook_urls: settings.webhook_urls.clone(),
                metrics_listen: settings.metrics_listen.clone(),
                sessions: fluxcascade_ingress::console::session::SessionConfig::with_ttl(
                    settings.session_ttl,
                ),
                oauth_redirect_origins: settings.oauth_redirect_origins.clone(),
            };
            let ingress =
                fluxcascade_ingress::Ingress::build(config, store, publisher, key).await?;
            info!(addr = %ingress.local_addr(), "ingress listening");
            println!("ingress listening on http://{}", ingress.local_addr());
            if let Some(addr) = ingress.metrics_addr() {
                info!(%addr, "ingress metrics listening");
                println!("ingress metrics on http://{addr}");
            }
            let shutdown = signals::shutdown_token();
            ingress.run_until_stopped(shutdown).await
        }
        RoleCommand::Worker { listen } => {
            fluxcascade_telemetry::init_tracing("worker");
            let settings = Settings::from_env()?;
            let store = connect_store(&settings).await?;
            let key = Arc::new(settings.master_key()?);
            let config = fluxcascade_worker::WorkerConfig {
                concurrency: settings.worker_concurrency,
                webhook_concurrency: settings.webhook_concurrency,
                queue: settings.queue(),
                providers: settings.providers.clone(),
                rate_budgets: settings.rate_budgets.clone(),
                listen: listen
                    .or(settings.listen.clone())
                    .unwrap_or_else(|| "127.0.0.1:0".into()),
                max_attempts: 8,
                run_lease: settings.run_lease,
                page_size: settings.page_size,
                batch_caps: settings.batch_caps,
                shutdown_grace: settings.shutdown_grace,
                webhook_urls: settings.webhook_urls.clone(),
            };
            let worker = fluxcascade_worker::Worker::build(config, store, key).await?;
            info!(health = %worker.health_addr(), "worker started");
            println!("worker health on http://{}", worker.health_addr());
            let shutdown = signals::shutdown_token();
            worker.run_until_stopped(shutdown).await
        }
        RoleCommand::Scheduler { listen } => {
            fluxcascade_telemetry::init_tracing("scheduler");
            let settings = Settings::from_env()?;
            let store = connect_store(&settings).await?;
            let publisher = fluxcascade_queue::Publisher::connect(&settings.queue())
                .await
                .context("connecting to RabbitMQ")?;
            let mut config = fluxcascade_scheduler::SchedulerConfig::new(
                settings.queue(),
                listen
                    .or(settings.listen.clone())
                    .unwrap_or_else(|| "127.0.0.1:0".into()),
            );
            config.catch_up_window = settings.scheduler_catch_up;
            config.run_lease = settings.run_lease;
            config.reaper_interval = settings.reaper_interval;
            config.retention = settings.retention;
            let scheduler =
                fluxcascade_scheduler::Scheduler::build(config, store, publisher).await?;
            info!(health = %scheduler.health_addr(), "scheduler started");
            println!("scheduler health on http://{}", scheduler.health_addr());
            let shutdown = signals::shutdown_token();
            scheduler.run_until_stopped(shutdown).await
        }
        RoleCommand::Sandbox {
            listen,
            salesforce_listen,
        } => {
            fluxcascade_telemetry::init_tracing("sandbox");
            let sandbox = match salesforce_listen {
                Some(instance) => {
                    fluxcascade_sandbox::Sandbox::bind_with_instance(&listen, &instance).await?
                }
                None => fluxcascade_sandbox::Sandbox::bind(&listen).await?,
            };
            println!("sandbox listening on {}", sandbox.base_url());
            println!(
                "salesforce instance api on {}",
                sandbox.salesforce_instance_url()
            );
            let shutdown = signals::shutdown_token();
            tokio::select! {
                r = sandbox.run_until_stopped() => r,
                _ = shutdown.cancelled() => Ok(()),
            }
        }
        RoleCommand::Migrate => {
            fluxcascade_telemetry::init_tracing("migrate");
            let settings = Settings::from_env()?;
            fluxcascade_store::ensure_database(settings.database_url.expose()).await?;
            let store = Store::connect(settings.database_url.expose(), 2)?;
            store.migrate().await.context("applying migrations")?;
            println!("migrations applied");
            Ok(())
        }
        RoleCommand::Admin {
            command: AdminCommand::CreateOrg { name, owner },
        } => {
            let settings = Settings::from_env()?;
            let store = connect_store(&settings).await?;
            let (org_id, key) = store.create_org(&name, &owner).await?;
            println!("org_id={org_id}");
            println!("api_key={key}");
            Ok(())
        }
        RoleCommand::Admin {
            command: AdminCommand::GenKey,
        } => {
            println!("{}", MasterKey::generate_base64());
            Ok(())
        }
        RoleCommand::Admin {
            command: AdminCommand::Reseal { batch },
        } => {
            fluxcascade_telemetry::init_tracing("reseal");
            let settings = Settings::from_env()?;
            let key = settings.master_key()?;
            let store = connect_store(&settings).await?;
            reseal::run(&store, &key, batch).await
        }
        RoleCommand::Admin {
            command: AdminCommand::DeadLetters { command },
        } => {
            let settings = Settings::from_env()?;
            let store = connect_store(&settings).await?;
            dead_letters::run_admin(command, &store).await
        }
        RoleCommand::Demo(args) => demo::run(args).await,
    }
}

async fn connect_store(settings: &Settings) -> anyhow::Result<Store> {
    let store = Store::connect(settings.database_url.expose(), settings.db_pool_size)?;
    Ok(store)
}
