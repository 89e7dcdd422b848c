//! HubSpot batch endpoints: `batch/read`, `batch/create`, `batch/update` (max 100 inputs).

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde_json::{json, Value};

use super::error::{parse_json, validation};
use super::objects::{kind_of, written_selection};
use super::store::{properties_from_json, HubspotObjectKind, PropertySelection};
use super::{assoc, HubspotAccount};
use crate::clock::{iso_millis, now_ms};
use crate::state::SharedState;
use crate::webhook::ChangeSource;

/// HubSpot's batch size cap.
pub const MAX_BATCH_INPUTS: usize = 100;

pub(super) struct BatchRequest {
    pub(super) kind: HubspotObjectKind,
    pub(super) body: Value,
    pub(super) started_ms: i64,
}

pub(super) fn parse_request(object_type: &str, body: &[u8]) -> Result<BatchRequest, Response> {
    let started_ms = now_ms();
    let kind = kind_of(object_type)?;
    let body = parse_json(body)?;
    let Some(inputs) = body.get("inputs").and_then(Value::as_array) else {
        return Err(validation(
            "Invalid input JSON: missing required field \"inputs\"",
        ));
    };
    if inputs.len() > MAX_BATCH_INPUTS {
        return Err(validation(format!(
            "Batch input must contain at most {MAX_BATCH_INPUTS} inputs, got {}",
            inputs.len()
        )));
    }
    Ok(BatchRequest {
        kind,
        body,
        started_ms,
    })
}

pub(super) fn inputs(req: &BatchRequest) -> &[Value] {
    req.body
        .get("inputs")
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

pub(super) fn finish(
    ok_status: StatusCode,
    started_ms: i64,
    results: Vec<Value>,
    errors: Vec<Value>,
) -> Response {
    let mut body = json!({
        "status": "COMPLETE",
        "results": results,
        "startedAt": iso_millis(started_ms),
        "completedAt": iso_millis(now_ms()),
    });
    if errors.is_empty() {
        return (ok_status, Json(body)).into_response();
    }
    body["numErrors"] = json!(errors.len());
    body["errors"] = Value::Array(errors);
    (StatusCode::MULTI_STATUS, Json(body)).into_response()
}

fn not_found_error(kind: HubspotObjectKind, verb: &str, ids: Vec<String>) -> Value {
    json!({
        "status": "error",
        "category": "OBJECT_NOT_FOUND",
        "message": format!(
            "Could not {verb} some {} objects, they may be deleted or not exist. Check that ids are valid.",
            kind.label()
        ),
        "context": {"ids": ids},
        "errors": [],
    })
}

pub(super) fn invalid_input_error(message: String, index: usize) -> Value {
    json!({
        "status": "error",
        "category": "VALIDATION_ERROR",
        "message": message,
        "context": {"inputIndex": [index.to_string()]},
        "errors": [],
    })
}

pub(super) fn input_id(input: &Value) -> String {
    match input.get("id") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    }
}

/// `POST /crm/v3/objects/{type}/batch/read`
pub async fn read(
    Extension(account): Extension<Arc<HubspotAccount>>,
    Path(object_type): Path<String>,
    body: Bytes,
) -> Response {
    let req = match parse_request(&object_type, &body) {
        Ok(r) => r,
        Err(r) => return r,
    };
    let sel = PropertySelection::from_csv(
        req.body
            .get("properties")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect::<Vec<_>>())
            .unwrap_or_default()
            .into_iter(),
    );
    let id_property = req
        .body
        .get("idProperty")
        .and_then(Value::as_str)
        .filter(|p| *p != "hs_object_id");
    let store = account.store(req.kind);
    let mut results = Vec::new();
    let mut missing = Vec::new();
    for input in inputs(&req) {
        let id = input_id(input);
        let rec = match id_property {
            Some(prop) => store.all().find(|r| {
                store
                    .property(r, prop)
                    .is_some_and(|v| v.eq_ignore_ascii_case(&id))
            }),
            None => id.parse::<u64>().ok().and_then(|n| store.get(n)),
        };
        match rec {
            Some(r) => results.push(store.render(r, &sel)),
            None => missing.push(id),
        }
    }
    drop(store);
    let errors = if missing.is_empty() {
        Vec::new()
    } else {
        vec![not_found_error(req.kind, "get", missing)]
    };
    finish(StatusCode::OK, req.started_ms, results, errors)
}

