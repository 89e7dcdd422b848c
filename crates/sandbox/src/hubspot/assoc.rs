//! HubSpot associations between contacts, companies and deals (v4 endpoints and the v3
//! `associations` query parameter / create-body field).

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde_json::{json, Value};

use super::error::{hubspot_error, not_found, validation};
use super::objects::kind_of;
use super::store::HubspotObjectKind;
use super::HubspotAccount;
use crate::clock::{iso_millis, now_ms};
use crate::state::{lock, SharedState};

type Kind = HubspotObjectKind;

/// HubSpot-defined default association type ids for (from, to).
pub fn default_type_id(from: Kind, to: Kind) -> Option<u32> {
    Some(match (from, to) {
        (Kind::Contacts, Kind::Companies) => 279,
        (Kind::Companies, Kind::Contacts) => 280,
        (Kind::Deals, Kind::Contacts) => 3,
        (Kind::Contacts, Kind::Deals) => 4,
        (Kind::Deals, Kind::Companies) => 341,
        (Kind::Companies, Kind::Deals) => 342,
        _ => return None,
    })
}

/// The target type of a HubSpot-defined association type id used from `from`.
pub fn target_of_type(from: Kind, type_id: u64) -> Option<Kind> {
    Kind::ALL
        .into_iter()
        .find(|to| default_type_id(from, *to).is_some_and(|t| u64::from(t) == type_id))
        .or(match (from, type_id) {
            (Kind::Contacts, 1) => Some(Kind::Companies),
            (Kind::Companies, 2) => Some(Kind::Contacts),
            (Kind::Deals, 5) => Some(Kind::Companies),
            (Kind::Companies, 6) => Some(Kind::Deals),
            _ => None,
        })
}

fn singular(k: Kind) -> &'static str {
    match k {
        Kind::Contacts => "contact",
        Kind::Companies => "company",
        Kind::Deals => "deal",
    }
}

/// Both directions of every association of one account.
#[derive(Debug, Default)]
pub struct HubspotAssociations {
    links: BTreeSet<(usize, u64, usize, u64)>,
}

impl HubspotAssociations {
    pub fn clear(&mut self) {
        self.links.clear();
    }

    pub fn link(&mut self, from: Kind, from_id: u64, to: Kind, to_id: u64) {
        self.links
            .insert((from.index(), from_id, to.index(), to_id));
        self.links
            .insert((to.index(), to_id, from.index(), from_id));
    }

    /// Ids of `to` objects associated with (`from`, `id`).
    pub fn targets(&self, from: Kind, id: u64, to: Kind) -> Vec<u64> {
        let (f, t) = (from.index(), to.index());
        self.links
            .range((f, id, t, 0)..=(f, id, t, u64::MAX))
            .map(|l| l.3)
            .collect()
    }
}

/// Links a freshly created object per a v3 `associations` array; errors name the input.
pub fn link_from_input(
    account: &HubspotAccount,
    from: Kind,
    id: u64,
    input: &Value,
) -> Result<(), String> {
    let Some(list) = input.get("associations").and_then(Value::as_array) else {
        return Ok(());
    };
    for a in list {
        let to_id = match a.pointer("/to/id") {
            Some(Value::String(s)) => s.parse::<u64>().ok(),
            Some(Value::Number(n)) => n.as_u64(),
            _ => None,
        }
        .ok_or("association is missing to.id")?;
        let type_id = a
            .get("types")
            .and_then(Value::as_array)
            .and_then(|t| t.first())
            .and_then(|t| t.get("associationTypeId"))
            .and_then(Value::as_u64)
            .ok_or("association is missing types[0].associationTypeId")?;
        let to = target_of_type(from, type_id).ok_or_else(|| {
            format!(
                "unknown associationTypeId {type_id} from {}",
                singular(from)
            )
        })?;
        if account.store(to).get(to_id).is_none() {
            return Err(format!("{} {to_id} does not exist", singular(to)));
        }
        lock(&account.associations).link(from, id, to, to_id);
    }
    Ok(())
}

