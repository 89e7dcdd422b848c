//! Jobber wire format ↔ `Record`: client and job nodes become records, record fields become
//! `ClientCreateInput` / `ClientEditInput`, and GraphQL payloads are unpacked.

use chrono::{DateTime, Utc};
use fluxcascade_core::Record;
use serde_json::{json, Map, Value};

use crate::ProviderError;

/// `ClientTitle` enum values.
const TITLES: &[&str] = &["MR", "MS", "MRS", "MISS", "DR"];
/// `EmailDescription` enum values.
const EMAIL_DESCRIPTIONS: &[&str] = &["MAIN", "WORK", "PERSONAL", "OTHER"];
/// `PhoneNumberDescription` enum values.
const PHONE_DESCRIPTIONS: &[&str] = &["MAIN", "WORK", "MOBILE", "HOME", "FAX", "OTHER"];
/// Code of a `WriteResult::Failed` for a bad or missing field value.
pub const INVALID: &str = "invalid_field";
/// Code of a `WriteResult::Failed` for a record (or one it refers to) that does not exist.
pub const NOT_FOUND: &str = "not_found";

/// `AddressAttributes` fields (clients' billing address, properties' address).
pub(crate) const ADDRESS_FIELDS: &[&str] = &[
    "street1",
    "street2",
    "city",
    "province",
    "postalCode",
    "country",
];
/// Scalar client fields written as they are.
const SCALARS: &[&str] = &["firstName", "lastName", "companyName", "isCompany"];

/// Nested references flattened into plain id fields: a job's `client { id }` becomes
/// `clientId`, its `property { id }` becomes `propertyId`.
const FLATTENED_REFS: &[(&str, &str)] = &[("client", "clientId"), ("property", "propertyId")];

/// A `Client` or `Job` node as a `Record`: `id` and `updatedAt` lifted out, the rest is
/// `fields` (with `client { id }` / `property { id }` flattened to `clientId` / `propertyId`).
pub fn parse_node(node: &Value) -> Result<Record, ProviderError> {
    let Value::Object(map) = node else {
        return Err(ProviderError::Permanent(
            "Jobber node is not an object".into(),
        ));
    };
    let mut fields = map.clone();
    let id = match fields.remove("id") {
        Some(Value::String(s)) => s,
        _ => return Err(ProviderError::Permanent("Jobber node without an id".into())),
    };
    let updated_at = fields
        .remove("updatedAt")
        .as_ref()
        .and_then(Value::as_str)
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|d| d.with_timezone(&Utc))
        .ok_or_else(|| {
            ProviderError::Permanent(format!("Jobber node {id} has no readable updatedAt"))
        })?;
    for (nested, flat) in FLATTENED_REFS {
        if let Some(Value::Object(r)) = fields.get(*nested) {
            if let Some(Value::String(ref_id)) = r.get("id") {
                let ref_id = Value::String(ref_id.clone());
                fields.remove(*nested);
                fields.insert((*flat).to_owned(), ref_id);
            }
        }
    }
    Ok(Record {
        id,
        updated_at,
        fields: Value::Object(fields),
        deleted: false,
    })
}

/// `data.<field>` of a GraphQL response.
pub fn data_field<'a>(body: &'a Value, field: &str) -> Result<&'a Value, ProviderError> {
    body.get("data")
        .and_then(|d| d.get(field))
        .ok_or_else(|| ProviderError::Permanent(format!("Jobber response without data.{field}")))
}

/// A connection (`{nodes, pageInfo}`) as records and the next cursor.
pub fn parse_connection(conn: &Value) -> Result<(Vec<Record>, Option<String>), ProviderError> {
    parse_connection_with(conn, parse_node)
}

/// A connection's `nodes`, each through `parse`, and the cursor of the next page if any.
pub(crate) fn parse_connection_with(
    conn: &Value,
    parse: impl Fn(&Value) -> Result<Record, ProviderError>,
) -> Result<(Vec<Record>, Option<String>), ProviderError> {
    let records = match conn.get("nodes") {
        Some(Value::Array(nodes)) => nodes.iter().map(parse).collect::<Result<Vec<_>, _>>()?,
        _ => {
            return Err(ProviderError::Permanent(
                "Jobber connection without nodes".into(),
            ))
        }
    };
    let has_next = conn
        .pointer("/pageInfo/hasNextPage")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let cursor = conn
        .pointer("/pageInfo/endCursor")
        .and_then(Value::as_str)
        .map(str::to_owned);
    Ok((records, if has_next { cursor } else { None }))
}

