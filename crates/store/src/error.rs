//! The store's error type.

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database configuration: {0}")]
    Config(String),
    #[error("migration failed: {0}")]
    Migration(String),
    #[error("database pool: {0}")]
    Pool(#[from] deadpool_postgres::PoolError),
    #[error("database: {0}")]
    Db(#[from] tokio_postgres::Error),
    #[error("token encryption: {0}")]
    Crypto(String),
    /// A value sealed under a master key this process was not given.
    #[error("sealed under master key id {0}, which this process does not have (set it as FLUXCASCADE_MASTER_KEY or in FLUXCASCADE_MASTER_KEYS_PREVIOUS)")]
    UnknownKey(String),
    #[error("not found")]
    NotFound,
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

impl StoreError {
    /// Unique-violation on the given constraint/index name.
    pub fn is_unique_violation(e: &tokio_postgres::Error) -> bool {
        e.code() == Some(&tokio_postgres::error::SqlState::UNIQUE_VIOLATION)
    }

    /// Whether retrying later may succeed (database unreachable, pool exhausted).
    pub fn is_transient(&self) -> bool {
        match self {
            StoreError::Pool(_) => true,
            StoreError::Db(e) => e.is_closed() || e.code().is_none(),
            _ => false,
        }
    }
}
