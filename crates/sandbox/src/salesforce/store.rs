//! In-memory records of one sObject type in one org: create, update, delete, validation of
//! written fields (Salesforce's per-record error codes) and JSON rendering.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};

use super::schema::{make_id, to18, FieldSpec, FieldType, SObjectKind, API_VERSION};

/// One stored record.
#[derive(Debug, Clone)]
pub struct SfRecord {
    pub seq: u64,
    pub id: String,
    pub created_ms: i64,
    /// SystemModstamp (and LastModifiedDate), whole seconds.
    pub modstamp_ms: i64,
    pub fields: BTreeMap<&'static str, Value>,
    /// In the recycle bin (`IsDeleted`): only `queryAll` still returns it.
    pub deleted: bool,
}

/// A per-record error as Salesforce reports it (`statusCode`/`errorCode`, message, fields).
#[derive(Debug, Clone, PartialEq)]
pub struct SfError {
    pub code: &'static str,
    pub message: String,
    pub fields: Vec<String>,
}

impl SfError {
    pub fn new(code: &'static str, message: impl Into<String>, fields: &[&str]) -> Self {
        SfError {
            code,
            message: message.into(),
            fields: fields.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    /// `{statusCode, message, fields}` as in collection and composite results.
    pub fn collection_json(&self) -> Value {
        json!({"statusCode": self.code, "message": self.message, "fields": self.fields})
    }
}

/// `2026-01-01T00:00:00.000+0000`, Salesforce's datetime rendering.
pub fn sf_datetime(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%S%.3f+0000")
        .to_string()
}

/// Now, truncated to whole seconds (Salesforce stores audit timestamps to the second).
pub fn now_seconds_ms() -> i64 {
    let ms = crate::clock::now_ms();
    ms - ms.rem_euclid(1000)
}

/// Whether a write creates or updates (required fields only bind on create).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteMode {
    Create,
    Update,
}

/// The record's value of `field` as JSON (audit fields computed, unset fields null).
pub fn field_value(rec: &SfRecord, field: &FieldSpec) -> Value {
    match field.name {
        "Id" => json!(rec.id),
        "IsDeleted" => json!(rec.deleted),
        "CreatedDate" => json!(sf_datetime(rec.created_ms)),
        "LastModifiedDate" | "SystemModstamp" => json!(sf_datetime(rec.modstamp_ms)),
        name => rec.fields.get(name).cloned().unwrap_or(Value::Null),
    }
}

/// `{attributes:{type,url}, <fields>...}`
pub fn render(kind: SObjectKind, rec: &SfRecord, fields: &[&'static FieldSpec]) -> Value {
    let mut m = Map::new();
    m.insert(
        "attributes".into(),
        json!({
            "type": kind.name(),
            "url": format!("/services/data/{API_VERSION}/sobjects/{}/{}", kind.name(), rec.id),
        }),
    );
    for f in fields {
        m.insert(f.name.to_owned(), field_value(rec, f));
    }
    Value::Object(m)
}

/// Every field of the record.
pub fn render_all(kind: SObjectKind, rec: &SfRecord) -> Value {
    let all: Vec<&'static FieldSpec> = kind.fields().iter().collect();
    render(kind, rec, &all)
}

fn valid_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !s.contains(char::is_whitespace)
        && !domain.contains('@')
}

/// Checks one written value against its field; returns the value to store.
fn check_value(f: &FieldSpec, v: &Value) -> Result<Value, SfError> {
    if v.is_null() {
        return Ok(Value::Null);
    }
    let bad_type = || {
        SfError::new(
            "INVALID_TYPE_ON_FIELD_IN_RECORD",
            format!("{}: value not of required type: {v}", f.name),
            &[f.name],
        )
    };
    let text = match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        _ => return Err(bad_type()),
    };
    match f.ty {
        FieldType::Number => {
            let n: f64 = text.trim().parse().map_err(|_| bad_type())?;
            return Ok(json!(n));
        }
        FieldType::Date => {
            chrono::NaiveDate::parse_from_str(&text, "%Y-%m-%d").map_err(|_| bad_type())?;
        }
        FieldType::Email if !text.is_empty() && !valid_email(&text) => {
            return Err(SfError::new(
                "INVALID_EMAIL_ADDRESS",
                format!("Email: invalid email address: {text}"),
                &[f.name],
            ))
        }
        FieldType::Reference(prefix) => {
            if text.is_empty() {
                return Ok(Value::Null);
            }
            return match to18(&text) {
                Some(id) if id.starts_with(prefix) => Ok(json!(id)),
                _ => Err(SfError::new(
                    "MALFORMED_ID",
                    format!(
                        "{} ID: id value of incorrect type: {text}",
                        f.name.trim_end_matches("Id")
                    ),
                    &[f.name],
                )),
            };
        }
        _ => {}
    }
    if f.max_len > 0 && text.chars().count() > f.max_len {
        return Err(SfError::new(
            "STRING_TOO_LONG",
            format!(
                "{}: data value too large: {text} (max length={})",
                f.name, f.max_len
            ),
            &[f.name],
        ));
    }
    Ok(json!(text))
}

