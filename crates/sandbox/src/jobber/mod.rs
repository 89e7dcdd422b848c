//! Jobber GraphQL emulation: accounts, routes and the `/api/graphql` handler.

pub mod cost;
pub mod document;
pub mod exec;
pub mod input;
pub mod properties;
pub mod render;
pub mod store;
pub mod work;
pub mod work_exec;

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::middleware::from_fn_with_state;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde_json::{json, Map, Value};

use crate::gate;
use crate::oauth;
use crate::state::{lock, SharedState};
use cost::{cost_extension, requested_cost, JobberThrottle, ThrottleDecision};
use document::parse_operation;
use store::JobberClientStore;
use work::JobberWorkStore;

/// One Jobber account with its clients.
pub struct JobberAccount {
    pub name: String,
    pub account_id: u64,
    pub clients: Mutex<JobberClientStore>,
    /// Properties and jobs; lock after `clients` when both are needed.
    pub work: Mutex<JobberWorkStore>,
    pub throttle: Mutex<JobberThrottle>,
}

impl JobberAccount {
    pub fn new(name: &str, account_id: u64) -> Self {
        JobberAccount {
            name: name.to_owned(),
            account_id,
            clients: Mutex::new(JobberClientStore::default()),
            work: Mutex::new(JobberWorkStore::default()),
            throttle: Mutex::new(JobberThrottle::default()),
        }
    }

    pub fn clear(&self) {
        lock(&self.clients).clear();
        lock(&self.work).clear();
        lock(&self.throttle).clear();
    }
}

/// Routes under `/jobber`.
pub fn router(state: SharedState) -> Router<SharedState> {
    let api = Router::new()
        .route("/api/graphql", post(graphql))
        .route_layer(from_fn_with_state(state.clone(), gate::jobber_api));
    Router::new()
        .route("/api/oauth/authorize", get(oauth::jobber_authorize))
        .route("/api/oauth/token", post(oauth::jobber_token))
        .merge(api)
        .layer(from_fn_with_state(state, gate::jobber_common))
}

fn bad_request(message: String) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({"errors": [{"message": message}]})),
    )
        .into_response()
}

/// `POST /jobber/api/graphql`
pub async fn graphql(
    State(state): State<SharedState>,
    Extension(account): Extension<Arc<JobberAccount>>,
    body: Bytes,
) -> Response {
    let body: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return bad_request(format!("Invalid JSON body: {e}")),
    };
    let Some(query) = body.get("query").and_then(Value::as_str) else {
        return bad_request("No query string was present".into());
    };
    let empty = Map::new();
    let variables = body
        .get("variables")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let operation_name = body.get("operationName").and_then(Value::as_str);
    let cfg = state.config();
    let limits = &cfg.rate_limits.jobber;
    let max = u64::from(limits.maximum_available);
    let op = match parse_operation(query, variables, operation_name) {
        Ok(op) => op,
        Err(errors) => {
            let errors: Vec<Value> = errors.iter().map(|e| e.to_json()).collect();
            return Json(
                json!({"errors": errors, "extensions": cost_extension(0, 0, max, limits)}),
            )
            .into_response();
        }
    };
    let requested = requested_cost(&op);
    let mut available = max;
    if cfg.rate_limits.enabled {
        match lock(&account.throttle).charge(requested, limits) {
            ThrottleDecision::Allowed { currently_available } => available = currently_available,
            ThrottleDecision::Throttled { currently_available } => {
                return Json(json!({
                    "errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}],
                    "extensions": cost_extension(requested, 0, currently_available, limits),
                }))
                .into_response()
            }
            ThrottleDecision::TooManyRequests => {
                return (
                    StatusCode::TOO_MANY_REQUESTS,
                    Json(json!({"message": "Too Many Requests: request limit of 2500 per 5 minutes reached"})),
                )
                    .into_response()
            }
        }
    }
    let result = exec::execute(&account, &op);
    state
        .stats
        .record_writes("jobber", "clients", result.writes);
    state
        .stats
        .record_writes("jobber", "jobs", result.job_writes);
    let property_writes = result.changed.iter().filter(|c| c.0 == "Property").count();
    state
        .stats
        .record_writes("jobber", "properties", property_writes as u64);
    for (kind, id, created) in &result.changed {
        match *kind {
            "Property" => state.jobber_property_changed(account.account_id, *id, *created),
            _ => state.jobber_changed(account.account_id, kind, *id, *created),
        }
    }
    let mut out = Map::new();
    if !result.errors.is_empty() {
        out.insert("errors".into(), Value::Array(result.errors));
    }
    if let Some(d) = result.data {
        out.insert("data".into(), d);
    }
    out.insert(
        "extensions".into(),
        cost_extension(requested, requested, available, limits),
    );
    Json(Value::Object(out)).into_response()
}
