//! `phone_e164`: phone numbers to E.164 (`+14155550123`) through the `phonenumber` crate.

use super::options::Options;
use super::{SpecError, TransformError};
use phonenumber::country::Id;
use phonenumber::Mode;
use serde_json::Value;

/// Longer inputs are not phone numbers; refusing them early bounds parse work.
const MAX_LEN: usize = 64;

/// The `region` option: an ISO 3166 alpha-2 code the phone metadata knows, default `US`.
pub(crate) fn region_option(opts: &Options<'_>) -> Result<Id, SpecError> {
    match opts.string("region")? {
        None => Ok(Id::US),
        Some(r) => parse_region(&r).ok_or_else(|| {
            SpecError::option(
                "region",
                &format!("'{r}' is not a known region code (e.g. US, GB, DE)"),
            )
        }),
    }
}

/// A two-letter region code (case-insensitive) the phone metadata has data for.
pub fn parse_region(r: &str) -> Option<Id> {
    let upper = r.trim().to_ascii_uppercase();
    if upper.len() != 2 || !upper.chars().all(|c| c.is_ascii_alphabetic()) {
        return None;
    }
    let id: Id = upper.parse().ok()?;
    // Only regions with metadata can parse national numbers.
    phonenumber::metadata::DATABASE.by_id(id.as_ref())?;
    Some(id)
}

/// Strings (any common national or international format) and integers are
/// accepted; a blank string passes through as `""`. A number that does not
/// parse or is not a valid number for its region is `invalid_phone`.
pub(crate) fn apply(v: &Value, region: Id) -> Result<Value, TransformError> {
    let raw = match v {
        Value::String(s) => s.trim().to_string(),
        Value::Number(n) if n.is_u64() => n.to_string(),
        other => {
            return Err(TransformError::invalid_type(
                "phone_e164",
                "a string",
                other,
            ))
        }
    };
    if raw.is_empty() {
        return Ok(Value::String(String::new()));
    }
    let invalid = || {
        TransformError::new(
            "invalid_phone",
            format!(
                "'{}' is not a valid phone number (default region {})",
                shorten(&raw),
                region.as_ref()
            ),
        )
    };
    if raw.chars().count() > MAX_LEN {
        return Err(invalid());
    }
    let number = phonenumber::parse(Some(region), &raw).map_err(|_| invalid())?;
    if !phonenumber::is_valid(&number) {
        return Err(invalid());
    }
    Ok(Value::String(number.format().mode(Mode::E164).to_string()))
}

fn shorten(s: &str) -> String {
    if s.chars().count() > 40 {
        format!("{}…", s.chars().take(40).collect::<String>())
    } else {
        s.to_string()
    }
}
