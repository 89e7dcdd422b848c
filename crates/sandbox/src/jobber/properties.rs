//! Jobber properties as an object of their own: the `properties` connection and `propertyEdit`
//! over GraphQL, `PROPERTY_CREATE`/`PROPERTY_UPDATE` webhooks, and the
//! `/_sandbox/jobber/properties` control plane (seed, create, patch, read).
//!
//! As in Jobber's schema, a property has no timestamps: `properties` is ordered by id and
//! filters only by `clientId` (plus `searchTerm` over the address).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::document::{Field, GraphqlError};
use super::exec::{DEFAULT_PAGE, MAX_PAGE};
use super::input::UserError;
use super::render::{leaf, needs_selection, object, undefined_field};
use super::store::{
    decode_cursor, decode_id, encode_cursor, encode_id, ClientRecord, JobberAddress,
    JobberClientStore,
};
use super::work::{JobberProperty, JobberWorkStore};
use super::work_exec::{property, user_errors};
use super::JobberAccount;
use crate::fake::FakeData;
use crate::state::{lock, SandboxState};
use crate::webhook::WebhookEvent;

/// `AddressAttributes` keys and the stored line each sets.
fn address_line<'a>(a: &'a mut JobberAddress, key: &str) -> Option<&'a mut String> {
    match key {
        "street1" => Some(&mut a.street1),
        "street2" => Some(&mut a.street2),
        "city" => Some(&mut a.city),
        "province" => Some(&mut a.province),
        "postalCode" => Some(&mut a.postal_code),
        "country" => Some(&mut a.country),
        _ => None,
    }
}

/// Applies `AddressAttributes` to `a`: given keys change (`null` clears), others stay.
fn apply_address(a: &mut JobberAddress, attrs: &Value) {
    let Some(map) = attrs.as_object() else {
        return;
    };
    for (k, v) in map {
        if let Some(line) = address_line(a, k) {
            *line = v.as_str().unwrap_or_default().to_owned();
        }
    }
}

fn searchable(p: &JobberProperty) -> String {
    let a = &p.address;
    format!(
        "{} {} {} {} {} {}",
        a.street1, a.street2, a.city, a.province, a.postal_code, a.country
    )
    .to_lowercase()
}

