//! HubSpot `batch/upsert` (by a unique property) and `batch/archive`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Extension;
use serde_json::Value;

use super::batch::{finish, input_id, inputs, invalid_input_error, parse_request};
use super::objects::written_selection;
use super::store::properties_from_json;
use super::HubspotAccount;
use crate::state::SharedState;
use crate::webhook::ChangeSource;

/// `POST /crm/v3/objects/{type}/batch/upsert`: `{inputs:[{id, idProperty, properties}]}`;
/// results carry `new: bool`.
pub async fn upsert(
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
    let mut created = Vec::new();
    let mut updated = Vec::new();
    let mut store = account.store(req.kind);
    for (index, input) in inputs(&req).iter().enumerate() {
        let key = input_id(input);
        let id_property = input
            .get("idProperty")
            .and_then(Value::as_str)
            .unwrap_or("hs_object_id")
            .to_owned();
        let mut props = match properties_from_json(input.get("properties").unwrap_or(&Value::Null))
        {
            Ok(p) => p,
            Err(message) => {
                errors.push(invalid_input_error(message, index));
                continue;
            }
        };
        let existing = if id_property == "hs_object_id" {
            key.parse::<u64>().ok().filter(|n| store.get(*n).is_some())
        } else {
            store
                .all()
                .find(|r| {
                    store
                        .property(r, &id_property)
                        .is_some_and(|v| v.eq_ignore_ascii_case(&key))
                })
                .map(|r| r.id)
        };
        let sel = written_selection(&props);
        let (id, is_new) = match existing {
            Some(id) => {
                updated.push((id, props.clone()));
                store.update(id, props);
                (id, false)
            }
            None if id_property == "hs_object_id" => {
                errors.push(invalid_input_error(
                    format!("No object with id {key}"),
                    index,
                ));
                continue;
            }
            None => {
                props.insert(id_property, key);
                let id = store.create(props);
                created.push(id);
                (id, true)
            }
        };
        if let Some(r) = store.get(id) {
            let mut v = store.render(r, &sel);
            v["new"] = Value::Bool(is_new);
            results.push(v);
        }
    }
    drop(store);
    state
        .stats
        .record_writes("hubspot", req.kind.as_str(), results.len() as u64);
    state.hubspot_created(
        account.portal_id,
        req.kind.as_str(),
        &created,
        ChangeSource::Integration,
    );
    for (id, p) in &updated {
        state.hubspot_updated(
            account.portal_id,
            req.kind.as_str(),
            *id,
            p,
            ChangeSource::Integration,
        );
    }
    finish(StatusCode::OK, req.started_ms, results, errors)
}

/// `POST /crm/v3/objects/{type}/batch/archive` → 204
pub async fn archive(
    State(state): State<SharedState>,
    Extension(account): Extension<Arc<HubspotAccount>>,
    Path(object_type): Path<String>,
    body: Bytes,
) -> Response {
    let req = match parse_request(&object_type, &body) {
        Ok(r) => r,
        Err(r) => return r,
    };
    let mut store = account.store(req.kind);
    let mut archived = Vec::new();
    for input in inputs(&req) {
        if let Ok(id) = input_id(input).parse::<u64>() {
            if store.archive(id).is_some() {
                archived.push(id);
            }
        }
    }
    drop(store);
    state
        .stats
        .record_writes("hubspot", req.kind.as_str(), archived.len() as u64);
    state.hubspot_deleted(
        account.portal_id,
        req.kind.as_str(),
        &archived,
        ChangeSource::Integration,
    );
    StatusCode::NO_CONTENT.into_response()
}
