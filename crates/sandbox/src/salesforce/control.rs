//! The Salesforce part of the `/_sandbox` control plane (nested at `/_sandbox/salesforce`):
//! seed, create, patch, list and read Contact/Account/Opportunity records, and configure
//! Outbound Messages (`POST /_sandbox/salesforce/outbound-messages {account?, object,
//! endpointUrl}`). Creates and patches here are "a user's edits" and fire outbound messages.

use std::collections::{BTreeMap, HashMap};

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::schema::SObjectKind;
use super::store::{now_seconds_ms, render_all, validate, SfError, WriteMode};
use crate::control_request::{err, SeedRequest};
use crate::fake::FakeData;
use crate::state::{SharedState, DEFAULT_ACCOUNT};

pub fn router() -> Router<SharedState> {
    Router::new()
        .route(
            "/outbound-messages",
            post(configure_outbound).get(list_outbound),
        )
        .route("/{object}/seed", post(seed))
        .route("/{object}", post(create).get(list))
        .route("/{object}/{id}", get(get_one).patch(patch).delete(delete))
}

#[derive(Debug, Deserialize, Default)]
pub struct ControlQuery {
    account: Option<String>,
    limit: Option<usize>,
    offset: Option<usize>,
}

impl ControlQuery {
    fn account(&self) -> &str {
        self.account.as_deref().unwrap_or(DEFAULT_ACCOUNT)
    }
}

fn invalid(e: &SfError) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({"error": "invalid record", "errors": [e.collection_json()]})),
    )
        .into_response()
}

fn body_object(body: &[u8]) -> Result<Map<String, Value>, Response> {
    if body.is_empty() {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(err(StatusCode::BAD_REQUEST, "expected a JSON object")),
        Err(e) => Err(err(StatusCode::BAD_REQUEST, format!("invalid JSON: {e}"))),
    }
}

fn object_of(object: &str) -> Result<SObjectKind, Response> {
    SObjectKind::parse(object).ok_or_else(|| {
        err(
            StatusCode::NOT_FOUND,
            format!("unknown salesforce object {object}"),
        )
    })
}

/// The object and the validated fields of a control-plane create or patch.
fn validated(
    object: &str,
    body: &[u8],
    mode: WriteMode,
) -> Result<(SObjectKind, BTreeMap<&'static str, Value>), Response> {
    let kind = object_of(object)?;
    let body = body_object(body)?;
    let fields = validate(kind, &written(&body), mode).map_err(|e| invalid(&e))?;
    Ok((kind, fields))
}

/// The written fields: the body itself, or its `fields` member.
fn written(body: &Map<String, Value>) -> Map<String, Value> {
    match body.get("fields") {
        Some(Value::Object(m)) => m.clone(),
        _ => {
            let mut m = body.clone();
            m.remove("account");
            m
        }
    }
}

const STAGES: [&str; 6] = [
    "Prospecting",
    "Qualification",
    "Needs Analysis",
    "Value Proposition",
    "Closed Won",
    "Closed Lost",
];

