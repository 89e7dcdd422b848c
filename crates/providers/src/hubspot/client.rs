//! `HubspotClient`: the `Provider` for HubSpot CRM v3 objects (contacts, companies, deals).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use fluxcascade_core::Record;
use futures::future::{BoxFuture, FutureExt};
use futures::stream::{self, StreamExt};
use reqwest::Method;
use serde_json::{json, Map, Value};

use super::archive::ArchivedToken;
use super::assoc::{
    associated_types, attach, batch_read_body, parse_batch_read, parse_v4_list, strip, v3_blocks,
};
use super::batch::{
    create_body, match_created, match_updated, read_results, update_body, REJECTED,
};
use super::find;
use super::records::{
    next_after, next_search_token, object, parse_results, properties_for, search_body,
    to_properties, HubspotObject, SearchToken, MAX_BATCH, MAX_SEARCH_LIMIT,
};
use crate::http::{ApiClient, ApiRequest, ProviderPolicy};
use crate::{ConnectionContext, RequestClass};
use crate::{
    ListQuery, Page, Provider, ProviderApp, ProviderError, TokenSource, WriteOp, WriteResult,
};

/// How far before the cursor an incremental read starts.
pub const LOOK_BACK: chrono::Duration = chrono::Duration::seconds(1);
/// Most association pages followed per object in one batch read.
const MAX_ASSOCIATION_PAGES: usize = 20;
/// Per-object association reads in flight at once (fallback when batch read is missing).
const ASSOCIATION_CONCURRENCY: usize = 8;

struct HubspotPolicy;

impl ProviderPolicy for HubspotPolicy {
    fn name(&self) -> &'static str {
        "hubspot"
    }

    /// Search endpoints have their own 5/s limit on top of the ten-second window.
    fn request_class(&self, req: &ApiRequest<'_>) -> RequestClass {
        if req.url.ends_with("/search") {
            RequestClass::Search
        } else {
            RequestClass::General
        }
    }

    /// The official SDK's waits: 10 s on the ten-secondly window, 1 s on the secondly one.
    fn rate_limit_wait(&self, body: &Value) -> Duration {
        let policy = body
            .get("policyName")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if policy.eq_ignore_ascii_case("SECONDLY") {
            Duration::from_secs(1)
        } else {
            Duration::from_secs(10)
        }
    }
}

/// One HubSpot account (portal), reached with the tokens of one connection.
pub struct HubspotClient {
    pub(super) api: ApiClient,
    base: String,
}

impl HubspotClient {
    /// The adapter for one connection: its tokens, shared budget and API host.
    pub fn from_context(app: &ProviderApp, ctx: ConnectionContext) -> Self {
        let mut client = Self::new(app, ctx.tokens, ctx.http);
        client.api.set_budget(ctx.budget);
        client
    }

    pub fn new(app: &ProviderApp, tokens: Arc<dyn TokenSource>, http: reqwest::Client) -> Self {
        HubspotClient {
            api: ApiClient::new(http, tokens, Box::new(HubspotPolicy)),
            base: app.api_base.trim_end_matches('/').to_owned(),
        }
    }

    /// How often a 429 is retried inside the adapter (default 3) before `RateLimited` is returned.
    pub fn with_rate_limit_retries(mut self, retries: usize) -> Self {
        self.api.set_rate_limit_retries(retries);
        self
    }

    pub(super) fn url(&self, obj: &HubspotObject, rest: &str) -> String {
        format!("{}/crm/v3/objects/{}{rest}", self.base, obj.name)
    }

    async fn post(
        &self,
        url: String,
        body: &Value,
    ) -> Result<(reqwest::StatusCode, Value), ProviderError> {
        self.api
            .send(&ApiRequest {
                method: Method::POST,
                url,
                body: Some(body),
                headers: &[],
            })
            .await
    }

    async fn list_full(
        &self,
        obj: &HubspotObject,
        query: &ListQuery,
    ) -> Result<Page, ProviderError> {
        let limit = clamp(query.page_size, MAX_BATCH as u32).to_string();
        let props = properties_for(obj, &query.fields).join(",");
        let mut params = vec![
            ("limit", limit.as_str()),
            ("properties", props.as_str()),
            ("archived", "false"),
        ];
        if let Some(after) = &query.page {
            params.push(("after", after.as_str()));
        }
        let wanted = associated_types(obj).join(",");
        if !wanted.is_empty() {
            params.push(("associations", wanted.as_str()));
        }
        let url = crate::oauth::with_query(&self.url(obj, ""), &params);
        let (_, body) = self
            .api
            .send(&ApiRequest {
                method: Method::GET,
                url,
                body: None,
                headers: &[],
            })
            .await?;
        let mut records = parse_results(obj, &body)?;
        for to in associated_types(obj) {
            attach(&mut records, to, &v3_blocks(&body, to));
        }
        Ok(Page {
            records,
            next_page: next_after(&body),
        })
    }

