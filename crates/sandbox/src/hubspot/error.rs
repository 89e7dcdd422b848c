//! HubSpot's error body `{status:"error", message, correlationId, category, ...}`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use crate::clock::correlation_id;

/// An error response in HubSpot's shape.
pub fn hubspot_error(status: StatusCode, category: &str, message: impl Into<String>) -> Response {
    (
        status,
        Json(json!({
            "status": "error",
            "message": message.into(),
            "correlationId": correlation_id(),
            "category": category,
        })),
    )
        .into_response()
}

/// 404 for an id that does not exist.
pub fn not_found(id: &str) -> Response {
    (
        StatusCode::NOT_FOUND,
        Json(json!({
            "status": "error",
            "message": "Object not found.  objectId are usually numeric.",
            "correlationId": correlation_id(),
            "context": {"id": [id]},
            "category": "OBJECT_NOT_FOUND",
        })),
    )
        .into_response()
}

/// 400 VALIDATION_ERROR.
pub fn validation(message: impl Into<String>) -> Response {
    hubspot_error(StatusCode::BAD_REQUEST, "VALIDATION_ERROR", message)
}

/// Parses a JSON request body, answering HubSpot's 400 when it is not JSON.
pub fn parse_json(body: &[u8]) -> Result<Value, Response> {
    serde_json::from_slice(body).map_err(|e| validation(format!("Invalid input JSON: {e}")))
}

/// A 429 for a HubSpot rate-limit policy.
pub fn rate_limited(policy: &str, message: &str) -> Response {
    (
        StatusCode::TOO_MANY_REQUESTS,
        Json(json!({
            "status": "error",
            "message": message,
            "errorType": "RATE_LIMIT",
            "correlationId": correlation_id(),
            "policyName": policy,
        })),
    )
        .into_response()
}
