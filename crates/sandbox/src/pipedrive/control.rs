//! The `/_sandbox/pipedrive/...` control plane: seed, create, patch and read records of a
//! company (changes announced to webhooks as made in the app, `change_source: "app"`).

use std::collections::HashMap;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::input::{for_create, for_update};
use super::store::PipedriveKind;
use super::{now_s, webhooks, ChangeSource};
use crate::control_request::err;
use crate::fake::FakeData;
use crate::state::SharedState;

/// Creates `count` deterministic fake records, oldest first, one second apart and ending one
/// second ago (seeding sends no webhooks). Seeded deals point at existing persons round-robin.
pub fn seed(state: &SharedState, kind: PipedriveKind, account: &str, count: u64, seed: u64) {
    let acct = state.pipedrive.get_or_create(account);
    let persons: Vec<(u64, Option<i64>)> = if kind == PipedriveKind::Deals {
        let store = acct.store(PipedriveKind::Persons);
        store
            .all()
            .map(|r| (r.id, r.fields.get("org_id").and_then(Value::as_i64)))
            .collect()
    } else {
        Vec::new()
    };
    let mut fake = FakeData::new(seed);
    let now = now_s();
    let mut store = acct.store(kind);
    let base = store.len() as u64;
    for i in 0..count {
        let index = base + i + 1;
        let p = fake.person(index);
        let body = match kind {
            PipedriveKind::Persons => json!({
                "name": format!("{} {}", p.first, p.last),
                "emails": [{"value": p.email, "primary": true, "label": "work"}],
                "phones": [{"value": p.phone_us(), "primary": true, "label": "work"}],
            }),
            PipedriveKind::Organizations => {
                let value = format!("{}, {}, {} {}", p.street, p.city, p.state, p.zip);
                json!({
                    "name": p.company,
                    "address": {
                        "value": value, "locality": p.city, "admin_area_level_1": p.state,
                        "postal_code": p.zip, "country": "United States",
                    },
                })
            }
            PipedriveKind::Deals => {
                let mut d = json!({
                    "title": format!("{} - job {index}", p.company),
                    "value": 100 + (index * 37) % 49_900,
                    "currency": "USD",
                });
                if !persons.is_empty() {
                    let (pid, org) = persons[(i as usize) % persons.len()];
                    d["person_id"] = json!(pid);
                    d["org_id"] = json!(org);
                }
                d
            }
        };
        match for_create(kind, &body) {
            Ok(fields) => {
                store.insert(fields, now - (count - i) as i64);
            }
            Err(e) => tracing::warn!(error = %e, "pipedrive seed record refused"),
        }
    }
}

/// `POST /_sandbox/pipedrive/{object}`: the record in v2 shape, as made in the app.
pub fn create(state: &SharedState, kind: PipedriveKind, account: &str, body: &Value) -> Response {
    let fields = match for_create(kind, body) {
        Ok(f) => f,
        Err(e) => return err(StatusCode::BAD_REQUEST, e),
    };
    let acct = state.pipedrive.get_or_create(account);
    let mut store = acct.store(kind);
    let id = store.insert(fields, now_s());
    let out = store
        .get(id)
        .map(|r| store.render(r))
        .unwrap_or(Value::Null);
    drop(store);
    webhooks::announce(
        state,
        &acct,
        kind,
        "create",
        id,
        out.clone(),
        Value::Null,
        ChangeSource::App,
    );
    (StatusCode::CREATED, Json(out)).into_response()
}

/// `PATCH /_sandbox/pipedrive/{object}/{id}`: bumps `update_time`, announces the change.
pub fn patch(
    state: &SharedState,
    kind: PipedriveKind,
    account: &str,
    id: &str,
    body: &Value,
) -> Response {
    let changes = match for_update(kind, body) {
        Ok(c) => c,
        Err(e) => return err(StatusCode::BAD_REQUEST, e),
    };
    let acct = state.pipedrive.get_or_create(account);
    let mut store = acct.store(kind);
    let Some(num) = id.parse::<u64>().ok() else {
        return err(StatusCode::NOT_FOUND, format!("no record {id}"));
    };
    let Some(previous) = store.update(num, changes, now_s()) else {
        return err(StatusCode::NOT_FOUND, format!("no record {id}"));
    };
    let out = store
        .get(num)
        .map(|r| store.render(r))
        .unwrap_or(Value::Null);
    drop(store);
    webhooks::announce(
        state,
        &acct,
        kind,
        "change",
        num,
        out.clone(),
        previous,
        ChangeSource::App,
    );
    Json(out).into_response()
}

/// `GET /_sandbox/pipedrive/{object}`: (total, a page of records in id order).
pub fn list(
    state: &SharedState,
    kind: PipedriveKind,
    account: &str,
    offset: usize,
    limit: usize,
) -> (usize, Vec<Value>) {
    let acct = state.pipedrive.get_or_create(account);
    let store = acct.store(kind);
    let data = store
        .all()
        .skip(offset)
        .take(limit)
        .map(|r| store.render(r))
        .collect();
    (store.len(), data)
}

/// `GET /_sandbox/pipedrive/{object}/{id}`
pub fn get(state: &SharedState, kind: PipedriveKind, account: &str, id: &str) -> Option<Value> {
    let acct = state.pipedrive.get_or_create(account);
    let store = acct.store(kind);
    id.parse::<u64>()
        .ok()
        .and_then(|n| store.get(n))
        .map(|r| store.render(r))
}

/// Adds `pipedrive/<object>` record counts of every company to the stats.
pub fn count_records(state: &SharedState, records: &mut HashMap<String, usize>) {
    for a in state.pipedrive.all() {
        for k in PipedriveKind::ALL {
            *records
                .entry(format!("pipedrive/{}", k.as_str()))
                .or_insert(0) += a.store(k).len();
        }
    }
}