/// `properties(first, after, filter: {clientId}, searchTerm)`, ordered by id.
pub fn properties_connection(
    f: &Field,
    clients: &JobberClientStore,
    work: &JobberWorkStore,
) -> Result<Value, GraphqlError> {
    needs_selection(f, "PropertyConnection")?;
    if f.arg("last").is_some() || f.arg("before").is_some() {
        return Err(GraphqlError::new(
            "Backward pagination (last/before) is not supported by the sandbox",
        ));
    }
    let first = match f.arg("first") {
        None | Some(Value::Null) => DEFAULT_PAGE,
        Some(v) => v
            .as_u64()
            .map(|n| (n as usize).min(MAX_PAGE))
            .ok_or_else(|| GraphqlError::new("Argument 'first' must be a non-negative Int"))?,
    };
    let after = match f.arg("after").and_then(Value::as_str) {
        None => None,
        Some(c) => Some(
            decode_cursor(c)
                .map(|(_, id)| id)
                .ok_or_else(|| GraphqlError::new(format!("Invalid cursor: {c}")))?,
        ),
    };
    // An undecodable clientId matches no property (Jobber finds no such client).
    let owner: Option<Option<u64>> = f
        .arg("filter")
        .and_then(|v| v.get("clientId"))
        .and_then(Value::as_str)
        .map(|c| decode_id("Client", c));
    let search = f
        .arg("searchTerm")
        .and_then(Value::as_str)
        .map(str::to_lowercase)
        .filter(|s| !s.is_empty());
    let matching = |from: Option<u64>| {
        let start = from.map_or(std::ops::Bound::Unbounded, std::ops::Bound::Excluded);
        let search = search.clone();
        work.properties
            .range((start, std::ops::Bound::Unbounded))
            .map(|(_, p)| p)
            .filter(move |p| owner.is_none_or(|o| o == Some(p.client_id)))
            .filter(move |p| search.as_ref().is_none_or(|s| searchable(p).contains(s)))
    };
    let mut it = matching(after);
    let page: Vec<&JobberProperty> = it.by_ref().take(first).collect();
    let has_next = it.next().is_some();
    let cursor_of = |p: &JobberProperty| encode_cursor(0, p.id);
    let dummy = JobberProperty::default();
    object(&f.selection, "PropertyConnection", |g| {
        match g.name.as_str() {
            "nodes" => {
                needs_selection(g, "Property")?;
                property(&dummy, &g.selection, clients)?;
                page.iter()
                    .map(|p| property(p, &g.selection, clients))
                    .collect::<Result<Vec<_>, _>>()
                    .map(Value::Array)
            }
            "edges" => {
                needs_selection(g, "PropertyEdge")?;
                let edge = |p: &JobberProperty, c: String| {
                    object(&g.selection, "PropertyEdge", |h| match h.name.as_str() {
                        "cursor" => leaf(h, c.clone().into()),
                        "node" => {
                            needs_selection(h, "Property")?;
                            property(p, &h.selection, clients)
                        }
                        _ => Err(undefined_field("PropertyEdge", h)),
                    })
                };
                edge(&dummy, String::new())?;
                page.iter()
                    .map(|p| edge(p, cursor_of(p)))
                    .collect::<Result<Vec<_>, _>>()
                    .map(Value::Array)
            }
            "pageInfo" => {
                needs_selection(g, "PageInfo")?;
                object(&g.selection, "PageInfo", |h| match h.name.as_str() {
                    "endCursor" => leaf(h, page.last().map(|p| cursor_of(p)).into()),
                    "startCursor" => leaf(h, page.first().map(|p| cursor_of(p)).into()),
                    "hasNextPage" => leaf(h, has_next.into()),
                    "hasPreviousPage" => leaf(h, after.is_some().into()),
                    _ => Err(undefined_field("PageInfo", h)),
                })
            }
            "totalCount" => leaf(g, json!(matching(None).count())),
            _ => Err(undefined_field("PropertyConnection", g)),
        }
    })
}

/// `PropertyEditPayload` for `p` (None when the edit failed).
pub fn edit_payload(
    p: Option<&JobberProperty>,
    errors: &[UserError],
    fields: &[Field],
    clients: &JobberClientStore,
) -> Result<Value, GraphqlError> {
    object(fields, "PropertyEditPayload", |f| match f.name.as_str() {
        "property" => {
            needs_selection(f, "Property")?;
            let v = property(
                p.unwrap_or(&JobberProperty::default()),
                &f.selection,
                clients,
            )?;
            Ok(if p.is_some() { v } else { Value::Null })
        }
        "userErrors" => user_errors(errors, f),
        _ => Err(undefined_field("PropertyEditPayload", f)),
    })
}

/// Applies `propertyEdit(propertyId, input: {address})`; returns the property id.
pub fn edit_property(
    work: &mut JobberWorkStore,
    property_id: &str,
    input: &Value,
) -> Result<u64, Vec<UserError>> {
    let found = decode_id("Property", property_id).filter(|id| work.property(*id).is_some());
    let Some(id) = found else {
        return Err(vec![UserError {
            message: "Property not found".into(),
            path: vec!["propertyId".into()],
        }]);
    };
    if let (Some(p), Some(addr)) = (work.properties.get_mut(&id), input.get("address")) {
        apply_address(&mut p.address, addr);
    }
    Ok(id)
}

