//! In-memory HubSpot CRM object store (contacts, companies, deals) for one account.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde_json::{Map, Value};

use crate::clock::{iso_millis, now_ms};

/// The CRM object types the sandbox serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HubspotObjectKind {
    Contacts,
    Companies,
    Deals,
}

impl HubspotObjectKind {
    pub const ALL: [HubspotObjectKind; 3] = [Self::Contacts, Self::Companies, Self::Deals];

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "contacts" | "contact" | "0-1" => Some(Self::Contacts),
            "companies" | "company" | "0-2" => Some(Self::Companies),
            "deals" | "deal" | "0-3" => Some(Self::Deals),
            _ => None,
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }

    /// Plural path name, also the stats object name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Contacts => "contacts",
            Self::Companies => "companies",
            Self::Deals => "deals",
        }
    }

    /// Upper-case singular label used in HubSpot error messages.
    pub fn label(self) -> &'static str {
        match self {
            Self::Contacts => "CONTACT",
            Self::Companies => "COMPANY",
            Self::Deals => "DEAL",
        }
    }

    /// Property holding the last modification time.
    pub fn modified_property(self) -> &'static str {
        match self {
            Self::Contacts => "lastmodifieddate",
            _ => "hs_lastmodifieddate",
        }
    }

    /// Properties returned when the caller asks for none.
    pub fn default_properties(self) -> &'static [&'static str] {
        match self {
            Self::Contacts => &[
                "createdate",
                "email",
                "firstname",
                "hs_object_id",
                "lastmodifieddate",
                "lastname",
            ],
            Self::Companies => &[
                "createdate",
                "domain",
                "hs_lastmodifieddate",
                "hs_object_id",
                "name",
            ],
            Self::Deals => &[
                "amount",
                "closedate",
                "createdate",
                "dealname",
                "dealstage",
                "hs_lastmodifieddate",
                "hs_object_id",
                "pipeline",
            ],
        }
    }

    /// Properties HubSpot always adds to an explicit `properties` selection.
    pub fn always_properties(self) -> [&'static str; 3] {
        ["createdate", "hs_object_id", self.modified_property()]
    }

    fn is_system(self, name: &str) -> bool {
        name == "createdate" || name == "hs_object_id" || name == self.modified_property()
    }
}

/// One stored record.
#[derive(Debug, Clone)]
pub struct HubspotRecord {
    pub id: u64,
    pub created_ms: i64,
    pub updated_ms: i64,
    pub archived: bool,
    /// When it was archived (`archivedAt`); also its modified time from then on.
    pub archived_ms: Option<i64>,
    pub properties: HashMap<String, String>,
}

/// Which properties to render.
#[derive(Debug, Clone, Default)]
pub struct PropertySelection(pub Option<Vec<String>>);

impl PropertySelection {
    /// From a comma-separated list (empty → defaults).
    pub fn from_csv<'a>(values: impl Iterator<Item = &'a str>) -> Self {
        let list: Vec<String> = values
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        PropertySelection((!list.is_empty()).then_some(list))
    }
}

/// Records of one object type, with an index by (updated, id).
#[derive(Debug)]
pub struct HubspotObjectStore {
    pub kind: HubspotObjectKind,
    records: BTreeMap<u64, HubspotRecord>,
    by_updated: BTreeSet<(i64, u64)>,
    next_id: u64,
}

impl HubspotObjectStore {
    pub fn new(kind: HubspotObjectKind) -> Self {
        HubspotObjectStore {
            kind,
            records: BTreeMap::new(),
            by_updated: BTreeSet::new(),
            next_id: first_id(kind),
        }
    }

    pub fn clear(&mut self) {
        *self = HubspotObjectStore::new(self.kind);
    }

    pub fn get(&self, id: u64) -> Option<&HubspotRecord> {
        self.records.get(&id).filter(|r| !r.archived)
    }

    /// Live records with id ≥ `from`, in id order.
    pub fn iter_from(&self, from: u64) -> impl Iterator<Item = &HubspotRecord> {
        self.records
            .range(from..)
            .map(|(_, r)| r)
            .filter(|r| !r.archived)
    }

    /// Archived records with id ≥ `from`, in id order (`archived=true` lists).
    pub fn iter_archived_from(&self, from: u64) -> impl Iterator<Item = &HubspotRecord> {
        self.records
            .range(from..)
            .map(|(_, r)| r)
            .filter(|r| r.archived)
    }

    /// Live records in (updated, id) order.
    pub fn iter_by_updated(&self) -> impl Iterator<Item = &HubspotRecord> {
        self.by_updated
            .iter()
            .filter_map(|(_, id)| self.records.get(id))
            .filter(|r| !r.archived)
    }

    pub fn all(&self) -> impl Iterator<Item = &HubspotRecord> {
        self.records.values().filter(|r| !r.archived)
    }

    pub fn len(&self) -> usize {
        self.records.values().filter(|r| !r.archived).count()
    }

    pub fn create(&mut self, properties: HashMap<String, String>) -> u64 {
        let now = now_ms();
        self.insert_at(properties, now)
    }

