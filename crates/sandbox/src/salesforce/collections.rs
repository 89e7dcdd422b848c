//! sObject Collections: `POST /composite/sobjects` (create), `PATCH /composite/sobjects`
//! (update), each ≤200 records with per-record results in request order and `allOrNone`;
//! `POST /composite/sobjects/{SObject}` (retrieve `{ids, fields}`, ≤2000 ids, null per
//! missing id).

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Map, Value};

use super::gate::{sf_error, sf_errors};
use super::schema::SObjectKind;
use super::sobjects::{field_list, json_object};
use super::store::{now_seconds_ms, render, unknown_id_error, validate, SfError, WriteMode};
use super::{kind_of, AccountExt, SalesforceAccount};
use crate::state::{Provider, SharedState};

/// Most records one create/update call takes.
pub const MAX_RECORDS: usize = 200;
/// Most ids one retrieve call takes.
pub const MAX_RETRIEVE_IDS: usize = 2000;

/// One record ready to write: its type, (for updates) id, and validated fields.
struct Planned {
    kind: SObjectKind,
    id: Option<String>,
    fields: BTreeMap<&'static str, Value>,
}

fn parse_records(body: &[u8]) -> Result<(bool, Vec<Value>), Response> {
    let obj = json_object(body)?;
    let all_or_none = obj
        .get("allOrNone")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let records = match obj.get("records") {
        Some(Value::Array(a)) => a.clone(),
        _ => {
            return Err(sf_error(
                StatusCode::BAD_REQUEST,
                "JSON_PARSER_ERROR",
                "records: required field missing or not an array",
            ))
        }
    };
    if records.len() > MAX_RECORDS {
        return Err(sf_error(
            StatusCode::BAD_REQUEST,
            "EXCEEDED_ID_LIMIT",
            "record limit reached. cannot submit more than 200 records into this call",
        ));
    }
    Ok((all_or_none, records))
}

fn plan(account: &SalesforceAccount, rec: &Value, mode: WriteMode) -> Result<Planned, SfError> {
    let Some(input) = rec.as_object() else {
        return Err(SfError::new(
            "JSON_PARSER_ERROR",
            "a record must be an object",
            &[],
        ));
    };
    let kind = input
        .get("attributes")
        .and_then(|a| a.get("type"))
        .and_then(Value::as_str)
        .and_then(|t| kind_of(t).ok())
        .ok_or_else(|| SfError::new("INVALID_TYPE", "Must send a concrete entity type.", &[]))?;
    let mut fields: Map<String, Value> = input.clone();
    let id = match mode {
        WriteMode::Create => None,
        WriteMode::Update => {
            let key = fields
                .keys()
                .find(|k| k.eq_ignore_ascii_case("Id"))
                .cloned();
            let id = key
                .and_then(|k| fields.remove(&k))
                .and_then(|v| v.as_str().map(str::to_owned))
                .ok_or_else(|| {
                    SfError::new(
                        "MISSING_ARGUMENT",
                        "Id not specified in an update call",
                        &[],
                    )
                })?;
            let store = account.store(kind);
            if store.get(&id).is_none() {
                return Err(unknown_id_error(kind, &id, store.is_deleted(&id)));
            }
            Some(id)
        }
    };
    let fields = validate(kind, &fields, mode)?;
    Ok(Planned { kind, id, fields })
}

fn failure(id: Option<&str>, e: &SfError) -> Value {
    let mut v = json!({"success": false, "errors": [e.collection_json()]});
    if let Some(id) = id {
        v["id"] = json!(id);
    }
    v
}

