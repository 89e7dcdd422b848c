//! Pipedrive API v2 entity endpoints: list (cursor paging, `updated_since`, `ids`, sorting),
//! get, create, patch and delete for persons, organizations and deals.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{json, Value};

use super::input::{for_create, for_update};
use super::store::{decode_cursor, ListFilter, PipedriveKind, SortBy};
use super::{now_s, ok, pipedrive_error, webhooks, AccountExt, ChangeSource};
use crate::clock::parse_iso;
use crate::state::SharedState;

/// Largest `limit` of a list.
pub const MAX_LIMIT: usize = 500;
/// Most ids one `ids` filter takes.
pub const MAX_IDS: usize = 100;

fn kind_of(object: &str) -> Result<PipedriveKind, Response> {
    PipedriveKind::parse(object)
        .filter(|k| k.as_str() == object)
        .ok_or_else(|| pipedrive_error(StatusCode::NOT_FOUND, "Unknown method ."))
}

fn bad_request(message: impl Into<String>) -> Response {
    pipedrive_error(StatusCode::BAD_REQUEST, message)
}

fn parse_json(body: &[u8]) -> Result<Value, Response> {
    serde_json::from_slice(body).map_err(|e| bad_request(format!("Invalid JSON body: {e}")))
}

fn id_of(kind: PipedriveKind, id: &str) -> Result<u64, Response> {
    id.parse::<u64>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| not_found(kind))
}

fn not_found(kind: PipedriveKind) -> Response {
    pipedrive_error(StatusCode::NOT_FOUND, format!("{} not found", kind.title()))
}

/// Parses the list query string into a filter, or Pipedrive's 400.
pub fn list_filter(kind: PipedriveKind, raw: Option<&str>) -> Result<ListFilter, Response> {
    let pairs: Vec<(String, String)> = raw
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .collect()
        })
        .unwrap_or_default();
    let mut f = ListFilter {
        limit: 100,
        cursor: None,
        updated_since: None,
        updated_until: None,
        ids: None,
        equals: Vec::new(),
        status: None,
        sort_by: SortBy::Id,
        descending: false,
    };
    let time = |key: &str, v: &str| -> Result<i64, Response> {
        parse_iso(v).map(|ms| ms.div_euclid(1000)).ok_or_else(|| {
            bad_request(format!(
                "Validation failed: {key}: Invalid RFC 3339 date-time"
            ))
        })
    };
    for (k, v) in &pairs {
        match k.as_str() {
            "limit" => match v.parse::<usize>() {
                Ok(n) if (1..=MAX_LIMIT).contains(&n) => f.limit = n,
                _ => {
                    return Err(bad_request(format!(
                        "Validation failed: limit: Must be an integer between 1 and {MAX_LIMIT}"
                    )))
                }
            },
            "cursor" => {
                f.cursor = Some(
                    decode_cursor(v)
                        .ok_or_else(|| bad_request("Validation failed: cursor: Invalid cursor"))?,
                )
            }
            "updated_since" => f.updated_since = Some(time(k, v)?),
            "updated_until" => f.updated_until = Some(time(k, v)?),
            "ids" => {
                let ids: Result<Vec<u64>, _> = v.split(',').map(|s| s.trim().parse()).collect();
                match ids {
                    Ok(ids) if ids.len() <= MAX_IDS => f.ids = Some(ids),
                    _ => {
                        return Err(bad_request(format!(
                            "Validation failed: ids: Must be at most {MAX_IDS} comma-separated integers"
                        )))
                    }
                }
            }
            "sort_by" => {
                f.sort_by =
                    match v.as_str() {
                        "id" => SortBy::Id,
                        "update_time" => SortBy::UpdateTime,
                        "add_time" => SortBy::AddTime,
                        _ => return Err(bad_request(
                            "Validation failed: sort_by: Must be one of id, update_time, add_time",
                        )),
                    }
            }
            "sort_direction" => {
                f.descending = match v.as_str() {
                    "asc" => false,
                    "desc" => true,
                    _ => {
                        return Err(bad_request(
                            "Validation failed: sort_direction: Must be one of asc, desc",
                        ))
                    }
                }
            }
            "owner_id" | "org_id" | "person_id" | "stage_id" | "pipeline_id" => {
                let field: &'static str = match k.as_str() {
                    "owner_id" => "owner_id",
                    "org_id" => "org_id",
                    "person_id" => "person_id",
                    "stage_id" => "stage_id",
                    _ => "pipeline_id",
                };
                let n = v.parse::<i64>().map_err(|_| {
                    bad_request(format!("Validation failed: {k}: Must be an integer"))
                })?;
                f.equals.push((field, n));
            }
            "status" if kind == PipedriveKind::Deals => f.status = Some(v.clone()),
            _ => {}
        }
    }
    Ok(f)
}