/// v3 `associations` block for a record: `{contacts: {results: [{id, type}]}}`.
pub fn v3_block(account: &HubspotAccount, from: Kind, id: u64, wanted: &[Kind]) -> Value {
    let assoc = lock(&account.associations);
    let mut out = serde_json::Map::new();
    for to in wanted {
        let results: Vec<Value> = assoc
            .targets(from, id, *to)
            .into_iter()
            .map(|t| json!({"id": t.to_string(), "type": format!("{}_to_{}", singular(from), singular(*to))}))
            .collect();
        if !results.is_empty() {
            out.insert(to.as_str().to_owned(), json!({"results": results}));
        }
    }
    Value::Object(out)
}

/// `GET /crm/v4/objects/{from}/{id}/associations/{to}`
pub async fn list_v4(
    Extension(account): Extension<Arc<HubspotAccount>>,
    Path((from, id, to)): Path<(String, String, String)>,
) -> Response {
    let (from_kind, to_kind) = match (kind_of(&from), kind_of(&to)) {
        (Ok(f), Ok(t)) => (f, t),
        (Err(r), _) | (_, Err(r)) => return r,
    };
    let Some(num) = id
        .parse::<u64>()
        .ok()
        .filter(|n| account.store(from_kind).get(*n).is_some())
    else {
        return not_found(&id);
    };
    let type_id = default_type_id(from_kind, to_kind).unwrap_or(0);
    let results: Vec<Value> = lock(&account.associations)
        .targets(from_kind, num, to_kind)
        .into_iter()
        .map(|t| {
            json!({"toObjectId": t, "associationTypes": [
                {"category": "HUBSPOT_DEFINED", "typeId": type_id, "label": null}
            ]})
        })
        .collect();
    Json(json!({"results": results})).into_response()
}

/// `PUT /crm/v4/objects/{from}/{id}/associations/default/{to}/{toId}`
pub async fn create_default_v4(
    State(state): State<SharedState>,
    Extension(account): Extension<Arc<HubspotAccount>>,
    Path((from, id, to, to_id)): Path<(String, String, String, String)>,
) -> Response {
    let started = now_ms();
    let (from_kind, to_kind) = match (kind_of(&from), kind_of(&to)) {
        (Ok(f), Ok(t)) => (f, t),
        (Err(r), _) | (_, Err(r)) => return r,
    };
    let Some(type_id) = default_type_id(from_kind, to_kind) else {
        return validation(format!("{from} cannot be associated with {to}"));
    };
    let from_num = id
        .parse::<u64>()
        .ok()
        .filter(|n| account.store(from_kind).get(*n).is_some());
    let to_num = to_id
        .parse::<u64>()
        .ok()
        .filter(|n| account.store(to_kind).get(*n).is_some());
    let (Some(f), Some(t)) = (from_num, to_num) else {
        return hubspot_error(
            StatusCode::BAD_REQUEST,
            "VALIDATION_ERROR",
            format!("One or more of the objects to associate ({id}, {to_id}) do not exist"),
        );
    };
    lock(&account.associations).link(from_kind, f, to_kind, t);
    state.stats.record_writes("hubspot", "associations", 1);
    Json(json!({
        "status": "COMPLETE",
        "results": [{
            "from": {"id": f.to_string()},
            "to": {"id": t.to_string()},
            "associationSpec": {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": type_id},
        }],
        "startedAt": iso_millis(started),
        "completedAt": iso_millis(now_ms()),
    }))
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_are_bidirectional_and_type_ids_resolve() {
        let mut a = HubspotAssociations::default();
        a.link(Kind::Deals, 9, Kind::Contacts, 1);
        a.link(Kind::Deals, 9, Kind::Contacts, 2);
        assert_eq!(a.targets(Kind::Deals, 9, Kind::Contacts), vec![1, 2]);
        assert_eq!(a.targets(Kind::Contacts, 2, Kind::Deals), vec![9]);
        assert!(a.targets(Kind::Deals, 9, Kind::Companies).is_empty());
        assert_eq!(target_of_type(Kind::Deals, 3), Some(Kind::Contacts));
        assert_eq!(target_of_type(Kind::Contacts, 1), Some(Kind::Companies));
    }
}
