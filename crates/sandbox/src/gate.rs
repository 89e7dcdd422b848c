//! Middleware in front of the provider APIs: stats, latency, injected errors, auth, rate limits.

use std::time::Duration;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use rand::Rng;
use serde_json::json;

use crate::auth::{bearer, TokenCheck};
use crate::clock::correlation_id;
use crate::hubspot::limit::{HubspotAdmission, DAILY_LIMIT};
use crate::hubspot::{self, error::rate_limited};
use crate::state::{lock, Provider, SharedState};

/// Route template for stats: the matched path without the provider prefix, with
/// `{object_type}`/`{to_type}` replaced by the requested object types.
fn endpoint_name(req: &Request, provider: Provider) -> String {
    let method = req.method().as_str().to_owned();
    let Some(matched) = req.extensions().get::<MatchedPath>() else {
        return format!("{method} (unmatched)");
    };
    // Inside the nested router the URI has lost the provider prefix; the template has not.
    let prefix = format!("/{}", provider.as_str());
    let template = matched.as_str();
    let template = template.strip_prefix(&prefix).unwrap_or(template);
    let actual = req.uri().path();
    let actual = actual.strip_prefix(&prefix).unwrap_or(actual);
    let mut path = String::with_capacity(template.len());
    for (i, (t, a)) in template.split('/').zip(actual.split('/')).enumerate() {
        if i > 0 {
            path.push('/');
        }
        path.push_str(if t == "{object_type}" || t == "{to_type}" {
            a
        } else {
            t
        });
    }
    format!("{method} {path}")
}

async fn common(state: SharedState, provider: Provider, req: Request, next: Next) -> Response {
    let endpoint = endpoint_name(&req, provider);
    let latency = state.config().latency_ms;
    if latency > 0 {
        tokio::time::sleep(Duration::from_millis(latency)).await;
    }
    let resp = next.run(req).await;
    state
        .stats
        .record_request(provider.as_str(), endpoint, resp.status().as_u16());
    resp
}

/// Stats and latency for every HubSpot route.
pub async fn hubspot_common(
    State(state): State<SharedState>,
    req: Request,
    next: Next,
) -> Response {
    common(state, Provider::Hubspot, req, next).await
}

/// Stats and latency for every Jobber route.
pub async fn jobber_common(State(state): State<SharedState>, req: Request, next: Next) -> Response {
    common(state, Provider::Jobber, req, next).await
}

fn inject_error(error_rate: f64) -> bool {
    error_rate > 0.0 && rand::thread_rng().gen::<f64>() < error_rate
}

/// HubSpot data endpoints: error injection, bearer auth, rate limits.
pub async fn hubspot_api(
    State(state): State<SharedState>,
    mut req: Request,
    next: Next,
) -> Response {
    let cfg = state.config();
    if inject_error(cfg.error_rate) {
        return hubspot::error::hubspot_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "INTERNAL_ERROR",
            "internal error",
        );
    }
    let check = match bearer(req.headers()) {
        Some(t) => state.tokens.check_access(Provider::Hubspot, t),
        None => TokenCheck::Unknown,
    };
    let account = match check {
        TokenCheck::Valid { account } => state.hubspot.get_or_create(&account),
        TokenCheck::Expired { seconds_ago } => {
            return hubspot::error::hubspot_error(
                StatusCode::UNAUTHORIZED,
                "EXPIRED_AUTHENTICATION",
                format!("The OAuth token used to make this call expired {seconds_ago} second(s) ago."),
            )
        }
        TokenCheck::Unknown => {
            return hubspot::error::hubspot_error(
                StatusCode::UNAUTHORIZED,
                "INVALID_AUTHENTICATION",
                "Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview",
            )
        }
    };
    let limits = &cfg.rate_limits;
    let mut remaining = None;
    let mut daily_used = 0;
    if limits.enabled {
        let is_search = req.uri().path().ends_with("/search");
        let admission = {
            let mut limiter = lock(&account.limiter);
            let a = limiter.admit(
                is_search,
                limits.hubspot.ten_secondly,
                limits.hubspot.search_per_second,
            );
            daily_used = limiter.daily_used;
            a
        };
        match admission {
            HubspotAdmission::Allowed { remaining: r } => remaining = Some(r),
            HubspotAdmission::TenSecondly => {
                let mut resp = rate_limited(
                    "TEN_SECONDLY_ROLLING",
                    "You have reached your ten_secondly_rolling limit.",
                );
                add_hubspot_headers(&mut resp, limits.hubspot.ten_secondly, 0);
                return resp;
            }
            HubspotAdmission::Secondly => {
                return rate_limited("SECONDLY", "You have reached your secondly limit.")
            }
        }
    }
    req.extensions_mut().insert(account);
    let mut resp = next.run(req).await;
    if let Some(r) = remaining {
        add_hubspot_headers(&mut resp, limits.hubspot.ten_secondly, r);
        let h = resp.headers_mut();
        h.insert("X-HubSpot-RateLimit-Daily", HeaderValue::from(DAILY_LIMIT));
        h.insert(
            "X-HubSpot-RateLimit-Daily-Remaining",
            HeaderValue::from(DAILY_LIMIT.saturating_sub(daily_used)),
        );
    }
    resp
}

fn add_hubspot_headers(resp: &mut Response, max: u32, remaining: u32) {
    let h = resp.headers_mut();
    h.insert("X-HubSpot-RateLimit-Max", HeaderValue::from(max));
    h.insert(
        "X-HubSpot-RateLimit-Remaining",
        HeaderValue::from(remaining),
    );
    h.insert(
        "X-HubSpot-RateLimit-Interval-Milliseconds",
        HeaderValue::from_static("10000"),
    );
}

/// Jobber GraphQL endpoint: error injection, version header, bearer auth.
pub async fn jobber_api(
    State(state): State<SharedState>,
    mut req: Request,
    next: Next,
) -> Response {
    let cfg = state.config();
    if inject_error(cfg.error_rate) {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"message": "Service Unavailable", "requestId": correlation_id()})),
        )
            .into_response();
    }
    let check = match bearer(req.headers()) {
        Some(t) => state.tokens.check_access(Provider::Jobber, t),
        None => TokenCheck::Unknown,
    };
    let account = match check {
        TokenCheck::Valid { account } => state.jobber.get_or_create(&account),
        TokenCheck::Expired { .. } => return jobber_unauthorized("Access token expired"),
        TokenCheck::Unknown => return jobber_unauthorized("Access token invalid"),
    };
    if req.headers().get("x-jobber-graphql-version").is_none() {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"errors": [{
                "message": "Missing required header X-JOBBER-GRAPHQL-VERSION",
                "extensions": {"code": "BAD_REQUEST"}
            }]})),
        )
            .into_response();
    }
    req.extensions_mut().insert(account);
    next.run(req).await
}

/// Jobber answers a bad token with 401 `invalid_request`.
fn jobber_unauthorized(message: &str) -> Response {
    (
        StatusCode::UNAUTHORIZED,
        Json(json!({"error": "invalid_request", "message": message})),
    )
        .into_response()
}
