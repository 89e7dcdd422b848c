//! Pipedrive emulation (API v2 persons, organizations, deals; v1 webhooks): companies, routes,
//! error bodies and the gate in front of the data API (stats, latency, auth, rate limits).
//!
//! Choices where the real API is unknown or simplified: the daily token budget is reported in
//! `x-daily-requests-left` (tokens left) and resets at midnight UTC or on `/_sandbox/reset`;
//! a spent budget answers 429 with `x-daily-requests-left: 0` and `Retry-After` (seconds to
//! midnight UTC) but no `x-ratelimit-reset`. Deleting costs 3 tokens and a
//! webhooks call 5. Deleted records vanish from lists and answer 404.

pub mod control;
pub mod index;
pub mod input;
pub mod limit;
pub mod objects;
pub mod search;
pub mod store;
pub mod users;
pub mod webhooks;

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::{from_fn_with_state, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use axum::{Json, Router};
use rand::Rng;
use serde_json::{json, Value};

use crate::auth::{bearer, TokenCheck};
use crate::state::{lock, Provider, SharedState};
use limit::{Admission, Cost, PipedriveLimiter};
use store::{PipedriveKind, PipedriveStore};

/// One Pipedrive company with its entity stores and webhook subscriptions.
pub struct PipedriveAccount {
    pub company_id: u64,
    stores: [Mutex<PipedriveStore>; 3],
    pub limiter: Mutex<PipedriveLimiter>,
    pub webhooks: Mutex<webhooks::PipedriveSubscriptions>,
}

impl PipedriveAccount {
    /// A company (the account's name only keys the registry).
    pub fn new(_name: &str, company_id: u64) -> Self {
        PipedriveAccount {
            company_id,
            stores: PipedriveKind::ALL.map(|k| Mutex::new(PipedriveStore::new(k))),
            limiter: Mutex::new(PipedriveLimiter::default()),
            webhooks: Mutex::new(webhooks::PipedriveSubscriptions::default()),
        }
    }

    pub fn store(&self, kind: PipedriveKind) -> MutexGuard<'_, PipedriveStore> {
        lock(&self.stores[kind.index()])
    }

    /// Drops every record and the rate-limit state; webhook subscriptions stay.
    pub fn clear(&self) {
        for s in &self.stores {
            lock(s).clear();
        }
        lock(&self.limiter).clear();
    }
}

/// Where a change came from, as webhooks v2 report it in `meta.change_source`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeSource {
    /// The data API (an integration).
    Api,
    /// The Pipedrive web app (the control plane stands in for a person).
    App,
}

const ERROR_INFO: &str =
    "Please check developers.pipedrive.com for more information about Pipedrive API.";

/// Pipedrive's error body `{success:false, error, error_info, data, additional_data}`.
pub fn pipedrive_error(status: StatusCode, error: impl Into<String>) -> Response {
    (
        status,
        Json(json!({
            "success": false,
            "error": error.into(),
            "error_info": ERROR_INFO,
            "data": null,
            "additional_data": null,
        })),
    )
        .into_response()
}

/// Errors answered by the gate carry `errorCode` too.
fn gate_error(status: StatusCode, error: &str) -> Response {
    (
        status,
        Json(json!({
            "success": false,
            "error": error,
            "errorCode": status.as_u16(),
            "error_info": ERROR_INFO,
        })),
    )
        .into_response()
}

/// Routes under `/pipedrive` (the OAuth routes are merged in by the crate's router).
pub fn router(state: SharedState) -> Router<SharedState> {
    Router::new()
        .route("/api/v2/{object}", get(objects::list).post(objects::create))
        .route("/api/v2/{object}/search", get(search::search))
        .route(
            "/api/v2/{object}/{id}",
            get(objects::get_one)
                .patch(objects::update)
                .delete(objects::remove),
        )
        .route(
            "/api/v1/webhooks",
            get(webhooks::list).post(webhooks::create),
        )
        .route("/api/v1/webhooks/{id}", delete(webhooks::remove))
        .route("/api/v1/users/me", get(users::me))
        .route_layer(from_fn_with_state(state, gate))
}

/// `METHOD /api/v2/persons/{id}`: the route template with the object filled in.
fn endpoint_name(req: &Request) -> String {
    let method = req.method().as_str();
    let Some(matched) = req.extensions().get::<MatchedPath>() else {
        return format!("{method} (unmatched)");
    };
    let template = matched.as_str();
    let template = template.strip_prefix("/pipedrive").unwrap_or(template);
    let actual = req.uri().path();
    let actual = actual.strip_prefix("/pipedrive").unwrap_or(actual);
    let path: Vec<&str> = template
        .split('/')
        .zip(actual.split('/'))
        .map(|(t, a)| if t == "{object}" { a } else { t })
        .collect();
    format!("{method} {}", path.join("/"))
}

