//! Jobber job writes: a create finds (or creates) a property of the job's client and runs
//! `jobCreate` on it; an update runs `jobEdit`. One mutation per record, bounded concurrency.
//!
//! Record fields of a job write:
//! - `clientId` (create only, required): the Jobber encoded client id.
//! - `title`, `instructions` (strings; `null` clears on update), `jobNumber` (integer).
//! - Anything else (read-only fields such as `jobStatus`, `propertyId`) is ignored.
//!
//! Defaults `jobCreate` requires and a sync has no value for: `scheduling {createVisits:
//! false, notifyTeam: false}` (no visits are scheduled, nobody is notified) and `invoicing
//! {invoicingType: FIXED_PRICE, invoicingSchedule: ON_COMPLETION}` (Jobber's one-off default).
//! A client without a property gets one via `propertyCreate` at its billing address (or
//! with no address when it has none).

use std::collections::HashMap;

use futures::future::{BoxFuture, FutureExt};
use futures::stream::{self, StreamExt};
use serde_json::{json, Map, Value};

use super::client::{settle_writes, JobberClient, REJECTED, WRITE_CONCURRENCY};
use super::queries::{CLIENT_PROPERTIES, CREATE_JOB, CREATE_PROPERTY, EDIT_JOB};
use super::records::{
    as_stored, data_field, failed, parse_payload, user_errors, ADDRESS_FIELDS, INVALID, NOT_FOUND,
};
use crate::{ProviderError, WriteOp, WriteResult};

fn as_object(fields: &Value) -> Result<&Map<String, Value>, String> {
    fields
        .as_object()
        .ok_or_else(|| "Jobber job fields must be a JSON object".to_owned())
}

/// The `clientId` a job create names.
pub fn job_client_id(fields: &Value) -> Result<String, String> {
    match as_object(fields)?.get("clientId") {
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.trim().to_owned()),
        None | Some(Value::Null) => Err("a Jobber job needs `clientId`".into()),
        Some(v) => Err(format!("clientId must be a non-empty string, got {v}")),
    }
}

/// `title`, `instructions` and `jobNumber`, shared by create and edit. `null` text is
/// cleared (`""`) on edit and left out on create.
fn text_and_number(fields: &Map<String, Value>, edit: bool) -> Result<Map<String, Value>, String> {
    let mut input = Map::new();
    for key in ["title", "instructions"] {
        match fields.get(key) {
            None => {}
            Some(Value::Null) if edit => {
                input.insert(key.into(), Value::String(String::new()));
            }
            Some(Value::Null) => {}
            Some(Value::String(s)) => {
                input.insert(key.into(), Value::String(s.clone()));
            }
            Some(Value::Number(n)) => {
                input.insert(key.into(), Value::String(n.to_string()));
            }
            Some(v) => return Err(format!("{key} must be a string, got {v}")),
        }
    }
    match fields.get("jobNumber") {
        None | Some(Value::Null) => {}
        Some(v) => {
            let n = match v {
                Value::Number(n) => n.as_i64(),
                Value::String(s) => s.trim().parse::<i64>().ok(),
                _ => None,
            }
            .filter(|n| (1..=i64::from(i32::MAX)).contains(n))
            .ok_or_else(|| format!("jobNumber must be a positive integer, got {v}"))?;
            input.insert("jobNumber".into(), json!(n));
        }
    }
    Ok(input)
}

/// Record fields → `JobCreateAttributes` on `property_id`, with the required scheduling and
/// invoicing defaults (see the module docs).
pub fn job_create_input(fields: &Value, property_id: &str) -> Result<Value, String> {
    let mut input = text_and_number(as_object(fields)?, false)?;
    input.insert("propertyId".into(), Value::String(property_id.to_owned()));
    input.insert(
        "scheduling".into(),
        json!({"createVisits": false, "notifyTeam": false}),
    );
    input.insert(
        "invoicing".into(),
        json!({"invoicingType": "FIXED_PRICE", "invoicingSchedule": "ON_COMPLETION"}),
    );
    Ok(Value::Object(input))
}

/// Record fields → `JobEditInput` (empty when the record changes nothing Jobber can edit).
pub fn job_edit_input(fields: &Value) -> Result<Map<String, Value>, String> {
    text_and_number(as_object(fields)?, true)
}

/// `PropertyCreateInput` for one property at `address` (a client's `billingAddress`).
pub fn property_create_input(address: Option<&Value>) -> Value {
    let mut attrs = Map::new();
    if let Some(Value::Object(a)) = address {
        for key in ADDRESS_FIELDS {
            if let Some(Value::String(s)) = a.get(*key) {
                if !s.is_empty() {
                    attrs.insert((*key).into(), Value::String(s.clone()));
                }
            }
        }
    }
    if attrs.is_empty() {
        json!({"properties": [{}]})
    } else {
        json!({"properties": [{"address": attrs}]})
    }
}

/// Where a client's jobs go: its property id, or why there is none (a record failure).
#[derive(Debug, Clone, PartialEq)]
pub enum PropertyFor {
    Found(String),
    Failed { code: String, message: String },
}

/// A copy of an error (for every op that shares one failed property lookup).
fn same_error(e: &ProviderError) -> ProviderError {
    match e {
        ProviderError::RateLimited { retry_after } => ProviderError::RateLimited {
            retry_after: *retry_after,
        },
        ProviderError::Transient(m) => ProviderError::Transient(m.clone()),
        ProviderError::Auth(m) => ProviderError::Auth(m.clone()),
        ProviderError::Permanent(m) => ProviderError::Permanent(m.clone()),
    }
}

type Resolved = HashMap<String, Result<PropertyFor, ProviderError>>;

