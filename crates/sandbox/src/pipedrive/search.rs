//! `GET /api/v2/{persons|organizations|deals}/search?term&fields&exact_match&limit&cursor`:
//! Pipedrive's v2 search. One term per call (at least 2 characters, or 1 with
//! `exact_match=true`); `fields` limited to the entity's searchable fields; `exact_match`
//! compares whole values case-insensitively, otherwise a value contains the term. Items are
//! the search's reduced shape (`{result_score, item:{id, type, name, emails, phones, …}}`),
//! ordered by id; paging by `cursor` with `limit` ≤ 500 (default 100). A search costs 20
//! tokens of the daily budget. Exact searches on name, email and phone use an index.

use std::collections::BTreeSet;

use axum::extract::{Path, RawQuery};
use axum::http::StatusCode;
use axum::response::Response;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Value};

use super::index::{texts, SearchField, SearchIndex};
use super::store::{PipedriveKind, PipedriveRecord, PipedriveStore};
use super::{ok, pipedrive_error, AccountExt};
use crate::clock::iso_seconds;

/// Largest `limit` of a search.
pub const MAX_LIMIT: usize = 500;

fn bad_request(message: impl Into<String>) -> Response {
    pipedrive_error(StatusCode::BAD_REQUEST, message)
}

/// The fields `fields=` accepts for each entity.
fn allowed(kind: PipedriveKind) -> &'static [&'static str] {
    match kind {
        PipedriveKind::Persons => &["custom_fields", "email", "notes", "phone", "name"],
        PipedriveKind::Organizations => &["address", "custom_fields", "notes", "name"],
        PipedriveKind::Deals => &["custom_fields", "notes", "title"],
    }
}

struct SearchQuery {
    term: String,
    fields: Vec<SearchField>,
    exact: bool,
    limit: usize,
    after: u64,
}

fn parse(kind: PipedriveKind, raw: Option<&str>) -> Result<SearchQuery, Response> {
    let pairs: Vec<(String, String)> = raw
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .collect()
        })
        .unwrap_or_default();
    let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let exact = match get("exact_match") {
        None | Some("false") | Some("0") => false,
        Some("true") | Some("1") => true,
        Some(other) => {
            return Err(bad_request(format!(
                "exact_match must be a boolean, got `{other}`"
            )))
        }
    };
    let term = get("term").unwrap_or_default().trim().to_owned();
    let min = if exact { 1 } else { 2 };
    if term.chars().count() < min {
        return Err(bad_request(format!(
            "term must be at least {min} characters long{}",
            if exact {
                ""
            } else {
                " (1 with exact_match=true)"
            }
        )));
    }
    let names: Vec<&str> = match get("fields") {
        Some(f) if !f.trim().is_empty() => f.split(',').map(str::trim).collect(),
        _ => allowed(kind).to_vec(),
    };
    let mut fields = Vec::new();
    for n in names {
        let field = SearchField::parse(n)
            .filter(|_| allowed(kind).contains(&n))
            .ok_or_else(|| {
                bad_request(format!(
                    "fields: `{n}` is not searchable; use {}",
                    allowed(kind).join(", ")
                ))
            })?;
        fields.push(field);
    }
    let limit = match get("limit") {
        None => 100,
        Some(l) => l
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or_else(|| bad_request(format!("limit must be between 1 and {MAX_LIMIT}")))?,
    };
    let after = match get("cursor") {
        None => 0,
        Some(c) => decode(c).ok_or_else(|| bad_request("cursor is not valid"))?,
    };
    Ok(SearchQuery {
        term,
        fields,
        exact,
        limit,
        after,
    })
}

fn encode(id: u64) -> String {
    URL_SAFE_NO_PAD.encode(format!("search:{id}"))
}

fn decode(c: &str) -> Option<u64> {
    let raw = String::from_utf8(URL_SAFE_NO_PAD.decode(c).ok()?).ok()?;
    raw.strip_prefix("search:")?.parse().ok()
}

/// Ids of live records matching the query, ascending.
fn hits(store: &PipedriveStore, q: &SearchQuery) -> BTreeSet<u64> {
    let term = q.term.to_lowercase();
    let mut ids = BTreeSet::new();
    let mut scan = Vec::new();
    for f in &q.fields {
        if q.exact && SearchIndex::is_indexed(*f) {
            ids.extend(store.index.exact(*f, &term));
        } else {
            scan.push(*f);
        }
    }
    if !scan.is_empty() {
        for r in store.all() {
            let hit = scan.iter().any(|f| {
                texts(&r.fields, *f).iter().any(|t| {
                    let t = t.trim().to_lowercase();
                    if q.exact {
                        t == term
                    } else {
                        t.contains(&term)
                    }
                })
            });
            if hit {
                ids.insert(r.id);
            }
        }
    }
    ids
}

/// The search's reduced item.
fn item(kind: PipedriveKind, r: &PipedriveRecord) -> Value {
    let f = &r.fields;
    let mut item = json!({
        "id": r.id,
        "type": kind.entity(),
        "owner": {"id": f.get("owner_id").cloned().unwrap_or(Value::Null)},
        "visible_to": f.get("visible_to").cloned().unwrap_or(json!(3)),
        "custom_fields": [],
        "notes": [],
        "update_time": iso_seconds(r.update_s * 1000),
    });
    match kind {
        PipedriveKind::Deals => item["title"] = f.get("title").cloned().unwrap_or(Value::Null),
        _ => item["name"] = f.get("name").cloned().unwrap_or(Value::Null),
    }
    if kind == PipedriveKind::Persons {
        item["emails"] = json!(texts(f, SearchField::Email));
        item["phones"] = json!(texts(f, SearchField::Phone));
        item["organization"] = match f.get("org_id") {
            Some(id) if !id.is_null() => json!({"id": id}),
            _ => Value::Null,
        };
    }
    item
}

/// `GET /api/v2/{object}/search`
pub async fn search(
    axum::Extension(account): AccountExt,
    Path(object): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let Some(kind) = PipedriveKind::parse(&object).filter(|k| k.as_str() == object) else {
        return pipedrive_error(StatusCode::NOT_FOUND, "Unknown method .");
    };
    let q = match parse(kind, raw.as_deref()) {
        Ok(q) => q,
        Err(r) => return r,
    };
    let store = account.store(kind);
    let ids = hits(&store, &q);
    let mut page = ids.range(q.after..);
    let items: Vec<Value> = page
        .by_ref()
        .take(q.limit)
        .filter_map(|id| store.get(*id))
        .map(|r| json!({"result_score": 1.0, "item": item(kind, r)}))
        .collect();
    let next = page.next().map(|id| encode(*id));
    ok(
        StatusCode::OK,
        json!({"items": items}),
        Some(json!({"next_cursor": next})),
    )
}