/// `POST /crm/v3/objects/{type}/batch/create` → 201 (207 when some inputs failed)
pub async fn create(
    State(state): State<SharedState>,
    Extension(account): Extension<Arc<HubspotAccount>>,
    Path(object_type): Path<String>,
    body: Bytes,
) -> Response {
    let req = match parse_request(&object_type, &body) {
        Ok(r) => r,
        Err(r) => return r,
    };
    let mut parsed: Vec<Result<HashMap<String, String>, String>> = inputs(&req)
        .iter()
        .map(|i| properties_from_json(i.get("properties").unwrap_or(&Value::Null)))
        .collect();
    let mut results = Vec::with_capacity(parsed.len());
    let mut errors = Vec::new();
    let mut created = Vec::with_capacity(parsed.len());
    let mut created_inputs = Vec::new();
    let mut store = account.store(req.kind);
    for (index, p) in parsed.drain(..).enumerate() {
        match p {
            Ok(props) => {
                let sel = written_selection(&props);
                let id = store.create(props);
                created.push(id);
                created_inputs.push((index, id));
                if let Some(r) = store.get(id) {
                    results.push(store.render(r, &sel));
                }
            }
            Err(message) => errors.push(invalid_input_error(message, index)),
        }
    }
    drop(store);
    for (index, id) in &created_inputs {
        if let Some(input) = inputs(&req).get(*index) {
            if let Err(message) = assoc::link_from_input(&account, req.kind, *id, input) {
                errors.push(invalid_input_error(message, *index));
            }
        }
    }
    state
        .stats
        .record_writes("hubspot", req.kind.as_str(), results.len() as u64);
    state.hubspot_created(
        account.portal_id,
        req.kind.as_str(),
        &created,
        ChangeSource::Integration,
    );
    finish(StatusCode::CREATED, req.started_ms, results, errors)
}

/// `POST /crm/v3/objects/{type}/batch/update` (207 when some ids are missing)
pub async fn update(
    State(state): State<SharedState>,
    Extension(account): Extension<Arc<HubspotAccount>>,
    Path(object_type): Path<String>,
    body: Bytes,
) -> Response {
    let req = match parse_request(&object_type, &body) {
        Ok(r) => r,
        Err(r) => return r,
    };
    let mut results = Vec::new();
    let mut errors = Vec::new();
    let mut missing = Vec::new();
    let hooks_on = state.webhooks_on();
    let mut changed = Vec::new();
    let mut store = account.store(req.kind);
    for (index, input) in inputs(&req).iter().enumerate() {
        let id = input_id(input);
        let props = match properties_from_json(input.get("properties").unwrap_or(&Value::Null)) {
            Ok(p) => p,
            Err(message) => {
                errors.push(invalid_input_error(message, index));
                continue;
            }
        };
        let sel = written_selection(&props);
        let hook = hooks_on.then(|| props.clone());
        let updated = id
            .parse::<u64>()
            .ok()
            .and_then(|n| store.update(n, props).map(|()| n));
        match updated.and_then(|n| store.get(n)) {
            Some(r) => {
                results.push(store.render(r, &sel));
                if let Some(p) = hook {
                    changed.push((r.id, p));
                }
            }
            None => missing.push(id),
        }
    }
    drop(store);
    state
        .stats
        .record_writes("hubspot", req.kind.as_str(), results.len() as u64);
    for (id, p) in &changed {
        state.hubspot_updated(
            account.portal_id,
            req.kind.as_str(),
            *id,
            p,
            ChangeSource::Integration,
        );
    }
    if !missing.is_empty() {
        errors.push(not_found_error(req.kind, "update", missing));
    }
    finish(StatusCode::OK, req.started_ms, results, errors)
}