fn cost_of(req: &Request) -> Cost {
    let path = req.uri().path();
    if path.trim_end_matches('/').ends_with("/api/v1/users/me") {
        return Cost::Get;
    }
    if path.contains("/api/v1/") {
        return Cost::Webhooks;
    }
    if path.trim_end_matches('/').ends_with("/search") {
        return Cost::Search;
    }
    let with_id = path
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .is_some_and(|last| PipedriveKind::parse(last).is_none());
    match *req.method() {
        Method::GET if with_id => Cost::Get,
        Method::GET => Cost::List,
        Method::DELETE => Cost::Delete,
        _ => Cost::Write,
    }
}

/// Stats, latency, injected errors, bearer auth and rate limits for the data API.
async fn gate(State(state): State<SharedState>, mut req: Request, next: Next) -> Response {
    let endpoint = endpoint_name(&req);
    let resp = admit(&state, &mut req).await;
    let resp = match resp {
        Ok(headers) => {
            let mut resp = next.run(req).await;
            resp.headers_mut().extend(headers);
            resp
        }
        Err(resp) => resp,
    };
    state.stats.record_request(
        Provider::Pipedrive.as_str(),
        endpoint,
        resp.status().as_u16(),
    );
    resp
}

type Headers = axum::http::HeaderMap;

async fn admit(state: &SharedState, req: &mut Request) -> Result<Headers, Response> {
    let cfg = state.config();
    if cfg.latency_ms > 0 {
        tokio::time::sleep(Duration::from_millis(cfg.latency_ms)).await;
    }
    if cfg.error_rate > 0.0 && rand::thread_rng().gen::<f64>() < cfg.error_rate {
        return Err(gate_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Internal server error",
        ));
    }
    let token = bearer(req.headers()).map(str::to_owned);
    let check = match &token {
        Some(t) => state.tokens.check_access(Provider::Pipedrive, t),
        None => TokenCheck::Unknown,
    };
    let TokenCheck::Valid { account } = check else {
        return Err(gate_error(StatusCode::UNAUTHORIZED, "unauthorized access"));
    };
    let account = state.pipedrive.get_or_create(&account);
    let mut headers = Headers::new();
    let limits = &cfg.rate_limits;
    if limits.enabled {
        let cfg = &limits.pipedrive;
        let admission =
            lock(&account.limiter).admit(token.as_deref().unwrap_or_default(), cost_of(req), cfg);
        let put = |h: &mut Headers, name: &'static str, v: u64| {
            h.insert(name, HeaderValue::from(v));
        };
        put(
            &mut headers,
            "x-ratelimit-limit",
            u64::from(cfg.burst_per_two_seconds),
        );
        match admission {
            Admission::Allowed {
                remaining,
                reset_s,
                daily_left,
            } => {
                put(&mut headers, "x-ratelimit-remaining", u64::from(remaining));
                put(&mut headers, "x-ratelimit-reset", reset_s);
                put(&mut headers, "x-daily-requests-left", daily_left);
            }
            Admission::Burst {
                reset_s,
                daily_left,
            } => {
                put(&mut headers, "x-ratelimit-remaining", 0);
                put(&mut headers, "x-ratelimit-reset", reset_s);
                put(&mut headers, "x-daily-requests-left", daily_left);
                let mut resp = gate_error(StatusCode::TOO_MANY_REQUESTS, "Request over limit");
                resp.headers_mut().extend(headers);
                return Err(resp);
            }
            Admission::Daily { reset_s } => {
                put(&mut headers, "x-daily-requests-left", 0);
                headers.insert(axum::http::header::RETRY_AFTER, HeaderValue::from(reset_s));
                let mut resp = gate_error(
                    StatusCode::TOO_MANY_REQUESTS,
                    "Daily API token budget exceeded",
                );
                resp.headers_mut().extend(headers);
                return Err(resp);
            }
        }
    }
    req.extensions_mut().insert(account);
    Ok(headers)
}

/// `{success:true, data, additional_data?}`
pub fn ok(status: StatusCode, data: Value, additional: Option<Value>) -> Response {
    let mut body = json!({"success": true, "data": data});
    if let Some(a) = additional {
        body["additional_data"] = a;
    }
    (status, Json(body)).into_response()
}

/// The current time in whole epoch seconds (Pipedrive's precision).
pub fn now_s() -> i64 {
    crate::clock::now_ms().div_euclid(1000)
}

/// The account behind a request (set by the gate).
pub type AccountExt = axum::Extension<Arc<PipedriveAccount>>;
