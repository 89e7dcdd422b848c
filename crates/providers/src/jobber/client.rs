//! `JobberClient`: the `Provider` for Jobber's GraphQL API (clients, jobs and properties, read and write),
//! one mutation per write with bounded concurrency since Jobber has no batch API.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use fluxcascade_core::Record;
use futures::future::{BoxFuture, FutureExt};
use futures::stream::{self, StreamExt};
use reqwest::Method;
use serde_json::{json, Value};

use super::find;
use super::queries::{
    CREATE_CLIENT, EDIT_CLIENT, GET_CLIENT, GET_JOB, LIST_CLIENTS, LIST_CLIENTS_SINCE, LIST_JOBS,
    SEARCH_CLIENTS,
};
use super::records::{
    client_create_input, client_edit_input, data_field, edit_needs_current, parse_connection,
    parse_mutation_payload, parse_node, request,
};
use crate::http::{error_message, ApiClient, ApiRequest, ProviderPolicy};
use crate::ConnectionContext;
use crate::{
    ListQuery, Page, Provider, ProviderApp, ProviderError, TokenSource, WriteOp, WriteResult,
};

/// The API version every request names (`X-JOBBER-GRAPHQL-VERSION`).
pub const GRAPHQL_VERSION: &str = "2025-01-20";
/// Most ops one `write` takes.
pub const MAX_BATCH: usize = 50;
/// Most nodes one list page asks for (cost grows with `first`).
pub const MAX_PAGE: u32 = 100;
/// Mutations in flight at once during a `write`.
pub const WRITE_CONCURRENCY: usize = 16;
/// How far before the cursor an incremental read starts (Jobber's `after` is strict).
pub const LOOK_BACK: chrono::Duration = chrono::Duration::seconds(1);
/// Code of a `WriteResult::Failed` for Jobber `userErrors`.
pub const REJECTED: &str = "provider_rejected";

struct JobberPolicy;

impl ProviderPolicy for JobberPolicy {
    fn name(&self) -> &'static str {
        "jobber"
    }

    /// HTTP 429 (2,500 requests per 5 minutes) without `Retry-After`.
    fn rate_limit_wait(&self, _body: &Value) -> Duration {
        Duration::from_secs(10)
    }

    fn check_body(&self, body: &Value) -> Result<(), ProviderError> {
        graphql_errors(body)
    }
}

/// GraphQL-level errors in a 200: `THROTTLED` is a rate limit (wait until the bucket holds
/// the requested cost again), anything else is a permanent error of the request.
pub fn graphql_errors(body: &Value) -> Result<(), ProviderError> {
    let Some(Value::Array(errors)) = body.get("errors") else {
        return Ok(());
    };
    if errors.is_empty() {
        return Ok(());
    }
    let throttled = errors
        .iter()
        .any(|e| e.pointer("/extensions/code").and_then(Value::as_str) == Some("THROTTLED"));
    if throttled {
        return Err(ProviderError::RateLimited {
            retry_after: throttle_wait(body),
        });
    }
    Err(ProviderError::Permanent(format!(
        "Jobber GraphQL error: {}",
        error_message(body)
    )))
}

/// Seconds until `restoreRate` refills the bucket to the requested cost (at least 1 s).
pub fn throttle_wait(body: &Value) -> Duration {
    let cost = body.pointer("/extensions/cost");
    let num = |p: &str| cost.and_then(|c| c.pointer(p)).and_then(Value::as_f64);
    let requested = num("/requestedQueryCost").unwrap_or(1000.0);
    let available = num("/throttleStatus/currentlyAvailable").unwrap_or(0.0);
    let rate = num("/throttleStatus/restoreRate")
        .filter(|r| *r > 0.0)
        .unwrap_or(500.0);
    let secs = ((requested - available) / rate).ceil().clamp(1.0, 300.0);
    Duration::from_secs_f64(secs)
}

/// One Jobber account, reached with the tokens of one connection.
pub struct JobberClient {
    api: ApiClient,
    url: String,
}

