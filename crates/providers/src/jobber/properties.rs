//! Jobber `properties` (a client's service addresses) as an object of their own: paged reads,
//! batched reads by id, `propertyCreate` and `propertyEdit`.
//!
//! Record fields: `address.{street1, street2, city, province, postalCode, country}` and
//! `clientId` (the owning client's encoded id). A create needs `clientId` (a missing one fails
//! that record, `invalid_field`); an update changes only the address (`clientId` is ignored:
//! Jobber cannot move a property to another client).
//!
//! Incremental reads: Jobber's `Property` has no `updatedAt` (nor any other timestamp) and
//! `properties` has no time filter or sort, only `filter: {clientId}`. So every read is a full
//! read, and `Record.updated_at` is a stamp that is the same for every record of a read:
//! - a full read (`since: None`), `get_many` and write results: the Unix epoch;
//! - an incremental read: the cursor's time plus one second, so every property is inside
//!   the engine's window `(cursor, run start)` and the cursor moves one second per run,
//!   staying far behind real time.
//!
//! Unchanged properties are then skipped by the engine's value hash (a link whose hash matches
//! is `Unchanged`, our own writes are echoes), which does not depend on `updated_at`. The cost:
//! an incremental sync reads every property, and with `newest_wins` a Jobber property always
//! loses a conflict to the other side (its stamp is older). A `PROPERTY_UPDATE` webhook still
//! brings a single change in quickly through `get_many`.

use chrono::{DateTime, Utc};
use fluxcascade_core::Record;
use futures::future::{BoxFuture, FutureExt};
use futures::stream::{self, StreamExt};
use serde_json::{json, Map, Value};

use super::client::{
    settle_writes, JobberClient, MAX_BATCH, MAX_PAGE, REJECTED, WRITE_CONCURRENCY,
};
use super::queries::{
    CREATE_PROPERTY_RECORD, EDIT_PROPERTY, GET_PROPERTY, LIST_PROPERTIES, PROPERTY_SELECTION,
};
use super::records::{
    as_stored, data_field, failed, parse_connection_with, user_errors, ADDRESS_FIELDS, INVALID,
};
use crate::{ListQuery, Page, ProviderError, WriteOp, WriteResult};

/// The `updated_at` of every property record of a read (see the module docs).
pub fn property_stamp(since: Option<DateTime<Utc>>) -> DateTime<Utc> {
    match since {
        Some(t) => t + chrono::Duration::seconds(1),
        None => DateTime::UNIX_EPOCH,
    }
}

/// A `Property` node as a `Record`: `address` kept as an object (without its `id`),
/// `client { id }` flattened to `clientId`.
pub fn parse_property(node: &Value, stamp: DateTime<Utc>) -> Result<Record, ProviderError> {
    let id = node
        .get("id")
        .and_then(Value::as_str)
        .ok_or_else(|| ProviderError::Permanent("Jobber property without an id".into()))?;
    let mut address = Map::new();
    if let Some(Value::Object(a)) = node.get("address") {
        for key in ADDRESS_FIELDS {
            address.insert((*key).into(), a.get(*key).cloned().unwrap_or(Value::Null));
        }
    }
    let client_id = node.pointer("/client/id").cloned().unwrap_or(Value::Null);
    Ok(Record {
        id: id.to_owned(),
        updated_at: stamp,
        fields: json!({ "address": address, "clientId": client_id }),
        deleted: false,
    })
}

/// The `query` for up to [`MAX_BATCH`] properties by id in one request: `p{i}: property(id:
/// $id{i})` aliases (the schema has no id filter on `properties`).
pub fn get_properties_document(n: usize) -> String {
    let vars: Vec<String> = (0..n).map(|i| format!("$id{i}: EncodedId!")).collect();
    let fields: Vec<String> = (0..n)
        .map(|i| format!("p{i}: property(id: $id{i}) {{ {PROPERTY_SELECTION} }}"))
        .collect();
    format!(
        "query GetProperties({}) {{ {} }}",
        vars.join(", "),
        fields.join(" ")
    )
}

