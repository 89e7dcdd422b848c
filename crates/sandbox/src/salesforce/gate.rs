//! Middleware in front of the Salesforce API: stats and latency, injected errors, the bearer
//! check (401 `INVALID_SESSION_ID`), the daily limit (403 `REQUEST_LIMIT_EXCEEDED`) and the
//! `Sforce-Limit-Info` header; plus Salesforce's JSON error-array responses.

use std::time::Duration;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use rand::Rng;
use serde_json::{json, Value};

use super::store::SfError;
use crate::auth::{bearer, TokenCheck};
use crate::state::{lock, Provider, SharedState};

/// A Salesforce error body: `[{message, errorCode[, fields]}]`.
pub fn sf_errors(status: StatusCode, errors: &[SfError]) -> Response {
    let body: Vec<Value> = errors
        .iter()
        .map(|e| {
            let mut v = json!({"message": e.message, "errorCode": e.code});
            if !e.fields.is_empty() {
                v["fields"] = json!(e.fields);
            }
            v
        })
        .collect();
    (status, Json(Value::Array(body))).into_response()
}

/// One error as a response.
pub fn sf_error(status: StatusCode, code: &'static str, message: impl Into<String>) -> Response {
    sf_errors(status, &[SfError::new(code, message, &[])])
}

/// 401 for a missing, unknown or expired session.
pub fn invalid_session() -> Response {
    sf_error(
        StatusCode::UNAUTHORIZED,
        "INVALID_SESSION_ID",
        "Session expired or invalid",
    )
}

/// The route template without the `/salesforce` prefix, with `{version}` and `{sobject}`
/// replaced by the requested values (ids and locators stay templated).
fn endpoint_name(req: &Request) -> String {
    let method = req.method().as_str().to_owned();
    let Some(matched) = req.extensions().get::<MatchedPath>() else {
        return format!("{method} (unmatched)");
    };
    let template = matched.as_str();
    let template = template.strip_prefix("/salesforce").unwrap_or(template);
    let actual = req.uri().path();
    let actual = actual.strip_prefix("/salesforce").unwrap_or(actual);
    let path: Vec<&str> = template
        .split('/')
        .zip(actual.split('/'))
        .map(|(t, a)| {
            if t == "{version}" || t == "{sobject}" {
                a
            } else {
                t
            }
        })
        .collect();
    format!("{method} {}", path.join("/"))
}

/// Stats and latency for every Salesforce data and identity route.
pub async fn salesforce_common(
    State(state): State<SharedState>,
    req: Request,
    next: Next,
) -> Response {
    let endpoint = endpoint_name(&req);
    let latency = state.config().latency_ms;
    if latency > 0 {
        tokio::time::sleep(Duration::from_millis(latency)).await;
    }
    let resp = next.run(req).await;
    state.stats.record_request(
        Provider::Salesforce.as_str(),
        endpoint,
        resp.status().as_u16(),
    );
    resp
}

/// REST data endpoints: error injection, bearer auth, the daily API limit.
pub async fn salesforce_api(
    State(state): State<SharedState>,
    mut req: Request,
    next: Next,
) -> Response {
    let cfg = state.config();
    let error_rate = cfg.error_rate;
    if error_rate > 0.0 && rand::thread_rng().gen::<f64>() < error_rate {
        return sf_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "SERVER_UNAVAILABLE",
            "Server temporarily unavailable",
        );
    }
    let account =
        match bearer(req.headers()).map(|t| state.tokens.check_access(Provider::Salesforce, t)) {
            Some(TokenCheck::Valid { account }) => state.salesforce.get_or_create(&account),
            _ => return invalid_session(),
        };
    let limit = cfg.rate_limits.salesforce.daily_api_requests;
    let admitted = lock(&account.limiter).admit(limit, cfg.rate_limits.enabled);
    let header = |used: u64| {
        HeaderValue::from_str(&format!("api-usage={used}/{limit}"))
            .unwrap_or(HeaderValue::from_static("api-usage=0/0"))
    };
    let used = match admitted {
        Ok(used) => used,
        Err(used) => {
            let mut resp = sf_error(
                StatusCode::FORBIDDEN,
                "REQUEST_LIMIT_EXCEEDED",
                "TotalRequests Limit exceeded.",
            );
            resp.headers_mut().insert("Sforce-Limit-Info", header(used));
            return resp;
        }
    };
    req.extensions_mut().insert(account);
    let mut resp = next.run(req).await;
    resp.headers_mut().insert("Sforce-Limit-Info", header(used));
    resp
}
