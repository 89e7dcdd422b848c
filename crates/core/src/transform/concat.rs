//! `concatenate`: joins all source values with a separator, skipping missing, null and blank parts.

use super::TransformError;
use serde_json::Value;

/// Strings are trimmed; numbers and booleans are written as JSON prints
/// them; arrays and objects are an `invalid_type` error. All parts empty
/// gives `""` (which a `required` pair rejects).
pub(crate) fn apply(inputs: &[Option<&Value>], separator: &str) -> Result<Value, TransformError> {
    let mut parts: Vec<String> = Vec::with_capacity(inputs.len());
    for v in inputs.iter().copied().flatten() {
        let part = match v {
            Value::Null => continue,
            Value::String(s) => s.trim().to_string(),
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            other => {
                return Err(TransformError::invalid_type(
                    "concatenate",
                    "strings, numbers or booleans",
                    other,
                ))
            }
        };
        if !part.is_empty() {
            parts.push(part);
        }
    }
    Ok(Value::String(parts.join(separator)))
}
