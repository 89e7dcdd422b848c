//! `PipedriveClient`: the `Provider` for Pipedrive API v2 persons, organizations and deals
//! (cursor paging, `updated_since`, `ids`), writing one record per request since Pipedrive has
//! no batch API.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, SecondsFormat, Utc};
use fluxcascade_core::{ProviderKind, Record};
use futures::future::{BoxFuture, FutureExt};
use futures::stream::{self, StreamExt, TryStreamExt};
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde_json::Value;

use super::find;
use super::records::{
    needs_current_name, object, parse_list, parse_record, write_body, PipedriveObject, MAX_IDS,
    MAX_LIMIT,
};
use crate::egress::provider_hosts::instance_base;
use crate::http::{error_message, retry_after_header, ApiClient, ApiRequest, ProviderPolicy};
use crate::oauth::with_query;
use crate::{
    ConnectionContext, ListQuery, Page, Provider, ProviderApp, ProviderError, TokenSource, WriteOp,
    WriteResult,
};

/// Most ops one `write` call takes.
pub const MAX_BATCH: usize = 100;
/// Single-record writes in flight at once.
pub const WRITE_CONCURRENCY: usize = 4;
/// Code of a `WriteResult::Failed` whose fields could not become a v2 body.
pub const INVALID_FIELDS: &str = "invalid_fields";

struct PipedrivePolicy;

fn header_number(headers: &HeaderMap, name: &str) -> Option<f64> {
    let v: f64 = headers.get(name)?.to_str().ok()?.trim().parse().ok()?;
    (v.is_finite() && v >= 0.0).then_some(v)
}

impl ProviderPolicy for PipedrivePolicy {
    fn name(&self) -> &'static str {
        "pipedrive"
    }

    /// The burst window is 2 seconds: waiting one window always clears it.
    fn rate_limit_wait(&self, _body: &Value) -> Duration {
        Duration::from_secs(2)
    }

    /// A 429 names its wait in `x-ratelimit-reset` (seconds left in the 2-second window). A
    /// 429 with `x-daily-requests-left: 0` is the company's daily token budget, which comes
    /// back only at midnight UTC: that is not waited out inside the adapter. Other 4xx keep
    /// their status in the message (`Pipedrive answered 404: ...`) so writes can name it.
    fn classify_error(
        &self,
        status: StatusCode,
        headers: &HeaderMap,
        body: &Value,
    ) -> Option<ProviderError> {
        if status == StatusCode::TOO_MANY_REQUESTS {
            if header_number(headers, "x-daily-requests-left") == Some(0.0) {
                let reset = retry_after_header(headers)
                    .map(|d| format!(" (resets in {} s)", d.as_secs()))
                    .unwrap_or_default();
                return Some(ProviderError::Transient(format!(
                    "Pipedrive daily API token budget is spent{reset}: {}",
                    error_message(body)
                )));
            }
            let wait = header_number(headers, "x-ratelimit-reset")
                .map(|s| Duration::from_secs_f64(s.max(1.0)))
                .or_else(|| retry_after_header(headers))
                .unwrap_or_else(|| self.rate_limit_wait(body));
            return Some(ProviderError::RateLimited { retry_after: wait });
        }
        if status.is_client_error() {
            return Some(ProviderError::Permanent(format!(
                "Pipedrive answered {}: {}",
                status.as_u16(),
                error_message(body)
            )));
        }
        None
    }
}

/// One Pipedrive company, reached with the tokens of one connection.
pub struct PipedriveClient {
    pub(super) api: ApiClient,
    /// The company's API host (`api_domain`), no trailing slash.
    pub(super) base: String,
}

impl PipedriveClient {
    /// The adapter for one connection: its tokens, shared budget and API host (`api_domain`
    /// from the token response, else the app's `api_base`). Outside sandbox mode an API host
    /// that is not `https://*.pipedrive.com` is refused (a permanent error naming the host).
    pub fn from_context(app: &ProviderApp, ctx: ConnectionContext) -> Result<Self, ProviderError> {
        let base = match ctx.instance_url.as_deref().filter(|u| !u.trim().is_empty()) {
            Some(url) => instance_base(ProviderKind::Pipedrive, url, app.mode)?,
            None => app.api_base.clone(),
        };
        let mut client = Self::with_base(&base, ctx.tokens, ctx.http);
        client.api.set_budget(ctx.budget);
        Ok(client)
    }

    pub fn new(app: &ProviderApp, tokens: Arc<dyn TokenSource>, http: reqwest::Client) -> Self {
        Self::with_base(&app.api_base, tokens, http)
    }

    fn with_base(base: &str, tokens: Arc<dyn TokenSource>, http: reqwest::Client) -> Self {
        PipedriveClient {
            api: ApiClient::new(http, tokens, Box::new(PipedrivePolicy)),
            base: base.trim_end_matches('/').to_owned(),
        }
    }

