//! `GET /services/data/vXX.X/query?q=` and `GET …/query/{locator}`: SOQL results in batches
//! (`queryAll` and `queryAll/{locator}` alike, with the recycle bin's records, `IsDeleted` true)
//! (`Sforce-Query-Options: batchSize=`, 200..2000, default 2000) with `nextRecordsUrl`
//! query locators. A locator fixes which records, in which order, the query returns when it
//! runs; each batch renders their values when it is fetched (a record deleted meanwhile is
//! left out of its batch).

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{Path, Query};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::gate::{sf_error, sf_errors};
use super::schema::{FieldSpec, SObjectKind};
use super::store::{render, SfRecord};
use super::{soql, AccountExt, SalesforceAccount};
use crate::auth::random_token;
use crate::state::lock;

/// Salesforce refuses a REST URI longer than this with 414 (SOQL by GET carries the query
/// in the URI, so a long `IN` list must be split by the caller).
pub const MAX_URI_BYTES: usize = 16_384;
/// Records per batch unless `Sforce-Query-Options: batchSize=` says otherwise.
pub const DEFAULT_BATCH: usize = 2000;
/// The smallest batch Salesforce honours.
pub const MIN_BATCH: usize = 200;
/// Open locators kept per org; the oldest closes first.
pub const MAX_OPEN_CURSORS: usize = 50;
/// A locator not used for this long is closed.
pub const CURSOR_IDLE: Duration = Duration::from_secs(15 * 60);

/// Which records a query sees: `query` the live ones, `queryAll` the recycle bin's too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Live,
    WithRecycled,
}

impl Scope {
    /// The REST resource, also in `nextRecordsUrl`.
    fn resource(self) -> &'static str {
        match self {
            Scope::Live => "query",
            Scope::WithRecycled => "queryAll",
        }
    }
}

/// The result of one query: its records (by store sequence) in order, and the fields to render.
struct Snapshot {
    kind: SObjectKind,
    scope: Scope,
    fields: Vec<&'static FieldSpec>,
    seqs: Vec<u64>,
}

struct QueryCursor {
    records: Arc<Snapshot>,
    batch: usize,
    last_used: Instant,
}

/// The open query locators of one org.
#[derive(Default)]
pub struct QueryCursors {
    open: HashMap<String, QueryCursor>,
    order: VecDeque<String>,
}

impl QueryCursors {
    pub fn clear(&mut self) {
        self.open.clear();
        self.order.clear();
    }

    fn open(&mut self, records: Arc<Snapshot>, batch: usize) -> String {
        let now = Instant::now();
        self.open
            .retain(|_, c| now.duration_since(c.last_used) < CURSOR_IDLE);
        self.order.retain(|id| self.open.contains_key(id));
        while self.order.len() >= MAX_OPEN_CURSORS {
            if let Some(old) = self.order.pop_front() {
                self.open.remove(&old);
            }
        }
        let alnum: String = random_token(24)
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .chain(std::iter::repeat('A'))
            .take(15)
            .collect();
        let id = format!("01g{alnum}");
        self.open.insert(
            id.clone(),
            QueryCursor {
                records,
                batch,
                last_used: now,
            },
        );
        self.order.push_back(id.clone());
        id
    }

    fn take(&mut self, id: &str) -> Option<(Arc<Snapshot>, usize)> {
        let c = self.open.get_mut(id)?;
        if c.last_used.elapsed() >= CURSOR_IDLE {
            self.open.remove(id);
            return None;
        }
        c.last_used = Instant::now();
        Some((c.records.clone(), c.batch))
    }

    fn close(&mut self, id: &str) {
        self.open.remove(id);
        self.order.retain(|x| x != id);
    }
}

/// `batchSize=N` from `Sforce-Query-Options`, clamped to 200..2000.
fn batch_size(headers: &HeaderMap) -> Option<usize> {
    let v = headers.get("sforce-query-options")?.to_str().ok()?;
    let n: usize = v
        .split(',')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("batchSize"))?
        .1
        .trim()
        .parse()
        .ok()?;
    Some(n.clamp(MIN_BATCH, DEFAULT_BATCH))
}

