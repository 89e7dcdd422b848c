//! `POST /v1/mappings/preview`: a dry run of a mapping over sample records, showing what would be written.
//!
//! The mapping is validated exactly like `POST /v1/mappings` (details prefixed `mapping.`), then its
//! field pairs are compiled once and applied to each record with
//! [`CompiledMapping::apply`], the function the worker uses to build what it writes. Nothing is
//! stored and nothing is enqueued. Records may be pasted in the provider's native shape
//! ([`preview_native`](super::preview_native)) or, with `"sample": {"count": N}`, read from the
//! connection ([`preview_sample`](super::preview_sample), the only variant that calls a provider,
//! read only). Members may call it (it is a read).

use axum::extract::State;
use axum::Json;
use fluxcascade_core::{CompiledMapping, Direction, MappingError, MappingSpec, ProviderKind};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::api::mappings;
use crate::api::preview_native::{id_text, native};
use crate::api::preview_sample::{self, SampleRequest};
use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody, ErrorDetail};
use crate::json::ApiJson;
use crate::AppState;

/// The most records one preview may map.
pub const MAX_PREVIEW_RECORDS: usize = 100;

/// The request body: a mapping as for `POST /v1/mappings` and the sample records.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct PreviewRequest {
    pub mapping: MappingSpec,
    /// Each `{"id"?, "fields": {...}}` or the record in its provider's native shape (see
    /// [`parse_records`]). Required unless `sample` is given (then ignored).
    #[serde(default)]
    pub records: Option<Vec<Value>>,
    /// Read this many records from the connection instead (1..=20; calls the provider).
    #[serde(default)]
    pub sample: Option<SampleRequest>,
}

/// One sample record: its id (if it has one) and its provider-native fields.
#[derive(Debug, Clone, PartialEq)]
pub struct SampleRecord {
    pub id: Option<String>,
    pub fields: Value,
}

/// What the mapping makes of one record: the payload it would write, or why it cannot.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PreviewItem {
    /// The record's id, or `records[i]` when it has none.
    pub record_id: String,
    /// The target fields that would be written; `null` when the record fails.
    pub payload: Option<Value>,
    /// Empty when the record maps; otherwise its error (`code`, `field`, `message`).
    pub errors: Vec<MappingError>,
}

/// Where the previewed payloads would be written.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct WriteTarget {
    pub provider: ProviderKind,
    pub object: String,
}

/// The preview's answer: one item per record, in order, and where they would be written.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PreviewResponse {
    pub data: Vec<PreviewItem>,
    pub direction: Direction,
    pub target: WriteTarget,
}

/// Reads the sample records of a `kind` endpoint. A record is the wrapped shape
/// `{"id"?, "fields": {...}}` when it has a `fields` key and no keys other than `id` and
/// `fields`; any other object must be `kind`'s native shape ([`native`]). Every problem is
/// reported, each naming `records`, `records[i]`, `records[i].id` or `records[i].fields`.
pub fn parse_records(
    kind: ProviderKind,
    records: &[Value],
) -> Result<Vec<SampleRecord>, Vec<ErrorDetail>> {
    if records.len() > MAX_PREVIEW_RECORDS {
        return Err(vec![ErrorDetail::new(
            "records",
            format!(
                "at most {MAX_PREVIEW_RECORDS} records may be previewed at once; got {}",
                records.len()
            ),
        )]);
    }
    let mut out = Vec::with_capacity(records.len());
    let mut issues = Vec::new();
    for (i, record) in records.iter().enumerate() {
        match parse_record(kind, i, record) {
            Ok(r) => out.push(r),
            Err(mut e) => issues.append(&mut e),
        }
    }
    if issues.is_empty() {
        Ok(out)
    } else {
        Err(issues)
    }
}

fn parse_record(
    kind: ProviderKind,
    i: usize,
    record: &Value,
) -> Result<SampleRecord, Vec<ErrorDetail>> {
    let Value::Object(map) = record else {
        return Err(vec![ErrorDetail::new(
            format!("records[{i}]"),
            "must be an object: {\"id\", \"fields\": {...}} or the record's fields",
        )]);
    };
    if !is_wrapped(map) {
        return native(kind, i, map)
            .map(|(id, fields)| SampleRecord { id, fields })
            .map_err(|e| vec![e]);
    }
    let mut issues = Vec::new();
    let id = match map.get("id") {
        None | Some(Value::Null) => None,
        Some(v) => {
            let id = id_text(v);
            if id.is_none() {
                issues.push(ErrorDetail::new(
                    format!("records[{i}].id"),
                    "must be a string",
                ));
            }
            id
        }
    };
    let fields = map.get("fields").cloned().unwrap_or(Value::Null);
    if !fields.is_object() {
        issues.push(ErrorDetail::new(
            format!("records[{i}].fields"),
            "must be an object of the record's fields",
        ));
    }
    if issues.is_empty() {
        Ok(SampleRecord { id, fields })
    } else {
        Err(issues)
    }
}

fn is_wrapped(map: &Map<String, Value>) -> bool {
    map.contains_key("fields") && map.keys().all(|k| k == "id" || k == "fields")
}

/// The engine a preview applies for `direction`.
///
/// `source_to_target` (and `bidirectional`, previewed in its source→target pass): the records
/// are source-object records and the payloads are for the target. `target_to_source`: the
/// records are **target**-object records, mapped with [`CompiledMapping::reversed`], and the
/// payloads are what would be written to the **source** (the answer's `target` then names the
/// mapping's source endpoint). Reversal drops `split_name` and `concatenate` pairs.
pub fn engine_for(direction: Direction, forward: &CompiledMapping) -> CompiledMapping {
    match direction {
        Direction::TargetToSource => forward.reversed(),
        Direction::SourceToTarget | Direction::Bidirectional => forward.clone(),
    }
}