impl SandboxState {
    /// Announces a Jobber property creation (`PROPERTY_CREATE`) or update (`PROPERTY_UPDATE`).
    pub fn jobber_property_changed(&self, account_id: u64, item_id: u64, created: bool) {
        if !self.webhooks_on() {
            return;
        }
        let topic = if created {
            "PROPERTY_CREATE"
        } else {
            "PROPERTY_UPDATE"
        };
        self.webhooks.emit(
            self,
            [WebhookEvent::Jobber {
                account_id,
                topic,
                item_kind: "Property",
                item_id,
            }],
        );
    }
}

/// A property as the control plane shows it, with encoded ids.
pub fn property_json(p: &JobberProperty) -> Value {
    let mut v = serde_json::to_value(p).unwrap_or(Value::Null);
    v["rawId"] = json!(p.id);
    v["id"] = json!(encode_id("Property", p.id));
    v["clientId"] = json!(encode_id("Client", p.client_id));
    v
}

/// Seeds `count` properties on the account's clients, round-robin (one client is seeded
/// first when the account has none). Sends no webhooks.
pub fn seed(acct: &JobberAccount, count: u64, seed: u64) {
    let mut fake = FakeData::new(seed ^ 0x7072_6f70);
    let mut clients = lock(&acct.clients);
    if clients.len() == 0 {
        let p = fake.person(1);
        clients.insert(ClientRecord {
            first_name: p.first,
            last_name: p.last,
            ..Default::default()
        });
    }
    let owners: Vec<u64> = clients.all().map(|c| c.id).collect();
    let mut work = lock(&acct.work);
    for i in 0..count {
        let p = fake.person(i + 1);
        let address = JobberAddress {
            street1: p.street,
            city: p.city,
            province: p.state,
            postal_code: p.zip,
            country: "United States".into(),
            ..Default::default()
        };
        work.add_property(owners[(i as usize) % owners.len()], address);
    }
}

fn bad(message: &str, path: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({"error": "invalid property",
            "userErrors": [{"message": message, "path": [path]}]})),
    )
        .into_response()
}

/// Creates a property from `{clientId, address: {...}}`.
pub fn create(state: &SandboxState, acct: &JobberAccount, body: &Value) -> Response {
    let clients = lock(&acct.clients);
    let owner = body
        .get("clientId")
        .and_then(Value::as_str)
        .and_then(|c| decode_id("Client", c))
        .filter(|id| clients.get(*id).is_some());
    let Some(owner) = owner else {
        return bad("Client not found", "clientId");
    };
    let mut address = JobberAddress::default();
    apply_address(&mut address, body.get("address").unwrap_or(&Value::Null));
    let mut work = lock(&acct.work);
    let id = work.add_property(owner, address);
    let out = work.property(id).map(property_json);
    drop(work);
    drop(clients);
    state.jobber_property_changed(acct.account_id, id, true);
    (StatusCode::CREATED, Json(out)).into_response()
}

/// Changes the address (`{address: {...}}`, given lines only); sends `PROPERTY_UPDATE`.
pub fn patch(state: &SandboxState, acct: &JobberAccount, id: &str, body: &Value) -> Option<Value> {
    let mut work = lock(&acct.work);
    let pid = edit_property(&mut work, id, body).ok()?;
    let out = work.property(pid).map(property_json);
    drop(work);
    state.jobber_property_changed(acct.account_id, pid, false);
    out
}

pub fn list(acct: &JobberAccount, offset: usize, limit: usize) -> (usize, Vec<Value>) {
    let work = lock(&acct.work);
    (
        work.properties.len(),
        work.properties
            .values()
            .skip(offset)
            .take(limit)
            .map(property_json)
            .collect(),
    )
}