/// Deterministic fields of the `index`-th seeded record.
fn fake_fields(
    fake: &mut FakeData,
    kind: SObjectKind,
    index: u64,
    account_id: Option<&String>,
) -> BTreeMap<&'static str, Value> {
    let p = fake.person(index);
    let mut m: BTreeMap<&'static str, Value> = match kind {
        SObjectKind::Contact => BTreeMap::from([
            ("FirstName", json!(p.first)),
            ("LastName", json!(p.last)),
            ("Email", json!(p.email)),
            ("Phone", json!(p.phone_us())),
            ("MailingStreet", json!(p.street)),
            ("MailingCity", json!(p.city)),
            ("MailingState", json!(p.state)),
            ("MailingPostalCode", json!(p.zip)),
            ("MailingCountry", json!("United States")),
        ]),
        SObjectKind::Account => BTreeMap::from([
            ("Name", json!(p.company)),
            ("Phone", json!(p.phone_us())),
            (
                "Website",
                json!(format!(
                    "https://{}-{index}.example.com",
                    p.company.to_lowercase().replace(' ', "-")
                )),
            ),
            ("BillingStreet", json!(p.street)),
            ("BillingCity", json!(p.city)),
            ("BillingState", json!(p.state)),
            ("BillingPostalCode", json!(p.zip)),
            ("BillingCountry", json!("United States")),
        ]),
        SObjectKind::Opportunity => {
            let close = chrono::NaiveDate::from_ymd_opt(2026, 1, 1)
                .unwrap_or_default()
                .checked_add_days(chrono::Days::new(index % 365))
                .unwrap_or_default();
            BTreeMap::from([
                ("Name", json!(format!("{} - job {index}", p.company))),
                ("StageName", json!(STAGES[(index as usize) % STAGES.len()])),
                ("Amount", json!(((index * 7919) % 49_900 + 100) as f64)),
                ("CloseDate", json!(close.format("%Y-%m-%d").to_string())),
            ])
        }
    };
    if kind != SObjectKind::Account {
        if let Some(a) = account_id {
            m.insert("AccountId", json!(a));
        }
    }
    m
}

async fn seed(
    State(state): State<SharedState>,
    Path(object): Path<String>,
    Query(q): Query<ControlQuery>,
    body: Bytes,
) -> Response {
    let kind = match object_of(&object) {
        Ok(k) => k,
        Err(r) => return r,
    };
    let body = match body_object(&body) {
        Ok(b) => Value::Object(b),
        Err(r) => return r,
    };
    let SeedRequest {
        count,
        seed,
        account: name,
    } = match SeedRequest::parse(&body, q.account()) {
        Ok(r) => r,
        Err(r) => return r,
    };
    let account = state.salesforce.get_or_create(&name);
    // Seeded contacts and opportunities belong to existing Accounts, round-robin.
    let parents: Vec<String> = if kind == SObjectKind::Account {
        Vec::new()
    } else {
        account
            .store(SObjectKind::Account)
            .all()
            .map(|r| r.id.clone())
            .collect()
    };
    let mut fake = FakeData::new(seed);
    let modstamp = now_seconds_ms();
    let mut store = account.store(kind);
    let base = store.len() as u64;
    for i in 0..count {
        let parent = (!parents.is_empty()).then(|| &parents[(i as usize) % parents.len()]);
        let fields = fake_fields(&mut fake, kind, base + i + 1, parent);
        store.insert(fields, modstamp);
    }
    Json(json!({"created": count})).into_response()
}

async fn create(
    State(state): State<SharedState>,
    Path(object): Path<String>,
    Query(q): Query<ControlQuery>,
    body: Bytes,
) -> Response {
    let (kind, fields) = match validated(&object, &body, WriteMode::Create) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let account = state.salesforce.get_or_create(q.account());
    let changed: Vec<(String, Value)> = fields
        .iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect();
    let mut store = account.store(kind);
    let id = store.insert(fields, now_seconds_ms());
    let out = store.get(&id).map(|r| render_all(kind, r));
    drop(store);
    account
        .outbound
        .notify(&state.base_url, &account, kind, &id, changed);
    (StatusCode::CREATED, Json(out)).into_response()
}

async fn patch(
    State(state): State<SharedState>,
    Path((object, id)): Path<(String, String)>,
    Query(q): Query<ControlQuery>,
    body: Bytes,
) -> Response {
    let (kind, fields) = match validated(&object, &body, WriteMode::Update) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let changed: Vec<(String, Value)> = fields
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect();
    let account = state.salesforce.get_or_create(q.account());
    let mut store = account.store(kind);
    let Some(rec) = store.update(&id, fields, now_seconds_ms()) else {
        return err(StatusCode::NOT_FOUND, format!("no record {id}"));
    };
    let rec_id = rec.id.clone();
    let out = render_all(kind, rec);
    drop(store);
    account
        .outbound
        .notify(&state.base_url, &account, kind, &rec_id, changed);
    Json(out).into_response()
}

