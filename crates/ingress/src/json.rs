//! JSON request bodies: parsing with field paths (`credentials.accessToken`) for 422 details.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use serde::de::DeserializeOwned;
use serde_json::error::Category;

use fluxcascade_core::limits::{json_depth, MAX_JSON_DEPTH};

use crate::error::{ApiError, ErrorDetail};

/// A JSON body parsed into `T`: malformed JSON is 400 `bad_json`, a missing or wrongly typed
/// field is 422 `invalid` naming the field, a body over the limit is 413.
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::too_large()
            } else {
                ApiError::bad_request(rejection.body_text())
            }
        })?;
        parse_slice(&bytes).map(ApiJson)
    }
}

/// Parses a whole body: first as JSON (any syntax error, trailing garbage included, is 400),
/// then into `T` (422 naming the field).
///
/// Before parsing, the nesting depth is bounded ([`MAX_JSON_DEPTH`]: 422 naming `body`), so no
/// parser, serializer or destructor recurses on a tenant's input; after parsing, a NUL anywhere
/// (which Postgres cannot store) is 422 naming the field.
pub fn parse_slice<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if json_depth(bytes, MAX_JSON_DEPTH) > MAX_JSON_DEPTH {
        return Err(ApiError::invalid(vec![ErrorDetail::new(
            "body",
            format!("JSON is nested deeper than {MAX_JSON_DEPTH} levels"),
        )]));
    }
    let value: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|e| ApiError::bad_json(format!("malformed JSON: {e}")))?;
    if let Some(field) = find_nul(&value) {
        return Err(ApiError::invalid(vec![ErrorDetail::new(
            field,
            "must not contain NUL characters",
        )]));
    }
    from_value(value)
}

/// The path (`records[0].fields.name`, `body` for the root) of the first string or key holding
/// a NUL character, walking with an explicit stack (no recursion on input depth).
pub fn find_nul(value: &serde_json::Value) -> Option<String> {
    use serde_json::Value;
    let mut stack: Vec<(String, &Value)> = vec![(String::new(), value)];
    while let Some((path, v)) = stack.pop() {
        let name = |p: &str| {
            if p.is_empty() {
                "body".to_string()
            } else {
                p.to_string()
            }
        };
        match v {
            Value::String(s) if s.contains('\0') => return Some(name(&path)),
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate().rev() {
                    stack.push((format!("{path}[{i}]"), item));
                }
            }
            Value::Object(map) => {
                for (k, item) in map {
                    let child = if path.is_empty() {
                        k.clone()
                    } else {
                        format!("{path}.{k}")
                    };
                    if k.contains('\0') {
                        return Some(name(&path));
                    }
                    stack.push((child, item));
                }
            }
            _ => {}
        }
    }
    None
}

/// Deserializes an already-parsed value (PATCH merges), naming the failing field.
pub fn from_value<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(value).map_err(map_error)
}

fn map_error(e: serde_path_to_error::Error<serde_json::Error>) -> ApiError {
    let path = e.path().to_string();
    let inner = e.into_inner();
    match inner.classify() {
        Category::Syntax | Category::Eof | Category::Io => {
            ApiError::bad_json(format!("malformed JSON: {inner}"))
        }
        Category::Data => {
            let message = strip_position(&inner.to_string());
            ApiError::invalid(vec![ErrorDetail::new(field_path(&path, &message), message)])
        }
    }
}

/// serde reports a missing field at its parent's path; the detail names the field itself.
fn field_path(path: &str, message: &str) -> String {
    let parent = if path == "." { "" } else { path };
    let missing = message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.split('`').next());
    match (parent, missing) {
        ("", Some(field)) => field.to_string(),
        (parent, Some(field)) => format!("{parent}.{field}"),
        ("", None) => "body".to_string(),
        (parent, None) => parent.to_string(),
    }
}

/// Drops serde_json's " at line 1 column 20" suffix: the detail already names the field.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) if message[i..].contains(" column ") => message[..i].to_string(),
        _ => message.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "camelCase")]
    #[allow(dead_code)]
    struct Outer {
        provider: String,
        credentials: Creds,
        #[serde(default)]
        items: Vec<Creds>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "camelCase")]
    #[allow(dead_code)]
    struct Creds {
        access_token: String,
    }

    fn detail(e: &ApiError) -> (&str, &str) {
        (e.details[0].field.as_str(), e.details[0].message.as_str())
    }

    #[test]
    fn deep_nesting_and_nul_are_422_naming_the_field() {
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        let e = parse_slice::<serde_json::Value>(deep.as_bytes()).unwrap_err();
        assert_eq!(e.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(e.details[0].field, "body");
        let e = parse_slice::<Outer>(
            br#"{"provider":"h","credentials":{"accessToken":"x"},"items":[{"accessToken":"a\u0000"}]}"#,
        )
        .unwrap_err();
        assert_eq!(e.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(detail(&e).0, "items[0].accessToken");
        let e = parse_slice::<serde_json::Value>(br#"{"a\u0000":1}"#).unwrap_err();
        assert_eq!(detail(&e).0, "body");
        assert!(parse_slice::<serde_json::Value>(br#"{"a":"line\nbreak"}"#).is_ok());
    }

    #[test]
    fn syntax_errors_are_400() {
        let e = parse_slice::<Outer>(b"{\"provider\": ").unwrap_err();
        assert_eq!((e.status, e.code), (StatusCode::BAD_REQUEST, "bad_json"));
        let e = parse_slice::<Outer>(b"{} trailing").unwrap_err();
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
        let e = parse_slice::<Outer>(b"").unwrap_err();
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
    }

    #[test]
    fn missing_nested_field_names_the_field() {
        let e = parse_slice::<Outer>(br#"{"provider":"hubspot","credentials":{}}"#).unwrap_err();
        assert_eq!(e.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(
            detail(&e),
            ("credentials.accessToken", "missing field `accessToken`")
        );
        let e = parse_slice::<Outer>(br#"{"credentials":{"accessToken":"x"}}"#).unwrap_err();
        assert_eq!(detail(&e).0, "provider");
    }

    #[test]
    fn wrong_type_names_the_path() {
        let e = parse_slice::<Outer>(
            br#"{"provider":"h","credentials":{"accessToken":"x"},"items":[{"accessToken":1}]}"#,
        )
        .unwrap_err();
        assert_eq!(e.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(detail(&e).0, "items[0].accessToken");
        assert!(!detail(&e).1.contains("line"), "{}", detail(&e).1);
        let e = parse_slice::<Outer>(b"\"text\"").unwrap_err();
        assert_eq!(detail(&e).0, "body");
    }
}