pub fn get(acct: &JobberAccount, id: &str) -> Option<Value> {
    let work = lock(&acct.work);
    decode_id("Property", id)
        .and_then(|n| work.property(n))
        .map(property_json)
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Map, Value};

    use super::super::document::parse_operation;
    use super::super::exec::{execute, ExecResult};
    use super::super::store::{decode_id, encode_id, ClientRecord, JobberAddress};
    use super::super::JobberAccount;
    use crate::state::lock;

    fn run(acct: &JobberAccount, query: &str, vars: Value) -> ExecResult {
        let vars: Map<String, Value> = vars.as_object().cloned().unwrap_or_default();
        let op = parse_operation(query, &vars, None).expect("parses");
        execute(acct, &op)
    }

    /// Two clients; client A owns properties in Oslo, Bergen, Oslo; client B one in Tromsø.
    fn account() -> (JobberAccount, String, Vec<String>) {
        let acct = JobberAccount::new("t", 1);
        let (a, b) = {
            let mut clients = lock(&acct.clients);
            (
                clients.insert(ClientRecord::default()),
                clients.insert(ClientRecord::default()),
            )
        };
        let mut work = lock(&acct.work);
        let ids = [(a, "Oslo"), (b, "Tromsø"), (a, "Bergen"), (a, "Oslo")]
            .iter()
            .map(|(owner, city)| {
                let address = JobberAddress {
                    city: (*city).into(),
                    ..Default::default()
                };
                encode_id("Property", work.add_property(*owner, address))
            })
            .collect();
        drop(work);
        (acct, encode_id("Client", a), ids)
    }

    #[test]
    fn properties_page_by_id_and_filter_by_client() {
        let (acct, client_a, ids) = account();
        let q = "query Q($c: EncodedId, $after: String) { properties(first: 2, after: $after, \
                 filter: { clientId: $c }) { nodes { id address { city } client { id } } \
                 pageInfo { endCursor hasNextPage } totalCount } }";
        let first = run(&acct, q, json!({"c": client_a})).data.expect("data");
        let conn = &first["properties"];
        assert_eq!(conn["totalCount"], 3);
        assert_eq!(conn["nodes"][0]["id"], ids[0].as_str());
        assert_eq!(conn["nodes"][1]["address"]["city"], "Bergen");
        assert_eq!(conn["nodes"][1]["client"]["id"], client_a.as_str());
        assert_eq!(conn["pageInfo"]["hasNextPage"], true);
        let after = conn["pageInfo"]["endCursor"].clone();
        let second = run(&acct, q, json!({"c": client_a, "after": after}))
            .data
            .expect("data");
        assert_eq!(second["properties"]["nodes"][0]["id"], ids[3].as_str());
        assert_eq!(second["properties"]["pageInfo"]["hasNextPage"], false);
        let all = run(&acct, q, json!({})).data.expect("data");
        assert_eq!(all["properties"]["totalCount"], 4);
    }

    #[test]
    fn property_edit_changes_given_lines_and_reports_unknown_ids() {
        let (acct, _, ids) = account();
        let m = "mutation E($id: EncodedId!, $input: PropertyEditInput!) { propertyEdit(propertyId: \
                 $id, input: $input) { property { id address { city street1 } } userErrors { message path } } }";
        let input = json!({"address": {"street1": "1 Kai", "city": null}});
        let done = run(&acct, m, json!({"id": ids[2], "input": input}));
        let payload = &done.data.expect("data")["propertyEdit"];
        assert_eq!(payload["property"]["address"]["street1"], "1 Kai");
        assert_eq!(payload["property"]["address"]["city"], "");
        assert_eq!(payload["userErrors"], json!([]));
        assert_eq!(
            done.changed,
            vec![(
                "Property",
                decode_id("Property", &ids[2]).unwrap_or(0),
                false
            )]
        );
        let unknown = encode_id("Property", 9);
        let bad = run(&acct, m, json!({"id": unknown, "input": input}));
        let payload = &bad.data.expect("data")["propertyEdit"];
        assert_eq!(payload["property"], Value::Null);
        assert_eq!(payload["userErrors"][0]["path"], json!(["propertyId"]));
        assert!(bad.changed.is_empty());
    }
}