/// `fields.address` as `AddressAttributes`. On an edit a `null` value clears the line (`""`);
/// on a create it is left out.
pub fn address_attributes(fields: &Value, edit: bool) -> Result<Map<String, Value>, String> {
    let mut out = Map::new();
    let address = match fields.get("address") {
        None | Some(Value::Null) => return Ok(out),
        Some(Value::Object(a)) => a,
        Some(v) => return Err(format!("address must be an object, got {v}")),
    };
    for key in ADDRESS_FIELDS {
        match address.get(*key) {
            None => {}
            Some(Value::Null) if edit => {
                out.insert((*key).into(), Value::String(String::new()));
            }
            Some(Value::Null) => {}
            Some(Value::String(s)) => {
                out.insert((*key).into(), Value::String(s.clone()));
            }
            Some(Value::Number(n)) => {
                out.insert((*key).into(), Value::String(n.to_string()));
            }
            Some(v) => return Err(format!("address.{key} must be a string, got {v}")),
        }
    }
    Ok(out)
}

/// The `clientId` a property create names.
pub fn property_client_id(fields: &Value) -> Result<String, String> {
    match fields.get("clientId") {
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.trim().to_owned()),
        None | Some(Value::Null) => Err("a Jobber property needs `clientId`".into()),
        Some(v) => Err(format!("clientId must be a non-empty string, got {v}")),
    }
}

impl JobberClient {
    /// One page of every property (see the module docs for `updated_at`).
    pub(crate) async fn list_properties(&self, query: &ListQuery) -> Result<Page, ProviderError> {
        let first = if query.page_size == 0 {
            MAX_PAGE
        } else {
            query.page_size.min(MAX_PAGE)
        };
        let stamp = property_stamp(query.since.as_ref().map(|c| c.updated_at));
        let vars = json!({ "first": first, "after": query.page });
        let body = self.graphql(LIST_PROPERTIES, vars).await?;
        let conn = data_field(&body, "properties")?;
        let (records, next_page) = parse_connection_with(conn, |n| parse_property(n, stamp))?;
        Ok(Page { records, next_page })
    }

    async fn get_property(&self, id: &str) -> Result<Option<Record>, ProviderError> {
        let body = self.graphql(GET_PROPERTY, json!({ "id": id })).await?;
        match data_field(&body, "property")? {
            Value::Null => Ok(None),
            node => parse_property(node, property_stamp(None)).map(Some),
        }
    }

