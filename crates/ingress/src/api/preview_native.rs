//! Preview records in the providers' native shapes, read as the adapters read them.
//!
//! The shape is chosen by the provider of the records' endpoint (the mapping's source, or its
//! target for `target_to_source`): HubSpot `{id, properties: {...}}` (fields = `properties`),
//! Salesforce `{attributes: {type, url}, Id, ...}` (fields = everything but `attributes`),
//! Pipedrive objects (fields = the whole object, as the adapter keeps it) and Jobber nodes
//! (fields = the node without `id`/`updatedAt`, `client {id}` → `clientId`, `property {id}` →
//! `propertyId`). The wrapped `{"id"?, "fields": {...}}` is accepted for every provider. A HubSpot
//! or Salesforce record in neither shape is refused naming `records[i]`: reading it as fields
//! would silently report every mapped field missing.

use fluxcascade_core::ProviderKind;
use serde_json::{Map, Value};

use crate::error::ErrorDetail;

/// Jobber's nested references flattened the way the Jobber adapter flattens them.
const JOBBER_FLATTENED_REFS: &[(&str, &str)] =
    &[("client", "clientId"), ("property", "propertyId")];

/// A native record of `kind` as `(id, fields)`, or why it is not one (naming `records[i]`).
pub fn native(
    kind: ProviderKind,
    i: usize,
    map: &Map<String, Value>,
) -> Result<(Option<String>, Value), ErrorDetail> {
    let at = format!("records[{i}]");
    match kind {
        ProviderKind::Hubspot => match map.get("properties") {
            Some(Value::Object(props)) => Ok((
                map.get("id").and_then(id_text),
                Value::Object(props.clone()),
            )),
            _ => Err(ErrorDetail::new(
                at,
                "not a HubSpot record: expected {\"id\", \"properties\": {...}} (as HubSpot \
                 returns it) or {\"id\", \"fields\": {...}}",
            )),
        },
        ProviderKind::Salesforce => {
            if !matches!(map.get("attributes"), Some(Value::Object(_))) && !map.contains_key("Id") {
                return Err(ErrorDetail::new(
                    at,
                    "not a Salesforce record: expected {\"attributes\": {\"type\", \"url\"}, \
                     \"Id\", ...fields} (as Salesforce returns it) or {\"id\", \"fields\": {...}}",
                ));
            }
            let mut fields = map.clone();
            fields.remove("attributes");
            Ok((map.get("Id").and_then(id_text), Value::Object(fields)))
        }
        ProviderKind::Pipedrive => {
            Ok((map.get("id").and_then(id_text), Value::Object(map.clone())))
        }
        ProviderKind::Jobber => {
            let mut fields = map.clone();
            let id = fields.remove("id").as_ref().and_then(id_text);
            fields.remove("updatedAt");
            for (nested, flat) in JOBBER_FLATTENED_REFS {
                let ref_id = match fields.get(*nested) {
                    Some(Value::Object(r)) => r.get("id").and_then(id_text),
                    _ => None,
                };
                if let Some(ref_id) = ref_id {
                    fields.remove(*nested);
                    fields.insert((*flat).to_owned(), Value::String(ref_id));
                }
            }
            Ok((id, Value::Object(fields)))
        }
    }
}

/// A record id given as a string or a number (Pipedrive ids are numbers).
pub fn id_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}