/// A per-record write failure with one of the codes above.
pub(crate) fn failed(code: &str, message: impl Into<String>) -> crate::WriteResult {
    crate::WriteResult::Failed {
        code: code.to_owned(),
        message: message.into(),
    }
}

/// The answer to an edit with nothing Jobber can change: the record as stored (`found`, read by
/// id), or `NOT_FOUND` when there is no such `what`.
pub(crate) fn as_stored(
    found: Result<Option<Record>, ProviderError>,
    what: &str,
    id: &str,
) -> Result<crate::WriteResult, ProviderError> {
    match found {
        Ok(Some(rec)) => Ok(crate::WriteResult::Ok(rec)),
        Ok(None) | Err(ProviderError::Permanent(_)) => Ok(failed(
            NOT_FOUND,
            format!("Jobber {what} {id} does not exist"),
        )),
        Err(e) => Err(e),
    }
}

/// The outcome of a client create/edit payload: the stored client, or the joined `userErrors`.
pub fn parse_mutation_payload(payload: &Value) -> Result<Result<Record, String>, ProviderError> {
    parse_payload(payload, "client")
}

/// The joined `userErrors` of a mutation payload, if it has any.
pub fn user_errors(payload: &Value) -> Option<String> {
    if let Some(Value::Array(errors)) = payload.get("userErrors") {
        if !errors.is_empty() {
            let msgs: Vec<String> = errors
                .iter()
                .map(|e| {
                    let msg = e
                        .get("message")
                        .and_then(Value::as_str)
                        .unwrap_or("rejected");
                    let path: Vec<&str> = e
                        .get("path")
                        .and_then(Value::as_array)
                        .map(|p| p.iter().filter_map(Value::as_str).collect())
                        .unwrap_or_default();
                    if path.is_empty() {
                        msg.to_owned()
                    } else {
                        format!("{}: {msg}", path.join("."))
                    }
                })
                .collect();
            return Some(msgs.join("; "));
        }
    }
    None
}

/// The outcome of a create/edit payload: the node under `key` (`client`, `job`) as stored,
/// or the joined `userErrors`.
pub fn parse_payload(payload: &Value, key: &str) -> Result<Result<Record, String>, ProviderError> {
    if let Some(msg) = user_errors(payload) {
        return Ok(Err(msg));
    }
    match payload.get(key) {
        Some(c) if c.is_object() => parse_node(c).map(Ok),
        _ => Ok(Err(format!(
            "Jobber returned neither a {key} nor userErrors"
        ))),
    }
}

fn enum_value(
    v: &Value,
    allowed: &[&str],
    fallback: Option<&str>,
) -> Result<Option<Value>, String> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) if s.trim().is_empty() => Ok(None),
        Value::String(s) => {
            let up = s.trim().trim_end_matches('.').to_ascii_uppercase();
            if allowed.contains(&up.as_str()) {
                Ok(Some(Value::String(up)))
            } else if let Some(f) = fallback {
                Ok(Some(Value::String(f.to_owned())))
            } else {
                Err(format!("`{s}` is not one of {}", allowed.join(", ")))
            }
        }
        other => Err(format!("expected a string, got {other}")),
    }
}

