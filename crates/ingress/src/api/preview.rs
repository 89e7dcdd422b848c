//! `POST /v1/mappings/preview`: a dry run of a mapping over sample records, showing what would be written.
//!
//! The mapping is validated exactly like `POST /v1/mappings` (details prefixed `mapping.`), then its
//! field pairs are compiled once and applied to each record with
//! [`CompiledMapping::apply`], the function the worker uses to build what it writes. Nothing is
//! stored, nothing is enqueued and no provider is called; Members may call it (it is a read).

use axum::extract::State;
use axum::Json;
use fluxcascade_core::{CompiledMapping, Direction, MappingError, MappingSpec, ProviderKind};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::api::mappings;
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
    /// Each `{"id"?, "fields": {...}}` or a bare object of fields (see [`parse_records`]).
    pub records: Vec<Value>,
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

/// Reads the sample records. A record is the wrapped shape `{"id"?, "fields": {...}}` when it has
/// a `fields` key and no keys other than `id` and `fields`; any other object is a bare object of
/// fields (whose `id`, if a string or number, names the record). Every problem is reported, each
/// naming `records`, `records[i]`, `records[i].id` or `records[i].fields`.
pub fn parse_records(records: &[Value]) -> Result<Vec<SampleRecord>, Vec<ErrorDetail>> {
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
        match parse_record(i, record) {
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

fn parse_record(i: usize, record: &Value) -> Result<SampleRecord, Vec<ErrorDetail>> {
    let Value::Object(map) = record else {
        return Err(vec![ErrorDetail::new(
            format!("records[{i}]"),
            "must be an object: {\"id\", \"fields\": {...}} or the record's fields",
        )]);
    };
    if !is_wrapped(map) {
        return Ok(SampleRecord {
            id: map.get("id").and_then(id_text),
            fields: record.clone(),
        });
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

/// A record id given as a string or a number (Pipedrive ids are numbers).
fn id_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
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
/// (details name `mapping.…`), more than [`MAX_PREVIEW_RECORDS`] records or a malformed record.
/// Writes nothing, publishes nothing, calls no provider.
#[utoipa::path(post, path = "/v1/mappings/preview", tag = "mappings",
    request_body = PreviewRequest,
    responses(
        (status = 200, body = PreviewResponse),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 503, body = ErrorBody),
    ),
    extensions(("x-min-role" = json!("member"))))]
pub async fn preview(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<PreviewRequest>,
) -> Result<Json<Value>, ApiError> {
    let records = parse_records(&body.records);
    let spec = &body.mapping;
    let checked = mappings::check(&state, caller.org_id(), spec, "mapping.").await?;
    let ((source, target), records) = match (checked, records) {
        (Ok(p), Ok(records)) => (p, records),
        (p, r) => {
            let details = p.err().into_iter().chain(r.err()).flatten().collect();
            return Err(ApiError::invalid(details));
        }
    };
    let forward = CompiledMapping::compile(&spec.field_pairs).map_err(|issues| {
        ApiError::invalid(
            issues
                .into_iter()
                .map(|i| ErrorDetail::new(format!("mapping.{}", i.field), i.message))
                .collect(),
        )
    })?;
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