/// Maps every record with `engine`: a payload, or the record's error.
pub fn preview_records(engine: &CompiledMapping, records: &[SampleRecord]) -> Vec<PreviewItem> {
    records
        .iter()
        .enumerate()
        .map(|(i, r)| preview_one(engine, i, r))
        .collect()
}

/// What `engine` makes of the `i`th record.
fn preview_one(engine: &CompiledMapping, i: usize, r: &SampleRecord) -> PreviewItem {
    let record_id = r.id.clone().unwrap_or_else(|| format!("records[{i}]"));
    match engine.apply(&r.fields) {
        Ok(payload) => PreviewItem {
            record_id,
            payload: Some(payload),
            errors: Vec::new(),
        },
        Err(e) => PreviewItem {
            record_id,
            payload: None,
            errors: vec![e],
        },
    }
}

/// How long one preview may compute before it is refused.
pub const PREVIEW_CPU_BUDGET: std::time::Duration = std::time::Duration::from_secs(2);

/// [`preview_records`], giving up (`None`) once `budget` has elapsed between two records.
pub fn preview_records_within(
    engine: &CompiledMapping,
    records: &[SampleRecord],
    budget: std::time::Duration,
) -> Option<Vec<PreviewItem>> {
    let started = std::time::Instant::now();
    let mut out = Vec::with_capacity(records.len());
    for (i, r) in records.iter().enumerate() {
        if started.elapsed() > budget {
            return None;
        }
        out.push(preview_one(engine, i, r));
    }
    Some(out)
}

/// `POST /v1/mappings/preview`: 200 with one item per record; 422 for an invalid mapping
/// (details name `mapping.…`), more than [`MAX_PREVIEW_RECORDS`] records, a record in neither
/// the wrapped nor the provider's native shape (`records[i]`) or a `sample.count` outside 1..=20.
/// Writes nothing, publishes nothing; only `sample` calls the provider (one read, 409/502 when it
/// fails).
#[utoipa::path(post, path = "/v1/mappings/preview", tag = "mappings",
    request_body = PreviewRequest,
    responses(
        (status = 200, body = PreviewResponse),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 502, body = ErrorBody), (status = 503, body = ErrorBody),
    ),
    extensions(("x-min-role" = json!("member"))))]
pub async fn preview(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<PreviewRequest>,
) -> Result<Json<Value>, ApiError> {
    let spec = &body.mapping;
    let count = body.sample.as_ref().map(preview_sample::check_count);
    let checked = mappings::check(&state, caller.org_id(), spec, "mapping.").await?;
    let (source, target) = match (checked, count.clone()) {
        (Ok(p), None | Some(Ok(_))) => p,
        (p, c) => {
            let details = p
                .err()
                .into_iter()
                .flatten()
                .chain(c.and_then(Result::err))
                .collect();
            return Err(ApiError::invalid(details));
        }
    };
    // The records are read from (or pasted for) the endpoint the direction reads.
    let (read_kind, read_endpoint) = match spec.direction {
        Direction::TargetToSource => (target, &spec.target),
        Direction::SourceToTarget | Direction::Bidirectional => (source, &spec.source),
    };
    let forward = CompiledMapping::compile(&spec.field_pairs).map_err(|issues| {
        ApiError::invalid(
            issues
                .into_iter()
                .map(|i| ErrorDetail::new(format!("mapping.{}", i.field), i.message))
                .collect(),
        )
    })?;
    let records = match count {
        Some(Ok(n)) => {
            preview_sample::read(
                &state,
                caller.org_id(),
                &read_endpoint.connection_id,
                &read_endpoint.object,
                n,
                preview_sample::fields_read(&spec.field_pairs),
            )
            .await?
        }
        _ => {
            let Some(records) = &body.records else {
                return Err(ApiError::invalid(vec![ErrorDetail::new(
                    "records",
                    "required: the records to preview, or \"sample\": {\"count\": N} to read N from the connection",
                )]));
            };
            parse_records(read_kind, records).map_err(ApiError::invalid)?
        }
    };
    let engine = engine_for(spec.direction, &forward);
    let (provider, endpoint) = match spec.direction {
        Direction::TargetToSource => (source, &spec.source),
        Direction::SourceToTarget | Direction::Bidirectional => (target, &spec.target),
    };
    // CPU-bound work goes to the blocking pool, never the async runtime that answers /healthz,
    // and stops at a budget (with the limits on pairs, paths and records it stays far below).
    let data = tokio::task::spawn_blocking(move || {
        preview_records_within(&engine, &records, PREVIEW_CPU_BUDGET)
    })
    .await
    .map_err(|e| {
        tracing::error!(error = %e, "preview task failed");
        ApiError::internal()
    })?
    .ok_or_else(|| {
        ApiError::invalid(vec![ErrorDetail::new(
            "records",
            format!(
                "the preview took more than {} ms of CPU; preview fewer records or field pairs",
                PREVIEW_CPU_BUDGET.as_millis()
            ),
        )])
    })?;
    let response = PreviewResponse {
        data,
        direction: spec.direction,
        target: WriteTarget {
            provider,
            object: endpoint.object.clone(),
        },
    };
    serde_json::to_value(response).map(Json).map_err(|e| {
        tracing::error!(error = %e, "cannot serialise a preview");
        ApiError::internal()
    })
}

#[cfg(test)]
#[path = "preview_tests.rs"]
mod tests;