/// The scalar, title and billing-address part shared by create and edit inputs.
fn common_input(fields: &Map<String, Value>) -> Result<Map<String, Value>, String> {
    let mut input = Map::new();
    for key in SCALARS {
        match fields.get(*key) {
            None => {}
            Some(Value::Bool(b)) if *key == "isCompany" => {
                input.insert((*key).into(), Value::Bool(*b));
            }
            Some(v) if *key == "isCompany" => {
                return Err(format!("isCompany must be a boolean, got {v}"))
            }
            Some(Value::Null) => {
                input.insert((*key).into(), Value::String(String::new()));
            }
            Some(Value::String(s)) => {
                input.insert((*key).into(), Value::String(s.clone()));
            }
            Some(Value::Number(n)) => {
                input.insert((*key).into(), Value::String(n.to_string()));
            }
            Some(v) => return Err(format!("{key} must be a string, got {v}")),
        }
    }
    if let Some(t) = fields.get("title") {
        if let Some(t) = enum_value(t, TITLES, None).map_err(|e| format!("title: {e}"))? {
            input.insert("title".into(), t);
        }
    }
    match fields.get("billingAddress") {
        None | Some(Value::Null) => {}
        Some(Value::Object(addr)) => {
            let mut out = Map::new();
            for key in ADDRESS_FIELDS {
                match addr.get(*key) {
                    None => {}
                    Some(Value::String(s)) => {
                        out.insert((*key).into(), Value::String(s.clone()));
                    }
                    Some(Value::Null) => {
                        out.insert((*key).into(), Value::String(String::new()));
                    }
                    Some(Value::Number(n)) => {
                        out.insert((*key).into(), Value::String(n.to_string()));
                    }
                    Some(v) => {
                        return Err(format!("billingAddress.{key} must be a string, got {v}"))
                    }
                }
            }
            input.insert("billingAddress".into(), Value::Object(out));
        }
        Some(v) => return Err(format!("billingAddress must be an object, got {v}")),
    }
    Ok(input)
}

/// Which list: emails (`address`, `EmailDescription`) or phones (`number`, `PhoneNumberDescription`).
#[derive(Clone, Copy)]
enum Contact {
    Email,
    Phone,
}

impl Contact {
    fn value_key(self) -> &'static str {
        match self {
            Contact::Email => "address",
            Contact::Phone => "number",
        }
    }
    fn descriptions(self) -> &'static [&'static str] {
        match self {
            Contact::Email => EMAIL_DESCRIPTIONS,
            Contact::Phone => PHONE_DESCRIPTIONS,
        }
    }
    fn list_key(self) -> &'static str {
        match self {
            Contact::Email => "emails",
            Contact::Phone => "phones",
        }
    }
}

/// One email/phone entry as `EmailCreateAttributes` / `PhoneNumberCreateAttributes`
/// (without `id`), or `None` for an entry with no address/number.
fn contact_attributes(kind: Contact, entry: &Value) -> Result<Option<Map<String, Value>>, String> {
    let list = kind.list_key();
    let entry = match entry {
        Value::Object(m) => m.clone(),
        // A bare string is the address/number itself.
        Value::String(s) => {
            let mut m = Map::new();
            m.insert(kind.value_key().into(), Value::String(s.clone()));
            m
        }
        Value::Null => return Ok(None),
        other => return Err(format!("{list} entries must be objects, got {other}")),
    };
    let value = match entry.get(kind.value_key()) {
        Some(Value::String(s)) if !s.trim().is_empty() => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        None | Some(Value::Null) | Some(Value::String(_)) => return Ok(None),
        Some(v) => {
            return Err(format!(
                "{list}[].{} must be a string, got {v}",
                kind.value_key()
            ))
        }
    };
    let mut out = Map::new();
    out.insert(kind.value_key().into(), Value::String(value));
    if let Some(d) = entry.get("description") {
        if let Some(d) = enum_value(d, kind.descriptions(), Some("OTHER"))
            .map_err(|e| format!("{list}[].description: {e}"))?
        {
            out.insert("description".into(), d);
        }
    }
    if let Some(p) = entry.get("primary") {
        match p {
            Value::Bool(b) => {
                out.insert("primary".into(), Value::Bool(*b));
            }
            Value::Null => {}
            v => return Err(format!("{list}[].primary must be a boolean, got {v}")),
        }
    }
    if let (Contact::Phone, Some(Value::Bool(b))) = (kind, entry.get("smsAllowed")) {
        out.insert("smsAllowed".into(), Value::Bool(*b));
    }
    Ok(Some(out))
}

/// An email/phone entry: its Jobber id when the record carries one, and its attributes.
type ContactEntry = (Option<String>, Map<String, Value>);