/// One batch starting at `offset`, with a locator for the rest.
fn page(
    account: &SalesforceAccount,
    version: &str,
    records: Arc<Snapshot>,
    offset: usize,
    batch: usize,
    locator: Option<String>,
) -> Response {
    let total = records.seqs.len();
    let end = (offset + batch).min(total);
    let slice: Vec<Value> = {
        let store = account.store(records.kind);
        records
            .seqs
            .get(offset..end)
            .unwrap_or_default()
            .iter()
            .filter_map(|s| match records.scope {
                Scope::Live => store.by_seq(*s),
                Scope::WithRecycled => store.by_seq_with_recycled(*s),
            })
            .map(|r| render(records.kind, r, &records.fields))
            .collect()
    };
    let mut body = json!({"totalSize": total, "done": end >= total, "records": slice});
    let resource = records.scope.resource();
    let mut cursors = lock(&account.cursors);
    if end < total {
        let id = match locator {
            Some(id) => id,
            None => cursors.open(records, batch),
        };
        body["nextRecordsUrl"] = json!(format!("/services/data/{version}/{resource}/{id}-{end}"));
    } else if let Some(id) = locator {
        cursors.close(&id);
    }
    Json(body).into_response()
}

/// `GET /services/data/{version}/query?q=SELECT …`
pub async fn query(
    axum::Extension(account): AccountExt,
    Path(version): Path<String>,
    axum::extract::OriginalUri(uri): axum::extract::OriginalUri,
    Query(params): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    run(Scope::Live, &account, &version, &uri, &params, &headers)
}

/// `GET /services/data/{version}/queryAll?q=SELECT …`: deleted records too (`IsDeleted`).
pub async fn query_all(
    axum::Extension(account): AccountExt,
    Path(version): Path<String>,
    axum::extract::OriginalUri(uri): axum::extract::OriginalUri,
    Query(params): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    run(
        Scope::WithRecycled,
        &account,
        &version,
        &uri,
        &params,
        &headers,
    )
}

fn run(
    scope: Scope,
    account: &SalesforceAccount,
    version: &str,
    uri: &axum::http::Uri,
    params: &HashMap<String, String>,
    headers: &HeaderMap,
) -> Response {
    let uri_len = uri.to_string().len();
    if uri_len > MAX_URI_BYTES {
        return sf_error(
            StatusCode::URI_TOO_LONG,
            "URI_TOO_LONG",
            format!("the request URI is {uri_len} bytes; at most {MAX_URI_BYTES} are allowed"),
        );
    }
    let Some(q) = params.get("q") else {
        return sf_error(
            StatusCode::BAD_REQUEST,
            "MALFORMED_QUERY",
            "A query string has to be specified",
        );
    };
    let parsed = match soql::parse(q) {
        Ok(p) => p,
        Err(e) => return sf_errors(StatusCode::BAD_REQUEST, &[e]),
    };
    let seqs: Vec<u64> = {
        let store = account.store(parsed.object);
        let candidates: Box<dyn Iterator<Item = &SfRecord>> = match scope {
            Scope::Live => Box::new(store.all()),
            Scope::WithRecycled => Box::new(store.all_with_recycled()),
        };
        let mut matched: Vec<&SfRecord> = candidates
            .filter(|r| parsed.filter.as_ref().is_none_or(|c| c.matches(r)))
            .collect();
        super::eval::sort(&mut matched, &parsed.order);
        matched
            .into_iter()
            .skip(parsed.offset)
            .take(parsed.limit.unwrap_or(usize::MAX))
            .map(|r| r.seq)
            .collect()
    };
    let snapshot = Snapshot {
        kind: parsed.object,
        scope,
        fields: parsed.fields,
        seqs,
    };
    let batch = batch_size(headers).unwrap_or(DEFAULT_BATCH);
    page(account, version, Arc::new(snapshot), 0, batch, None)
}

/// `GET /services/data/{version}/query/{locatorId}-{offset}`
pub async fn query_more(
    axum::Extension(account): AccountExt,
    Path((version, locator)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let invalid = || {
        sf_error(
            StatusCode::BAD_REQUEST,
            "INVALID_QUERY_LOCATOR",
            "invalid query locator",
        )
    };
    let Some((id, offset)) = locator.rsplit_once('-') else {
        return invalid();
    };
    let Ok(offset) = offset.parse::<usize>() else {
        return invalid();
    };
    let Some((records, stored_batch)) = lock(&account.cursors).take(id) else {
        return invalid();
    };
    if offset > records.seqs.len() {
        return invalid();
    }
    let batch = batch_size(&headers).unwrap_or(stored_batch);
    page(
        &account,
        &version,
        records,
        offset,
        batch,
        Some(id.to_owned()),
    )
}
