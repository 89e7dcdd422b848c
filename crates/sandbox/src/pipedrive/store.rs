//! In-memory Pipedrive store (persons, organizations, deals) of one company: records with
//! second-precision times, v2 JSON rendering, and the list query (filters, sorting, cursors).

use std::collections::BTreeMap;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Map, Value};

use super::index::SearchIndex;
use crate::clock::iso_seconds;

/// The entity types the sandbox serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PipedriveKind {
    Persons,
    Organizations,
    Deals,
}

impl PipedriveKind {
    pub const ALL: [PipedriveKind; 3] = [Self::Persons, Self::Organizations, Self::Deals];

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "persons" | "person" => Some(Self::Persons),
            "organizations" | "organization" => Some(Self::Organizations),
            "deals" | "deal" => Some(Self::Deals),
            _ => None,
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }

    /// Plural path name, also the stats object name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Persons => "persons",
            Self::Organizations => "organizations",
            Self::Deals => "deals",
        }
    }

    /// Singular name used by webhooks (`meta.entity`, `event_object`).
    pub fn entity(self) -> &'static str {
        match self {
            Self::Persons => "person",
            Self::Organizations => "organization",
            Self::Deals => "deal",
        }
    }

    /// Capitalised name for error messages (`Person not found`).
    pub fn title(self) -> &'static str {
        match self {
            Self::Persons => "Person",
            Self::Organizations => "Organization",
            Self::Deals => "Deal",
        }
    }
}

/// One stored entity: its writable fields plus the server-kept id and times (epoch seconds).
#[derive(Debug, Clone, PartialEq)]
pub struct PipedriveRecord {
    pub id: u64,
    pub add_s: i64,
    pub update_s: i64,
    pub deleted: bool,
    pub fields: Map<String, Value>,
}

/// How a list is ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortBy {
    Id,
    UpdateTime,
    AddTime,
}

/// A v2 list request, already validated.
#[derive(Debug, Clone)]
pub struct ListFilter {
    pub limit: usize,
    pub cursor: Option<(i64, u64)>,
    pub updated_since: Option<i64>,
    pub updated_until: Option<i64>,
    pub ids: Option<Vec<u64>>,
    /// `(field, value)` equality filters on numeric fields (`owner_id`, `org_id`, ...).
    pub equals: Vec<(&'static str, i64)>,
    /// Deals only: `open`, `won`, `lost`.
    pub status: Option<String>,
    pub sort_by: SortBy,
    pub descending: bool,
}

/// One company's records of one kind.
#[derive(Debug)]
pub struct PipedriveStore {
    kind: PipedriveKind,
    records: BTreeMap<u64, PipedriveRecord>,
    next_id: u64,
    /// Exact-match search index over live records.
    pub index: SearchIndex,
}

impl PipedriveStore {
    pub fn new(kind: PipedriveKind) -> Self {
        PipedriveStore {
            kind,
            records: BTreeMap::new(),
            next_id: 1,
            index: SearchIndex::default(),
        }
    }

    pub fn clear(&mut self) {
        self.records.clear();
        self.next_id = 1;
        self.index.clear();
    }

    /// Records that are not deleted.
    pub fn len(&self) -> usize {
        self.records.values().filter(|r| !r.deleted).count()
    }

    pub fn all(&self) -> impl Iterator<Item = &PipedriveRecord> {
        self.records.values().filter(|r| !r.deleted)
    }

    /// A live (not deleted) record.
    pub fn get(&self, id: u64) -> Option<&PipedriveRecord> {
        self.records.get(&id).filter(|r| !r.deleted)
    }

    /// Stores validated fields (defaults already applied) as a new record at `now_s`.
    pub fn insert(&mut self, fields: Map<String, Value>, now_s: i64) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        self.index.add(id, &fields);
        self.records.insert(
            id,
            PipedriveRecord {
                id,
                add_s: now_s,
                update_s: now_s,
                deleted: false,
                fields,
            },
        );
        id
    }

    /// Applies validated changes; returns the previous values of the fields that changed, or
    /// `None` when there is no such live record. The update time moves even when nothing did.
    pub fn update(&mut self, id: u64, changes: Map<String, Value>, now_s: i64) -> Option<Value> {
        let r = self.records.get_mut(&id).filter(|r| !r.deleted)?;
        self.index.remove(id, &r.fields);
        let mut previous = Map::new();
        for (k, v) in changes {
            let old = r.fields.get(&k).cloned().unwrap_or(Value::Null);
            if old != v {
                previous.insert(k.clone(), old);
                r.fields.insert(k, v);
            }
        }
        r.update_s = now_s.max(r.update_s);
        self.index.add(id, &r.fields);
        Some(Value::Object(previous))
    }

    /// Marks a record deleted; returns it as it was.
    pub fn delete(&mut self, id: u64, now_s: i64) -> Option<Value> {
        let before = self.get(id).map(|r| self.render(r))?;
        if let Some(r) = self.records.get_mut(&id) {
            self.index.remove(id, &r.fields);
            r.deleted = true;
            r.update_s = now_s.max(r.update_s);
        }
        Some(before)
    }