    /// Fill `associations.<to>` of `records` (search and batch read return no associations).
    async fn add_associations(
        &self,
        obj: &HubspotObject,
        records: &mut [Record],
    ) -> Result<(), ProviderError> {
        if records.is_empty() {
            return Ok(());
        }
        let ids: Vec<String> = records.iter().map(|r| r.id.clone()).collect();
        for to in associated_types(obj) {
            let found = self.read_associations(obj, to, &ids).await?;
            attach(records, to, &found);
        }
        Ok(())
    }

    /// Ids of `to` objects associated with each of `ids`: one v4 batch read per 100 ids
    /// (following per-object paging). When the account answers 404 for the batch endpoint,
    /// falls back to the v4 per-object list.
    async fn read_associations(
        &self,
        obj: &HubspotObject,
        to: &str,
        ids: &[String],
    ) -> Result<HashMap<String, Vec<String>>, ProviderError> {
        let url = format!(
            "{}/crm/v4/associations/{}/{to}/batch/read",
            self.base, obj.name
        );
        let mut out = HashMap::new();
        for chunk in ids.chunks(MAX_BATCH) {
            let mut inputs: Vec<(String, Option<String>)> =
                chunk.iter().map(|id| (id.clone(), None)).collect();
            for _ in 0..MAX_ASSOCIATION_PAGES {
                if inputs.is_empty() {
                    break;
                }
                match self.post(url.clone(), &batch_read_body(&inputs)).await {
                    Ok((_, body)) => inputs = parse_batch_read(&body, &mut out),
                    Err(ProviderError::Permanent(m)) if is_not_found(&m) => {
                        tracing::debug!(error = %m, "HubSpot association batch read missing; reading per object");
                        return self.read_associations_one_by_one(obj, to, ids).await;
                    }
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(out)
    }

    /// `GET /crm/v4/objects/{from}/{id}/associations/{to}` per id, bounded concurrency. An id
    /// HubSpot does not know (404) has no associations.
    async fn read_associations_one_by_one(
        &self,
        obj: &HubspotObject,
        to: &str,
        ids: &[String],
    ) -> Result<HashMap<String, Vec<String>>, ProviderError> {
        type Read<'a> =
            BoxFuture<'a, (String, Result<(reqwest::StatusCode, Value), ProviderError>)>;
        let reads: Vec<Read<'_>> = ids
            .iter()
            .map(|id| {
                async move {
                    let segment: String =
                        url::form_urlencoded::byte_serialize(id.as_bytes()).collect();
                    let url = format!(
                        "{}/crm/v4/objects/{}/{segment}/associations/{to}",
                        self.base, obj.name
                    );
                    let sent = self
                        .api
                        .send(&ApiRequest {
                            method: Method::GET,
                            url,
                            body: None,
                            headers: &[],
                        })
                        .await;
                    (id.clone(), sent)
                }
                .boxed()
            })
            .collect();
        let answers: Vec<_> = stream::iter(reads)
            .buffered(ASSOCIATION_CONCURRENCY)
            .collect()
            .await;
        let mut out = HashMap::new();
        for (id, sent) in answers {
            match sent {
                Ok((_, body)) => {
                    out.insert(id, parse_v4_list(&body));
                }
                Err(ProviderError::Permanent(m)) if is_not_found(&m) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    /// An incremental read: the search from the cursor; with `tombstones`, first the objects
    /// archived since the cursor (see `archive.rs`).
    async fn list_changed(
        &self,
        obj: &HubspotObject,
        query: &ListQuery,
        tombstones: bool,
    ) -> Result<Page, ProviderError> {
        let token = match (&query.page, &query.since) {
            (Some(page), _) if ArchivedToken::is_archived_token(page) => {
                return self.list_archived(obj, &ArchivedToken::decode(page)?).await
            }
            (Some(page), _) => SearchToken::decode(page)?,
            // Tombstones first (archived since the cursor), then the search from the same anchor.
            (None, Some(since)) if tombstones => {
                let token = ArchivedToken {
                    since: (since.updated_at - LOOK_BACK).timestamp_millis(),
                    after: None,
                };
                return self.list_archived(obj, &token).await;
            }
            (None, Some(since)) => SearchToken {
                anchor: (since.updated_at - LOOK_BACK).timestamp_millis(),
                after: None,
            },
            (None, None) => return self.list_full(obj, query).await,
        };
        let limit = clamp(query.page_size, MAX_SEARCH_LIMIT);
        let props = properties_for(obj, &query.fields);
        let body = search_body(obj, &token, &props, limit);
        let (_, resp) = self.post(self.url(obj, "/search"), &body).await?;
        let mut records = parse_results(obj, &resp)?;
        self.add_associations(obj, &mut records).await?;
        let next = next_search_token(obj, &token, &records, next_after(&resp), limit);
        Ok(Page {
            records,
            next_page: next.map(|t| t.encode()),
        })
    }

    /// A full or incremental read (see `list` and `list_with_tombstones`).
    async fn read(
        &self,
        object_name: &str,
        query: &ListQuery,
        tombstones: bool,
    ) -> Result<Page, ProviderError> {
        let obj = object(object_name)?;
        let continues_search = query.page.as_deref().is_some_and(|p| {
            SearchToken::is_search_token(p) || ArchivedToken::is_archived_token(p)
        });
        if query.since.is_some() || continues_search {
            self.list_changed(obj, query, tombstones).await
        } else {
            self.list_full(obj, query).await
        }
    }

    /// One `batch/create` call of at most 100 inputs.
    async fn create_chunk(
        &self,
        obj: &HubspotObject,
        props: &[Map<String, Value>],
    ) -> Result<Vec<WriteResult>, ProviderError> {
        match self
            .post(self.url(obj, "/batch/create"), &create_body(props))
            .await
        {
            Ok((_, body)) => Ok(match_created(obj, props.len(), &body)),
            Err(e) => whole_chunk_failed(e, props.len()),
        }
    }

    /// One `batch/update` call of at most 100 inputs.
    async fn update_chunk(
        &self,
        obj: &HubspotObject,
        inputs: &[(String, Map<String, Value>)],
    ) -> Result<Vec<WriteResult>, ProviderError> {
        match self
            .post(self.url(obj, "/batch/update"), &update_body(inputs))
            .await
        {
            Ok((_, body)) => {
                let ids: Vec<String> = inputs.iter().map(|(id, _)| id.clone()).collect();
                Ok(match_updated(obj, &ids, &body))
            }
            Err(e) => whole_chunk_failed(e, inputs.len()),
        }
    }
}

/// Whether a `Permanent` error is HubSpot's 404 (see `http::ApiClient::send`).
fn is_not_found(message: &str) -> bool {
    message.contains("answered 404")
}

/// `page_size` 0 means "the most the provider gives".
fn clamp(page_size: u32, max: u32) -> u32 {
    if page_size == 0 {
        max
    } else {
        page_size.min(max)
    }
}

/// A whole batch refused with a 4xx (HubSpot rejects a batch outright when one input has,
/// say, an unknown property) fails each of its records; anything retryable or an auth
/// failure stays an error of the whole call.
fn whole_chunk_failed(e: ProviderError, n: usize) -> Result<Vec<WriteResult>, ProviderError> {
    match e {
        ProviderError::Permanent(message) => Ok(vec![
            WriteResult::Failed {
                code: REJECTED.to_owned(),
                message
            };
            n
        ]),
        other => Err(other),
    }
}

#[async_trait]
impl Provider for HubspotClient {
    async fn list(&self, object_name: &str, query: &ListQuery) -> Result<Page, ProviderError> {
        self.read(object_name, query, false).await
    }

    async fn list_with_tombstones(
        &self,
        object_name: &str,
        query: &ListQuery,
    ) -> Result<Page, ProviderError> {
        self.read(object_name, query, true).await
    }

    async fn get_many(
        &self,
        object_name: &str,
        ids: &[String],
        fields: &[String],
    ) -> Result<Vec<Record>, ProviderError> {
        let obj = object(object_name)?;
        let props = properties_for(obj, fields);
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(MAX_BATCH) {
            let inputs: Vec<Value> = chunk.iter().map(|id| json!({ "id": id })).collect();
            let body = json!({ "properties": props, "inputs": inputs });
            let (_, resp) = self.post(self.url(obj, "/batch/read"), &body).await?;
            out.extend(read_results(obj, &resp));
        }
        self.add_associations(obj, &mut out).await?;
        Ok(out)
    }

    async fn write(
        &self,
        object_name: &str,
        ops: &[WriteOp],
    ) -> Result<Vec<WriteResult>, ProviderError> {
        let obj = object(object_name)?;
        let mut results: Vec<Option<WriteResult>> = vec![None; ops.len()];
        let mut creates: Vec<(usize, Map<String, Value>)> = Vec::new();
        let mut updates: Vec<(usize, (String, Map<String, Value>))> = Vec::new();
        for (i, op) in ops.iter().enumerate() {
            let (fields, id) = match op {
                WriteOp::Create { fields } => (fields, None),
                WriteOp::Update { id, fields } => (fields, Some(id)),
            };
            match (to_properties(&strip(fields)), id) {
                (Err(message), _) => {
                    results[i] = Some(WriteResult::Failed {
                        code: "invalid_field".into(),
                        message,
                    })
                }
                (Ok(p), None) => creates.push((i, p)),
                (Ok(p), Some(id)) => updates.push((i, (id.clone(), p))),
            }
        }
        for chunk in creates.chunks(MAX_BATCH) {
            let props: Vec<Map<String, Value>> = chunk.iter().map(|(_, p)| p.clone()).collect();
            let chunk_results = self.create_chunk(obj, &props).await?;
            place(&mut results, chunk.iter().map(|(i, _)| *i), chunk_results);
        }
        for chunk in updates.chunks(MAX_BATCH) {
            let inputs: Vec<(String, Map<String, Value>)> =
                chunk.iter().map(|(_, x)| x.clone()).collect();
            let chunk_results = self.update_chunk(obj, &inputs).await?;
            place(&mut results, chunk.iter().map(|(i, _)| *i), chunk_results);
        }
        Ok(results
            .into_iter()
            .map(|r| {
                r.unwrap_or_else(|| WriteResult::Failed {
                    code: REJECTED.into(),
                    message: "no result for this write".into(),
                })
            })
            .collect())
    }

    fn max_batch(&self, _object: &str) -> usize {
        MAX_BATCH
    }

    /// Every HubSpot CRM object can be archived.
    fn can_archive(&self, object_name: &str) -> bool {
        object(object_name).is_ok()
    }

    async fn archive(
        &self,
        object_name: &str,
        ids: &[String],
    ) -> Result<Vec<WriteResult>, ProviderError> {
        let obj = object(object_name)?;
        self.archive_ids(obj, ids).await
    }

    /// One `IN` search per 100 values (lowercased, as HubSpot's `IN` on text requires),
    /// following `after` within the 10,000-result window.
    async fn find_by(
        &self,
        object_name: &str,
        field: &str,
        values: &[String],
        fields: &[String],
    ) -> Result<Vec<Record>, ProviderError> {
        let obj = object(object_name)?;
        let mut props = properties_for(obj, fields);
        if !props.iter().any(|p| p == field) {
            props.push(field.to_owned());
        }
        let mut out = Vec::new();
        for chunk in find::normalize(values).chunks(find::MAX_FIND) {
            let mut after: Option<String> = None;
            loop {
                let body = find::find_body(field, chunk, &props, after.as_deref());
                let (_, resp) = self.post(self.url(obj, "/search"), &body).await?;
                out.extend(parse_results(obj, &resp)?);
                match next_after(&resp) {
                    Some(next) if find::within_cap(&next) => after = Some(next),
                    _ => break,
                }
            }
        }
        self.add_associations(obj, &mut out).await?;
        Ok(out)
    }

    fn max_find(&self, _object: &str) -> usize {
        find::MAX_FIND
    }

    /// HubSpot properties are flat: any plain property name is searchable.
    fn can_search_by(&self, object_name: &str, field: &str) -> bool {
        object(object_name).is_ok() && find::is_property_name(field)
    }
}

/// Put a chunk's results back at their ops' positions.
fn place(
    results: &mut [Option<WriteResult>],
    positions: impl Iterator<Item = usize>,
    chunk_results: Vec<WriteResult>,
) {
    for (pos, r) in positions.zip(chunk_results) {
        if let Some(slot) = results.get_mut(pos) {
            *slot = Some(r);
        }
    }
}
