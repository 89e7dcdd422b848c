//! HubSpot associations carried in records: a deal's contact ids as `associations.contacts`
//! (`["<contact id>", ...]`) in its `fields`. Parsing of the v3 list `associations` block, the
//! v4 batch read (`POST /crm/v4/associations/{from}/{to}/batch/read`) and the v4 per-object
//! list (`GET /crm/v4/objects/{from}/{id}/associations/{to}`).

use std::collections::HashMap;

use fluxcascade_core::Record;
use serde_json::{json, Map, Value};

use super::records::HubspotObject;

/// The key in a record's `fields` that holds associated ids by object type.
pub const ASSOCIATIONS: &str = "associations";

/// Object types whose associated ids a record of `obj` carries (`deals` → `contacts`).
pub fn associated_types(obj: &HubspotObject) -> &'static [&'static str] {
    match obj.name {
        "deals" => &["contacts"],
        _ => &[],
    }
}

/// An id as text (HubSpot writes ids as strings or numbers depending on the endpoint).
fn id_text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Push `id` unless already there (HubSpot lists one id once per association type).
fn push_unique(ids: &mut Vec<String>, id: String) {
    if !ids.contains(&id) {
        ids.push(id);
    }
}

/// Associated ids of type `to` in a v3 object's `associations` block
/// (`{contacts: {results: [{id, type}]}}`), keyed by the object's id, for every result of a
/// list response.
pub fn v3_blocks(body: &Value, to: &str) -> HashMap<String, Vec<String>> {
    let mut out = HashMap::new();
    for r in body
        .get("results")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let Some(id) = id_text(r.get("id")) else {
            continue;
        };
        let mut ids = Vec::new();
        if let Some(Value::Array(list)) = r.pointer(&format!("/associations/{to}/results")) {
            for a in list {
                if let Some(t) = id_text(a.get("id")) {
                    push_unique(&mut ids, t);
                }
            }
        }
        out.insert(id, ids);
    }
    out
}

/// Body of a v4 batch read for `ids`, each with its paging cursor when continuing.
pub fn batch_read_body(inputs: &[(String, Option<String>)]) -> Value {
    let inputs: Vec<Value> = inputs
        .iter()
        .map(|(id, after)| match after {
            Some(a) => json!({"id": id, "after": a}),
            None => json!({"id": id}),
        })
        .collect();
    json!({ "inputs": inputs })
}

/// One v4 batch read response: associated ids by `from.id` (added to `into`), and the inputs
/// whose associations continue on another page. Accepts the v3 shape (`to[].id`) as well.
/// Ids HubSpot reports in `errors` (e.g. no associations) are simply absent.
pub fn parse_batch_read(
    body: &Value,
    into: &mut HashMap<String, Vec<String>>,
) -> Vec<(String, Option<String>)> {
    let mut more = Vec::new();
    for r in body
        .get("results")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let Some(from) = id_text(r.pointer("/from/id")) else {
            continue;
        };
        let ids = into.entry(from.clone()).or_default();
        for t in r.get("to").and_then(Value::as_array).into_iter().flatten() {
            if let Some(id) = id_text(t.get("toObjectId")).or_else(|| id_text(t.get("id"))) {
                push_unique(ids, id);
            }
        }
        if let Some(after) = id_text(r.pointer("/paging/next/after")) {
            more.push((from, Some(after)));
        }
    }
    more
}

/// Associated ids in a v4 per-object list response (`{results: [{toObjectId}]}`).
pub fn parse_v4_list(body: &Value) -> Vec<String> {
    let mut ids = Vec::new();
    for r in body
        .get("results")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(id) = id_text(r.get("toObjectId")).or_else(|| id_text(r.get("id"))) {
            push_unique(&mut ids, id);
        }
    }
    ids
}

/// Set `fields.associations.<to>` of every record to its ids (an empty array when it has none).
pub fn attach(records: &mut [Record], to: &str, ids: &HashMap<String, Vec<String>>) {
    for rec in records {
        let list: Vec<Value> = ids
            .get(&rec.id)
            .map(|v| v.iter().cloned().map(Value::String).collect())
            .unwrap_or_default();
        if !rec.fields.is_object() {
            rec.fields = Value::Object(Map::new());
        }
        let Some(fields) = rec.fields.as_object_mut() else {
            continue;
        };
        let block = fields
            .entry(ASSOCIATIONS)
            .or_insert_with(|| Value::Object(Map::new()));
        if !block.is_object() {
            *block = Value::Object(Map::new());
        }
        if let Some(b) = block.as_object_mut() {
            b.insert(to.to_owned(), Value::Array(list));
        }
    }
}

/// Record fields without `associations` (read-only here: never written back to HubSpot).
pub fn strip(fields: &Value) -> Value {
    match fields {
        Value::Object(m) if m.contains_key(ASSOCIATIONS) => {
            let mut m = m.clone();
            m.remove(ASSOCIATIONS);
            Value::Object(m)
        }
        other => other.clone(),
    }
}
