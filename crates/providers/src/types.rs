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

/// Stop a scanning `find_by` after this many pages.
pub const MAX_SCAN_PAGES: usize = 500;

/// `find_by` for an API with no search by field: reads the object page by page (at most
/// [`MAX_SCAN_PAGES`]) and keeps the records whose `field` (a top-level name) equals one of
/// `values`, trimmed and case-folded.
pub async fn scan_find_by<P: Provider + ?Sized>(
    provider: &P,
    object: &str,
    field: &str,
    values: &[String],
    fields: &[String],
) -> Result<Vec<Record>, ProviderError> {
    let fold = |s: &str| s.trim().to_lowercase();
    let wanted: std::collections::HashSet<String> = values.iter().map(|v| fold(v)).collect();
    let mut fields = fields.to_vec();
    if !fields.is_empty() && !fields.iter().any(|f| f == field) {
        fields.push(field.to_string());
    }
    let mut query = ListQuery {
        since: None,
        page: None,
        page_size: 200,
        fields,
    };
    let mut out = Vec::new();
    for _ in 0..MAX_SCAN_PAGES {
        let page = provider.list(object, &query).await?;
        for rec in page.records {
            let hit = match rec.fields.get(field) {
                Some(serde_json::Value::String(s)) => wanted.contains(&fold(s)),
                Some(serde_json::Value::Number(n)) => wanted.contains(&n.to_string()),
                _ => false,
            };
            if hit {
                out.push(rec);
            }
        }
        match page.next_page {
            Some(next) => query.page = Some(next),
            None => break,
        }
    }
    Ok(out)
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
    /// `list`, plus tombstones (`Record { deleted: true }`) for records deleted or archived after
    /// `query.since` where the provider exposes them; a full read (no `since`) is just `list`.
    /// Continue a read with the method that started it (page tokens may differ). The default,
    /// for providers that expose no deletions, is `list`.
    async fn list_with_tombstones(
        &self,
        object: &str,
        query: &ListQuery,
    ) -> Result<Page, ProviderError> {
        self.list(object, query).await
    }
    /// Read records by id (missing ids are simply absent from the result), with the
    /// provider-native `fields` asked for (empty: the adapter's defaults), exactly as `list` does.
    async fn get_many(
        &self,
        object: &str,
        ids: &[String],
        fields: &[String],
    ) -> Result<Vec<Record>, ProviderError>;
    /// Records of `object` whose provider-native `field` equals one of `values`, compared as the
    /// provider's own search compares (HubSpot search `IN`, Salesforce SOQL `IN`, Pipedrive
    /// search, Jobber filter), each with `fields` (empty: the defaults). At most
    /// [`Provider::max_find`] values per call. The default scans the object page by page and is
    /// only for objects whose API has no search by that field; an adapter says where it scans.
    async fn find_by(
        &self,
        object: &str,
        field: &str,
        values: &[String],
        fields: &[String],
    ) -> Result<Vec<Record>, ProviderError> {
        scan_find_by(self, object, field, values, fields).await
    }
    /// The most values one `find_by` call takes.
    fn max_find(&self, _object: &str) -> usize {
        100
    }
    /// Whether `find_by` on `field` (a record field path as the worker's match rules name it:
    /// `email`, `Email`, `emails[0].value`) uses a provider search rather than a scan. The
    /// worker only calls `find_by` where this is true and otherwise scans once per batch.
    fn can_search_by(&self, _object: &str, _field: &str) -> bool {
        false
    }
    /// Whether `archive` can remove records of `object` (archive, or delete where the provider has
    /// no archive).
    fn can_archive(&self, _object: &str) -> bool {
        false
    }
    /// Archive (or delete, where the provider has no archive) records by id. Results are in id
    /// order; an id already gone is `Ok` (a tombstone: `deleted: true`). An object that cannot be
    /// archived fails each record with code `archive_unsupported`.
    async fn archive(
        &self,
        _object: &str,
        ids: &[String],
    ) -> Result<Vec<WriteResult>, ProviderError> {
        Ok(ids
            .iter()
            .map(|_| WriteResult::Failed {
                code: "archive_unsupported".into(),
                message: "this provider object cannot be archived or deleted".into(),
            })
            .collect())
    }
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
