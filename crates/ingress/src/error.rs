//! The API's error type and its JSON shape `{"error": {"code", "message", "details"}}`.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use fluxcascade_store::StoreError;
use serde::Serialize;

/// The `Retry-After` (seconds) of every 503: the broker or the database is saturated or down.
pub const RETRY_AFTER_SECS: u64 = 5;

/// One problem with one field of a request (`fieldPairs[2].transform`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    pub field: String,
    pub message: String,
}

impl ErrorDetail {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> ErrorDetail {
        ErrorDetail {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// An error answered to an API client.
#[derive(Debug, thiserror::Error)]
#[error("{status} {code}: {message}")]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub details: Vec<ErrorDetail>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            details: Vec::new(),
        }
    }

    pub fn bad_json(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "bad_json", message)
    }

    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    /// 422 with every problem found.
    pub fn invalid(details: Vec<ErrorDetail>) -> ApiError {
        let message = match details.as_slice() {
            [one] => format!("{}: {}", one.field, one.message),
            _ => format!("the request has {} invalid fields", details.len()),
        };
        ApiError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            code: "invalid",
            message,
            details,
        }
    }

    /// 422 naming one field.
    pub fn invalid_field(field: impl Into<String>, message: impl Into<String>) -> ApiError {
        ApiError::invalid(vec![ErrorDetail::new(field, message)])
    }

    pub fn unauthorized() -> ApiError {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "a valid API key is required: Authorization: Bearer <key>",
        )
    }

    pub fn forbidden() -> ApiError {
        ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "this API key's role may only read",
        )
    }

    pub fn not_found() -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such resource")
    }

    /// 404 `provider_not_configured`: this deployment has no app credentials for the provider,
    /// so it serves neither its OAuth nor its webhook receiver.
    pub fn provider_not_configured(kind: fluxcascade_core::ProviderKind) -> ApiError {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "provider_not_configured",
            format!("{kind} is not configured on this deployment"),
        )
    }

    pub fn conflict(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::CONFLICT, "conflict", message)
    }

    pub fn too_large() -> ApiError {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            "the request body is too large",
        )
    }

    pub fn unavailable(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message)
    }

    pub fn internal() -> ApiError {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error",
        )
    }

    /// A generic error for a bare status (used to turn axum's plain-text answers into JSON).
    pub fn from_status(status: StatusCode) -> ApiError {
        let code = match status {
            StatusCode::BAD_REQUEST => "bad_request",
            StatusCode::UNAUTHORIZED => "unauthorized",
            StatusCode::FORBIDDEN => "forbidden",
            StatusCode::NOT_FOUND => "not_found",
            StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
            StatusCode::CONFLICT => "conflict",
            StatusCode::PAYLOAD_TOO_LARGE => "too_large",
            StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
            StatusCode::UNPROCESSABLE_ENTITY => "invalid",
            StatusCode::TOO_MANY_REQUESTS => "rate_limited",
            StatusCode::SERVICE_UNAVAILABLE => "unavailable",
            s if s.is_client_error() => "bad_request",
            _ => "internal",
        };
        let message = status.canonical_reason().unwrap_or("error").to_string();
        ApiError::new(status, code, message)
    }
}

/// The shape of every error answer, as `/openapi.json` documents it (the response itself is
/// written from [`ApiError`] without copying).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct ErrorBody {
    error: ErrorObject,
}

/// `error` of [`ErrorBody`]: a stable `code` (`not_found`, `invalid`, ...), a message for people,
/// for 422 the fields at fault, and the request's `X-Request-Id` (quote it when reporting a problem).
#[derive(utoipa::ToSchema, Serialize)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct ErrorObject {
    code: String,
    message: String,
    details: Vec<ErrorDetail>,
    /// The id of the request, as in its `X-Request-Id` response header.
    request_id: Option<String>,
}

#[derive(Serialize)]
struct Body<'a> {
    error: Inner<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Inner<'a> {
    code: &'a str,
    message: &'a str,
    details: &'a [ErrorDetail],
    #[serde(skip_serializing_if = "Option::is_none")]
    request_id: Option<String>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Body {
            error: Inner {
                code: self.code,
                message: &self.message,
                details: &self.details,
                request_id: crate::request_id::current(),
            },
        };
        let text = serde_json::to_string(&body).unwrap_or_else(|_| {
            r#"{"error":{"code":"internal","message":"internal error","details":[]}}"#.to_string()
        });
        let mut resp = (self.status, text).into_response();
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            // Backpressure (broker blocked or slow, database pool exhausted): come back later.
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
        }
        resp
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        match e {
            StoreError::NotFound => ApiError::not_found(),
            StoreError::Conflict(message) => ApiError::conflict(message),
            e if e.is_transient() => {
                tracing::warn!(error = %e, "database unavailable");
                ApiError::unavailable("the database is unavailable; retry later")
            }
            e => {
                tracing::error!(error = %e, "store error");
                ApiError::internal()
            }
        }
    }
}

/// Middleware: any error answer without a JSON body (axum's 405, a rejected body) gets the JSON
/// error shape; the console's own HTML pages are left as they are.
pub async fn ensure_json_errors(resp: Response) -> Response {
    let status = resp.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return resp;
    }
    let is_json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json") || v.starts_with("text/html"));
    if is_json {
        return resp;
    }
    let allow = resp.headers().get(header::ALLOW).cloned();
    let mut out = ApiError::from_status(status).into_response();
    if let Some(allow) = allow {
        out.headers_mut().insert(header::ALLOW, allow);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_errors_map_to_statuses() {
        assert_eq!(
            ApiError::from(StoreError::NotFound).status,
            StatusCode::NOT_FOUND
        );
        let conflict = ApiError::from(StoreError::Conflict("busy".into()));
        assert_eq!(conflict.status, StatusCode::CONFLICT);
        assert_eq!(conflict.message, "busy");
        let corrupt = ApiError::from(StoreError::Corrupt("secret detail".into()));
        assert_eq!(corrupt.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(
            !corrupt.message.contains("secret"),
            "internal details are not shown to clients"
        );
    }

    #[test]
    fn unavailable_answers_say_when_to_come_back() {
        let resp = ApiError::unavailable("the job queue is unavailable").into_response();
        assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(resp.headers()[header::RETRY_AFTER], "5");
        assert_eq!(resp.headers()[header::CONTENT_TYPE], "application/json");
        let other = ApiError::not_found().into_response();
        assert!(other.headers().get(header::RETRY_AFTER).is_none());
    }

    #[test]
    fn invalid_names_the_field_in_the_message() {
        let e = ApiError::invalid_field("provider", "unknown provider");
        assert_eq!(e.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(e.message, "provider: unknown provider");
        assert_eq!(
            e.details,
            vec![ErrorDetail::new("provider", "unknown provider")]
        );
    }
}