    /// Up to [`MAX_BATCH`] properties per request (aliases). If Jobber refuses a batch (an
    /// id it cannot decode is a GraphQL error for the whole document), its ids are read one
    /// by one and the unreadable ones are absent.
    pub(crate) async fn get_properties(
        &self,
        ids: &[String],
    ) -> Result<Vec<Record>, ProviderError> {
        let mut out = Vec::new();
        for chunk in ids.chunks(MAX_BATCH) {
            let vars: Map<String, Value> = chunk
                .iter()
                .enumerate()
                .map(|(i, id)| (format!("id{i}"), Value::String(id.clone())))
                .collect();
            let doc = get_properties_document(chunk.len());
            match self.graphql(&doc, Value::Object(vars)).await {
                Ok(body) => {
                    for i in 0..chunk.len() {
                        match data_field(&body, &format!("p{i}"))? {
                            Value::Null => {}
                            node => out.push(parse_property(node, property_stamp(None))?),
                        }
                    }
                }
                Err(ProviderError::Permanent(msg)) => {
                    tracing::debug!(error = %msg, "Jobber property batch refused; reading one by one");
                    for id in chunk {
                        match self.get_property(id).await {
                            Ok(Some(rec)) => out.push(rec),
                            Ok(None) => {}
                            Err(ProviderError::Permanent(msg)) => {
                                tracing::debug!(error = %msg, property_id = %id, "Jobber property not readable")
                            }
                            Err(e) => return Err(e),
                        }
                    }
                }
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    /// Run a property mutation; GraphQL errors and `userErrors` are this record's failure.
    async fn property_mutation(
        &self,
        query: &str,
        variables: Value,
        field: &str,
        node: &str,
    ) -> Result<WriteResult, ProviderError> {
        let body = match self.graphql(query, variables).await {
            Ok(b) => b,
            Err(ProviderError::Permanent(message)) => return Ok(failed(REJECTED, message)),
            Err(e) => return Err(e),
        };
        let payload = data_field(&body, field)?;
        if let Some(message) = user_errors(payload) {
            return Ok(failed(REJECTED, message));
        }
        let found = match payload.pointer(node) {
            Some(n) if n.is_object() => n,
            _ => {
                return Ok(failed(
                    REJECTED,
                    format!("Jobber {field} returned neither a property nor userErrors"),
                ))
            }
        };
        Ok(WriteResult::Ok(parse_property(
            found,
            property_stamp(None),
        )?))
    }

    async fn write_property(&self, op: &WriteOp) -> Result<WriteResult, ProviderError> {
        match op {
            WriteOp::Create { fields } => {
                let client_id = match property_client_id(fields) {
                    Ok(c) => c,
                    Err(message) => return Ok(failed(INVALID, message)),
                };
                let address = match address_attributes(fields, false) {
                    Ok(a) => a,
                    Err(message) => return Ok(failed(INVALID, message)),
                };
                let input = json!({ "properties": [{ "address": address }] });
                let vars = json!({ "clientId": client_id, "input": input });
                self.property_mutation(
                    CREATE_PROPERTY_RECORD,
                    vars,
                    "propertyCreate",
                    "/properties/0",
                )
                .await
            }
            WriteOp::Update { id, fields } => {
                let address = match address_attributes(fields, true) {
                    Ok(a) => a,
                    Err(message) => return Ok(failed(INVALID, message)),
                };
                if address.is_empty() {
                    // Nothing Jobber can edit: answer with the property as stored.
                    return as_stored(self.get_property(id).await, "property", id);
                }
                let vars = json!({ "id": id, "input": { "address": address } });
                self.property_mutation(EDIT_PROPERTY, vars, "propertyEdit", "/property")
                    .await
            }
        }
    }

    /// One mutation per op, bounded concurrency; retryable failures fail the call
    /// (see `settle_writes`).
    pub(crate) async fn write_properties(
        &self,
        ops: &[WriteOp],
    ) -> Result<Vec<WriteResult>, ProviderError> {
        let writes: Vec<BoxFuture<'_, Result<WriteResult, ProviderError>>> = ops
            .iter()
            .map(|op| self.write_property(op).boxed())
            .collect();
        let results: Vec<_> = stream::iter(writes)
            .buffered(WRITE_CONCURRENCY)
            .collect()
            .await;
        settle_writes(results)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_node_becomes_address_and_client_id() {
        let node = json!({"id": "UHJ", "address": {"street1": "1 Main", "street2": "",
            "city": "Oslo", "province": null, "postalCode": "0150", "country": "NO"},
            "client": {"id": "Q2w"}});
        let rec = parse_property(&node, property_stamp(None)).unwrap();
        assert_eq!(rec.id, "UHJ");
        assert_eq!(rec.updated_at, DateTime::UNIX_EPOCH);
        assert_eq!(rec.fields["clientId"], "Q2w");
        assert_eq!(rec.fields["address"]["city"], "Oslo");
        assert_eq!(rec.fields["address"]["province"], Value::Null);
    }

    #[test]
    fn incremental_stamp_is_one_second_past_the_cursor() {
        let t = DateTime::from_timestamp(1_000, 0).unwrap();
        assert_eq!(
            property_stamp(Some(t)),
            DateTime::from_timestamp(1_001, 0).unwrap()
        );
    }

    #[test]
    fn create_needs_client_id_and_nulls_clear_only_on_edit() {
        assert!(property_client_id(&json!({"address": {}})).is_err());
        assert_eq!(
            property_client_id(&json!({"clientId": " c1 "})).unwrap(),
            "c1"
        );
        let f = json!({"address": {"street1": "2 Elm", "city": null, "postalCode": 90210}});
        let create = address_attributes(&f, false).unwrap();
        assert_eq!(
            Value::Object(create),
            json!({"street1": "2 Elm", "postalCode": "90210"})
        );
        let edit = address_attributes(&f, true).unwrap();
        assert_eq!(edit["city"], "");
        assert!(address_attributes(&json!({"address": "x"}), true).is_err());
    }

    #[test]
    fn batch_document_aliases_every_id() {
        let doc = get_properties_document(2);
        assert!(doc.contains("$id0: EncodedId!, $id1: EncodedId!"));
        assert!(doc.contains("p1: property(id: $id1)"));
    }
}