/// `DELETE /_sandbox/salesforce/{object}/{id}`: a user deletes the record (recycle bin); 204.
/// Salesforce sends no outbound message for a deletion.
async fn delete(
    State(state): State<SharedState>,
    Path((object, id)): Path<(String, String)>,
    Query(q): Query<ControlQuery>,
) -> Response {
    let kind = match object_of(&object) {
        Ok(k) => k,
        Err(r) => return r,
    };
    let account = state.salesforce.get_or_create(q.account());
    if account.store(kind).delete(&id, now_seconds_ms()) {
        StatusCode::NO_CONTENT.into_response()
    } else {
        err(StatusCode::NOT_FOUND, format!("no record {id}"))
    }
}

async fn list(
    State(state): State<SharedState>,
    Path(object): Path<String>,
    Query(q): Query<ControlQuery>,
) -> Response {
    let kind = match object_of(&object) {
        Ok(k) => k,
        Err(r) => return r,
    };
    let account = state.salesforce.get_or_create(q.account());
    let store = account.store(kind);
    let data: Vec<Value> = store
        .all()
        .skip(q.offset.unwrap_or(0))
        .take(q.limit.unwrap_or(usize::MAX))
        .map(|r| render_all(kind, r))
        .collect();
    Json(json!({"data": data, "total": store.len()})).into_response()
}

async fn get_one(
    State(state): State<SharedState>,
    Path((object, id)): Path<(String, String)>,
    Query(q): Query<ControlQuery>,
) -> Response {
    let kind = match object_of(&object) {
        Ok(k) => k,
        Err(r) => return r,
    };
    let account = state.salesforce.get_or_create(q.account());
    let store = account.store(kind);
    match store.get(&id) {
        Some(r) => Json(render_all(kind, r)).into_response(),
        None => err(StatusCode::NOT_FOUND, format!("no record {id}")),
    }
}

async fn configure_outbound(
    State(state): State<SharedState>,
    Query(q): Query<ControlQuery>,
    body: Bytes,
) -> Response {
    let body = match body_object(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let Some(kind) = body
        .get("object")
        .and_then(Value::as_str)
        .and_then(SObjectKind::parse)
    else {
        return err(
            StatusCode::BAD_REQUEST,
            "object must be Contact, Account or Opportunity",
        );
    };
    let Some(url) = body
        .get("endpointUrl")
        .and_then(Value::as_str)
        .filter(|u| url::Url::parse(u).is_ok_and(|u| matches!(u.scheme(), "http" | "https")))
    else {
        return err(
            StatusCode::BAD_REQUEST,
            "endpointUrl must be an http(s) URL",
        );
    };
    let name = body
        .get("account")
        .and_then(Value::as_str)
        .unwrap_or(q.account())
        .to_owned();
    let account = state.salesforce.get_or_create(&name);
    let c = account.outbound.configure(&state, kind, url.to_owned());
    (
        StatusCode::CREATED,
        Json(json!({
            "actionId": c.action_id,
            "object": c.object.name(),
            "endpointUrl": c.endpoint_url,
            "organizationId": account.org_id,
        })),
    )
        .into_response()
}

async fn list_outbound(
    State(state): State<SharedState>,
    Query(q): Query<ControlQuery>,
) -> Response {
    let account = state.salesforce.get_or_create(q.account());
    let data: Vec<Value> = account
        .outbound
        .configs()
        .iter()
        .map(|c| json!({"actionId": c.action_id, "object": c.object.name(), "endpointUrl": c.endpoint_url}))
        .collect();
    Json(json!({"data": data})).into_response()
}

/// Adds `salesforce/<Object>` record counts (all orgs) to the control plane's stats.
pub fn count_records(state: &SharedState, records: &mut HashMap<String, usize>) {
    for a in state.salesforce.all() {
        for k in SObjectKind::ALL {
            *records
                .entry(format!("salesforce/{}", k.name()))
                .or_insert(0) += a.store(k).len();
        }
    }
}
