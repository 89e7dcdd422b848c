//! The `/_sandbox` control plane: seed, create, patch and read records; config; stats; reset.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::clock::now_ms;
use crate::control_jobs;
use crate::control_request::{err, SeedRequest};
use crate::fake::FakeData;
use crate::hubspot::store::{properties_from_json, HubspotObjectKind};
use crate::jobber::input::{client_from_create, client_from_edit, UserError};
use crate::jobber::store::{
    decode_id, encode_id, ClientRecord, JobberAddress, JobberEmail, JobberPhone,
};
use crate::state::{lock, Provider, SharedState, DEFAULT_ACCOUNT};
use crate::webhook::ChangeSource;

/// Largest configurable response delay.
pub const MAX_LATENCY_MS: u64 = 600_000;

/// Largest seed batch accepted in one call.
pub const MAX_SEED: u64 = 1_000_000;

pub fn router() -> Router<SharedState> {
    Router::new()
        .route("/config", put(put_config).get(get_config))
        .route("/stats", get(stats))
        .route("/reset", post(reset))
        .route(
            "/oauth/{provider}/revoke",
            post(crate::control_oauth::revoke),
        )
        .nest("/salesforce", crate::salesforce::control::router())
        .route("/{provider}/{object}/seed", post(seed))
        .route("/{provider}/{object}", post(create).get(list))
        .route(
            "/{provider}/{object}/{id}",
            get(get_one)
                .patch(patch)
                .delete(crate::control_delete::delete),
        )
}

fn user_errors(errs: &[UserError]) -> Response {
    let list: Vec<Value> = errs
        .iter()
        .map(|e| json!({"message": e.message, "path": e.path}))
        .collect();
    (
        StatusCode::BAD_REQUEST,
        Json(json!({"error": "invalid record", "userErrors": list})),
    )
        .into_response()
}

/// Which store a control-plane path points at.
pub(crate) enum Target {
    Hubspot(HubspotObjectKind),
    JobberClients,
    JobberJobs,
    JobberProperties,
    Pipedrive(crate::pipedrive::store::PipedriveKind),
}

pub(crate) fn target(provider: &str, object: &str) -> Result<Target, Response> {
    match (Provider::parse(provider), object) {
        (Some(Provider::Hubspot), o) => HubspotObjectKind::parse(o)
            .map(Target::Hubspot)
            .ok_or_else(|| err(StatusCode::NOT_FOUND, format!("unknown hubspot object {o}"))),
        (Some(Provider::Jobber), "clients" | "client") => Ok(Target::JobberClients),
        (Some(Provider::Jobber), "jobs" | "job") => Ok(Target::JobberJobs),
        (Some(Provider::Jobber), "properties" | "property") => Ok(Target::JobberProperties),
        (Some(Provider::Jobber), o) => Err(err(
            StatusCode::NOT_FOUND,
            format!("unknown jobber object {o}"),
        )),
        (Some(Provider::Pipedrive), o) => crate::pipedrive::store::PipedriveKind::parse(o)
            .map(Target::Pipedrive)
            .ok_or_else(|| {
                err(
                    StatusCode::NOT_FOUND,
                    format!("unknown pipedrive object {o}"),
                )
            }),
        (Some(p @ Provider::Salesforce), o) => Err(err(
            StatusCode::NOT_FOUND,
            format!("unknown {} object {o}", p.as_str()),
        )),
        (None, p) => Err(err(StatusCode::NOT_FOUND, format!("unknown provider {p}"))),
    }
}

#[derive(Debug, Deserialize, Default)]
pub struct AccountQuery {
    account: Option<String>,
    limit: Option<usize>,
    offset: Option<usize>,
}

impl AccountQuery {
    pub(crate) fn account(&self) -> &str {
        self.account.as_deref().unwrap_or(DEFAULT_ACCOUNT)
    }
}

fn parse_body(body: &[u8]) -> Result<Value, Response> {
    if body.is_empty() {
        return Ok(json!({}));
    }
    serde_json::from_slice(body)
        .map_err(|e| err(StatusCode::BAD_REQUEST, format!("invalid JSON: {e}")))
}