fn contact_list(
    kind: Contact,
    fields: &Map<String, Value>,
) -> Result<Option<Vec<ContactEntry>>, String> {
    match fields.get(kind.list_key()) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => {
            let mut out = Vec::new();
            for item in items {
                let id = item.get("id").and_then(Value::as_str).map(str::to_owned);
                if let Some(attrs) = contact_attributes(kind, item)? {
                    out.push((id, attrs));
                }
            }
            Ok(Some(out))
        }
        Some(v) => Err(format!("{} must be an array, got {v}", kind.list_key())),
    }
}

fn as_object(fields: &Value) -> Result<&Map<String, Value>, String> {
    fields
        .as_object()
        .ok_or_else(|| "Jobber record fields must be a JSON object".to_owned())
}

/// Record fields → `ClientCreateInput`. Errors are record-level (bad value for a field).
pub fn client_create_input(fields: &Value) -> Result<Value, String> {
    let fields = as_object(fields)?;
    let mut input = common_input(fields)?;
    for kind in [Contact::Email, Contact::Phone] {
        if let Some(list) = contact_list(kind, fields)? {
            let items: Vec<Value> = list.into_iter().map(|(_, a)| Value::Object(a)).collect();
            input.insert(kind.list_key().into(), Value::Array(items));
        }
    }
    Ok(Value::Object(input))
}

/// Record fields → `ClientEditInput`, given the client as stored (`current`, its `fields`).
///
/// Emails and phones are matched to the stored ones by `id` when the entry has one, else by
/// position: a changed entry goes to `emailsToEdit`/`phonesToEdit` with the stored id, an
/// unchanged one is left alone, an extra one goes to `emailsToAdd`/`phonesToAdd`. Stored
/// entries the record does not mention are kept (a mapping usually writes only `emails[0]`).
pub fn client_edit_input(fields: &Value, current: Option<&Value>) -> Result<Value, String> {
    let fields = as_object(fields)?;
    let mut input = common_input(fields)?;
    for kind in [Contact::Email, Contact::Phone] {
        let Some(list) = contact_list(kind, fields)? else {
            continue;
        };
        let stored: Vec<&Value> = current
            .and_then(|c| c.get(kind.list_key()))
            .and_then(Value::as_array)
            .map(|a| a.iter().collect())
            .unwrap_or_default();
        let (mut to_add, mut to_edit) = (Vec::new(), Vec::new());
        for (pos, (id, attrs)) in list.into_iter().enumerate() {
            let existing = match &id {
                Some(id) => stored
                    .iter()
                    .find(|s| s.get("id").and_then(Value::as_str) == Some(id))
                    .copied(),
                None => stored.get(pos).copied(),
            };
            let existing_id = existing
                .and_then(|e| e.get("id"))
                .and_then(Value::as_str)
                .map(str::to_owned);
            match (existing, existing_id.or(id)) {
                (Some(e), _) if attrs.iter().all(|(k, v)| same_value(e.get(k), v)) => {}
                (_, Some(id)) => {
                    let mut a = attrs;
                    a.insert("id".into(), Value::String(id));
                    to_edit.push(Value::Object(a));
                }
                (_, None) => to_add.push(Value::Object(attrs)),
            }
        }
        let (add_key, edit_key) = match kind {
            Contact::Email => ("emailsToAdd", "emailsToEdit"),
            Contact::Phone => ("phonesToAdd", "phonesToEdit"),
        };
        if !to_add.is_empty() {
            input.insert(add_key.into(), Value::Array(to_add));
        }
        if !to_edit.is_empty() {
            input.insert(edit_key.into(), Value::Array(to_edit));
        }
    }
    Ok(Value::Object(input))
}

/// Stored values compare case-insensitively for enum descriptions.
fn same_value(stored: Option<&Value>, wanted: &Value) -> bool {
    match (stored, wanted) {
        (Some(Value::String(a)), Value::String(b)) => a == b || a.eq_ignore_ascii_case(b),
        (Some(a), b) => a == b,
        (None, _) => false,
    }
}

/// Whether an edit needs the stored client (to match emails/phones to their ids).
pub fn edit_needs_current(fields: &Value) -> bool {
    fields.get("emails").is_some_and(|v| !v.is_null())
        || fields.get("phones").is_some_and(|v| !v.is_null())
}

/// GraphQL request body.
pub fn request(query: &str, variables: Value) -> Value {
    json!({ "query": query, "variables": variables })
}
