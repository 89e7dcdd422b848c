//! In-memory Jobber client store for one account, indexed by id and by (updatedAt, id).

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;

use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine;
use serde::Serialize;

use crate::clock::now_ms;

/// A client email.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct JobberEmail {
    pub id: u64,
    pub address: String,
    pub description: String,
    pub primary: bool,
}

/// A client phone number.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct JobberPhone {
    pub id: u64,
    pub number: String,
    pub description: String,
    pub primary: bool,
    pub sms_allowed: bool,
}

/// A client billing address.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct JobberAddress {
    pub street1: String,
    pub street2: String,
    pub city: String,
    pub province: String,
    pub postal_code: String,
    pub country: String,
}

/// A stored client (the sandbox's record of it; the adapter is `providers::jobber::JobberClient`).
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ClientRecord {
    pub id: u64,
    pub created_ms: i64,
    pub updated_ms: i64,
    pub title: Option<String>,
    pub first_name: String,
    pub last_name: String,
    pub company_name: Option<String>,
    pub is_company: bool,
    pub is_archived: bool,
    pub emails: Vec<JobberEmail>,
    pub phones: Vec<JobberPhone>,
    pub billing_address: Option<JobberAddress>,
}

impl ClientRecord {
    /// Jobber's display name: the company for companies, else first + last.
    pub fn name(&self) -> String {
        match (&self.company_name, self.is_company) {
            (Some(c), true) if !c.is_empty() => c.clone(),
            _ => {
                let full = format!("{} {}", self.first_name, self.last_name);
                let full = full.trim();
                if full.is_empty() {
                    self.company_name.clone().unwrap_or_default()
                } else {
                    full.to_owned()
                }
            }
        }
    }
}

/// Encodes `gid://Jobber/{kind}/{id}` as base64, as Jobber's EncodedId.
pub fn encode_id(kind: &str, id: u64) -> String {
    STANDARD.encode(format!("gid://Jobber/{kind}/{id}"))
}

/// Decodes an EncodedId of `kind`; also accepts a bare number.
pub fn decode_id(kind: &str, encoded: &str) -> Option<u64> {
    if let Ok(n) = encoded.parse::<u64>() {
        return Some(n);
    }
    let bytes = [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD]
        .iter()
        .find_map(|e| e.decode(encoded).ok())?;
    let text = String::from_utf8(bytes).ok()?;
    let rest = text.strip_prefix("gid://Jobber/")?;
    let (k, n) = rest.split_once('/')?;
    (k == kind).then(|| n.parse().ok()).flatten()
}

/// Opaque cursor for (updated, id).
pub fn encode_cursor(updated_ms: i64, id: u64) -> String {
    URL_SAFE_NO_PAD.encode(format!("{updated_ms}:{id}"))
}

pub fn decode_cursor(cursor: &str) -> Option<(i64, u64)> {
    let bytes = URL_SAFE_NO_PAD.decode(cursor).ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let (a, b) = text.split_once(':')?;
    Some((a.parse().ok()?, b.parse().ok()?))
}

/// All clients of one account.
#[derive(Debug)]
pub struct JobberClientStore {
    clients: BTreeMap<u64, ClientRecord>,
    by_updated: BTreeSet<(i64, u64)>,
    next_id: u64,
    next_sub_id: u64,
}

impl Default for JobberClientStore {
    fn default() -> Self {
        JobberClientStore {
            clients: BTreeMap::new(),
            by_updated: BTreeSet::new(),
            next_id: 80_000_001,
            next_sub_id: 1_000_001,
        }
    }
}

impl JobberClientStore {
    pub fn clear(&mut self) {
        *self = JobberClientStore::default();
    }

    pub fn next_sub_id(&mut self) -> u64 {
        self.next_sub_id += 1;
        self.next_sub_id
    }

    pub fn get(&self, id: u64) -> Option<&ClientRecord> {
        self.clients.get(&id)
    }

    pub fn len(&self) -> usize {
        self.clients.len()
    }

    /// Stores a new client (its id and times are assigned) at `at_ms`.
    pub fn insert_at(&mut self, mut client: ClientRecord, at_ms: i64) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        client.id = id;
        client.created_ms = at_ms;
        client.updated_ms = at_ms;
        self.by_updated.insert((at_ms, id));
        self.clients.insert(id, client);
        id
    }

    pub fn insert(&mut self, client: ClientRecord) -> u64 {
        self.insert_at(client, now_ms())
    }

    /// Replaces a client (same id), bumping its updated time.
    pub fn replace(&mut self, mut client: ClientRecord) -> Option<()> {
        let old = self.clients.get(&client.id)?;
        let now = now_ms().max(old.updated_ms);
        self.by_updated.remove(&(old.updated_ms, client.id));
        client.updated_ms = now;
        self.by_updated.insert((now, client.id));
        self.clients.insert(client.id, client);
        Some(())
    }

    /// Deletes a client for good (Jobber's "delete client"); the removed client, if it existed.
    pub fn remove(&mut self, id: u64) -> Option<ClientRecord> {
        let old = self.clients.remove(&id)?;
        self.by_updated.remove(&(old.updated_ms, id));
        Some(old)
    }

    /// Clients in id order with id > `after`.
    pub fn iter_by_id(&self, after: Option<u64>) -> impl Iterator<Item = &ClientRecord> {
        let start = after.map_or(Bound::Unbounded, Bound::Excluded);
        self.clients
            .range((start, Bound::Unbounded))
            .map(|(_, c)| c)
    }

    /// Clients in (updated, id) order strictly after `from`, with updated < `before_ms`.
    pub fn iter_by_updated(
        &self,
        from: Bound<(i64, u64)>,
        before_ms: Option<i64>,
    ) -> impl Iterator<Item = &ClientRecord> {
        self.by_updated
            .range((from, Bound::Unbounded))
            .take_while(move |(ms, _)| before_ms.is_none_or(|b| *ms < b))
            .filter_map(|(_, id)| self.clients.get(id))
    }

    pub fn all(&self) -> impl Iterator<Item = &ClientRecord> {
        self.clients.values()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_cursors_round_trip() {
        let e = encode_id("Client", 42);
        assert_eq!(e, "Z2lkOi8vSm9iYmVyL0NsaWVudC80Mg==");
        assert_eq!(decode_id("Client", &e), Some(42));
        assert_eq!(decode_id("Job", &e), None);
        assert_eq!(decode_cursor(&encode_cursor(5, 7)), Some((5, 7)));
    }

    #[test]
    fn replace_moves_client_to_end() {
        let mut s = JobberClientStore::default();
        let a = s.insert_at(ClientRecord::default(), 1);
        let b = s.insert_at(ClientRecord::default(), 2);
        let mut c = s.get(a).unwrap().clone();
        c.first_name = "Ann".into();
        s.replace(c).unwrap();
        let ids: Vec<u64> = s
            .iter_by_updated(Bound::Unbounded, None)
            .map(|c| c.id)
            .collect();
        assert_eq!(ids, vec![b, a]);
    }
}