    /// The v2 JSON of a record.
    pub fn render(&self, r: &PipedriveRecord) -> Value {
        let mut out = Map::new();
        out.insert("id".into(), json!(r.id));
        for (k, v) in &r.fields {
            out.insert(k.clone(), v.clone());
        }
        if self.kind == PipedriveKind::Persons {
            let name = r.fields.get("name").and_then(Value::as_str).unwrap_or("");
            let (first, last) = split_name(name);
            out.insert("first_name".into(), json!(first));
            out.insert("last_name".into(), json!(last));
        }
        out.insert("add_time".into(), json!(iso_seconds(r.add_s * 1000)));
        out.insert("update_time".into(), json!(iso_seconds(r.update_s * 1000)));
        out.insert("is_deleted".into(), json!(r.deleted));
        Value::Object(out)
    }

    /// One page of a list: the rendered records and the cursor of the next page.
    pub fn list(&self, f: &ListFilter) -> (Vec<Value>, Option<String>) {
        let key = |r: &PipedriveRecord| -> (i64, u64) {
            match f.sort_by {
                SortBy::Id => (0, r.id),
                SortBy::UpdateTime => (r.update_s, r.id),
                SortBy::AddTime => (r.add_s, r.id),
            }
        };
        let mut hits: Vec<&PipedriveRecord> = self
            .all()
            .filter(|r| f.updated_since.is_none_or(|s| r.update_s >= s))
            .filter(|r| f.updated_until.is_none_or(|u| r.update_s < u))
            .filter(|r| f.ids.as_ref().is_none_or(|ids| ids.contains(&r.id)))
            .filter(|r| {
                f.equals.iter().all(|(field, want)| {
                    r.fields.get(*field).and_then(Value::as_i64) == Some(*want)
                })
            })
            .filter(|r| {
                f.status.as_ref().is_none_or(|s| {
                    r.fields.get("status").and_then(Value::as_str) == Some(s.as_str())
                })
            })
            .collect();
        hits.sort_by_key(|r| key(r));
        if f.descending {
            hits.reverse();
        }
        let start = match f.cursor {
            None => 0,
            Some(c) if f.descending => hits.iter().position(|r| key(r) <= c).unwrap_or(hits.len()),
            Some(c) => hits.iter().position(|r| key(r) >= c).unwrap_or(hits.len()),
        };
        let page: Vec<Value> = hits[start..]
            .iter()
            .take(f.limit)
            .map(|r| self.render(r))
            .collect();
        let next = hits.get(start + f.limit).map(|r| encode_cursor(key(r)));
        (page, next)
    }
}

/// Pipedrive derives first and last name from `name`: the first word and the rest.
pub fn split_name(name: &str) -> (String, String) {
    let name = name.trim();
    match name.split_once(char::is_whitespace) {
        Some((first, rest)) => (first.to_owned(), rest.trim().to_owned()),
        None => (name.to_owned(), String::new()),
    }
}

/// Opaque cursor naming the first item of the next page.
pub fn encode_cursor((sort_key, id): (i64, u64)) -> String {
    URL_SAFE_NO_PAD.encode(format!("{sort_key}:{id}"))
}

pub fn decode_cursor(s: &str) -> Option<(i64, u64)> {
    let raw = String::from_utf8(URL_SAFE_NO_PAD.decode(s).ok()?).ok()?;
    let (k, id) = raw.split_once(':')?;
    Some((k.parse().ok()?, id.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(limit: usize, sort_by: SortBy) -> ListFilter {
        ListFilter {
            limit,
            cursor: None,
            updated_since: None,
            updated_until: None,
            ids: None,
            equals: Vec::new(),
            status: None,
            sort_by,
            descending: false,
        }
    }

    #[test]
    fn cursor_pages_cover_every_record_once_by_update_time() {
        let mut s = PipedriveStore::new(PipedriveKind::Persons);
        for i in 0..7 {
            let mut m = Map::new();
            m.insert("name".into(), json!(format!("P {i}")));
            s.insert(m, 100 + (i % 3));
        }
        let mut f = filter(3, SortBy::UpdateTime);
        let mut seen = Vec::new();
        loop {
            let (page, next) = s.list(&f);
            seen.extend(page.iter().map(|v| v["id"].as_u64().unwrap()));
            match next {
                Some(c) => f.cursor = decode_cursor(&c),
                None => break,
            }
        }
        assert_eq!(seen, vec![1, 4, 7, 2, 5, 3, 6]);
    }

    #[test]
    fn update_returns_previous_values_and_bumps_time() {
        let mut s = PipedriveStore::new(PipedriveKind::Persons);
        let mut m = Map::new();
        m.insert("name".into(), json!("Ada Lovelace"));
        let id = s.insert(m, 10);
        let mut change = Map::new();
        change.insert("name".into(), json!("Ada King"));
        let prev = s.update(id, change, 20).unwrap();
        assert_eq!(prev, json!({"name": "Ada Lovelace"}));
        let r = s.render(s.get(id).unwrap());
        assert_eq!(r["last_name"], "King");
        assert_eq!(r["update_time"], iso_seconds(20_000));
        assert!(s.delete(id, 30).is_some());
        assert!(s.get(id).is_none());
        assert_eq!(s.len(), 0);
    }
}