    /// Inserts a record with the given timestamp (seeding spreads times).
    pub fn insert_at(&mut self, mut properties: HashMap<String, String>, at_ms: i64) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        properties.retain(|k, _| !self.kind.is_system(k));
        self.records.insert(
            id,
            HubspotRecord {
                id,
                created_ms: at_ms,
                updated_ms: at_ms,
                archived: false,
                archived_ms: None,
                properties,
            },
        );
        self.by_updated.insert((at_ms, id));
        id
    }

    /// Sets properties ("" clears one); bumps the modified time. None if missing.
    pub fn update(&mut self, id: u64, properties: HashMap<String, String>) -> Option<()> {
        let kind = self.kind;
        let rec = self.records.get_mut(&id).filter(|r| !r.archived)?;
        for (k, v) in properties {
            if kind.is_system(&k) {
                continue;
            }
            if v.is_empty() {
                rec.properties.remove(&k);
            } else {
                rec.properties.insert(k, v);
            }
        }
        let now = now_ms().max(rec.updated_ms);
        self.by_updated.remove(&(rec.updated_ms, id));
        rec.updated_ms = now;
        self.by_updated.insert((now, id));
        Some(())
    }

    pub fn archive(&mut self, id: u64) -> Option<()> {
        let rec = self.records.get_mut(&id).filter(|r| !r.archived)?;
        rec.archived = true;
        rec.archived_ms = Some(now_ms().max(rec.updated_ms));
        self.by_updated.remove(&(rec.updated_ms, id));
        Some(())
    }

    /// A property value as a string (system properties are derived).
    pub fn property<'a>(&self, rec: &'a HubspotRecord, name: &str) -> Option<Cow<'a, str>> {
        if name == "hs_object_id" {
            Some(Cow::Owned(rec.id.to_string()))
        } else if name == "createdate" {
            Some(Cow::Owned(iso_millis(rec.created_ms)))
        } else if name == self.kind.modified_property() {
            Some(Cow::Owned(iso_millis(rec.updated_ms)))
        } else {
            rec.properties.get(name).map(|s| Cow::Borrowed(s.as_str()))
        }
    }

    /// Epoch millis of a system date property, without formatting.
    pub fn date_property_ms(&self, rec: &HubspotRecord, name: &str) -> Option<i64> {
        if name == "createdate" {
            Some(rec.created_ms)
        } else if name == self.kind.modified_property() {
            Some(rec.updated_ms)
        } else {
            None
        }
    }

    /// `SimplePublicObject` JSON.
    pub fn render(&self, rec: &HubspotRecord, sel: &PropertySelection) -> Value {
        let mut props = Map::new();
        match &sel.0 {
            None => {
                for name in self.kind.default_properties() {
                    let v = self.property(rec, name);
                    props.insert((*name).to_owned(), v.map_or(Value::Null, |v| v.into()));
                }
            }
            Some(list) => {
                for name in self.kind.always_properties() {
                    props.insert(name.to_owned(), self.property(rec, name).into());
                }
                for name in list {
                    let v = self.property(rec, name);
                    props.insert(name.clone(), v.map_or(Value::Null, |v| v.into()));
                }
            }
        }
        let mut obj = Map::new();
        obj.insert("id".into(), rec.id.to_string().into());
        obj.insert("properties".into(), Value::Object(props));
        obj.insert("createdAt".into(), iso_millis(rec.created_ms).into());
        obj.insert("updatedAt".into(), iso_millis(rec.updated_ms).into());
        obj.insert("archived".into(), rec.archived.into());
        if let Some(at) = rec.archived_ms {
            obj.insert("archivedAt".into(), iso_millis(at).into());
        }
        Value::Object(obj)
    }

    /// Every property, for the control plane.
    pub fn render_all(&self, rec: &HubspotRecord) -> Value {
        let mut props: Map<String, Value> = rec
            .properties
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect();
        for name in self.kind.always_properties() {
            props.insert(name.to_owned(), self.property(rec, name).into());
        }
        let mut out = serde_json::json!({
            "id": rec.id.to_string(),
            "createdAt": iso_millis(rec.created_ms),
            "updatedAt": iso_millis(rec.updated_ms),
            "archived": rec.archived,
            "properties": props,
        });
        if let Some(at) = rec.archived_ms {
            out["archivedAt"] = iso_millis(at).into();
        }
        out
    }
}

fn first_id(kind: HubspotObjectKind) -> u64 {
    match kind {
        HubspotObjectKind::Contacts => 100_001,
        HubspotObjectKind::Companies => 5_000_001,
        HubspotObjectKind::Deals => 9_000_001,
    }
}

/// Converts JSON property values to HubSpot's strings; objects/arrays are rejected.
pub fn properties_from_json(v: &Value) -> Result<HashMap<String, String>, String> {
    let Some(obj) = v.as_object() else {
        return Err("properties must be an object".into());
    };
    let mut out = HashMap::with_capacity(obj.len());
    for (k, v) in obj {
        let s = match v {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            Value::Null => String::new(),
            _ => {
                return Err(format!(
                    "Property \"{k}\" must be a string, number or boolean"
                ))
            }
        };
        out.insert(k.clone(), s);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn update_moves_record_to_end_of_updated_index() {
        let mut s = HubspotObjectStore::new(HubspotObjectKind::Contacts);
        let a = s.insert_at(HashMap::from([("email".into(), "a@x.io".into())]), 1);
        let b = s.insert_at(HashMap::new(), 2);
        s.update(a, HashMap::from([("firstname".into(), "A".into())]))
            .unwrap();
        let order: Vec<u64> = s.iter_by_updated().map(|r| r.id).collect();
        assert_eq!(order, vec![b, a]);
        let rec = s.get(a).unwrap();
        let v = s.render(rec, &PropertySelection(Some(vec!["firstname".into()])));
        assert_eq!(v["properties"]["firstname"], "A");
        assert!(v["properties"].get("email").is_none());
        assert_eq!(v["properties"]["hs_object_id"], a.to_string());
    }
}