/// `GET /api/v2/{object}?limit&cursor&updated_since&updated_until&ids&sort_by&sort_direction`
pub async fn list(
    axum::Extension(account): AccountExt,
    Path(object): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let kind = match kind_of(&object) {
        Ok(k) => k,
        Err(r) => return r,
    };
    let f = match list_filter(kind, raw.as_deref()) {
        Ok(f) => f,
        Err(r) => return r,
    };
    let (data, next) = account.store(kind).list(&f);
    ok(
        StatusCode::OK,
        json!(data),
        Some(json!({"next_cursor": next})),
    )
}

/// `GET /api/v2/{object}/{id}`
pub async fn get_one(
    axum::Extension(account): AccountExt,
    Path((object, id)): Path<(String, String)>,
) -> Response {
    let kind = match kind_of(&object) {
        Ok(k) => k,
        Err(r) => return r,
    };
    let id = match id_of(kind, &id) {
        Ok(id) => id,
        Err(r) => return r,
    };
    let store = account.store(kind);
    match store.get(id).map(|r| store.render(r)) {
        Some(v) => ok(StatusCode::OK, v, None),
        None => not_found(kind),
    }
}

/// `POST /api/v2/{object}`
pub async fn create(
    State(state): State<SharedState>,
    axum::Extension(account): AccountExt,
    Path(object): Path<String>,
    body: Bytes,
) -> Response {
    let kind = match kind_of(&object) {
        Ok(k) => k,
        Err(r) => return r,
    };
    let body = match parse_json(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let fields = match for_create(kind, &body) {
        Ok(f) => f,
        Err(m) => return bad_request(m),
    };
    let mut store = account.store(kind);
    let id = store.insert(fields, now_s());
    let out = store
        .get(id)
        .map(|r| store.render(r))
        .unwrap_or(Value::Null);
    drop(store);
    state.stats.record_writes("pipedrive", kind.as_str(), 1);
    webhooks::announce(
        &state,
        &account,
        kind,
        "create",
        id,
        out.clone(),
        Value::Null,
        ChangeSource::Api,
    );
    ok(StatusCode::CREATED, out, None)
}

/// `PATCH /api/v2/{object}/{id}`
pub async fn update(
    State(state): State<SharedState>,
    axum::Extension(account): AccountExt,
    Path((object, id)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let kind = match kind_of(&object) {
        Ok(k) => k,
        Err(r) => return r,
    };
    let id = match id_of(kind, &id) {
        Ok(id) => id,
        Err(r) => return r,
    };
    let body = match parse_json(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let changes = match for_update(kind, &body) {
        Ok(c) => c,
        Err(m) => return bad_request(m),
    };
    if changes
        .get(if kind == PipedriveKind::Deals {
            "title"
        } else {
            "name"
        })
        .and_then(Value::as_str)
        .is_some_and(|s| s.trim().is_empty())
    {
        return bad_request("Validation failed: name must not be empty");
    }
    let mut store = account.store(kind);
    let Some(previous) = store.update(id, changes, now_s()) else {
        return not_found(kind);
    };
    let out = store
        .get(id)
        .map(|r| store.render(r))
        .unwrap_or(Value::Null);
    drop(store);
    state.stats.record_writes("pipedrive", kind.as_str(), 1);
    webhooks::announce(
        &state,
        &account,
        kind,
        "change",
        id,
        out.clone(),
        previous,
        ChangeSource::Api,
    );
    ok(StatusCode::OK, out, None)
}

/// `DELETE /api/v2/{object}/{id}` → `{success, data:{id}}`
pub async fn remove(
    State(state): State<SharedState>,
    axum::Extension(account): AccountExt,
    Path((object, id)): Path<(String, String)>,
) -> Response {
    let kind = match kind_of(&object) {
        Ok(k) => k,
        Err(r) => return r,
    };
    let id = match id_of(kind, &id) {
        Ok(id) => id,
        Err(r) => return r,
    };
    let Some(before) = account.store(kind).delete(id, now_s()) else {
        return not_found(kind);
    };
    state.stats.record_writes("pipedrive", kind.as_str(), 1);
    webhooks::announce(
        &state,
        &account,
        kind,
        "delete",
        id,
        Value::Null,
        before,
        ChangeSource::Api,
    );
    ok(StatusCode::OK, json!({"id": id}), None)
}
