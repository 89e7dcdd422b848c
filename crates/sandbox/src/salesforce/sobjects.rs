//! Single-record REST: `POST /sobjects/{SObject}`, `GET|PATCH|DELETE /sobjects/{SObject}/{id}`.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Map, Value};

use super::gate::{sf_error, sf_errors};
use super::schema::{FieldSpec, SObjectKind};
use super::store::{
    now_seconds_ms, render, render_all, unknown_id_error, validate, SfError, WriteMode,
};
use super::{kind_of, AccountExt};
use crate::state::{Provider, SharedState};

/// A JSON object body, or Salesforce's 400 `JSON_PARSER_ERROR`.
pub fn json_object(body: &[u8]) -> Result<Map<String, Value>, Response> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(sf_error(
            StatusCode::BAD_REQUEST,
            "JSON_PARSER_ERROR",
            "Expected a JSON object",
        )),
        Err(e) => Err(sf_error(
            StatusCode::BAD_REQUEST,
            "JSON_PARSER_ERROR",
            format!("Unexpected character: {e}"),
        )),
    }
}

fn not_found() -> Response {
    sf_error(
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
        "The requested resource does not exist",
    )
}

/// Fields named in `?fields=a,b` (all when absent).
pub fn field_list(
    kind: SObjectKind,
    names: Option<&str>,
) -> Result<Vec<&'static FieldSpec>, SfError> {
    match names.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(kind.fields().iter().collect()),
        Some(list) => list
            .split(',')
            .map(|n| {
                kind.field(n.trim()).ok_or_else(|| {
                    SfError::new(
                        "INVALID_FIELD",
                        format!("No such column '{}' on entity '{}'.", n.trim(), kind.name()),
                        &[],
                    )
                })
            })
            .collect(),
    }
}

pub async fn create(
    State(state): State<SharedState>,
    axum::Extension(account): AccountExt,
    Path((_version, sobject)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let kind = match kind_of(&sobject) {
        Ok(k) => k,
        Err(r) => return r,
    };
    let input = match json_object(&body) {
        Ok(m) => m,
        Err(r) => return r,
    };
    match validate(kind, &input, WriteMode::Create) {
        Ok(fields) => {
            let id = account.store(kind).insert(fields, now_seconds_ms());
            state
                .stats
                .record_writes(Provider::Salesforce.as_str(), kind.name(), 1);
            (
                StatusCode::CREATED,
                Json(json!({"id": id, "success": true, "errors": []})),
            )
                .into_response()
        }
        Err(e) => sf_errors(StatusCode::BAD_REQUEST, &[e]),
    }
}

pub async fn get_one(
    axum::Extension(account): AccountExt,
    Path((_version, sobject, id)): Path<(String, String, String)>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let kind = match kind_of(&sobject) {
        Ok(k) => k,
        Err(r) => return r,
    };
    let fields = match field_list(kind, params.get("fields").map(String::as_str)) {
        Ok(f) => f,
        Err(e) => return sf_errors(StatusCode::BAD_REQUEST, &[e]),
    };
    let store = account.store(kind);
    match store.get(&id) {
        Some(r) if fields.len() == kind.fields().len() => Json(render_all(kind, r)).into_response(),
        Some(r) => Json(render(kind, r, &fields)).into_response(),
        None => not_found(),
    }
}

pub async fn update(
    State(state): State<SharedState>,
    axum::Extension(account): AccountExt,
    Path((_version, sobject, id)): Path<(String, String, String)>,
    body: Bytes,
) -> Response {
    let kind = match kind_of(&sobject) {
        Ok(k) => k,
        Err(r) => return r,
    };
    let input = match json_object(&body) {
        Ok(m) => m,
        Err(r) => return r,
    };
    let fields = match validate(kind, &input, WriteMode::Update) {
        Ok(f) => f,
        Err(e) => return sf_errors(StatusCode::BAD_REQUEST, &[e]),
    };
    let mut store = account.store(kind);
    if store.update(&id, fields, now_seconds_ms()).is_none() {
        let e = unknown_id_error(kind, &id, store.is_deleted(&id));
        return sf_errors(StatusCode::NOT_FOUND, &[e]);
    }
    drop(store);
    state
        .stats
        .record_writes(Provider::Salesforce.as_str(), kind.name(), 1);
    StatusCode::NO_CONTENT.into_response()
}

pub async fn delete(
    axum::Extension(account): AccountExt,
    Path((_version, sobject, id)): Path<(String, String, String)>,
) -> Response {
    let kind = match kind_of(&sobject) {
        Ok(k) => k,
        Err(r) => return r,
    };
    let mut store = account.store(kind);
    if store.delete(&id, super::store::now_seconds_ms()) {
        StatusCode::NO_CONTENT.into_response()
    } else if store.is_deleted(&id) {
        sf_errors(StatusCode::NOT_FOUND, &[unknown_id_error(kind, &id, true)])
    } else {
        not_found()
    }
}
