//! Validation of v2 request bodies as Pipedrive's stricter v2 API does it: known fields only,
//! numbers must be numbers (no coercion), booleans true/false, `name`/`title` required on create.

use serde_json::{json, Map, Value};

use super::store::PipedriveKind;

/// The type a writable field accepts.
#[derive(Debug, Clone, Copy)]
enum FieldType {
    Text,
    Int,
    Number,
    /// `[{value, primary?, label?}]`
    Contacts,
    /// `{value, street_number, route, locality, ...}`
    Address,
    IntList,
    Object,
    Choice(&'static [&'static str]),
    /// `YYYY-MM-DD`
    Date,
}

use FieldType::*;

const DEAL_STATUS: &[&str] = &["open", "won", "lost"];
const MARKETING_STATUS: &[&str] = &["no_consent", "unsubscribed", "subscribed", "archived"];

fn spec(kind: PipedriveKind) -> &'static [(&'static str, FieldType)] {
    match kind {
        PipedriveKind::Persons => &[
            ("name", Text),
            ("owner_id", Int),
            ("org_id", Int),
            ("emails", Contacts),
            ("phones", Contacts),
            ("label_ids", IntList),
            ("visible_to", Int),
            ("marketing_status", Choice(MARKETING_STATUS)),
            ("custom_fields", Object),
        ],
        PipedriveKind::Organizations => &[
            ("name", Text),
            ("owner_id", Int),
            ("address", Address),
            ("label_ids", IntList),
            ("visible_to", Int),
            ("custom_fields", Object),
        ],
        PipedriveKind::Deals => &[
            ("title", Text),
            ("owner_id", Int),
            ("person_id", Int),
            ("org_id", Int),
            ("pipeline_id", Int),
            ("stage_id", Int),
            ("value", Number),
            ("currency", Text),
            ("status", Choice(DEAL_STATUS)),
            ("probability", Number),
            ("lost_reason", Text),
            ("expected_close_date", Date),
            ("label_ids", IntList),
            ("visible_to", Int),
            ("custom_fields", Object),
        ],
    }
}

/// The field every create needs.
fn required(kind: PipedriveKind) -> &'static str {
    match kind {
        PipedriveKind::Deals => "title",
        _ => "name",
    }
}