impl JobberClient {
    /// The adapter for one connection: its tokens, shared budget and API host.
    pub fn from_context(app: &ProviderApp, ctx: ConnectionContext) -> Self {
        let mut client = Self::new(app, ctx.tokens, ctx.http);
        client.api.set_budget(ctx.budget);
        client
    }

    pub fn new(app: &ProviderApp, tokens: Arc<dyn TokenSource>, http: reqwest::Client) -> Self {
        JobberClient {
            api: ApiClient::new(http, tokens, Box::new(JobberPolicy)),
            url: format!("{}/api/graphql", app.api_base.trim_end_matches('/')),
        }
    }

    /// How often a throttled request is retried inside the adapter (default 3).
    pub fn with_rate_limit_retries(mut self, retries: usize) -> Self {
        self.api.set_rate_limit_retries(retries);
        self
    }

    /// Run one GraphQL document with variables; returns the whole response body.
    pub async fn graphql(&self, query: &str, variables: Value) -> Result<Value, ProviderError> {
        let body = request(query, variables);
        let req = ApiRequest {
            method: Method::POST,
            url: self.url.clone(),
            body: Some(&body),
            headers: &[("X-JOBBER-GRAPHQL-VERSION", GRAPHQL_VERSION)],
        };
        self.api.send(&req).await.map(|(_, body)| body)
    }

    async fn get_client(&self, id: &str) -> Result<Option<Record>, ProviderError> {
        let body = self.graphql(GET_CLIENT, json!({ "id": id })).await?;
        match data_field(&body, "client")? {
            Value::Null => Ok(None),
            node => parse_node(node).map(Some),
        }
    }

    pub(crate) async fn get_job(&self, id: &str) -> Result<Option<Record>, ProviderError> {
        let body = self.graphql(GET_JOB, json!({ "id": id })).await?;
        match data_field(&body, "job")? {
            Value::Null => Ok(None),
            node => parse_node(node).map(Some),
        }
    }

    async fn write_one(&self, op: &WriteOp) -> Result<WriteResult, ProviderError> {
        let (query, variables, field) = match op {
            WriteOp::Create { fields } => match client_create_input(fields) {
                Ok(input) => (CREATE_CLIENT, json!({ "input": input }), "clientCreate"),
                Err(message) => return Ok(invalid(message)),
            },
            WriteOp::Update { id, fields } => {
                let current = if edit_needs_current(fields) {
                    match self.get_client(id).await? {
                        Some(rec) => Some(rec.fields),
                        None => {
                            return Ok(WriteResult::Failed {
                                code: "not_found".into(),
                                message: format!("Jobber client {id} does not exist"),
                            })
                        }
                    }
                } else {
                    None
                };
                match client_edit_input(fields, current.as_ref()) {
                    Ok(input) => (
                        EDIT_CLIENT,
                        json!({ "id": id, "input": input }),
                        "clientEdit",
                    ),
                    Err(message) => return Ok(invalid(message)),
                }
            }
        };
        let body = match self.graphql(query, variables).await {
            Ok(b) => b,
            // A GraphQL error about this one input is this record's failure.
            Err(ProviderError::Permanent(message)) => {
                return Ok(WriteResult::Failed {
                    code: REJECTED.into(),
                    message,
                })
            }
            Err(e) => return Err(e),
        };
        Ok(match parse_mutation_payload(data_field(&body, field)?)? {
            Ok(record) => WriteResult::Ok(record),
            Err(message) => WriteResult::Failed {
                code: REJECTED.into(),
                message,
            },
        })
    }
}

/// Per-op outcomes → the batch result. A retryable error (throttle, 5xx) on any op fails the whole
/// call with the longest wait asked for, so the worker retries the batch later instead of counting
/// those records failed: the worker records create intents before writing and reconciles the ones
/// that did go through, so a retry never creates a client twice. Auth failures fail the call too.
pub(crate) fn settle_writes(
    results: Vec<Result<WriteResult, ProviderError>>,
) -> Result<Vec<WriteResult>, ProviderError> {
    let mut out = Vec::with_capacity(results.len());
    let mut retry: Option<ProviderError> = None;
    for r in results {
        match r {
            Ok(w) => out.push(w),
            Err(e @ (ProviderError::Auth(_) | ProviderError::Permanent(_))) => return Err(e),
            Err(e) => {
                retry = Some(match (retry, e) {
                    (
                        Some(ProviderError::RateLimited { retry_after: a }),
                        ProviderError::RateLimited { retry_after: b },
                    ) => ProviderError::RateLimited {
                        retry_after: a.max(b),
                    },
                    (Some(prev @ ProviderError::RateLimited { .. }), _) => prev,
                    (_, e) => e,
                });
            }
        }
    }
    match retry {
        Some(e) => Err(e),
        None => Ok(out),
    }
}

