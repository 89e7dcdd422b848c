//! HubSpot CRM search: filterGroups/filters, sorts, offset paging capped at 10,000 results.
//! Limits as documented (since 2024-08): at most 5 filterGroups, 10 filters per group, 25 filters
//! in all, 100 values per `IN`/`NOT_IN`, `limit` ≤ 200. `IN` on a text property matches the
//! stored value lowercased, so (as HubSpot documents) the values must be given in lowercase.

use std::cmp::Ordering;
use std::collections::HashSet;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::Path;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde_json::{json, Value};

use super::error::{parse_json, validation};
use super::objects::kind_of;
use super::store::{HubspotObjectStore, HubspotRecord, PropertySelection};
use super::HubspotAccount;
use crate::clock::parse_ms_or_iso;

/// HubSpot never pages a search past this many results.
pub const MAX_SEARCH_RESULTS: usize = 10_000;
const MAX_LIMIT: usize = 200;
/// Most filterGroups in one search.
pub const MAX_FILTER_GROUPS: usize = 5;
/// Most filters in one group.
pub const MAX_FILTERS_PER_GROUP: usize = 10;
/// Most filters over all groups.
pub const MAX_FILTERS: usize = 25;
/// Most values of one `IN` / `NOT_IN` filter.
pub const MAX_IN_VALUES: usize = 100;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Op {
    Eq,
    Neq,
    Lt,
    Lte,
    Gt,
    Gte,
    Between,
    In,
    NotIn,
    HasProperty,
    NotHasProperty,
    ContainsToken,
    NotContainsToken,
}

/// A filter operand, pre-parsed as a date and a number where possible.
#[derive(Debug, Clone)]
struct Operand {
    text: String,
    ms: Option<i64>,
    num: Option<f64>,
}

impl Operand {
    fn new(v: &Value) -> Option<Operand> {
        let text = match v {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            _ => return None,
        };
        Some(Operand {
            ms: parse_ms_or_iso(&text),
            num: text.trim().parse::<f64>().ok(),
            text,
        })
    }
}

#[derive(Debug, Clone)]
struct Filter {
    property: String,
    op: Op,
    value: Option<Operand>,
    high: Option<Operand>,
    values: Vec<Operand>,
    /// `values`' texts, for the `IN`/`NOT_IN` lookup.
    set: HashSet<String>,
}

#[derive(Debug, Clone)]
struct Sort {
    property: String,
    descending: bool,
}

fn parse_op(s: &str) -> Option<Op> {
    Some(match s {
        "EQ" => Op::Eq,
        "NEQ" => Op::Neq,
        "LT" => Op::Lt,
        "LTE" => Op::Lte,
        "GT" => Op::Gt,
        "GTE" => Op::Gte,
        "BETWEEN" => Op::Between,
        "IN" => Op::In,
        "NOT_IN" => Op::NotIn,
        "HAS_PROPERTY" => Op::HasProperty,
        "NOT_HAS_PROPERTY" => Op::NotHasProperty,
        "CONTAINS_TOKEN" => Op::ContainsToken,
        "NOT_CONTAINS_TOKEN" => Op::NotContainsToken,
        _ => return None,
    })
}

fn parse_filter(f: &Value) -> Result<Filter, String> {
    let property = f
        .get("propertyName")
        .and_then(Value::as_str)
        .ok_or("filter is missing propertyName")?
        .to_owned();
    let op_text = f.get("operator").and_then(Value::as_str).unwrap_or("EQ");
    let op = parse_op(op_text).ok_or_else(|| format!("Unknown operator: {op_text}"))?;
    let value = f.get("value").and_then(Operand::new);
    let high = f.get("highValue").and_then(Operand::new);
    let values: Vec<Operand> = f
        .get("values")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Operand::new).collect())
        .unwrap_or_default();
    if matches!(op, Op::In | Op::NotIn) && values.len() > MAX_IN_VALUES {
        return Err(format!(
            "filter on {property} with operator {op_text} has {} values; at most {MAX_IN_VALUES} are allowed",
            values.len()
        ));
    }
    let set = values.iter().map(|o| o.text.clone()).collect();
    let needs_value = !matches!(
        op,
        Op::HasProperty | Op::NotHasProperty | Op::In | Op::NotIn
    );
    if needs_value && value.is_none() {
        return Err(format!(
            "filter on {property} with operator {op_text} needs a value"
        ));
    }
    if op == Op::Between && high.is_none() {
        return Err(format!("BETWEEN filter on {property} needs a highValue"));
    }
    Ok(Filter {
        property,
        op,
        value,
        high,
        values,
        set,
    })
}

