//! Postgres access for FluxCascade: the pool, migrations, tenant-scoped repositories and token sealing.
//!
//! Only this crate runs SQL. Every repository function takes the `org_id` it is scoped to.

pub mod api_keys;
pub mod audit;
pub mod budget;
pub mod caps;
pub mod connections;
pub mod connections_reconnect;
pub mod crypto;
pub mod dead_letters;
pub mod deliveries;
pub mod error;
pub mod hook_events;
pub mod invites;
pub mod leases;
pub mod links;
pub mod links_reverse;
pub mod mappings;
pub mod members;
pub mod oauth_states;
pub mod orgs;
pub mod reseal;
pub mod retention;
pub mod schedules;
pub mod sessions;
pub mod syncs;
pub mod unlink;
pub mod usage;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};

pub use caps::BatchCaps;
pub use crypto::{MasterKey, SealedToken};
pub use error::StoreError;

mod embedded {
    refinery::embed_migrations!("../../migrations");
}

/// The session advisory lock `migrate` holds (single-bigint key space; the batch locks use the
/// two-int one). ASCII "fc-migr".
const MIGRATE_LOCK_KEY: i64 = 0x0066_632d_6d69_6772;

/// How long [`Store::connect`]'s callers wait for a pooled connection.
pub const DEFAULT_POOL_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

/// A handle on the database: cheap to clone.
#[derive(Clone)]
pub struct Store {
    pool: Pool,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("pool_size", &self.pool.status().max_size)
            .finish()
    }
}

impl Store {
    /// Builds a pool for `database_url` (connections are opened lazily); a caller waits at most
    /// [`DEFAULT_POOL_WAIT`] for a free connection.
    pub fn connect(database_url: &str, pool_size: usize) -> Result<Store, StoreError> {
        Store::connect_with_wait(database_url, pool_size, DEFAULT_POOL_WAIT)
    }

    /// Like [`Store::connect`], but a caller finding every connection taken gets
    /// `StoreError::Pool` (transient) after `wait` — for callers answering someone (the ingress
    /// answers 503 instead of hanging).
    pub fn connect_with_wait(
        database_url: &str,
        pool_size: usize,
        wait: std::time::Duration,
    ) -> Result<Store, StoreError> {
        let pg: tokio_postgres::Config = database_url
            .parse()
            .map_err(|e: tokio_postgres::Error| StoreError::Config(e.to_string()))?;
        let manager = Manager::from_config(
            pg,
            tokio_postgres::NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(pool_size)
            .wait_timeout(Some(wait))
            .create_timeout(Some(std::time::Duration::from_secs(5)))
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .build()
            .map_err(|e| StoreError::Config(e.to_string()))?;
        Ok(Store { pool })
    }

    /// Applies pending migrations from `migrations/` (embedded at compile time). Concurrent
    /// callers (every pod's `migrate` init container at a rollout) are serialised by a session
    /// advisory lock: the first applies, the others wait, then find nothing pending.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        let mut client = self.pool.get().await?;
        client
            .execute("SELECT pg_advisory_lock($1)", &[&MIGRATE_LOCK_KEY])
            .await?;
        let res = embedded::migrations::runner()
            .run_async(&mut **client)
            .await
            .map_err(|e| StoreError::Migration(e.to_string()));
        let unlocked = client
            .execute("SELECT pg_advisory_unlock($1)", &[&MIGRATE_LOCK_KEY])
            .await;
        if unlocked.is_err() {
            // Never hand a connection that may still hold the lock back to the pool.
            drop(deadpool_postgres::Object::take(client));
        }
        res?;
        unlocked?;
        Ok(())
    }

    /// Applies the migrations up to and including `version` only (migration tests: a database as
    /// an older release left it).
    pub async fn migrate_to(&self, version: u32) -> Result<(), StoreError> {
        let mut client = self.pool.get().await?;
        embedded::migrations::runner()
            .set_target(refinery::Target::Version(version))
            .run_async(&mut **client)
            .await
            .map_err(|e| StoreError::Migration(e.to_string()))?;
        Ok(())
    }

    /// True when a trivial query succeeds (readiness).
    pub async fn is_healthy(&self) -> bool {
        match self.pool.get().await {
            Ok(c) => c.simple_query("SELECT 1").await.is_ok(),
            Err(_) => false,
        }
    }

    pub(crate) async fn client(&self) -> Result<deadpool_postgres::Object, StoreError> {
        Ok(self.pool.get().await?)
    }
}

/// Creates the database named in `database_url` if it does not exist (dev and tests).
pub async fn ensure_database(database_url: &str) -> Result<(), StoreError> {
    let cfg: tokio_postgres::Config = database_url
        .parse()
        .map_err(|e: tokio_postgres::Error| StoreError::Config(e.to_string()))?;
    let Some(name) = cfg.get_dbname().map(str::to_owned) else {
        return Ok(());
    };
    let mut admin = cfg.clone();
    admin.dbname("postgres");
    let (client, conn) = admin.connect(tokio_postgres::NoTls).await?;
    let task = tokio::spawn(conn);
    let exists = client
        .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&name])
        .await?
        .is_some();
    if !exists {
        let quoted = format!("\"{}\"", name.replace('"', "\"\""));
        if let Err(e) = client
            .batch_execute(&format!("CREATE DATABASE {quoted}"))
            .await
        {
            // Another process may have created it at the same moment: Postgres then reports
            // duplicate_database, or a unique violation on pg_database when both raced past the
            // existence check.
            use tokio_postgres::error::SqlState;
            if e.code() != Some(&SqlState::DUPLICATE_DATABASE)
                && e.code() != Some(&SqlState::UNIQUE_VIOLATION)
            {
                return Err(e.into());
            }
        }
    }
    drop(client);
    task.abort();
    Ok(())
}