fn invalid(message: String) -> WriteResult {
    WriteResult::Failed {
        code: "invalid_field".into(),
        message,
    }
}

/// The Jobber objects this adapter reads and writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum JobberObject {
    Clients,
    Jobs,
    Properties,
}

fn jobber_object(object: &str) -> Result<JobberObject, ProviderError> {
    match object {
        "clients" => Ok(JobberObject::Clients),
        "jobs" => Ok(JobberObject::Jobs),
        "properties" => Ok(JobberObject::Properties),
        _ => Err(ProviderError::Permanent(format!(
            "Jobber object `{object}` is not supported yet"
        ))),
    }
}

/// An incremental page of jobs (sorted newest first): keep what changed at or after
/// `floor`, and stop paging at the first older job.
pub(crate) fn jobs_since(
    records: Vec<Record>,
    next_page: Option<String>,
    floor: chrono::DateTime<chrono::Utc>,
) -> Page {
    let reached_older = records.iter().any(|r| r.updated_at < floor);
    let records = records
        .into_iter()
        .filter(|r| r.updated_at >= floor)
        .collect();
    Page {
        records,
        next_page: if reached_older { None } else { next_page },
    }
}

#[async_trait]
impl Provider for JobberClient {
    async fn list(&self, object: &str, query: &ListQuery) -> Result<Page, ProviderError> {
        let kind = jobber_object(object)?;
        let first = if query.page_size == 0 {
            MAX_PAGE
        } else {
            query.page_size.min(MAX_PAGE)
        };
        if kind == JobberObject::Properties {
            return self.list_properties(query).await;
        }
        if kind == JobberObject::Jobs {
            let vars = json!({ "first": first, "after": query.page });
            let body = self.graphql(LIST_JOBS, vars).await?;
            let (records, next_page) = parse_connection(data_field(&body, "jobs")?)?;
            return Ok(match &query.since {
                Some(since) => jobs_since(records, next_page, since.updated_at - LOOK_BACK),
                None => Page { records, next_page },
            });
        }
        let body = match &query.since {
            Some(since) => {
                let since = (since.updated_at - LOOK_BACK)
                    .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
                let vars = json!({ "first": first, "after": query.page, "since": since });
                self.graphql(LIST_CLIENTS_SINCE, vars).await?
            }
            None => {
                self.graphql(LIST_CLIENTS, json!({ "first": first, "after": query.page }))
                    .await?
            }
        };
        let (records, next_page) = parse_connection(data_field(&body, "clients")?)?;
        Ok(Page { records, next_page })
    }

