//! The REST API client of the user commands: base URL, bearer key, bounded JSON answers, and an
//! error that carries the API's `code`, `message` and the fields at fault.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde::Deserialize;
use serde_json::Value;

/// The largest answer read from the API (a page of 100 items is far below it).
pub const MAX_RESPONSE_BYTES: usize = 16 * 1024 * 1024;

/// The API key: never shown by `Debug` or `Display`.
/// An API key: the workspace's one secret type (redacted in `Debug`, read with `expose`).
pub type ApiKey = fluxcascade_providers::Secret;

/// One field the API named in a 4xx answer.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

/// Why a call to the API did not give an answer to use.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The API answered an error (`{"error": {"code", "message", "details"}}`).
    #[error("{}", api_error_text(.status, .code, .message, .details))]
    Api {
        status: StatusCode,
        code: String,
        message: String,
        details: Vec<FieldError>,
    },
    /// The API could not be reached (or stopped answering).
    #[error("could not reach the FluxCascade API at {url}: {reason}")]
    Network { url: String, reason: String },
    /// A success answer that is not JSON or is too large.
    #[error("the FluxCascade API at {url} gave an unreadable answer: {reason}")]
    Unreadable { url: String, reason: String },
}

impl ClientError {
    /// Worth another try when following a run: the network, a 429/502/503/504.
    pub fn is_transient(&self) -> bool {
        match self {
            ClientError::Network { .. } => true,
            ClientError::Api { status, .. } => matches!(
                *status,
                StatusCode::TOO_MANY_REQUESTS
                    | StatusCode::BAD_GATEWAY
                    | StatusCode::SERVICE_UNAVAILABLE
                    | StatusCode::GATEWAY_TIMEOUT
            ),
            ClientError::Unreadable { .. } => false,
        }
    }
}

/// `message (field: f)` and the code, then one line per field when there are several.
fn api_error_text(
    status: &StatusCode,
    code: &str,
    message: &str,
    details: &[FieldError],
) -> String {
    let mut out = message.to_string();
    match details {
        [] => {}
        [one] => out.push_str(&format!(" (field: {})", one.field)),
        many => {
            let fields: Vec<&str> = many.iter().map(|d| d.field.as_str()).collect();
            out.push_str(&format!(" (fields: {})", fields.join(", ")));
        }
    }
    out.push_str(&format!(" [{code}, HTTP {}]", status.as_u16()));
    if details.len() > 1 {
        for d in details {
            out.push_str(&format!("\n  {}: {}", d.field, d.message));
        }
    }
    out
}

/// Reads the API's error body; a body without the shape still gives the status and its text.
fn api_error(status: StatusCode, text: &str) -> ClientError {
    #[derive(Deserialize)]
    struct Body {
        error: Inner,
    }
    #[derive(Deserialize)]
    struct Inner {
        #[serde(default)]
        code: String,
        #[serde(default)]
        message: String,
        #[serde(default)]
        details: Vec<FieldError>,
    }
    match serde_json::from_str::<Body>(text) {
        Ok(b) => ClientError::Api {
            status,
            code: if b.error.code.is_empty() {
                "error".into()
            } else {
                b.error.code
            },
            message: b.error.message,
            details: b.error.details,
        },
        Err(_) => {
            let mut message: String = text.trim().chars().take(200).collect();
            if message.is_empty() {
                message = status.canonical_reason().unwrap_or("error").into();
            }
            ClientError::Api {
                status,
                code: "error".into(),
                message,
                details: Vec::new(),
            }
        }
    }
}

/// An error and its causes on one line (reqwest's own text hides the cause: "connection refused").
fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

/// A client of one organization's API.
#[derive(Debug, Clone)]
pub struct ApiClient {
    base: String,
    key: ApiKey,
    http: reqwest::Client,
}

