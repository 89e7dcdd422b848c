//! HubSpot batch create/update: request bodies, and matching a (possibly 207) response back
//! to the inputs so results come out in input order.

use std::collections::HashMap;

use fluxcascade_core::Record;
use serde_json::{json, Map, Value};

use super::records::{parse_object, HubspotObject};
use crate::WriteResult;

/// Code of a `WriteResult::Failed` for an input HubSpot refused.
pub const REJECTED: &str = "provider_rejected";

/// `batch/create` body. Each input carries `objectWriteTraceId` = its index, which HubSpot
/// echoes in the `context` of a per-input error.
pub fn create_body(properties: &[Map<String, Value>]) -> Value {
    let inputs: Vec<Value> = properties
        .iter()
        .enumerate()
        .map(|(i, p)| json!({"properties": p, "objectWriteTraceId": i.to_string()}))
        .collect();
    json!({ "inputs": inputs })
}

/// `batch/update` body.
pub fn update_body(inputs: &[(String, Map<String, Value>)]) -> Value {
    let inputs: Vec<Value> = inputs
        .iter()
        .enumerate()
        .map(|(i, (id, p))| json!({"id": id, "properties": p, "objectWriteTraceId": i.to_string()}))
        .collect();
    json!({ "inputs": inputs })
}

/// One entry of a 207's `errors[]`: its message and the context values it names.
struct BatchError {
    message: String,
    ids: Vec<String>,
    trace_ids: Vec<usize>,
}

fn batch_errors(body: &Value) -> Vec<BatchError> {
    let strings = |v: Option<&Value>| -> Vec<String> {
        match v {
            Some(Value::Array(a)) => a
                .iter()
                .filter_map(|x| match x {
                    Value::String(s) => Some(s.clone()),
                    Value::Number(n) => Some(n.to_string()),
                    _ => None,
                })
                .collect(),
            Some(Value::String(s)) => vec![s.clone()],
            Some(Value::Number(n)) => vec![n.to_string()],
            _ => Vec::new(),
        }
    };
    let Some(Value::Array(errors)) = body.get("errors") else {
        return Vec::new();
    };
    errors
        .iter()
        .map(|e| {
            let ctx = e.get("context");
            let mut trace_ids: Vec<usize> = strings(ctx.and_then(|c| c.get("objectWriteTraceId")))
                .iter()
                .filter_map(|s| s.parse().ok())
                .collect();
            // Input positions under the names seen in HubSpot-style errors.
            for key in ["inputIndex", "index"] {
                trace_ids.extend(
                    strings(ctx.and_then(|c| c.get(key)))
                        .iter()
                        .filter_map(|s| s.parse::<usize>().ok()),
                );
            }
            let message = e
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("rejected by HubSpot");
            let category = e.get("category").and_then(Value::as_str);
            BatchError {
                message: match category {
                    Some(c) => format!("{c}: {message}"),
                    None => message.to_owned(),
                },
                ids: strings(
                    ctx.and_then(|c| c.get("ids"))
                        .or_else(|| ctx.and_then(|c| c.get("id"))),
                ),
                trace_ids,
            }
        })
        .collect()
}

fn failed(message: impl Into<String>) -> WriteResult {
    WriteResult::Failed {
        code: REJECTED.to_owned(),
        message: message.into(),
    }
}

/// Results of a `batch/create` of `n` inputs, in input order. Errors are placed by their
/// `objectWriteTraceId`; results by their echoed trace id, otherwise in order onto the inputs
/// that did not fail.
pub fn match_created(obj: &HubspotObject, n: usize, body: &Value) -> Vec<WriteResult> {
    let mut out: Vec<Option<WriteResult>> = vec![None; n];
    let mut unplaced_errors = Vec::new();
    for e in batch_errors(body) {
        let mut placed = false;
        for &i in &e.trace_ids {
            if let Some(slot) = out.get_mut(i) {
                *slot = Some(failed(e.message.clone()));
                placed = true;
            }
        }
        if !placed {
            unplaced_errors.push(e.message);
        }
    }
    let results: &[Value] = body
        .get("results")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    let mut in_order = Vec::new();
    for r in results {
        let parsed = parse_object(obj, r);
        let trace = r
            .get("objectWriteTraceId")
            .and_then(Value::as_str)
            .and_then(|s| s.parse::<usize>().ok());
        match (trace, parsed) {
            (Some(i), Ok(rec)) if i < n && out[i].is_none() => out[i] = Some(WriteResult::Ok(rec)),
            (_, parsed) => in_order.push(parsed),
        }
    }
    let mut in_order = in_order.into_iter();
    let mut unplaced_errors = unplaced_errors.into_iter();
    out.into_iter()
        .map(|slot| match slot {
            Some(r) => r,
            None => match in_order.next() {
                Some(Ok(rec)) => WriteResult::Ok(rec),
                Some(Err(e)) => failed(format!("unreadable result: {e}")),
                None => failed(
                    unplaced_errors
                        .next()
                        .unwrap_or_else(|| "HubSpot returned no result for this input".into()),
                ),
            },
        })
        .collect()
}

/// Results of a `batch/update` for `ids`, in input order, matched by id (errors by their
/// `context.ids`, or by trace id).
pub fn match_updated(obj: &HubspotObject, ids: &[String], body: &Value) -> Vec<WriteResult> {
    let mut by_id: HashMap<String, WriteResult> = HashMap::new();
    let mut by_index: HashMap<usize, String> = HashMap::new();
    let mut unplaced = Vec::new();
    for e in batch_errors(body) {
        for id in &e.ids {
            by_id.insert(id.clone(), failed(e.message.clone()));
        }
        for &i in &e.trace_ids {
            by_index.insert(i, e.message.clone());
        }
        if e.ids.is_empty() && e.trace_ids.is_empty() {
            unplaced.push(e.message);
        }
    }
    if let Some(Value::Array(results)) = body.get("results") {
        for r in results {
            match parse_object(obj, r) {
                Ok(rec) => {
                    by_id.insert(rec.id.clone(), WriteResult::Ok(rec));
                }
                Err(e) => tracing::warn!(error = %e, "unreadable HubSpot batch update result"),
            }
        }
    }
    let fallback = unplaced.first().cloned();
    ids.iter()
        .enumerate()
        .map(|(i, id)| {
            if let Some(msg) = by_index.get(&i) {
                return failed(msg.clone());
            }
            by_id.get(id).cloned().unwrap_or_else(|| {
                failed(
                    fallback
                        .clone()
                        .unwrap_or_else(|| format!("HubSpot returned no result for id {id}")),
                )
            })
        })
        .collect()
}

/// Records of a `batch/read` response (ids HubSpot did not find are just absent).
pub fn read_results(obj: &HubspotObject, body: &Value) -> Vec<Record> {
    body.get("results")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|r| match parse_object(obj, r) {
                    Ok(rec) => Some(rec),
                    Err(e) => {
                        tracing::warn!(error = %e, "unreadable HubSpot batch read result");
                        None
                    }
                })
                .collect()
        })
        .unwrap_or_default()
}
