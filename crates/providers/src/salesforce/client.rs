//! `SalesforceClient`: the `Provider` for Salesforce Contact, Account and Opportunity over the
//! REST API (SOQL reads with query locators, sObject Collections writes).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use fluxcascade_core::{ProviderKind, Record};
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde_json::{json, Map, Value};
use tracing::warn;

use super::find;
use super::read::ReadScope;
use super::records::{
    fields_for, object, parse_record, writable, PageToken, SalesforceObject, API_VERSION,
    MAX_RETRIEVE, MAX_WRITE,
};
use crate::egress::provider_hosts::instance_base;
use crate::http::{ApiClient, ApiRequest, ProviderPolicy};
use crate::{
    ConnectionContext, ListQuery, Page, Provider, ProviderApp, ProviderError, TokenSource, WriteOp,
    WriteResult,
};

/// Wait after `REQUEST_LIMIT_EXCEEDED` for the org's daily total: the allocation is a rolling
/// 24 hours, so capacity comes back gradually; checking again after 15 minutes costs one request.
pub const DAILY_LIMIT_WAIT: Duration = Duration::from_secs(15 * 60);
/// Wait after `REQUEST_LIMIT_EXCEEDED` for concurrent long-running requests.
pub const CONCURRENCY_LIMIT_WAIT: Duration = Duration::from_secs(5);
/// Wait after any other `REQUEST_LIMIT_EXCEEDED`.
pub const OTHER_LIMIT_WAIT: Duration = Duration::from_secs(60);

/// Salesforce error bodies are `[{message, errorCode, fields?}]`.
fn first_error(body: &Value) -> (String, String) {
    let e = body.get(0).unwrap_or(body);
    let text = |k: &str| {
        e.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let message = text("message");
    let message = if message.is_empty() {
        crate::http::error_message(body)
    } else {
        message
    };
    (text("errorCode"), message)
}

struct SalesforcePolicy;

impl ProviderPolicy for SalesforcePolicy {
    fn name(&self) -> &'static str {
        "salesforce"
    }

    /// Salesforce does not answer 429; kept for completeness.
    fn rate_limit_wait(&self, _body: &Value) -> Duration {
        OTHER_LIMIT_WAIT
    }

    /// 403 `REQUEST_LIMIT_EXCEEDED` is a rate limit; other answers carry `[{message,
    /// errorCode}]`, which the error message names.
    fn classify_error(
        &self,
        status: StatusCode,
        _headers: &HeaderMap,
        body: &Value,
    ) -> Option<ProviderError> {
        let (code, message) = first_error(body);
        if code == "REQUEST_LIMIT_EXCEEDED" {
            let retry_after = if message.contains("TotalRequests") {
                DAILY_LIMIT_WAIT
            } else if message.contains("Concurrent") {
                CONCURRENCY_LIMIT_WAIT
            } else {
                OTHER_LIMIT_WAIT
            };
            return Some(ProviderError::RateLimited { retry_after });
        }
        let text = format!("salesforce answered {status}: {code}: {message}");
        if status.is_server_error() {
            Some(ProviderError::Transient(text))
        } else if status.is_client_error() {
            Some(ProviderError::Permanent(text))
        } else {
            None
        }
    }
}

/// One Salesforce org, reached with the tokens of one connection.
pub struct SalesforceClient {
    api: ApiClient,
    pub(super) base: String,
}

impl SalesforceClient {
    /// The adapter for one connection: its tokens, shared budget and `instance_url`. Outside
    /// sandbox mode an `instance_url` outside Salesforce's `https` domains is refused (a
    /// permanent error naming the host).
    pub fn from_context(app: &ProviderApp, ctx: ConnectionContext) -> Result<Self, ProviderError> {
        let mut client = Self::new(app, ctx.tokens, ctx.http);
        if let Some(instance) = ctx.instance_url.as_deref().filter(|u| !u.trim().is_empty()) {
            client.base = instance_base(ProviderKind::Salesforce, instance, app.mode)?;
        }
        client.api.set_budget(ctx.budget);
        Ok(client)
    }

    /// Salesforce's limits are daily (or on concurrency): a `REQUEST_LIMIT_EXCEEDED` goes back
    /// to the caller at once instead of being waited out inside the adapter.
    pub fn new(app: &ProviderApp, tokens: Arc<dyn TokenSource>, http: reqwest::Client) -> Self {
        let mut api = ApiClient::new(http, tokens, Box::new(SalesforcePolicy));
        api.set_rate_limit_retries(0);
        SalesforceClient {
            api,
            base: app.api_base.trim_end_matches('/').to_owned(),
        }
    }

    /// How often a rate limit is retried inside the adapter (default 0).
    pub fn with_rate_limit_retries(mut self, retries: usize) -> Self {
        self.api.set_rate_limit_retries(retries);
        self
    }

    pub(super) fn data_url(&self, rest: &str) -> String {
        format!("{}/services/data/{API_VERSION}{rest}", self.base)
    }