/// Validates written fields (`attributes` and, on update, `Id` are skipped by the caller):
/// unknown fields, read-only fields, types, and required fields on create.
pub fn validate(
    kind: SObjectKind,
    input: &Map<String, Value>,
    mode: WriteMode,
) -> Result<BTreeMap<&'static str, Value>, SfError> {
    let mut out = BTreeMap::new();
    for (name, v) in input {
        if name == "attributes" {
            continue;
        }
        let Some(f) = kind.field(name) else {
            return Err(SfError::new(
                "INVALID_FIELD",
                format!("No such column '{name}' on sobject of type {}", kind.name()),
                &[],
            ));
        };
        if matches!(
            f.ty,
            FieldType::Id | FieldType::DateTime | FieldType::Boolean
        ) {
            return Err(SfError::new(
                "INVALID_FIELD_FOR_INSERT_UPDATE",
                format!("Unable to create/update fields: {}. Please check the security settings of this field and verify that it is read/write for your profile or permission set.", f.name),
                &[f.name],
            ));
        }
        out.insert(f.name, check_value(f, v)?);
    }
    let missing: Vec<&str> = kind
        .fields()
        .iter()
        .filter(|f| f.required)
        .filter(|f| match out.get(f.name) {
            Some(Value::Null) => true,
            Some(Value::String(s)) => s.trim().is_empty(),
            Some(_) => false,
            None => mode == WriteMode::Create,
        })
        .map(|f| f.name)
        .collect();
    if !missing.is_empty() {
        return Err(SfError::new(
            "REQUIRED_FIELD_MISSING",
            format!("Required fields are missing: [{}]", missing.join(", ")),
            &missing,
        ));
    }
    Ok(out)
}

/// Why an update's target id was refused.
pub fn unknown_id_error(kind: SObjectKind, id: &str, deleted: bool) -> SfError {
    if deleted {
        SfError::new("ENTITY_IS_DELETED", "entity is deleted", &[])
    } else if to18(id).is_some_and(|i| i.starts_with(kind.key_prefix())) {
        SfError::new(
            "INVALID_CROSS_REFERENCE_KEY",
            "invalid cross reference id",
            &[],
        )
    } else {
        SfError::new(
            "MALFORMED_ID",
            format!("{} ID: id value of incorrect type: {id}", kind.name()),
            &["Id"],
        )
    }
}

/// The records of one sObject type, in creation order.
#[derive(Debug)]
pub struct SObjectStore {
    kind: SObjectKind,
    records: BTreeMap<u64, SfRecord>,
    by_id: HashMap<String, u64>,
    deleted: HashSet<String>,
    /// Deleted records by creation sequence, as `queryAll` sees them (modstamp = deletion time).
    recycled: BTreeMap<u64, SfRecord>,
    next_seq: u64,
}

impl SObjectStore {
    pub fn new(kind: SObjectKind) -> Self {
        SObjectStore {
            kind,
            records: BTreeMap::new(),
            by_id: HashMap::new(),
            deleted: HashSet::new(),
            recycled: BTreeMap::new(),
            next_seq: 1,
        }
    }

    pub fn len(&self) -> usize {
        self.records.len()
    }

    pub fn clear(&mut self) {
        self.records.clear();
        self.by_id.clear();
        self.deleted.clear();
        self.recycled.clear();
    }

