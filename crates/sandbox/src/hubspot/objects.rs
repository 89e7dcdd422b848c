//! HubSpot single-object endpoints: list, get, create, update, archive.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde_json::{json, Value};

use super::error::{hubspot_error, not_found, parse_json, validation};
use super::store::{properties_from_json, HubspotObjectKind, PropertySelection};
use super::{assoc, HubspotAccount};
use crate::state::SharedState;
use crate::webhook::ChangeSource;

/// Query string as decoded pairs.
pub fn query_pairs(raw: &Option<String>) -> Vec<(String, String)> {
    raw.as_deref()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .collect()
        })
        .unwrap_or_default()
}

fn first<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// The object type of the path, or HubSpot's error for an unknown one.
pub fn kind_of(object_type: &str) -> Result<HubspotObjectKind, Response> {
    HubspotObjectKind::parse(object_type).ok_or_else(|| {
        hubspot_error(
            StatusCode::BAD_REQUEST,
            "VALIDATION_ERROR",
            format!("Unable to infer object type from: {object_type}"),
        )
    })
}

fn selection(pairs: &[(String, String)]) -> PropertySelection {
    PropertySelection::from_csv(
        pairs
            .iter()
            .filter(|(k, _)| k == "properties")
            .map(|(_, v)| v.as_str()),
    )
}

/// Object types named by `associations=` (comma-separated or repeated).
fn wanted_associations(pairs: &[(String, String)]) -> Vec<HubspotObjectKind> {
    pairs
        .iter()
        .filter(|(k, _)| k == "associations")
        .flat_map(|(_, v)| v.split(','))
        .filter_map(|s| HubspotObjectKind::parse(s.trim()))
        .collect()
}

/// `GET /crm/v3/objects/{type}?limit&after&properties&associations`
pub async fn list(
    State(state): State<SharedState>,
    Extension(account): Extension<Arc<HubspotAccount>>,
    Path(object_type): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let kind = match kind_of(&object_type) {
        Ok(k) => k,
        Err(r) => return r,
    };
    let pairs = query_pairs(&raw);
    let limit = match first(&pairs, "limit").map(str::parse::<usize>) {
        None => 10,
        Some(Ok(n)) => n.clamp(1, 100),
        Some(Err(_)) => return validation("limit must be an integer"),
    };
    let after = match first(&pairs, "after").map(str::parse::<u64>) {
        None => 0,
        Some(Ok(n)) => n,
        Some(Err(_)) => return validation("after must be a numeric paging cursor"),
    };
    let sel = selection(&pairs);
    let wanted = wanted_associations(&pairs);
    let (mut results, next) = {
        let store = account.store(kind);
        let archived = first(&pairs, "archived") == Some("true");
        let mut it: Box<dyn Iterator<Item = &super::store::HubspotRecord>> = if archived {
            Box::new(store.iter_archived_from(after))
        } else {
            Box::new(store.iter_from(after))
        };
        let mut results = Vec::with_capacity(limit);
        for rec in it.by_ref().take(limit) {
            results.push(store.render(rec, &sel));
        }
        (results, it.next().map(|r| r.id))
    };
    if !wanted.is_empty() {
        for r in &mut results {
            let id = r["id"].as_str().and_then(|s| s.parse().ok()).unwrap_or(0);
            let block = assoc::v3_block(&account, kind, id, &wanted);
            if block.as_object().is_some_and(|o| !o.is_empty()) {
                r["associations"] = block;
            }
        }
    }
    let mut body = json!({ "results": results });
    if let Some(next) = next {
        let mut link = format!(
            "{}/hubspot/crm/v3/objects/{}?after={next}&limit={limit}",
            state.base_url, object_type
        );
        if let Some(props) = &sel.0 {
            link.push_str("&properties=");
            link.push_str(&props.join(","));
        }
        if first(&pairs, "archived") == Some("true") {
            link.push_str("&archived=true");
        }
        body["paging"] = json!({"next": {"after": next.to_string(), "link": link}});
    }
    Json(body).into_response()
}