fn parse_sorts(v: Option<&Value>) -> Vec<Sort> {
    let Some(arr) = v.and_then(Value::as_array) else {
        return Vec::new();
    };
    arr.iter()
        .filter_map(|s| match s {
            Value::String(name) => Some(match name.strip_prefix('-') {
                Some(n) => Sort {
                    property: n.to_owned(),
                    descending: true,
                },
                None => Sort {
                    property: name.clone(),
                    descending: false,
                },
            }),
            Value::Object(o) => Some(Sort {
                property: o.get("propertyName")?.as_str()?.to_owned(),
                descending: o
                    .get("direction")
                    .and_then(Value::as_str)
                    .is_some_and(|d| d.eq_ignore_ascii_case("DESCENDING")),
            }),
            _ => None,
        })
        .collect()
}

/// Compares a record's property with an operand (dates and numbers numerically).
fn compare(
    store: &HubspotObjectStore,
    rec: &HubspotRecord,
    prop: &str,
    o: &Operand,
) -> Option<Ordering> {
    if let Some(ms) = store.date_property_ms(rec, prop) {
        return o.ms.map(|v| ms.cmp(&v));
    }
    let value = store.property(rec, prop)?;
    if let (Ok(a), Some(b)) = (value.trim().parse::<f64>(), o.num) {
        return a.partial_cmp(&b);
    }
    Some(value.to_lowercase().cmp(&o.text.to_lowercase()))
}

fn matches(store: &HubspotObjectStore, rec: &HubspotRecord, f: &Filter) -> bool {
    let cmp = |o: &Operand| compare(store, rec, &f.property, o);
    let has = || {
        store
            .property(rec, &f.property)
            .is_some_and(|v| !v.is_empty())
    };
    let contains = |o: &Operand| {
        let needle = o.text.trim_matches('*').to_lowercase();
        store
            .property(rec, &f.property)
            .is_some_and(|v| v.to_lowercase().contains(&needle))
    };
    match (f.op, &f.value) {
        (Op::HasProperty, _) => has(),
        (Op::NotHasProperty, _) => !has(),
        (Op::In, _) => in_list(store, rec, f),
        (Op::NotIn, _) => !in_list(store, rec, f),
        (_, None) => false,
        (Op::Eq, Some(o)) => cmp(o) == Some(Ordering::Equal),
        (Op::Neq, Some(o)) => cmp(o) != Some(Ordering::Equal),
        (Op::Lt, Some(o)) => cmp(o) == Some(Ordering::Less),
        (Op::Lte, Some(o)) => matches!(cmp(o), Some(Ordering::Less | Ordering::Equal)),
        (Op::Gt, Some(o)) => cmp(o) == Some(Ordering::Greater),
        (Op::Gte, Some(o)) => matches!(cmp(o), Some(Ordering::Greater | Ordering::Equal)),
        (Op::Between, Some(lo)) => {
            matches!(cmp(lo), Some(Ordering::Greater | Ordering::Equal))
                && f.high
                    .as_ref()
                    .is_some_and(|hi| matches!(cmp(hi), Some(Ordering::Less | Ordering::Equal)))
        }
        (Op::ContainsToken, Some(o)) => contains(o),
        (Op::NotContainsToken, Some(o)) => !contains(o),
    }
}

/// `IN`: text compares the stored value lowercased with the values as given (so uppercase
/// values never match, as in HubSpot); numbers and dates compare by value.
fn in_list(store: &HubspotObjectStore, rec: &HubspotRecord, f: &Filter) -> bool {
    let Some(value) = store.property(rec, &f.property) else {
        return false;
    };
    if f.set.contains(value.to_lowercase().as_str()) {
        return true;
    }
    let numeric = value.trim().parse::<f64>().is_ok();
    (numeric || store.date_property_ms(rec, &f.property).is_some())
        && f.values
            .iter()
            .any(|o| compare(store, rec, &f.property, o) == Some(Ordering::Equal))
}

fn sort_cmp(
    store: &HubspotObjectStore,
    a: &HubspotRecord,
    b: &HubspotRecord,
    s: &Sort,
) -> Ordering {
    let ord = match (
        store.date_property_ms(a, &s.property),
        store.date_property_ms(b, &s.property),
    ) {
        (Some(x), Some(y)) => x.cmp(&y),
        _ => {
            let (x, y) = (
                store.property(a, &s.property),
                store.property(b, &s.property),
            );
            match (x, y) {
                (Some(x), Some(y)) => match (x.parse::<f64>(), y.parse::<f64>()) {
                    (Ok(p), Ok(q)) => p.partial_cmp(&q).unwrap_or(Ordering::Equal),
                    _ => x.to_lowercase().cmp(&y.to_lowercase()),
                },
                (Some(_), None) => Ordering::Less,
                (None, Some(_)) => Ordering::Greater,
                (None, None) => Ordering::Equal,
            }
        }
    };
    if s.descending {
        ord.reverse()
    } else {
        ord
    }
}