/// Defaults of a new record (before the request's fields are applied).
fn defaults(kind: PipedriveKind) -> Map<String, Value> {
    let v = match kind {
        PipedriveKind::Persons => json!({
            "name": "", "owner_id": 1, "org_id": null, "emails": [], "phones": [],
            "label_ids": [], "picture_id": null, "visible_to": 3, "custom_fields": {},
        }),
        PipedriveKind::Organizations => json!({
            "name": "", "owner_id": 1, "address": null, "label_ids": [], "visible_to": 3,
            "custom_fields": {},
        }),
        PipedriveKind::Deals => json!({
            "title": "", "owner_id": 1, "person_id": null, "org_id": null, "pipeline_id": 1,
            "stage_id": 1, "value": 0, "currency": "USD", "status": "open", "probability": null,
            "lost_reason": null, "expected_close_date": null, "label_ids": [], "visible_to": 3,
            "custom_fields": {},
        }),
    };
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// The fields of a create body, with defaults, or the validation message.
pub fn for_create(kind: PipedriveKind, body: &Value) -> Result<Map<String, Value>, String> {
    let changes = for_update(kind, body)?;
    let req = required(kind);
    match changes.get(req).and_then(Value::as_str) {
        Some(s) if !s.trim().is_empty() => {}
        _ => {
            return Err(format!(
                "Validation failed: {req}: Parameter '{req}' is required"
            ))
        }
    }
    let mut fields = defaults(kind);
    fields.extend(changes);
    Ok(fields)
}

/// The validated, normalised fields of a create or patch body.
pub fn for_update(kind: PipedriveKind, body: &Value) -> Result<Map<String, Value>, String> {
    let Value::Object(m) = body else {
        return Err("Validation failed: request body must be a JSON object".into());
    };
    let spec = spec(kind);
    let mut out = Map::new();
    for (key, value) in m {
        let Some((_, ty)) = spec.iter().find(|(k, _)| k == key) else {
            return Err(format!(
                "Validation failed: {key}: Parameter '{key}' is not allowed for this request"
            ));
        };
        let norm = check(key, *ty, value)
            .map_err(|why| format!("Validation failed: {key}: Parameter '{key}' {why}"))?;
        out.insert(key.clone(), norm);
    }
    Ok(out)
}

fn check(key: &str, ty: FieldType, v: &Value) -> Result<Value, String> {
    let nullable = !matches!(key, "name" | "title");
    if v.is_null() {
        return if nullable {
            Ok(Value::Null)
        } else {
            Err("must not be null".into())
        };
    }
    match ty {
        Text => v
            .as_str()
            .map(|s| json!(s))
            .ok_or_else(|| "must be a string".into()),
        Int => v
            .as_i64()
            .map(|n| json!(n))
            .ok_or_else(|| "must be an integer".into()),
        Number => v
            .as_f64()
            .map(|_| v.clone())
            .ok_or_else(|| "must be a number".into()),
        Choice(options) => match v.as_str() {
            Some(s) if options.contains(&s) => Ok(json!(s)),
            _ => Err(format!("must be one of: {}", options.join(", "))),
        },
        Date => match v.as_str() {
            Some(s) if chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok() => Ok(json!(s)),
            _ => Err("must be a date in the format YYYY-MM-DD".into()),
        },
        IntList => match v {
            Value::Array(a) if a.iter().all(|x| x.as_i64().is_some()) => Ok(v.clone()),
            _ => Err("must be an array of integers".into()),
        },
        Object => match v {
            Value::Object(_) => Ok(v.clone()),
            _ => Err("must be an object".into()),
        },
        Address => address(v),
        Contacts => contacts(v),
    }
}

/// `[{value, primary, label}]`; the first entry becomes primary when none is.
fn contacts(v: &Value) -> Result<Value, String> {
    let Value::Array(items) = v else {
        return Err("must be an array of objects with a `value`".into());
    };
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let value = item
            .get("value")
            .and_then(Value::as_str)
            .ok_or("items must have a string `value`")?;
        let primary = match item.get("primary") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => return Err("items' `primary` must be a boolean".into()),
        };
        let label = match item.get("label") {
            None | Some(Value::Null) => "work",
            Some(Value::String(s)) => s.as_str(),
            Some(_) => return Err("items' `label` must be a string".into()),
        };
        out.push(json!({"value": value, "primary": primary, "label": label}));
    }
    if !out.is_empty() && !out.iter().any(|e| e["primary"] == true) {
        out[0]["primary"] = json!(true);
    }
    Ok(Value::Array(out))
}

const ADDRESS_PARTS: &[&str] = &[
    "value",
    "street_number",
    "route",
    "sublocality",
    "locality",
    "admin_area_level_1",
    "admin_area_level_2",
    "country",
    "postal_code",
    "formatted_address",
];

fn address(v: &Value) -> Result<Value, String> {
    let Value::Object(m) = v else {
        return Err("must be an object".into());
    };
    let mut out = Map::new();
    for part in ADDRESS_PARTS {
        let value = match m.get(*part) {
            None | Some(Value::Null) => Value::Null,
            Some(Value::String(s)) => json!(s),
            Some(_) => return Err(format!("`{part}` must be a string")),
        };
        out.insert((*part).to_owned(), value);
    }
    if let Some(k) = m.keys().find(|k| !ADDRESS_PARTS.contains(&k.as_str())) {
        return Err(format!("has an unknown part `{k}`"));
    }
    if out["formatted_address"].is_null() {
        out["formatted_address"] = out["value"].clone();
    }
    Ok(Value::Object(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_not_coerced_and_unknown_fields_are_refused() {
        let p = PipedriveKind::Persons;
        assert!(for_create(p, &json!({"name": "A", "org_id": "12"})).is_err());
        assert!(for_create(p, &json!({"name": "A", "firstname": "x"})).is_err());
        assert!(
            for_create(p, &json!({"org_id": 1})).is_err(),
            "name is required"
        );
        let ok = for_create(
            p,
            &json!({"name": "A B", "emails": [{"value": "a@x.test"}]}),
        )
        .unwrap();
        assert_eq!(ok["emails"][0]["primary"], true);
        assert_eq!(ok["visible_to"], 3);
        assert!(for_create(
            PipedriveKind::Deals,
            &json!({"title": "D", "status": "maybe"})
        )
        .is_err());
    }
}
