//! Exact-match search index of one Pipedrive store: lowercased person emails, phones and
//! names (organization names, deal titles) → record ids, so `exact_match` searches on a
//! large account do not scan it.

use std::collections::{BTreeSet, HashMap};

use serde_json::{Map, Value};

/// A searchable field of the v2 search endpoints (`fields=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SearchField {
    Name,
    Email,
    Phone,
    Notes,
    CustomFields,
    Address,
}

impl SearchField {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "name" | "title" => SearchField::Name,
            "email" => SearchField::Email,
            "phone" => SearchField::Phone,
            "notes" => SearchField::Notes,
            "custom_fields" => SearchField::CustomFields,
            "address" => SearchField::Address,
            _ => return None,
        })
    }
}

/// The texts of `field` in a record's stored fields (`emails[].value`, `phones[].value`,
/// `name`/`title`, `notes`, `address`, custom field values).
pub fn texts(fields: &Map<String, Value>, field: SearchField) -> Vec<String> {
    let scalar = |v: &Value| match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    let list = |name: &str| -> Vec<String> {
        fields
            .get(name)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|e| e.get("value").and_then(scalar).or_else(|| scalar(e)))
                    .collect()
            })
            .unwrap_or_default()
    };
    match field {
        SearchField::Email => list("emails"),
        SearchField::Phone => list("phones"),
        SearchField::Name => ["name", "title"]
            .iter()
            .filter_map(|k| fields.get(*k).and_then(scalar))
            .collect(),
        SearchField::Notes => fields.get("notes").and_then(scalar).into_iter().collect(),
        SearchField::Address => fields
            .get("address")
            .and_then(|a| a.get("value").and_then(scalar).or_else(|| scalar(a)))
            .into_iter()
            .collect(),
        SearchField::CustomFields => fields
            .get("custom_fields")
            .and_then(Value::as_object)
            .map(|m| m.values().filter_map(scalar).collect())
            .unwrap_or_default(),
    }
}

const INDEXED: [SearchField; 3] = [SearchField::Name, SearchField::Email, SearchField::Phone];

#[derive(Debug, Default)]
pub struct SearchIndex {
    ids: HashMap<(SearchField, String), BTreeSet<u64>>,
}

impl SearchIndex {
    pub fn is_indexed(field: SearchField) -> bool {
        INDEXED.contains(&field)
    }

    pub fn clear(&mut self) {
        self.ids.clear();
    }

    pub fn add(&mut self, id: u64, fields: &Map<String, Value>) {
        for f in INDEXED {
            for t in texts(fields, f) {
                self.ids
                    .entry((f, t.trim().to_lowercase()))
                    .or_default()
                    .insert(id);
            }
        }
    }

    pub fn remove(&mut self, id: u64, fields: &Map<String, Value>) {
        for f in INDEXED {
            for t in texts(fields, f) {
                let key = (f, t.trim().to_lowercase());
                if let Some(set) = self.ids.get_mut(&key) {
                    set.remove(&id);
                    if set.is_empty() {
                        self.ids.remove(&key);
                    }
                }
            }
        }
    }

    /// Ids whose `field` equals `term` (trimmed, case-insensitively).
    pub fn exact(&self, field: SearchField, term: &str) -> impl Iterator<Item = u64> + '_ {
        self.ids
            .get(&(field, term.trim().to_lowercase()))
            .into_iter()
            .flatten()
            .copied()
    }
}