/// HubSpot's limits on the number of filter groups and filters.
fn check_filter_counts(groups: &[Value]) -> Result<(), String> {
    if groups.len() > MAX_FILTER_GROUPS {
        return Err(format!(
            "filterGroups has {} groups; at most {MAX_FILTER_GROUPS} are allowed",
            groups.len()
        ));
    }
    let mut total = 0;
    for g in groups {
        let n = g
            .get("filters")
            .and_then(Value::as_array)
            .map_or(0, Vec::len);
        if n > MAX_FILTERS_PER_GROUP {
            return Err(format!(
                "a filterGroup has {n} filters; at most {MAX_FILTERS_PER_GROUP} are allowed per group"
            ));
        }
        total += n;
    }
    if total > MAX_FILTERS {
        return Err(format!(
            "the search has {total} filters; at most {MAX_FILTERS} are allowed in all filterGroups"
        ));
    }
    Ok(())
}

/// `POST /crm/v3/objects/{type}/search`
pub async fn search(
    Extension(account): Extension<Arc<HubspotAccount>>,
    Path(object_type): Path<String>,
    body: Bytes,
) -> Response {
    let kind = match kind_of(&object_type) {
        Ok(k) => k,
        Err(r) => return r,
    };
    let body = match parse_json(&body) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let mut groups: Vec<Vec<Filter>> = Vec::new();
    let raw_groups = body
        .get("filterGroups")
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice);
    if let Err(e) = check_filter_counts(raw_groups) {
        return validation(e);
    }
    for g in raw_groups {
        let mut filters = Vec::new();
        for f in g
            .get("filters")
            .and_then(Value::as_array)
            .map_or(&[][..], Vec::as_slice)
        {
            match parse_filter(f) {
                Ok(f) => filters.push(f),
                Err(e) => return validation(e),
            }
        }
        groups.push(filters);
    }
    let sorts = parse_sorts(body.get("sorts"));
    let limit = match body.get("limit") {
        None | Some(Value::Null) => 10,
        Some(v) => match v
            .as_u64()
            .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        {
            Some(n) if n as usize <= MAX_LIMIT => (n as usize).max(1),
            _ => return validation(format!("limit must be a number between 1 and {MAX_LIMIT}")),
        },
    };
    let after = match body.get("after") {
        None | Some(Value::Null) => 0,
        Some(v) => match v
            .as_u64()
            .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        {
            Some(n) => n as usize,
            None => return validation("after must be a numeric paging cursor"),
        },
    };
    if after >= MAX_SEARCH_RESULTS {
        return validation(format!(
            "Search results are limited to {MAX_SEARCH_RESULTS}; cannot page beyond the first {MAX_SEARCH_RESULTS} results (after={after})"
        ));
    }
    let sel = PropertySelection::from_csv(
        body.get("properties")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect::<Vec<_>>())
            .unwrap_or_default()
            .into_iter(),
    );
    let text = body
        .get("query")
        .and_then(Value::as_str)
        .map(|q| q.trim().to_lowercase())
        .filter(|q| !q.is_empty());
    let store = account.store(kind);
    // Free-text `query` matches the type's default properties, case-insensitively.
    let text_hit = |r: &HubspotRecord| {
        text.as_ref().is_none_or(|q| {
            kind.default_properties().iter().any(|p| {
                store
                    .property(r, p)
                    .is_some_and(|v| v.to_lowercase().contains(q.as_str()))
            })
        })
    };
    let keep = |r: &HubspotRecord| {
        text_hit(r)
            && (groups.is_empty()
                || groups
                    .iter()
                    .any(|g| g.iter().all(|f| matches(&store, r, f))))
    };
    let by_modified_asc =
        sorts.len() == 1 && !sorts[0].descending && sorts[0].property == kind.modified_property();
    let mut hits: Vec<&HubspotRecord> = if by_modified_asc {
        store.iter_by_updated().filter(|r| keep(r)).collect()
    } else {
        store.all().filter(|r| keep(r)).collect()
    };
    if !sorts.is_empty() && !by_modified_asc {
        hits.sort_by(|a, b| {
            sorts
                .iter()
                .map(|s| sort_cmp(&store, a, b, s))
                .find(|o| *o != Ordering::Equal)
                .unwrap_or_else(|| a.id.cmp(&b.id))
        });
    }
    let total = hits.len();
    let results: Vec<Value> = hits
        .iter()
        .skip(after)
        .take(limit)
        .map(|r| store.render(r, &sel))
        .collect();
    drop(store);
    let mut out = json!({"total": total, "results": results});
    let next = after + limit;
    if next < total {
        out["paging"] = json!({"next": {"after": next.to_string()}});
    }
    Json(out).into_response()
}
