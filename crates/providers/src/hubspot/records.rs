//! HubSpot wire format ↔ `Record`: object specs, parsing `SimplePublicObject`s, property values,
//! search bodies and the opaque page token of incremental (search) reads.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, TimeZone, Utc};
use fluxcascade_core::Record;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::ProviderError;

/// Most inputs one batch call takes, and most records one list page returns.
pub const MAX_BATCH: usize = 100;
/// Most results one search page returns.
pub const MAX_SEARCH_LIMIT: u32 = 200;
/// HubSpot search refuses to page past this many results of one query.
pub const SEARCH_RESULT_CAP: u64 = 10_000;

/// What the adapter needs to know about one HubSpot object type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HubspotObject {
    /// Path segment: `contacts`, `companies`, `deals`.
    pub name: &'static str,
    /// The property holding the last-modified time.
    pub modified_property: &'static str,
    /// Properties fetched when the caller names none.
    pub default_properties: &'static [&'static str],
}

const OBJECTS: &[HubspotObject] = &[
    HubspotObject {
        name: "contacts",
        modified_property: "lastmodifieddate",
        default_properties: &[
            "email",
            "firstname",
            "lastname",
            "phone",
            "company",
            "createdate",
            "lastmodifieddate",
        ],
    },
    HubspotObject {
        name: "companies",
        modified_property: "hs_lastmodifieddate",
        default_properties: &[
            "name",
            "domain",
            "phone",
            "city",
            "createdate",
            "hs_lastmodifieddate",
        ],
    },
    HubspotObject {
        name: "deals",
        modified_property: "hs_lastmodifieddate",
        default_properties: &[
            "dealname",
            "amount",
            "dealstage",
            "pipeline",
            "closedate",
            "createdate",
            "hs_lastmodifieddate",
        ],
    },
];

/// The object spec for `name`, or a permanent error for an object this adapter does not sync.
pub fn object(name: &str) -> Result<&'static HubspotObject, ProviderError> {
    OBJECTS.iter().find(|o| o.name == name).ok_or_else(|| {
        ProviderError::Permanent(format!("HubSpot object `{name}` is not supported"))
    })
}

/// The properties to ask for: the caller's, else the defaults, always with the modified date.
pub fn properties_for(obj: &HubspotObject, wanted: &[String]) -> Vec<String> {
    let mut props: Vec<String> = if wanted.is_empty() {
        obj.default_properties
            .iter()
            .map(|s| (*s).to_owned())
            .collect()
    } else {
        wanted.to_vec()
    };
    if !props.iter().any(|p| p == obj.modified_property) {
        props.push(obj.modified_property.to_owned());
    }
    props
}

/// Parse a HubSpot timestamp: ISO 8601, or epoch milliseconds as a string or number.
pub fn parse_time(v: &Value) -> Option<DateTime<Utc>> {
    match v {
        Value::String(s) => DateTime::parse_from_rfc3339(s)
            .map(|d| d.with_timezone(&Utc))
            .ok()
            .or_else(|| {
                s.parse::<i64>()
                    .ok()
                    .and_then(|ms| Utc.timestamp_millis_opt(ms).single())
            }),
        Value::Number(n) => n
            .as_i64()
            .and_then(|ms| Utc.timestamp_millis_opt(ms).single()),
        _ => None,
    }
}

/// A `SimplePublicObject` as a `Record`: `properties` become `fields`, `updatedAt` the
/// record's time (falling back to the modified-date property).
pub fn parse_object(obj: &HubspotObject, v: &Value) -> Result<Record, ProviderError> {
    let id = match v.get("id") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => {
            return Err(ProviderError::Permanent(format!(
                "HubSpot {} without an id",
                obj.name
            )))
        }
    };
    let fields = match v.get("properties") {
        Some(Value::Object(m)) => Value::Object(m.clone()),
        None | Some(Value::Null) => Value::Object(Map::new()),
        Some(_) => {
            return Err(ProviderError::Permanent(format!(
                "HubSpot {} {id}: `properties` is not an object",
                obj.name
            )))
        }
    };
    let updated_at = v
        .get("updatedAt")
        .and_then(parse_time)
        .or_else(|| fields.get(obj.modified_property).and_then(parse_time))
        .ok_or_else(|| {
            ProviderError::Permanent(format!(
                "HubSpot {} {id} has no readable updatedAt",
                obj.name
            ))
        })?;
    Ok(Record {
        id,
        updated_at,
        fields,
        deleted: false,
    })
}