    pub(super) async fn send(
        &self,
        method: Method,
        url: String,
        body: Option<&Value>,
        headers: &[(&'static str, &'static str)],
    ) -> Result<Value, ProviderError> {
        let (_, v) = self
            .api
            .send(&ApiRequest {
                method,
                url,
                body,
                headers,
            })
            .await?;
        Ok(v)
    }

    /// Records by id, `fields` of each; ids Salesforce does not know are skipped.
    async fn retrieve(
        &self,
        obj: &SalesforceObject,
        ids: &[String],
        fields: &[String],
    ) -> Result<Vec<Record>, ProviderError> {
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(MAX_RETRIEVE) {
            let body = json!({"ids": chunk, "fields": fields});
            let url = self.data_url(&format!("/composite/sobjects/{}", obj.name));
            let answer = self.send(Method::POST, url, Some(&body), &[]).await?;
            for v in answer.as_array().into_iter().flatten() {
                if v.is_null() {
                    continue;
                }
                out.push(parse_record(obj, v)?);
            }
        }
        Ok(out)
    }

    /// One Collections call (`POST` creates, `PATCH` updates) of at most 200 records; results
    /// in request order. A call refused as a whole with a 4xx fails each of its records.
    async fn collection(
        &self,
        method: Method,
        records: Vec<Value>,
    ) -> Result<Vec<Result<String, (String, String)>>, ProviderError> {
        let n = records.len();
        let body = json!({"allOrNone": false, "records": records});
        let answer = match self
            .send(
                method,
                self.data_url("/composite/sobjects"),
                Some(&body),
                &[],
            )
            .await
        {
            Ok(a) => a,
            Err(ProviderError::Permanent(message)) => {
                return Ok(vec![Err(("REJECTED".to_owned(), message)); n]);
            }
            Err(e) => return Err(e),
        };
        let results = answer.as_array().cloned().unwrap_or_default();
        if results.len() != n {
            return Err(ProviderError::Transient(format!(
                "Salesforce answered {} results for {n} records",
                results.len()
            )));
        }
        Ok(results
            .iter()
            .map(|r| {
                let id = r.get("id").and_then(Value::as_str);
                match (r.get("success").and_then(Value::as_bool), id) {
                    (Some(true), Some(id)) => Ok(id.to_owned()),
                    _ => {
                        let e = r
                            .get("errors")
                            .and_then(|e| e.get(0))
                            .cloned()
                            .unwrap_or(Value::Null);
                        let text = |k: &str| {
                            e.get(k)
                                .and_then(Value::as_str)
                                .unwrap_or_default()
                                .to_owned()
                        };
                        let mut message = text("message");
                        if let Some(fields) = e.get("fields").and_then(Value::as_array) {
                            if !fields.is_empty() {
                                let names: Vec<&str> =
                                    fields.iter().filter_map(Value::as_str).collect();
                                message = format!("{message} (fields: {})", names.join(", "));
                            }
                        }
                        let code = Some(text("statusCode"))
                            .filter(|c| !c.is_empty())
                            .unwrap_or_else(|| "UNKNOWN".to_owned());
                        Err((code, message))
                    }
                }
            })
            .collect())
    }
}

#[async_trait]
impl Provider for SalesforceClient {
    /// Full and incremental reads are one SOQL query ordered by `(SystemModstamp, Id)`;
    /// incremental ones start strictly after the cursor. Later pages follow `nextRecordsUrl`;
    /// if its locator has expired, the query restarts after the last record handed out.
    async fn list(&self, object_name: &str, query: &ListQuery) -> Result<Page, ProviderError> {
        self.read(object_name, query, ReadScope::Live).await
    }

    /// An incremental read through `queryAll`, which also returns the recycle bin's records
    /// (`IsDeleted = true`, stamped at their deletion): those come back as tombstones. A full
    /// read is `list` (there is nothing to delete on the other side that is not linked).
    async fn list_with_tombstones(
        &self,
        object_name: &str,
        query: &ListQuery,
    ) -> Result<Page, ProviderError> {
        let scope = if query.since.is_some() {
            ReadScope::WithDeleted
        } else {
            ReadScope::Live
        };
        self.read(object_name, query, scope).await
    }

    async fn get_many(
        &self,
        object_name: &str,
        ids: &[String],
        fields: &[String],
    ) -> Result<Vec<Record>, ProviderError> {
        let obj = object(object_name)?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let fields = fields_for(obj, fields)?;
        self.retrieve(obj, ids, &fields).await
    }