    /// How often a 429 is retried inside the adapter (default 3) before `RateLimited` is returned.
    pub fn with_rate_limit_retries(mut self, retries: usize) -> Self {
        self.api.set_rate_limit_retries(retries);
        self
    }

    pub(super) fn url(&self, obj: &PipedriveObject, rest: &str) -> String {
        format!("{}/api/v2/{}{rest}", self.base, obj.name)
    }

    pub(super) async fn call(
        &self,
        method: Method,
        url: String,
        body: Option<&Value>,
    ) -> Result<Value, ProviderError> {
        let (_, body) = self
            .api
            .send(&ApiRequest {
                method,
                url,
                body,
                headers: &[],
            })
            .await?;
        Ok(body)
    }

    async fn get_one(&self, obj: &PipedriveObject, id: &str) -> Result<Value, ProviderError> {
        let body = self
            .call(
                Method::GET,
                self.url(obj, &format!("/{}", segment(id))),
                None,
            )
            .await?;
        Ok(body.get("data").cloned().unwrap_or(Value::Null))
    }

    /// One create or update; a refusal of this record (4xx) is its `Failed` result.
    async fn write_one(
        &self,
        obj: &PipedriveObject,
        op: &WriteOp,
    ) -> Result<WriteResult, ProviderError> {
        let (method, url, fields, id) = match op {
            WriteOp::Create { fields } => (Method::POST, self.url(obj, ""), fields, None),
            WriteOp::Update { id, fields } => {
                if id.parse::<u64>().is_err() {
                    return Ok(failed(
                        "404",
                        format!("Pipedrive {} id `{id}` is not a number", obj.entity),
                    ));
                }
                let url = self.url(obj, &format!("/{}", segment(id)));
                (Method::PATCH, url, fields, Some(id))
            }
        };
        let current = match id {
            Some(id) if needs_current_name(obj, fields) => match self.get_one(obj, id).await {
                Ok(v) => Some(v),
                Err(e) => return rejected(e),
            },
            _ => None,
        };
        let body = match write_body(obj, fields, current.as_ref(), id.is_none()) {
            Ok(b) => b,
            Err(message) => return Ok(failed(INVALID_FIELDS, message)),
        };
        match self.call(method, url, Some(&body)).await {
            Ok(resp) => {
                let data = resp.get("data").unwrap_or(&Value::Null);
                match parse_record(obj, data) {
                    Ok(r) => Ok(WriteResult::Ok(r)),
                    Err(e) => Err(e),
                }
            }
            Err(e) => rejected(e),
        }
    }
}

/// A path segment with reserved characters escaped.
pub(super) fn segment(id: &str) -> String {
    url::form_urlencoded::byte_serialize(id.as_bytes()).collect()
}

fn failed(code: &str, message: String) -> WriteResult {
    WriteResult::Failed {
        code: code.to_owned(),
        message,
    }
}

/// A permanent error (a 4xx other than 401/429) fails the record with its HTTP status as the
/// code; anything retryable or an auth failure fails the whole call.
pub(super) fn rejected(e: ProviderError) -> Result<WriteResult, ProviderError> {
    match e {
        ProviderError::Permanent(message) => {
            let code = message
                .strip_prefix("Pipedrive answered ")
                .and_then(|rest| rest.get(..3))
                .filter(|c| c.chars().all(|ch| ch.is_ascii_digit()))
                .unwrap_or("rejected")
                .to_owned();
            Ok(WriteResult::Failed { code, message })
        }
        other => Err(other),
    }
}