/// `results` of a list, search or batch response, parsed.
pub fn parse_results(obj: &HubspotObject, body: &Value) -> Result<Vec<Record>, ProviderError> {
    match body.get("results") {
        Some(Value::Array(items)) => items.iter().map(|v| parse_object(obj, v)).collect(),
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(_) => Err(ProviderError::Permanent(
            "HubSpot `results` is not an array".into(),
        )),
    }
}

/// `paging.next.after`, when there is a next page.
pub fn next_after(body: &Value) -> Option<String> {
    match body.pointer("/paging/next/after")? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// HubSpot property values are strings: numbers and booleans are written as their text,
/// `null` as `""` (which clears the property). Nested values are refused.
pub fn to_properties(fields: &Value) -> Result<Map<String, Value>, String> {
    let Value::Object(m) = fields else {
        return Err("HubSpot record fields must be a JSON object".into());
    };
    let mut out = Map::new();
    for (k, v) in m {
        let s = match v {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            Value::Null => String::new(),
            Value::Array(_) | Value::Object(_) => {
                return Err(format!(
                    "HubSpot property `{k}` must be a string, number or boolean"
                ))
            }
        };
        out.insert(k.clone(), Value::String(s));
    }
    Ok(out)
}

/// Where an incremental (search) read stands: the query's lower bound on the modified date
/// (epoch ms) and the offset within that query.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchToken {
    /// `GTE` filter value, epoch milliseconds.
    pub anchor: i64,
    /// HubSpot's `after` within the query anchored at `anchor`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
}

/// Prefix that marks a search token, so a full-read token is never mistaken for one.
const SEARCH_TOKEN_PREFIX: &str = "s1.";

impl SearchToken {
    pub fn encode(&self) -> String {
        // Serialising two plain fields cannot fail; fall back to an anchor-only token anyway.
        let json = serde_json::to_vec(self)
            .unwrap_or_else(|_| format!("{{\"anchor\":{}}}", self.anchor).into_bytes());
        format!("{SEARCH_TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(json))
    }

    /// Whether `token` came from an incremental read (full reads use HubSpot's `after`).
    pub fn is_search_token(token: &str) -> bool {
        token.starts_with(SEARCH_TOKEN_PREFIX)
    }

    pub fn decode(token: &str) -> Result<SearchToken, ProviderError> {
        let bad = || ProviderError::Permanent(format!("invalid HubSpot page token `{token}`"));
        let b64 = token.strip_prefix(SEARCH_TOKEN_PREFIX).ok_or_else(bad)?;
        let bytes = URL_SAFE_NO_PAD.decode(b64).map_err(|_| bad())?;
        serde_json::from_slice(&bytes).map_err(|_| bad())
    }
}

/// The body of `POST /crm/v3/objects/{type}/search` for one incremental page.
pub fn search_body(
    obj: &HubspotObject,
    token: &SearchToken,
    properties: &[String],
    limit: u32,
) -> Value {
    let mut body = json!({
        "filterGroups": [{"filters": [{
            "propertyName": obj.modified_property,
            "operator": "GTE",
            "value": token.anchor.to_string(),
        }]}],
        "sorts": [{"propertyName": obj.modified_property, "direction": "ASCENDING"}],
        "properties": properties,
        "limit": limit,
    });
    if let Some(after) = &token.after {
        body["after"] = Value::String(after.clone());
    }
    body
}

/// The token for the page after a search page, or `None` when the read is complete.
///
/// HubSpot refuses `after` ≥ 10,000 within one query, so before that the query is
/// re-anchored on the last modified date seen (records sharing that time are read again;
/// the engine tolerates duplicates).
pub fn next_search_token(
    obj: &HubspotObject,
    current: &SearchToken,
    records: &[Record],
    next_after: Option<String>,
    limit: u32,
) -> Option<SearchToken> {
    let after = next_after?;
    let offset: Option<u64> = after.parse().ok();
    let would_pass_cap = offset.is_some_and(|o| o + u64::from(limit) > SEARCH_RESULT_CAP);
    if !would_pass_cap {
        return Some(SearchToken {
            anchor: current.anchor,
            after: Some(after),
        });
    }
    let last = records
        .iter()
        .filter_map(|r| {
            r.fields
                .get(obj.modified_property)
                .and_then(parse_time)
                .or(Some(r.updated_at))
        })
        .map(|t| t.timestamp_millis())
        .max()?;
    let anchor = if last > current.anchor {
        last
    } else {
        // 10,000 records share one millisecond: step past it rather than loop forever.
        tracing::warn!(
            anchor = current.anchor,
            object = obj.name,
            "HubSpot search window full of one timestamp, stepping 1 ms"
        );
        current.anchor + 1
    };
    Some(SearchToken {
        anchor,
        after: None,
    })
}