    /// Creates go in one `POST /composite/sobjects`, updates in one `PATCH` (each ≤200,
    /// `allOrNone: false`); the written records are read back for their SystemModstamp.
    /// Read-only fields (Id, SystemModstamp, …, `attributes`) in `fields` are dropped.
    async fn write(
        &self,
        object_name: &str,
        ops: &[WriteOp],
    ) -> Result<Vec<WriteResult>, ProviderError> {
        let obj = object(object_name)?;
        let mut outcomes: Vec<Option<Result<String, (String, String)>>> = vec![None; ops.len()];
        let mut sent: Vec<Value> = vec![Value::Null; ops.len()];
        let mut creates: Vec<(usize, Value)> = Vec::new();
        let mut updates: Vec<(usize, Value)> = Vec::new();
        for (i, op) in ops.iter().enumerate() {
            let (fields, id) = match op {
                WriteOp::Create { fields } => (fields, None),
                WriteOp::Update { id, fields } => (fields, Some(id)),
            };
            let mut rec: Map<String, Value> = match writable(fields) {
                Ok(m) => m,
                Err(message) => {
                    outcomes[i] = Some(Err(("INVALID_INPUT".to_owned(), message)));
                    continue;
                }
            };
            sent[i] = Value::Object(rec.clone());
            rec.insert("attributes".into(), json!({"type": obj.name}));
            match id {
                None => creates.push((i, Value::Object(rec))),
                Some(id) => {
                    rec.insert("Id".into(), json!(id));
                    updates.push((i, Value::Object(rec)));
                }
            }
        }
        for (method, batch) in [(Method::POST, creates), (Method::PATCH, updates)] {
            for chunk in batch.chunks(MAX_WRITE) {
                let records: Vec<Value> = chunk.iter().map(|(_, r)| r.clone()).collect();
                let results = self.collection(method.clone(), records).await?;
                for ((i, _), r) in chunk.iter().zip(results) {
                    outcomes[*i] = Some(r);
                }
            }
        }
        let written: Vec<String> = outcomes
            .iter()
            .filter_map(|o| o.as_ref().and_then(|r| r.as_ref().ok()).cloned())
            .collect();
        let fields = fields_for(obj, &[])?;
        let read: HashMap<String, Record> = self
            .retrieve(obj, &written, &fields)
            .await?
            .into_iter()
            .map(|r| (r.id.clone(), r))
            .collect();
        Ok(outcomes
            .into_iter()
            .zip(sent)
            .map(|(o, sent)| match o {
                Some(Ok(id)) => match read.get(&id) {
                    Some(r) => WriteResult::Ok(r.clone()),
                    // Written (so not a failure a retry should repeat) but gone already.
                    None => {
                        warn!(object = obj.name, id = %id, "Salesforce record written but not readable back");
                        let mut fields = sent;
                        fields["Id"] = json!(id);
                        WriteResult::Ok(Record {
                            id,
                            updated_at: chrono::Utc::now(),
                            fields,
                            deleted: false,
                        })
                    }
                },
                Some(Err((code, message))) => WriteResult::Failed { code, message },
                None => WriteResult::Failed {
                    code: "UNKNOWN".into(),
                    message: "no result for this record".into(),
                },
            })
            .collect())
    }

    /// Salesforce has no archive here: `archive` deletes (the recycle bin keeps the record).
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

    fn max_batch(&self, _object: &str) -> usize {
        MAX_WRITE
    }

    /// SOQL `IN` queries (see `find.rs`), each followed through `nextRecordsUrl`.
    async fn find_by(
        &self,
        object_name: &str,
        field: &str,
        values: &[String],
        fields: &[String],
    ) -> Result<Vec<Record>, ProviderError> {
        let obj = object(object_name)?;
        find::check_field(field)?;
        let values = find::normalize(values);
        if values.is_empty() {
            return Ok(Vec::new());
        }
        let mut wanted = fields.to_vec();
        wanted.push(field.to_owned());
        let fields = fields_for(obj, &wanted)?;
        let url_of = |run: &[String]| {
            self.query_url(ReadScope::Live, &find::find_soql(obj, &fields, field, run))
        };
        let mut out = Vec::new();
        for chunk in values.chunks(find::MAX_FIND) {
            for (_, url) in find::split_to_fit(chunk, &url_of)? {
                let mut page = match self.query_page(obj, url, 2000).await {
                    Err(ProviderError::Permanent(m)) if find::is_literal_type_error(&m) => {
                        warn!(
                            object = obj.name,
                            field, "Salesforce field is not text; find_by scans"
                        );
                        let v: Vec<String> = values.clone();
                        return crate::types::scan_find_by(self, object_name, field, &v, &wanted)
                            .await;
                    }
                    other => other?,
                };
                loop {
                    out.append(&mut page.records);
                    let Some(token) = page.next_page else { break };
                    let token = PageToken::decode(&token)?;
                    page = self
                        .query_page(obj, format!("{}{}", self.base, token.locator), 2000)
                        .await?;
                }
            }
        }
        Ok(out)
    }

    fn max_find(&self, _object: &str) -> usize {
        find::MAX_FIND
    }

    /// Any SOQL field name (relationship paths like `Account.Name` included).
    fn can_search_by(&self, object_name: &str, field: &str) -> bool {
        object(object_name).is_ok() && find::check_field(field).is_ok()
    }

    /// SystemModstamp has whole-second precision.
    fn timestamp_resolution(&self, _object: &str) -> Duration {
        Duration::from_secs(1)
    }
}