/// Jobber client as stored, with its encoded id.
fn jobber_json(c: &ClientRecord) -> Value {
    let mut v = serde_json::to_value(c).unwrap_or(Value::Null);
    v["rawId"] = json!(c.id);
    v["id"] = json!(encode_id("Client", c.id));
    v["createdAt"] = json!(crate::clock::iso_millis(c.created_ms));
    v["updatedAt"] = json!(crate::clock::iso_millis(c.updated_ms));
    v
}

async fn seed(
    State(state): State<SharedState>,
    Path((provider, object)): Path<(String, String)>,
    Query(q): Query<AccountQuery>,
    body: Bytes,
) -> Response {
    let t = match target(&provider, &object) {
        Ok(t) => t,
        Err(r) => return r,
    };
    let body = match parse_body(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let SeedRequest {
        count,
        seed,
        account,
    } = match SeedRequest::parse(&body, q.account()) {
        Ok(r) => r,
        Err(r) => return r,
    };
    let mut fake = FakeData::new(seed);
    let now = now_ms();
    match t {
        Target::Hubspot(kind) => {
            let acct = state.hubspot.get_or_create(&account);
            // Seeded deals are associated with existing contacts, round-robin.
            let contacts: Vec<u64> = if kind == HubspotObjectKind::Deals {
                acct.store(HubspotObjectKind::Contacts)
                    .all()
                    .map(|r| r.id)
                    .collect()
            } else {
                Vec::new()
            };
            let mut store = acct.store(kind);
            let base = store.len() as u64;
            let mut ids = Vec::with_capacity(count as usize);
            for i in 0..count {
                let index = base + i + 1;
                let props = match kind {
                    HubspotObjectKind::Contacts => fake.contact(index),
                    HubspotObjectKind::Companies => fake.company(index),
                    HubspotObjectKind::Deals => fake.deal(index),
                };
                ids.push(store.insert_at(props, now - (count - i) as i64));
            }
            drop(store);
            if !contacts.is_empty() {
                let mut assoc = lock(&acct.associations);
                for (i, id) in ids.iter().enumerate() {
                    let contact = contacts[i % contacts.len()];
                    assoc.link(kind, *id, HubspotObjectKind::Contacts, contact);
                }
            }
        }
        Target::JobberJobs => {
            control_jobs::seed(&state.jobber.get_or_create(&account), count, seed)
        }
        Target::JobberProperties => {
            crate::jobber::properties::seed(&state.jobber.get_or_create(&account), count, seed)
        }
        Target::Pipedrive(kind) => {
            crate::pipedrive::control::seed(&state, kind, &account, count, seed)
        }
        Target::JobberClients => {
            let acct = state.jobber.get_or_create(&account);
            let mut store = lock(&acct.clients);
            let base = store.len() as u64;
            for i in 0..count {
                let p = fake.person(base + i + 1);
                let client = ClientRecord {
                    first_name: p.first.clone(),
                    last_name: p.last.clone(),
                    company_name: Some(p.company.clone()),
                    emails: vec![JobberEmail {
                        id: store.next_sub_id(),
                        address: p.email.clone(),
                        description: "MAIN".into(),
                        primary: true,
                    }],
                    phones: vec![JobberPhone {
                        id: store.next_sub_id(),
                        number: p.phone_dashed(),
                        description: "MAIN".into(),
                        primary: true,
                        sms_allowed: false,
                    }],
                    billing_address: Some(JobberAddress {
                        street1: p.street.clone(),
                        street2: String::new(),
                        city: p.city.clone(),
                        province: p.state.clone(),
                        postal_code: p.zip.clone(),
                        country: "United States".into(),
                    }),
                    ..Default::default()
                };
                store.insert_at(client, now - (count - i) as i64);
            }
        }
    }
    Json(json!({"created": count})).into_response()
}

async fn create(
    State(state): State<SharedState>,
    Path((provider, object)): Path<(String, String)>,
    Query(q): Query<AccountQuery>,
    body: Bytes,
) -> Response {
    let t = match target(&provider, &object) {
        Ok(t) => t,
        Err(r) => return r,
    };
    let body = match parse_body(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    match t {
        Target::Hubspot(kind) => {
            let props_json = body.get("properties").unwrap_or(&body);
            let props = match properties_from_json(props_json) {
                Ok(p) => p,
                Err(e) => return err(StatusCode::BAD_REQUEST, e),
            };
            let acct = state.hubspot.get_or_create(q.account());
            let mut store = acct.store(kind);
            let id = store.create(props);
            let out = store.get(id).map(|r| store.render_all(r));
            drop(store);
            state.hubspot_created(acct.portal_id, kind.as_str(), &[id], ChangeSource::User);
            (StatusCode::CREATED, Json(out)).into_response()
        }
        Target::JobberJobs => {
            control_jobs::create(&state, &state.jobber.get_or_create(q.account()), &body)
        }
        Target::JobberProperties => {
            let acct = state.jobber.get_or_create(q.account());
            crate::jobber::properties::create(&state, &acct, &body)
        }
        Target::Pipedrive(kind) => {
            crate::pipedrive::control::create(&state, kind, q.account(), &body)
        }
        Target::JobberClients => {
            let acct = state.jobber.get_or_create(q.account());
            let mut store = lock(&acct.clients);
            match client_from_create(&mut store, &body) {
                Ok(c) => {
                    let id = store.insert(c);
                    let out = store.get(id).map(jobber_json);
                    drop(store);
                    state.jobber_changed(acct.account_id, "Client", id, true);
                    (StatusCode::CREATED, Json(out)).into_response()
                }
                Err(errs) => user_errors(&errs),
            }
        }
    }
}

async fn patch(
    State(state): State<SharedState>,
    Path((provider, object, id)): Path<(String, String, String)>,
    Query(q): Query<AccountQuery>,
    body: Bytes,
) -> Response {
    let t = match target(&provider, &object) {
        Ok(t) => t,
        Err(r) => return r,
    };
    let body = match parse_body(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let not_found = || err(StatusCode::NOT_FOUND, format!("no record {id}"));
    match t {
        Target::Hubspot(kind) => {
            let props_json = body.get("properties").unwrap_or(&body);
            let props = match properties_from_json(props_json) {
                Ok(p) => p,
                Err(e) => return err(StatusCode::BAD_REQUEST, e),
            };
            let acct = state.hubspot.get_or_create(q.account());
            let mut store = acct.store(kind);
            let Some(num) = id.parse::<u64>().ok() else {
                return not_found();
            };
            let hook = state.webhooks_on().then(|| props.clone());
            if store.update(num, props).is_none() {
                return not_found();
            }
            let out = store.get(num).map(|r| store.render_all(r));
            drop(store);
            if let Some(p) = hook {
                state.hubspot_updated(acct.portal_id, kind.as_str(), num, &p, ChangeSource::User);
            }
            Json(out).into_response()
        }
        Target::JobberJobs => {
            match control_jobs::patch(&state, &state.jobber.get_or_create(q.account()), &id, &body)
            {
                Some(v) => Json(v).into_response(),
                None => not_found(),
            }
        }
        Target::JobberProperties => {
            let acct = state.jobber.get_or_create(q.account());
            match crate::jobber::properties::patch(&state, &acct, &id, &body) {
                Some(v) => Json(v).into_response(),
                None => not_found(),
            }
        }
        Target::Pipedrive(kind) => {
            crate::pipedrive::control::patch(&state, kind, q.account(), &id, &body)
        }
        Target::JobberClients => {
            let acct = state.jobber.get_or_create(q.account());
            let mut store = lock(&acct.clients);
            let Some(current) = decode_id("Client", &id).and_then(|n| store.get(n)).cloned() else {
                return not_found();
            };
            match client_from_edit(&mut store, &current, &body) {
                Ok(c) => {
                    let cid = c.id;
                    store.replace(c);
                    let out = store.get(cid).map(jobber_json);
                    drop(store);
                    state.jobber_changed(acct.account_id, "Client", cid, false);
                    Json(out).into_response()
                }
                Err(errs) => user_errors(&errs),
            }
        }
    }
}

async fn list(
    State(state): State<SharedState>,
    Path((provider, object)): Path<(String, String)>,
    Query(q): Query<AccountQuery>,
) -> Response {
    let t = match target(&provider, &object) {
        Ok(t) => t,
        Err(r) => return r,
    };
    let offset = q.offset.unwrap_or(0);
    let limit = q.limit.unwrap_or(usize::MAX);
    let (total, data): (usize, Vec<Value>) = match t {
        Target::Hubspot(kind) => {
            let acct = state.hubspot.get_or_create(q.account());
            let store = acct.store(kind);
            (
                store.len(),
                store
                    .all()
                    .skip(offset)
                    .take(limit)
                    .map(|r| store.render_all(r))
                    .collect(),
            )
        }
        Target::JobberJobs => {
            control_jobs::list(&state.jobber.get_or_create(q.account()), offset, limit)
        }
        Target::JobberProperties => {
            crate::jobber::properties::list(&state.jobber.get_or_create(q.account()), offset, limit)
        }
        Target::Pipedrive(kind) => {
            crate::pipedrive::control::list(&state, kind, q.account(), offset, limit)
        }
        Target::JobberClients => {
            let acct = state.jobber.get_or_create(q.account());
            let store = lock(&acct.clients);
            (
                store.len(),
                store
                    .all()
                    .skip(offset)
                    .take(limit)
                    .map(jobber_json)
                    .collect(),
            )
        }
    };
    Json(json!({"data": data, "total": total})).into_response()
}

async fn get_one(
    State(state): State<SharedState>,
    Path((provider, object, id)): Path<(String, String, String)>,
    Query(q): Query<AccountQuery>,
) -> Response {
    let t = match target(&provider, &object) {
        Ok(t) => t,
        Err(r) => return r,
    };
    let found = match t {
        Target::Hubspot(kind) => {
            let acct = state.hubspot.get_or_create(q.account());
            let store = acct.store(kind);
            id.parse::<u64>()
                .ok()
                .and_then(|n| store.get(n))
                .map(|r| store.render_all(r))
        }
        Target::JobberJobs => control_jobs::get(&state.jobber.get_or_create(q.account()), &id),
        Target::JobberProperties => {
            crate::jobber::properties::get(&state.jobber.get_or_create(q.account()), &id)
        }
        Target::Pipedrive(kind) => crate::pipedrive::control::get(&state, kind, q.account(), &id),
        Target::JobberClients => {
            let acct = state.jobber.get_or_create(q.account());
            let store = lock(&acct.clients);
            decode_id("Client", &id)
                .and_then(|n| store.get(n))
                .map(jobber_json)
        }
    };
    match found {
        Some(v) => Json(v).into_response(),
        None => err(StatusCode::NOT_FOUND, format!("no record {id}")),
    }
}

async fn put_config(State(state): State<SharedState>, body: Bytes) -> Response {
    let patch = match parse_body(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    match state.config().merged(&patch) {
        Ok(cfg) => {
            if !(0.0..=1.0).contains(&cfg.error_rate) {
                return err(StatusCode::BAD_REQUEST, "errorRate must be within 0..1");
            }
            if cfg.latency_ms > MAX_LATENCY_MS {
                return err(
                    StatusCode::BAD_REQUEST,
                    format!("latencyMs must be ≤ {MAX_LATENCY_MS}"),
                );
            }
            state.set_config(cfg.clone());
            Json(cfg).into_response()
        }
        Err(e) => err(StatusCode::BAD_REQUEST, format!("invalid config: {e}")),
    }
}

async fn get_config(State(state): State<SharedState>) -> Response {
    Json(state.config().as_ref().clone()).into_response()
}

async fn stats(State(state): State<SharedState>) -> Response {
    let mut v = state.stats.snapshot();
    let mut records: HashMap<String, usize> = HashMap::new();
    for a in state.hubspot.all() {
        for k in HubspotObjectKind::ALL {
            *records
                .entry(format!("hubspot/{}", k.as_str()))
                .or_insert(0) += a.store(k).len();
        }
    }
    for a in state.jobber.all() {
        *records.entry("jobber/clients".into()).or_insert(0) += lock(&a.clients).len();
        *records.entry("jobber/jobs".into()).or_insert(0) += lock(&a.work).jobs_len();
        *records.entry("jobber/properties".into()).or_insert(0) += lock(&a.work).properties.len();
    }
    crate::pipedrive::control::count_records(&state, &mut records);
    crate::salesforce::control::count_records(&state, &mut records);
    v["records"] = json!(records);
    Json(v).into_response()
}

async fn reset(State(state): State<SharedState>) -> Response {
    state.reset();
    Json(json!({"reset": true})).into_response()
}