async fn write(
    state: SharedState,
    account: &SalesforceAccount,
    body: &[u8],
    mode: WriteMode,
) -> Response {
    let (all_or_none, records) = match parse_records(body) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let plans: Vec<Result<Planned, SfError>> =
        records.iter().map(|r| plan(account, r, mode)).collect();
    let given_id = |r: &Value| {
        r.get("Id")
            .or_else(|| r.get("id"))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    if all_or_none && plans.iter().any(Result::is_err) {
        let rolled_back = SfError::new(
            "ALL_OR_NONE_OPERATION_ROLLED_BACK",
            "Record rolled back because not all records were valid and the request was using AllOrNone header",
            &[],
        );
        let results: Vec<Value> = plans
            .iter()
            .zip(&records)
            .map(|(p, r)| {
                failure(
                    given_id(r).as_deref(),
                    p.as_ref().err().unwrap_or(&rolled_back),
                )
            })
            .collect();
        return Json(results).into_response();
    }
    let modstamp = now_seconds_ms();
    let mut results = Vec::with_capacity(plans.len());
    for (p, r) in plans.into_iter().zip(&records) {
        match p {
            Err(e) => results.push(failure(given_id(r).as_deref(), &e)),
            Ok(Planned { kind, id, fields }) => {
                let mut store = account.store(kind);
                let written = match id {
                    None => Some(store.insert(fields, modstamp)),
                    Some(id) => store.update(&id, fields, modstamp).map(|r| r.id.clone()),
                };
                drop(store);
                match written {
                    Some(id) => {
                        state
                            .stats
                            .record_writes(Provider::Salesforce.as_str(), kind.name(), 1);
                        results.push(json!({"id": id, "success": true, "errors": []}));
                    }
                    None => results.push(failure(
                        given_id(r).as_deref(),
                        &unknown_id_error(kind, "", true),
                    )),
                }
            }
        }
    }
    Json(results).into_response()
}

/// `POST /composite/sobjects`
pub async fn create(
    State(state): State<SharedState>,
    axum::Extension(account): AccountExt,
    body: Bytes,
) -> Response {
    write(state, &account, &body, WriteMode::Create).await
}

/// `PATCH /composite/sobjects`
pub async fn update(
    State(state): State<SharedState>,
    axum::Extension(account): AccountExt,
    body: Bytes,
) -> Response {
    write(state, &account, &body, WriteMode::Update).await
}

/// `POST /composite/sobjects/{SObject}` with `{ids, fields}`.
pub async fn retrieve(
    axum::Extension(account): AccountExt,
    Path((_version, sobject)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let obj = match json_object(&body) {
        Ok(m) => m,
        Err(r) => return r,
    };
    let strings = |key: &str| -> Option<Vec<String>> {
        obj.get(key)?
            .as_array()?
            .iter()
            .map(|v| v.as_str().map(str::to_owned))
            .collect()
    };
    let (Some(ids), Some(names)) = (strings("ids"), strings("fields")) else {
        return sf_error(
            StatusCode::BAD_REQUEST,
            "JSON_PARSER_ERROR",
            "ids and fields are required arrays of strings",
        );
    };
    retrieve_records(&account, &sobject, &ids, &names)
}

/// `GET /composite/sobjects/{SObject}?ids=a,b&fields=X,Y`: the same retrieve with
/// comma-separated query parameters (bounded by the URI length).
pub async fn retrieve_by_query(
    axum::Extension(account): AccountExt,
    Path((_version, sobject)): Path<(String, String)>,
    axum::extract::OriginalUri(uri): axum::extract::OriginalUri,
    Query(params): Query<std::collections::HashMap<String, String>>,
) -> Response {
    let uri_len = uri.to_string().len();
    if uri_len > super::query::MAX_URI_BYTES {
        return sf_error(
            StatusCode::URI_TOO_LONG,
            "URI_TOO_LONG",
            format!(
                "the request URI is {uri_len} bytes; at most {} are allowed",
                super::query::MAX_URI_BYTES
            ),
        );
    }
    let list = |key: &str| -> Vec<String> {
        params
            .get(key)
            .map(|v| {
                v.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    };
    let ids = list("ids");
    if ids.is_empty() {
        return sf_error(
            StatusCode::BAD_REQUEST,
            "REQUIRED_FIELD_MISSING",
            "The ids parameter is required",
        );
    }
    retrieve_records(&account, &sobject, &ids, &list("fields"))
}

/// The records `ids` of `sobject` with the fields `names`, null for ids it does not know.
fn retrieve_records(
    account: &SalesforceAccount,
    sobject: &str,
    ids: &[String],
    names: &[String],
) -> Response {
    let kind = match kind_of(sobject) {
        Ok(k) => k,
        Err(r) => return r,
    };
    if ids.len() > MAX_RETRIEVE_IDS {
        return sf_error(
            StatusCode::BAD_REQUEST,
            "EXCEEDED_ID_LIMIT",
            "Maximum number of ids exceeded. Only 2000 ids allowed.",
        );
    }
    if names.is_empty() {
        return sf_error(
            StatusCode::BAD_REQUEST,
            "REQUIRED_FIELD_MISSING",
            "The fields parameter is required",
        );
    }
    let fields = match field_list(kind, Some(&names.join(","))) {
        Ok(f) => f,
        Err(e) => return sf_errors(StatusCode::BAD_REQUEST, &[e]),
    };
    let store = account.store(kind);
    let out: Vec<Value> = ids
        .iter()
        .map(|id| {
            store
                .get(id)
                .map(|r| render(kind, r, &fields))
                .unwrap_or(Value::Null)
        })
        .collect();
    Json(out).into_response()
}