/// `GET /crm/v3/objects/{type}/{id}?properties&idProperty`
pub async fn get_one(
    Extension(account): Extension<Arc<HubspotAccount>>,
    Path((object_type, id)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> Response {
    let kind = match kind_of(&object_type) {
        Ok(k) => k,
        Err(r) => return r,
    };
    let pairs = query_pairs(&raw);
    let sel = selection(&pairs);
    let store = account.store(kind);
    let rec = match first(&pairs, "idProperty") {
        Some(prop) if prop != "hs_object_id" => store.all().find(|r| {
            store
                .property(r, prop)
                .is_some_and(|v| v.eq_ignore_ascii_case(&id))
        }),
        _ => id.parse::<u64>().ok().and_then(|n| store.get(n)),
    };
    let Some(mut out) = rec.map(|r| store.render(r, &sel)) else {
        return not_found(&id);
    };
    drop(store);
    let wanted = wanted_associations(&pairs);
    if !wanted.is_empty() {
        let num = out["id"].as_str().and_then(|s| s.parse().ok()).unwrap_or(0);
        let block = assoc::v3_block(&account, kind, num, &wanted);
        if block.as_object().is_some_and(|o| !o.is_empty()) {
            out["associations"] = block;
        }
    }
    Json(out).into_response()
}

fn input_properties(body: &Value) -> Result<std::collections::HashMap<String, String>, Response> {
    properties_from_json(body.get("properties").unwrap_or(&Value::Null)).map_err(validation)
}

/// Selection listing the properties a write touched (HubSpot echoes them).
pub fn written_selection(props: &std::collections::HashMap<String, String>) -> PropertySelection {
    PropertySelection(Some(props.keys().cloned().collect()))
}

/// `POST /crm/v3/objects/{type}` → 201
pub async fn create(
    State(state): State<SharedState>,
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
    let props = match input_properties(&body) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let sel = written_selection(&props);
    let mut store = account.store(kind);
    let id = store.create(props);
    let out = store.get(id).map(|r| store.render(r, &sel));
    drop(store);
    if let Err(e) = assoc::link_from_input(&account, kind, id, &body) {
        account.store(kind).archive(id);
        return validation(e);
    }
    state.stats.record_writes("hubspot", kind.as_str(), 1);
    state.hubspot_created(
        account.portal_id,
        kind.as_str(),
        &[id],
        ChangeSource::Integration,
    );
    (StatusCode::CREATED, Json(out)).into_response()
}

/// `PATCH /crm/v3/objects/{type}/{id}`
pub async fn update(
    State(state): State<SharedState>,
    Extension(account): Extension<Arc<HubspotAccount>>,
    Path((object_type, id)): Path<(String, String)>,
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
    let props = match input_properties(&body) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let Ok(num) = id.parse::<u64>() else {
        return not_found(&id);
    };
    let sel = written_selection(&props);
    let hook = state.webhooks_on().then(|| props.clone());
    let mut store = account.store(kind);
    if store.update(num, props).is_none() {
        return not_found(&id);
    }
    let out = store.get(num).map(|r| store.render(r, &sel));
    drop(store);
    state.stats.record_writes("hubspot", kind.as_str(), 1);
    if let Some(p) = hook {
        state.hubspot_updated(
            account.portal_id,
            kind.as_str(),
            num,
            &p,
            ChangeSource::Integration,
        );
    }
    Json(out).into_response()
}

/// `DELETE /crm/v3/objects/{type}/{id}` → 204 (archives)
pub async fn archive(
    State(state): State<SharedState>,
    Extension(account): Extension<Arc<HubspotAccount>>,
    Path((object_type, id)): Path<(String, String)>,
) -> Response {
    let kind = match kind_of(&object_type) {
        Ok(k) => k,
        Err(r) => return r,
    };
    if let Ok(num) = id.parse::<u64>() {
        if account.store(kind).archive(num).is_some() {
            state.stats.record_writes("hubspot", kind.as_str(), 1);
            state.hubspot_deleted(
                account.portal_id,
                kind.as_str(),
                &[num],
                ChangeSource::Integration,
            );
        }
    }
    // HubSpot answers 204 even for ids that do not exist.
    StatusCode::NO_CONTENT.into_response()
}
