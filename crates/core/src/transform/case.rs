//! `uppercase` / `lowercase`: Unicode case mapping of a string value.

use super::TransformError;
use serde_json::Value;

pub(crate) fn upper(v: &Value) -> Result<Value, TransformError> {
    match v {
        Value::String(s) => Ok(Value::String(s.to_uppercase())),
        other => Err(TransformError::invalid_type("uppercase", "a string", other)),
    }
}

pub(crate) fn lower(v: &Value) -> Result<Value, TransformError> {
    match v {
        Value::String(s) => Ok(Value::String(s.to_lowercase())),
        other => Err(TransformError::invalid_type("lowercase", "a string", other)),
    }
}
