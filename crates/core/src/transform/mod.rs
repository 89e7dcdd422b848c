//! Field transforms (`uppercase`, `phone_e164`, `date_iso`, ...): parsed once from a mapping's spec, applied per record.

mod case;
mod concat;
mod date;
mod name;
mod options;
mod phone;

pub use name::NamePart;

use serde_json::Value;

/// The transform names a field pair may use.
pub const TRANSFORM_NAMES: [&str; 6] = [
    "uppercase",
    "lowercase",
    "phone_e164",
    "date_iso",
    "split_name",
    "concatenate",
];

/// A transform with its options checked and resolved.
#[derive(Debug, Clone, PartialEq)]
pub enum Transform {
    Uppercase,
    Lowercase,
    /// E.164 (`+14155550123`); `region` is used for numbers written without a country code.
    PhoneE164 {
        region: phonenumber::country::Id,
    },
    /// ISO 8601; see [`date`](self) rules in `transform/date.rs`.
    DateIso {
        timezone: Option<chrono_tz::Tz>,
    },
    SplitName {
        part: NamePart,
    },
    /// Joins all of the pair's `sourceFields`.
    Concatenate {
        separator: String,
    },
}

/// A transform name or option that is not valid. `field` is relative to the
/// field pair: `transform` or `transformOptions.region`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct SpecError {
    pub field: String,
    pub message: String,
}

/// A value the transform cannot handle. `code` is machine-readable:
/// `invalid_phone`, `invalid_date`, `invalid_type`, `invalid_name`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct TransformError {
    pub code: String,
    pub message: String,
}

impl TransformError {
    pub(crate) fn new(code: &str, message: impl Into<String>) -> TransformError {
        TransformError {
            code: code.to_string(),
            message: message.into(),
        }
    }

    pub(crate) fn invalid_type(transform: &str, expected: &str, got: &Value) -> TransformError {
        TransformError::new(
            "invalid_type",
            format!("{transform} expects {expected}, got {}", kind_of(got)),
        )
    }
}

pub(crate) fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

impl Transform {
    /// Resolves a transform from its name and `transformOptions`. Unknown
    /// names, unknown option keys and invalid option values are errors.
    pub fn from_spec(name: &str, options: Option<&Value>) -> Result<Transform, SpecError> {
        let opts = options::Options::new(options)?;
        let t = match name {
            "uppercase" => Transform::Uppercase,
            "lowercase" => Transform::Lowercase,
            "phone_e164" => Transform::PhoneE164 {
                region: phone::region_option(&opts)?,
            },
            "date_iso" => Transform::DateIso {
                timezone: date::timezone_option(&opts)?,
            },
            "split_name" => Transform::SplitName {
                part: name::part_option(&opts)?,
            },
            "concatenate" => Transform::Concatenate {
                separator: opts.string("separator")?.unwrap_or_else(|| " ".to_string()),
            },
            other => {
                return Err(SpecError {
                    field: "transform".into(),
                    message: format!(
                        "unknown transform '{other}'; expected one of {}",
                        TRANSFORM_NAMES.join(", ")
                    ),
                })
            }
        };
        opts.reject_unknown(name)?;
        Ok(t)
    }

    /// The spec name of this transform.
    pub fn name(&self) -> &'static str {
        match self {
            Transform::Uppercase => "uppercase",
            Transform::Lowercase => "lowercase",
            Transform::PhoneE164 { .. } => "phone_e164",
            Transform::DateIso { .. } => "date_iso",
            Transform::SplitName { .. } => "split_name",
            Transform::Concatenate { .. } => "concatenate",
        }
    }

    /// Whether the transform reads all of `sourceFields` (else one `sourceField`).
    pub fn takes_many(&self) -> bool {
        matches!(self, Transform::Concatenate { .. })
    }

    /// Applies the transform. `inputs` holds one entry per source path, `None`
    /// when the path is absent in the record. Every transform except
    /// `concatenate` reads only the first input and passes a missing or null
    /// value through as `null`, and a blank string through as `""` (the
    /// engine's `required` check handles both).
    pub fn apply(&self, inputs: &[Option<&Value>]) -> Result<Value, TransformError> {
        if let Transform::Concatenate { separator } = self {
            return concat::apply(inputs, separator);
        }
        let v = match inputs.first().copied().flatten() {
            None | Some(Value::Null) => return Ok(Value::Null),
            Some(v) => v,
        };
        // A blank string is an unset field in most CRMs (HubSpot sends `""`):
        // format transforms pass it through instead of failing the record.
        if matches!(
            self,
            Transform::PhoneE164 { .. } | Transform::DateIso { .. }
        ) && v.as_str().is_some_and(|s| s.trim().is_empty())
        {
            return Ok(Value::String(String::new()));
        }
        match self {
            Transform::Uppercase => case::upper(v),
            Transform::Lowercase => case::lower(v),
            Transform::PhoneE164 { region } => phone::apply(v, *region),
            Transform::DateIso { timezone } => date::apply(v, *timezone),
            Transform::SplitName { part } => name::apply(v, *part),
            Transform::Concatenate { .. } => Ok(Value::Null),
        }
    }
}

#[cfg(test)]
mod tests;
