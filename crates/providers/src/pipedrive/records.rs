//! Pipedrive API v2 wire format ↔ `Record`: the objects, parsing entities and list pages, and
//! turning record fields into a v2 create/update body.

use chrono::{DateTime, NaiveDateTime, Utc};
use fluxcascade_core::Record;
use serde_json::{Map, Value};

use crate::ProviderError;

/// Most records one v2 list page returns.
pub const MAX_LIMIT: u32 = 500;
/// Most ids one `ids` filter takes.
pub const MAX_IDS: usize = 100;

/// What the adapter needs to know about one Pipedrive entity type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PipedriveObject {
    /// Path segment: `persons`, `organizations`, `deals`.
    pub name: &'static str,
    /// Singular name used by webhooks (`person`).
    pub entity: &'static str,
    /// The field a create requires (`name`, or `title` for deals).
    pub required: &'static str,
}

const OBJECTS: &[PipedriveObject] = &[
    PipedriveObject {
        name: "persons",
        entity: "person",
        required: "name",
    },
    PipedriveObject {
        name: "organizations",
        entity: "organization",
        required: "name",
    },
    PipedriveObject {
        name: "deals",
        entity: "deal",
        required: "title",
    },
];

/// Fields Pipedrive computes itself; a write that carries them would be refused.
const READ_ONLY: &[&str] = &[
    "id",
    "add_time",
    "update_time",
    "is_deleted",
    "first_name",
    "last_name",
    "picture_id",
    "company_id",
    "creator_user_id",
    "stage_change_time",
    "close_time",
    "won_time",
    "lost_time",
    "first_won_time",
    "archive_time",
    "is_archived",
    "origin",
    "origin_id",
    "channel",
    "channel_id",
    "next_activity_id",
    "last_activity_id",
];

/// Fields v2 accepts only as numbers (it no longer coerces strings).
const NUMERIC: &[&str] = &[
    "owner_id",
    "org_id",
    "person_id",
    "stage_id",
    "pipeline_id",
    "visible_to",
    "value",
    "probability",
];

/// The object spec for `name`, or a permanent error for an object this adapter does not sync.
pub fn object(name: &str) -> Result<&'static PipedriveObject, ProviderError> {
    OBJECTS.iter().find(|o| o.name == name).ok_or_else(|| {
        ProviderError::Permanent(format!("Pipedrive object `{name}` is not supported"))
    })
}

/// A v2 time (RFC 3339), or v1's `YYYY-MM-DD HH:MM:SS` in UTC.
pub fn parse_time(v: &Value) -> Option<DateTime<Utc>> {
    let s = v.as_str()?;
    DateTime::parse_from_rfc3339(s)
        .map(|d| d.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S")
                .ok()
                .map(|n| n.and_utc())
        })
}

/// An entity as a `Record`: the numeric id as a string, `update_time` as the record's time,
/// the whole v2 object as its fields.
pub fn parse_record(obj: &PipedriveObject, v: &Value) -> Result<Record, ProviderError> {
    let id = match v.get("id") {
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        _ => {
            return Err(ProviderError::Permanent(format!(
                "Pipedrive {} without an id",
                obj.entity
            )))
        }
    };
    let updated_at = v
        .get("update_time")
        .and_then(parse_time)
        .or_else(|| v.get("add_time").and_then(parse_time))
        .ok_or_else(|| {
            ProviderError::Permanent(format!(
                "Pipedrive {} {id} has no readable update_time",
                obj.entity
            ))
        })?;
    if !v.is_object() {
        return Err(ProviderError::Permanent(format!(
            "Pipedrive {} {id} is not an object",
            obj.entity
        )));
    }
    Ok(Record {
        id,
        updated_at,
        fields: v.clone(),
        deleted: false,
    })
}

/// `data` and `additional_data.next_cursor` of a v2 list answer.
pub fn parse_list(
    obj: &PipedriveObject,
    body: &Value,
) -> Result<(Vec<Record>, Option<String>), ProviderError> {
    let records = match body.get("data") {
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| parse_record(obj, v))
            .collect::<Result<Vec<_>, _>>()?,
        None | Some(Value::Null) => Vec::new(),
        Some(_) => {
            return Err(ProviderError::Permanent(
                "Pipedrive `data` is not an array".into(),
            ))
        }
    };
    let next = match body.pointer("/additional_data/next_cursor") {
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        _ => None,
    };
    Ok((records, next))
}

/// Whether an update must read the record first: it names only one of `first_name` and
/// `last_name` (Pipedrive keeps one `name`), so the other half has to come from the record.
pub fn needs_current_name(obj: &PipedriveObject, fields: &Value) -> bool {
    obj.name == "persons"
        && fields.get("name").is_none()
        && (fields.get("first_name").is_some() != fields.get("last_name").is_some())
}

fn text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.trim().to_owned()),
        Value::Null => None,
        other => Some(other.to_string()),
    }
}

/// The v2 body for record `fields`: read-only fields dropped, numeric strings made numbers, and
/// for persons `first_name`/`last_name` joined into `name` (taking the missing half from
/// `current`, the record as stored). Returns the refusal message for a body v2 cannot take.
pub fn write_body(
    obj: &PipedriveObject,
    fields: &Value,
    current: Option<&Value>,
    creating: bool,
) -> Result<Value, String> {
    let Value::Object(m) = fields else {
        return Err("Pipedrive record fields must be a JSON object".into());
    };
    let mut out = Map::new();
    for (k, v) in m {
        if READ_ONLY.contains(&k.as_str()) {
            continue;
        }
        let v = match v {
            Value::String(s) if NUMERIC.contains(&k.as_str()) => {
                let n: serde_json::Number = s
                    .trim()
                    .parse()
                    .map_err(|_| format!("Pipedrive field `{k}` must be a number, got `{s}`"))?;
                Value::Number(n)
            }
            other => other.clone(),
        };
        out.insert(k.clone(), v);
    }
    if obj.name == "persons" && !m.contains_key("name") {
        let first = m.get("first_name");
        let last = m.get("last_name");
        if first.is_some() || last.is_some() {
            let first = text(first).or_else(|| text(current.and_then(|c| c.get("first_name"))));
            let last = text(last).or_else(|| text(current.and_then(|c| c.get("last_name"))));
            let name = [first, last]
                .into_iter()
                .flatten()
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
                .join(" ");
            out.insert("name".into(), Value::String(name));
        }
    }
    if creating {
        let ok = out
            .get(obj.required)
            .and_then(Value::as_str)
            .is_some_and(|s| !s.trim().is_empty());
        if !ok {
            return Err(format!(
                "a Pipedrive {} needs a non-empty `{}`",
                obj.entity, obj.required
            ));
        }
    }
    Ok(Value::Object(out))
}