    /// The selection is fixed (`queries.rs`, validated against Jobber's schema): every field
    /// the adapter maps comes back whatever `fields` names, as in `list`.
    async fn get_many(
        &self,
        object: &str,
        ids: &[String],
        _fields: &[String],
    ) -> Result<Vec<Record>, ProviderError> {
        let kind = jobber_object(object)?;
        if kind == JobberObject::Properties {
            return self.get_properties(ids).await;
        }
        let reads: Vec<BoxFuture<'_, Result<Option<Record>, ProviderError>>> = ids
            .iter()
            .map(|id| match kind {
                JobberObject::Clients => self.get_client(id).boxed(),
                // Properties were answered above, in one batched request.
                JobberObject::Jobs | JobberObject::Properties => self.get_job(id).boxed(),
            })
            .collect();
        let found: Vec<_> = stream::iter(reads)
            .buffered(WRITE_CONCURRENCY)
            .collect()
            .await;
        let mut out = Vec::new();
        for r in found {
            match r {
                Ok(Some(rec)) => out.push(rec),
                Ok(None) => {}
                // Jobber answers an unknown or malformed id with a GraphQL error: absent.
                Err(ProviderError::Permanent(msg)) => {
                    tracing::debug!(error = %msg, "Jobber client not readable")
                }
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    async fn write(
        &self,
        object: &str,
        ops: &[WriteOp],
    ) -> Result<Vec<WriteResult>, ProviderError> {
        match jobber_object(object)? {
            JobberObject::Jobs => return self.write_jobs(ops).await,
            JobberObject::Properties => return self.write_properties(ops).await,
            JobberObject::Clients => {}
        }
        let writes: Vec<BoxFuture<'_, Result<WriteResult, ProviderError>>> =
            ops.iter().map(|op| self.write_one(op).boxed()).collect();
        let results: Vec<_> = stream::iter(writes)
            .buffered(WRITE_CONCURRENCY)
            .collect()
            .await;
        settle_writes(results)
    }

    fn max_batch(&self, _object: &str) -> usize {
        MAX_BATCH
    }

    /// Clients can be archived (`clientArchive`); jobs and properties are not, here.
    fn can_archive(&self, object: &str) -> bool {
        matches!(jobber_object(object), Ok(JobberObject::Clients))
    }

    async fn archive(
        &self,
        object: &str,
        ids: &[String],
    ) -> Result<Vec<WriteResult>, ProviderError> {
        if jobber_object(object)? != JobberObject::Clients {
            return Ok(ids
                .iter()
                .map(|_| {
                    super::records::failed(
                        "archive_unsupported",
                        format!("Jobber {object} cannot be archived"),
                    )
                })
                .collect());
        }
        self.archive_clients(ids).await
    }

    /// Archived clients are tombstones (Jobber lists them with `isArchived: true`; a deleted
    /// client is gone and only its `CLIENT_DESTROY` webhook tells).
    async fn list_with_tombstones(
        &self,
        object: &str,
        query: &ListQuery,
    ) -> Result<Page, ProviderError> {
        let mut page = self.list(object, query).await?;
        if jobber_object(object)? == JobberObject::Clients {
            super::archive::mark_archived(&mut page.records);
        }
        Ok(page)
    }

    /// Clients: one `searchTerm` query per value, keeping exact matches (see `find.rs`);
    /// jobs, properties and other client fields have no search and are scanned.
    async fn find_by(
        &self,
        object: &str,
        field: &str,
        values: &[String],
        fields: &[String],
    ) -> Result<Vec<Record>, ProviderError> {
        if jobber_object(object)? != JobberObject::Clients || !find::searchable(field) {
            return crate::types::scan_find_by(self, object, field, values, fields).await;
        }
        let mut out: Vec<Record> = Vec::new();
        let mut terms: Vec<String> = values.iter().map(|v| v.trim().to_lowercase()).collect();
        terms.sort();
        terms.dedup();
        for term in terms.iter().filter(|t| !t.is_empty()) {
            let mut after: Option<String> = None;
            for _ in 0..find::MAX_SEARCH_PAGES {
                let vars = json!({ "first": MAX_PAGE, "after": after, "term": term });
                let body = self.graphql(SEARCH_CLIENTS, vars).await?;
                let (records, next) = parse_connection(data_field(&body, "clients")?)?;
                for r in records {
                    if find::equals(&r, field, term) && !out.iter().any(|o| o.id == r.id) {
                        out.push(r);
                    }
                }
                match next {
                    Some(n) => after = Some(n),
                    None => break,
                }
            }
        }
        Ok(out)
    }

    fn max_find(&self, _object: &str) -> usize {
        find::MAX_FIND
    }

    fn can_search_by(&self, object: &str, field: &str) -> bool {
        jobber_object(object).is_ok_and(|k| k == JobberObject::Clients) && find::searchable(field)
    }

    /// Jobber's `updatedAt` is an ISO 8601 date-time with whole seconds.
    fn timestamp_resolution(&self, _object: &str) -> std::time::Duration {
        std::time::Duration::from_secs(1)
    }
}