    pub fn all(&self) -> impl Iterator<Item = &SfRecord> {
        self.records.values()
    }

    /// A record by its 15- or 18-character id.
    pub fn get(&self, id: &str) -> Option<&SfRecord> {
        let id = to18(id)?;
        self.by_id.get(&id).and_then(|s| self.records.get(s))
    }

    /// Live and recycle-bin records (what `queryAll` reads).
    pub fn all_with_recycled(&self) -> impl Iterator<Item = &SfRecord> {
        self.records.values().chain(self.recycled.values())
    }

    /// A live record by its creation sequence number.
    pub fn by_seq(&self, seq: u64) -> Option<&SfRecord> {
        self.records.get(&seq)
    }

    /// A live or recycle-bin record by its creation sequence number.
    pub fn by_seq_with_recycled(&self, seq: u64) -> Option<&SfRecord> {
        self.records.get(&seq).or_else(|| self.recycled.get(&seq))
    }

    pub fn is_deleted(&self, id: &str) -> bool {
        to18(id).is_some_and(|i| self.deleted.contains(&i))
    }

    /// Stores validated fields as a new record modified at `modstamp_ms`; returns its id.
    pub fn insert(&mut self, fields: BTreeMap<&'static str, Value>, modstamp_ms: i64) -> String {
        let seq = self.next_seq;
        self.next_seq += 1;
        let id = make_id(self.kind.key_prefix(), seq);
        let fields = fields.into_iter().filter(|(_, v)| !v.is_null()).collect();
        self.records.insert(
            seq,
            SfRecord {
                seq,
                id: id.clone(),
                created_ms: modstamp_ms,
                modstamp_ms,
                fields,
                deleted: false,
            },
        );
        self.by_id.insert(id.clone(), seq);
        id
    }

    /// Applies validated fields; bumps SystemModstamp. `None` when the id is unknown.
    pub fn update(
        &mut self,
        id: &str,
        fields: BTreeMap<&'static str, Value>,
        modstamp_ms: i64,
    ) -> Option<&SfRecord> {
        let seq = *self.by_id.get(&to18(id)?)?;
        let rec = self.records.get_mut(&seq)?;
        for (k, v) in fields {
            if v.is_null() {
                rec.fields.remove(k);
            } else {
                rec.fields.insert(k, v);
            }
        }
        rec.modstamp_ms = modstamp_ms;
        Some(rec)
    }

    /// Moves the record to the recycle bin at `modstamp_ms` (Salesforce stamps the deletion).
    pub fn delete(&mut self, id: &str, modstamp_ms: i64) -> bool {
        let Some(id) = to18(id) else { return false };
        let Some(seq) = self.by_id.remove(&id) else {
            return false;
        };
        if let Some(mut rec) = self.records.remove(&seq) {
            rec.deleted = true;
            rec.modstamp_ms = modstamp_ms;
            self.recycled.insert(seq, rec);
        }
        self.deleted.insert(id);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn contact_needs_last_name_and_a_valid_email() {
        let k = SObjectKind::Contact;
        let e = validate(k, &input(json!({"FirstName": "A"})), WriteMode::Create).unwrap_err();
        assert_eq!(e.code, "REQUIRED_FIELD_MISSING");
        assert_eq!(e.fields, vec!["LastName"]);
        let e = validate(
            k,
            &input(json!({"LastName": "B", "Email": "x"})),
            WriteMode::Create,
        )
        .unwrap_err();
        assert_eq!(e.code, "INVALID_EMAIL_ADDRESS");
        let e = validate(
            k,
            &input(json!({"LastName": "B", "Nope": 1})),
            WriteMode::Create,
        )
        .unwrap_err();
        assert_eq!(e.code, "INVALID_FIELD");
        let ok = validate(k, &input(json!({"lastname": "B"})), WriteMode::Create).unwrap();
        assert_eq!(ok["LastName"], json!("B"));
        assert!(validate(k, &input(json!({"Email": "a@b.co"})), WriteMode::Update).is_ok());
    }

    #[test]
    fn datetimes_render_with_millis_and_offset() {
        assert_eq!(
            sf_datetime(1_767_225_600_000),
            "2026-01-01T00:00:00.000+0000"
        );
    }
}
