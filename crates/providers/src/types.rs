//! The `Provider` trait and the request/response types the worker uses with every adapter.

use fluxcascade_core::{Cursor, Record};

use crate::ProviderError;

/// What to read: everything, or what changed since a cursor; `page` continues a previous read.
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    /// Incremental read: records changed at or after this cursor (adapters may
    /// re-read a small look-back window; the engine tolerates duplicates).
    pub since: Option<Cursor>,
    /// Opaque continuation token from the previous `Page::next_page`.
    pub page: Option<String>,
    /// Records per page wanted (adapters clamp to the provider's maximum).
    pub page_size: u32,
    /// Provider-native field names to fetch (empty: the adapter's defaults).
    pub fields: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Page {
    pub records: Vec<Record>,
    /// `None` when this was the last page.
    pub next_page: Option<String>,
}

/// One write in a batch.
#[derive(Debug, Clone, PartialEq)]
pub enum WriteOp {
    Create {
        fields: serde_json::Value,
    },
    Update {
        id: String,
        fields: serde_json::Value,
    },
}

/// The outcome of one write, in request order.
#[derive(Debug, Clone)]
pub enum WriteResult {
    /// The record as stored (id and updated time are what the link keeps).
    Ok(Record),
    /// The provider refused this record (HubSpot 207 error, Jobber userErrors, ...).
    Failed { code: String, message: String },
}

/// One CRM provider account, reached over HTTP.
#[async_trait::async_trait]
pub trait Provider: Send + Sync {
    /// Read one page of an object, full or incremental.
    async fn list(&self, object: &str, query: &ListQuery) -> Result<Page, ProviderError>;
    /// Read records by id (missing ids are simply absent from the result).
    async fn get_many(&self, object: &str, ids: &[String]) -> Result<Vec<Record>, ProviderError>;
    /// Write a batch; at most `max_batch(object)` ops. Results are in op order.
    async fn write(&self, object: &str, ops: &[WriteOp])
        -> Result<Vec<WriteResult>, ProviderError>;
    /// The most ops one `write` call accepts.
    fn max_batch(&self, object: &str) -> usize;
    /// The precision of the object's modified timestamps (Jobber's are whole seconds). A run only
    /// takes records modified before its start rounded down to this, so a later change within
    /// the same tick is never hidden behind the cursor.
    fn timestamp_resolution(&self, _object: &str) -> std::time::Duration {
        std::time::Duration::from_millis(1)
    }
}