impl JobberClient {
    /// The client's first property, else a new one (`propertyCreate`). If the lookup query
    /// itself is refused (a GraphQL error), the property is created directly: `propertyCreate`
    /// reports an unknown client as a `userError`.
    pub(crate) async fn property_for(&self, client_id: &str) -> Result<PropertyFor, ProviderError> {
        let address = match self
            .graphql(CLIENT_PROPERTIES, json!({ "id": client_id }))
            .await
        {
            Ok(body) => match data_field(&body, "client")? {
                Value::Null => {
                    return Ok(PropertyFor::Failed {
                        code: NOT_FOUND.into(),
                        message: format!("Jobber client {client_id} does not exist"),
                    })
                }
                client => {
                    if let Some(id) = client
                        .pointer("/clientProperties/nodes/0/id")
                        .and_then(Value::as_str)
                    {
                        return Ok(PropertyFor::Found(id.to_owned()));
                    }
                    client.get("billingAddress").cloned()
                }
            },
            Err(ProviderError::Permanent(message)) => {
                tracing::warn!(error = %message, "Jobber client properties not readable; creating a property");
                None
            }
            Err(e) => return Err(e),
        };
        let vars = json!({
            "clientId": client_id,
            "input": property_create_input(address.as_ref()),
        });
        let body = match self.graphql(CREATE_PROPERTY, vars).await {
            Ok(b) => b,
            Err(ProviderError::Permanent(message)) => {
                return Ok(PropertyFor::Failed {
                    code: REJECTED.into(),
                    message,
                })
            }
            Err(e) => return Err(e),
        };
        let payload = data_field(&body, "propertyCreate")?;
        if let Some(message) = user_errors(payload) {
            return Ok(PropertyFor::Failed {
                code: REJECTED.into(),
                message,
            });
        }
        Ok(
            match payload.pointer("/properties/0/id").and_then(Value::as_str) {
                Some(id) => PropertyFor::Found(id.to_owned()),
                None => PropertyFor::Failed {
                    code: REJECTED.into(),
                    message: "Jobber created no property for the client".into(),
                },
            },
        )
    }

    /// Run a job mutation; GraphQL errors and `userErrors` are this record's failure.
    async fn job_mutation(
        &self,
        query: &str,
        variables: Value,
        field: &str,
    ) -> Result<WriteResult, ProviderError> {
        let body = match self.graphql(query, variables).await {
            Ok(b) => b,
            Err(ProviderError::Permanent(message)) => return Ok(failed(REJECTED, message)),
            Err(e) => return Err(e),
        };
        Ok(match parse_payload(data_field(&body, field)?, "job")? {
            Ok(record) => WriteResult::Ok(record),
            Err(message) => failed(REJECTED, message),
        })
    }

    async fn write_job(
        &self,
        op: &WriteOp,
        properties: &Resolved,
    ) -> Result<WriteResult, ProviderError> {
        match op {
            WriteOp::Create { fields } => {
                let client_id = match job_client_id(fields) {
                    Ok(c) => c,
                    Err(message) => return Ok(failed(INVALID, message)),
                };
                let property_id = match properties.get(&client_id) {
                    Some(Ok(PropertyFor::Found(id))) => id.clone(),
                    Some(Ok(PropertyFor::Failed { code, message })) => {
                        return Ok(failed(code, message.clone()))
                    }
                    Some(Err(e)) => return Err(same_error(e)),
                    None => match self.property_for(&client_id).await? {
                        PropertyFor::Found(id) => id,
                        PropertyFor::Failed { code, message } => return Ok(failed(&code, message)),
                    },
                };
                let input = match job_create_input(fields, &property_id) {
                    Ok(i) => i,
                    Err(message) => return Ok(failed(INVALID, message)),
                };
                self.job_mutation(CREATE_JOB, json!({ "input": input }), "jobCreate")
                    .await
            }
            WriteOp::Update { id, fields } => {
                let input = match job_edit_input(fields) {
                    Ok(i) => i,
                    Err(message) => return Ok(failed(INVALID, message)),
                };
                if input.is_empty() {
                    // Nothing Jobber can edit: answer with the job as stored.
                    return as_stored(self.get_job(id).await, "job", id);
                }
                self.job_mutation(EDIT_JOB, json!({ "id": id, "input": input }), "jobEdit")
                    .await
            }
        }
    }

    /// Writes jobs: first one property lookup per distinct client of the creates (so jobs
    /// for the same client share one property), then one mutation per op.
    pub(crate) async fn write_jobs(
        &self,
        ops: &[WriteOp],
    ) -> Result<Vec<WriteResult>, ProviderError> {
        let mut clients: Vec<String> = ops
            .iter()
            .filter_map(|op| match op {
                WriteOp::Create { fields } => job_client_id(fields).ok(),
                WriteOp::Update { .. } => None,
            })
            .collect();
        clients.sort();
        clients.dedup();
        let lookups: Vec<BoxFuture<'_, (String, Result<PropertyFor, ProviderError>)>> = clients
            .into_iter()
            .map(|c| {
                async move {
                    let r = self.property_for(&c).await;
                    (c, r)
                }
                .boxed()
            })
            .collect();
        let properties: Resolved = stream::iter(lookups)
            .buffer_unordered(WRITE_CONCURRENCY)
            .collect()
            .await;
        let writes: Vec<BoxFuture<'_, Result<WriteResult, ProviderError>>> = ops
            .iter()
            .map(|op| self.write_job(op, &properties).boxed())
            .collect();
        let results: Vec<_> = stream::iter(writes)
            .buffered(WRITE_CONCURRENCY)
            .collect()
            .await;
        settle_writes(results)
    }
}