impl ApiClient {
    pub fn new(base: &str, key: ApiKey) -> anyhow::Result<ApiClient> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .connect_timeout(Duration::from_secs(10))
            .build()?;
        Ok(ApiClient {
            base: base.trim_end_matches('/').to_string(),
            key,
            http,
        })
    }

    pub async fn get(&self, path: &str, query: &[(&str, String)]) -> Result<Value, ClientError> {
        self.call(Method::GET, path, query, None).await
    }

    pub async fn post(&self, path: &str, body: Option<&Value>) -> Result<Value, ClientError> {
        self.call(Method::POST, path, &[], body).await
    }

    pub async fn delete(&self, path: &str) -> Result<Value, ClientError> {
        self.call(Method::DELETE, path, &[], None).await
    }

    /// One request; a 2xx answer's JSON (`null` for an empty body, as a 204 has).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> Result<Value, ClientError> {
        let url = format!("{}{path}", self.base);
        let mut request = self
            .http
            .request(method, &url)
            .bearer_auth(self.key.expose());
        if !query.is_empty() {
            request = request.query(query);
        }
        if let Some(b) = body {
            request = request.json(b);
        }
        let network = |e: reqwest::Error| ClientError::Network {
            url: url.clone(),
            reason: chain(&e.without_url()),
        };
        let mut response = request.send().await.map_err(network)?;
        let status = response.status();
        let mut bytes = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(network)? {
            if bytes.len() + chunk.len() > MAX_RESPONSE_BYTES {
                return Err(ClientError::Unreadable {
                    url,
                    reason: format!("the answer is over {MAX_RESPONSE_BYTES} bytes"),
                });
            }
            bytes.extend_from_slice(&chunk);
        }
        let text = String::from_utf8_lossy(&bytes);
        if !status.is_success() {
            return Err(api_error(status, &text));
        }
        if text.trim().is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_str(&text).map_err(|e| ClientError::Unreadable {
            url,
            reason: format!("not JSON ({e})"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_invalid_answer_names_its_field_and_code() {
        let e = api_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            r#"{"error":{"code":"invalid","message":"fieldPairs[0].transform: unknown transform 'nope'","details":[{"field":"fieldPairs[0].transform","message":"unknown transform 'nope'"}]}}"#,
        );
        assert_eq!(
            e.to_string(),
            "fieldPairs[0].transform: unknown transform 'nope' (field: fieldPairs[0].transform) [invalid, HTTP 422]"
        );
        assert!(!e.is_transient());
    }

    #[test]
    fn several_fields_are_each_listed() {
        let e = api_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            r#"{"error":{"code":"invalid","message":"the request has 2 invalid fields","details":[{"field":"name","message":"too long"},{"field":"source.object","message":"unknown object"}]}}"#,
        );
        let text = e.to_string();
        assert!(
            text.starts_with("the request has 2 invalid fields (fields: name, source.object)"),
            "{text}"
        );
        assert!(text.contains("\n  source.object: unknown object"), "{text}");
    }

    #[test]
    fn a_body_without_the_error_shape_still_gives_the_status() {
        let e = api_error(StatusCode::BAD_GATEWAY, "");
        assert_eq!(e.to_string(), "Bad Gateway [error, HTTP 502]");
        assert!(e.is_transient());
        let e = api_error(
            StatusCode::CONFLICT,
            r#"{"error":{"code":"already_replayed"}}"#,
        );
        assert!(e.to_string().contains("already_replayed"), "{e}");
    }

    #[test]
    fn the_key_never_shows_in_debug() {
        let client = ApiClient::new("http://127.0.0.1:1/", ApiKey::new("fc_secret")).unwrap();
        assert_eq!(client.base, "http://127.0.0.1:1");
        assert!(!format!("{client:?}").contains("fc_secret"));
    }

    #[tokio::test]
    async fn an_unreachable_api_is_named_by_its_url() {
        let client = ApiClient::new("http://127.0.0.1:1", ApiKey::new("k")).unwrap();
        let e = client.get("/v1/org", &[]).await.unwrap_err();
        assert!(e.is_transient());
        let text = e.to_string();
        assert!(text.contains("http://127.0.0.1:1/v1/org"), "{text}");
    }
}
