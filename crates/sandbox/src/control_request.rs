//! Shared pieces of the `/_sandbox` control-plane handlers: the error shape and the seed request.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use crate::control::MAX_SEED;

/// A control-plane error: `{"error": message}` with `status`.
pub(crate) fn err(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({"error": message.into()}))).into_response()
}

/// The body of a seed request: `count` (≤ [`MAX_SEED`], default 0), `seed` (default 1) and
/// `account` (default: the query's).
pub(crate) struct SeedRequest {
    pub count: u64,
    pub seed: u64,
    pub account: String,
}

impl SeedRequest {
    pub(crate) fn parse(body: &Value, query_account: &str) -> Result<SeedRequest, Response> {
        let count = body.get("count").and_then(Value::as_u64).unwrap_or(0);
        if count > MAX_SEED {
            return Err(err(
                StatusCode::BAD_REQUEST,
                format!("count must be ≤ {MAX_SEED}"),
            ));
        }
        Ok(SeedRequest {
            count,
            seed: body.get("seed").and_then(Value::as_u64).unwrap_or(1),
            account: body
                .get("account")
                .and_then(Value::as_str)
                .unwrap_or(query_account)
                .to_owned(),
        })
    }
}