/// `updated_since` for a cursor: its second (Pipedrive times are whole seconds, and the filter
/// is inclusive, so records of that second are read again rather than missed).
pub fn updated_since(at: DateTime<Utc>) -> String {
    DateTime::<Utc>::from_timestamp(at.timestamp(), 0)
        .unwrap_or(at)
        .to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// `page_size` 0 means "the most the provider gives".
fn clamp(page_size: u32, max: u32) -> u32 {
    if page_size == 0 {
        max
    } else {
        page_size.min(max)
    }
}

#[async_trait]
impl Provider for PipedriveClient {
    /// Full reads go in id order; incremental reads filter on `updated_since` and go in
    /// `update_time` order. The page token is Pipedrive's `next_cursor`; `query.since` must
    /// stay the same across the pages of one read.
    async fn list(&self, object_name: &str, query: &ListQuery) -> Result<Page, ProviderError> {
        let obj = object(object_name)?;
        let limit = clamp(query.page_size, MAX_LIMIT).to_string();
        let since = query.since.as_ref().map(|c| updated_since(c.updated_at));
        let mut params = vec![("limit", limit.as_str())];
        match &since {
            Some(s) => params.extend([
                ("updated_since", s.as_str()),
                ("sort_by", "update_time"),
                ("sort_direction", "asc"),
            ]),
            None => params.extend([("sort_by", "id"), ("sort_direction", "asc")]),
        }
        if let Some(cursor) = &query.page {
            params.push(("cursor", cursor.as_str()));
        }
        let body = self
            .call(Method::GET, with_query(&self.url(obj, ""), &params), None)
            .await?;
        let (records, next_page) = parse_list(obj, &body)?;
        Ok(Page { records, next_page })
    }

    /// `GET /api/v2/{object}?ids=...` in chunks of 100; ids that are not numbers cannot exist.
    /// v2 answers whole objects (custom fields included), so every named field is there and
    /// `fields` narrows nothing, as in `list`.
    async fn get_many(
        &self,
        object_name: &str,
        ids: &[String],
        _fields: &[String],
    ) -> Result<Vec<Record>, ProviderError> {
        let obj = object(object_name)?;
        let numeric: Vec<&String> = ids.iter().filter(|id| id.parse::<u64>().is_ok()).collect();
        let mut out = Vec::with_capacity(numeric.len());
        for chunk in numeric.chunks(MAX_IDS) {
            let joined = chunk
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(",");
            let limit = chunk.len().to_string();
            let url = with_query(
                &self.url(obj, ""),
                &[("ids", joined.as_str()), ("limit", limit.as_str())],
            );
            let body = self.call(Method::GET, url, None).await?;
            out.extend(parse_list(obj, &body)?.0);
        }
        Ok(out)
    }

    /// One request per op, [`WRITE_CONCURRENCY`] at a time, results in op order. A record the
    /// API refuses (400/404/422) is `Failed`; a 429 after the adapter's retries, a 5xx or an
    /// auth failure ends the whole call with that error.
    async fn write(
        &self,
        object_name: &str,
        ops: &[WriteOp],
    ) -> Result<Vec<WriteResult>, ProviderError> {
        let obj = object(object_name)?;
        let writes: Vec<BoxFuture<'_, Result<WriteResult, ProviderError>>> = ops
            .iter()
            .map(|op| self.write_one(obj, op).boxed())
            .collect();
        stream::iter(writes)
            .buffered(WRITE_CONCURRENCY)
            .try_collect()
            .await
    }

    fn max_batch(&self, _object: &str) -> usize {
        MAX_BATCH
    }

    /// Pipedrive has no archive: `archive` deletes (kept 30 days with `is_deleted`).
    fn can_archive(&self, object_name: &str) -> bool {
        object(object_name).is_ok()
    }

    async fn archive(
        &self,
        object_name: &str,
        ids: &[String],
    ) -> Result<Vec<WriteResult>, ProviderError> {
        let obj = object(object_name)?;
        self.delete_ids(obj, ids).await
    }

    /// One exact-match search per value (see `find.rs`), then the hits' full records.
    async fn find_by(
        &self,
        object_name: &str,
        field: &str,
        values: &[String],
        fields: &[String],
    ) -> Result<Vec<Record>, ProviderError> {
        let obj = object(object_name)?;
        let Some(search_field) = find::search_field(obj.name, field) else {
            return crate::types::scan_find_by(self, object_name, field, values, fields).await;
        };
        let mut ids: Vec<String> = Vec::new();
        for term in find::normalize(values) {
            let mut cursor: Option<String> = None;
            for _ in 0..find::MAX_SEARCH_PAGES {
                let mut params = vec![
                    ("term", term.as_str()),
                    ("fields", search_field),
                    ("exact_match", "true"),
                    ("limit", find::SEARCH_LIMIT),
                ];
                if let Some(c) = &cursor {
                    params.push(("cursor", c.as_str()));
                }
                let url = with_query(&self.url(obj, "/search"), &params);
                let body = self.call(Method::GET, url, None).await?;
                let items = body["data"]["items"]
                    .as_array()
                    .map_or(&[][..], Vec::as_slice);
                for it in items {
                    let id = match &it["item"]["id"] {
                        Value::Number(n) => n.to_string(),
                        Value::String(s) => s.clone(),
                        _ => continue,
                    };
                    if !ids.contains(&id) {
                        ids.push(id);
                    }
                }
                cursor = body["additional_data"]["next_cursor"]
                    .as_str()
                    .map(str::to_owned);
                if cursor.is_none() {
                    break;
                }
            }
        }
        self.get_many(object_name, &ids, fields).await
    }

    fn max_find(&self, _object: &str) -> usize {
        find::MAX_FIND
    }

    /// Names, emails, phones and custom fields (see `find::search_field`).
    fn can_search_by(&self, object_name: &str, field: &str) -> bool {
        object(object_name).is_ok_and(|o| find::search_field(o.name, field).is_some())
    }

    /// `update_time` has whole-second precision.
    fn timestamp_resolution(&self, _object: &str) -> Duration {
        Duration::from_secs(1)
    }
}

#[cfg(test)]
pub(super) fn policy_for_tests() -> impl ProviderPolicy {
    PipedrivePolicy
}
