//! Unit tests of the preview's record parsing and per-record mapping (no database).

use super::*;
use fluxcascade_core::FieldPair;
use serde_json::json;

fn pairs() -> Vec<FieldPair> {
    serde_json::from_value(json!([
        {"sourceField": "firstname", "targetField": "firstName", "transform": "uppercase"},
        {"sourceField": "lastname", "targetField": "lastName", "required": true},
        {"sourceField": "email", "targetField": "emails[0].address", "transform": "lowercase"},
        {"sourceFields": ["firstname", "lastname"], "targetField": "name", "transform": "concatenate"}
    ]))
    .unwrap()
}

#[test]
fn both_record_shapes_are_accepted() {
    let records = parse_records(
        ProviderKind::Pipedrive,
        &[
            json!({"id": "a1", "fields": {"email": "x"}}),
            json!({"fields": {"email": "y"}}),
            json!({"id": 42, "email": "z"}),
            json!({"email": "w", "fields": "a field called fields"}),
        ],
    )
    .unwrap();
    assert_eq!(records[0].id.as_deref(), Some("a1"));
    assert_eq!(records[0].fields, json!({"email": "x"}));
    assert_eq!(records[1].id, None);
    assert_eq!(records[2].id.as_deref(), Some("42"));
    assert_eq!(records[2].fields, json!({"id": 42, "email": "z"}));
    assert_eq!(records[3].id, None, "extra keys make it a bare record");
    assert_eq!(records[3].fields["fields"], "a field called fields");
}

#[test]
fn bad_records_name_their_field() {
    let e = parse_records(
        ProviderKind::Pipedrive,
        &[
            json!({"email": "ok"}),
            json!(7),
            json!({"id": true, "fields": []}),
            json!(null),
        ],
    )
    .unwrap_err();
    let fields: Vec<_> = e.iter().map(|d| d.field.as_str()).collect();
    assert_eq!(
        fields,
        [
            "records[1]",
            "records[2].id",
            "records[2].fields",
            "records[3]"
        ]
    );
    let many = vec![json!({}); MAX_PREVIEW_RECORDS + 1];
    let e = parse_records(ProviderKind::Pipedrive, &many).unwrap_err();
    assert_eq!(e.len(), 1);
    assert_eq!(e[0].field, "records");
    assert!(parse_records(
        ProviderKind::Pipedrive,
        &vec![json!({}); MAX_PREVIEW_RECORDS]
    )
    .is_ok());
}

#[test]
fn each_record_gets_a_payload_or_its_error() {
    let engine = CompiledMapping::compile(&pairs()).unwrap();
    let records = parse_records(ProviderKind::Pipedrive, &[
        json!({"id": "1", "fields": {"firstname": "ada", "lastname": "Lovelace", "email": "A@X.COM"}}),
        json!({"firstname": "grace"}),
    ])
    .unwrap();
    let items = preview_records(&engine, &records);
    assert_eq!(items[0].record_id, "1");
    assert_eq!(
        items[0].payload,
        Some(json!({
            "firstName": "ADA", "lastName": "Lovelace",
            "emails": [{"address": "a@x.com"}], "name": "ada Lovelace"
        }))
    );
    assert!(items[0].errors.is_empty());
    assert_eq!(items[1].record_id, "records[1]");
    assert_eq!(items[1].payload, None);
    assert_eq!(items[1].errors.len(), 1);
    assert_eq!(items[1].errors[0].code, "required_field_missing");
    assert_eq!(items[1].errors[0].field, "lastName");
}

#[test]
fn target_to_source_uses_the_reversed_mapping() {
    let forward = CompiledMapping::compile(&pairs()).unwrap();
    let engine = engine_for(Direction::TargetToSource, &forward);
    assert_eq!(engine, forward.reversed());
    assert_eq!(engine_for(Direction::Bidirectional, &forward), forward);
    let records = parse_records(
        ProviderKind::Jobber,
        &[json!({
            "firstName": "ada", "lastName": "L", "emails": [{"address": "A@X.COM"}], "name": "x"
        })],
    )
    .unwrap();
    let items = preview_records(&engine, &records);
    assert_eq!(
        items[0].payload,
        Some(json!({"firstname": "ADA", "lastname": "L", "email": "a@x.com"})),
        "the concatenate pair flows one way only"
    );
}

#[test]
fn items_serialise_in_the_api_shape() {
    let engine = CompiledMapping::compile(&pairs()).unwrap();
    let items = preview_records(
        &engine,
        &[SampleRecord {
            id: None,
            fields: json!({}),
        }],
    );
    let v = serde_json::to_value(&items[0]).unwrap();
    assert_eq!(v["recordId"], "records[0]");
    assert_eq!(v["payload"], Value::Null);
    assert_eq!(v["errors"][0]["code"], "required_field_missing");
    assert_eq!(v["errors"][0]["field"], "lastName");
    assert!(v["errors"][0]["message"].is_string());
}

#[test]
fn a_preview_past_its_budget_is_refused_not_finished() {
    let engine = CompiledMapping::compile(&pairs()).unwrap();
    let records = parse_records(
        ProviderKind::Pipedrive,
        &vec![json!({"firstname": "a", "lastname": "b"}); 100],
    )
    .unwrap();
    let all = preview_records_within(&engine, &records, std::time::Duration::from_secs(60));
    assert_eq!(all.map(|items| items.len()), Some(100));
    let none = preview_records_within(&engine, &records, std::time::Duration::ZERO);
    // The first record may start before the clock moves; the rest are not computed.
    assert_eq!(none, None);
}

/// One native record per provider, as the provider's API returns it, and what it previews as.
#[test]
fn native_shapes_of_all_four_providers_are_read_as_their_adapters_read_them() {
    let table = [
        (
            ProviderKind::Hubspot,
            json!({"id": "101", "properties": {"firstname": "ada", "phone": "+1 555 0100"},
                   "createdAt": "2024-01-01T00:00:00Z", "archived": false}),
            "101",
            json!({"firstname": "ada", "phone": "+1 555 0100"}),
        ),
        (
            ProviderKind::Salesforce,
            json!({"attributes": {"type": "Contact", "url": "/services/data/v59.0/sobjects/Contact/003X"},
                   "Id": "003X", "FirstName": "Ada", "Email": "a@x.com"}),
            "003X",
            json!({"Id": "003X", "FirstName": "Ada", "Email": "a@x.com"}),
        ),
        (
            ProviderKind::Pipedrive,
            json!({"id": 7, "name": "Ada L", "email": [{"value": "a@x.com", "primary": true}]}),
            "7",
            json!({"id": 7, "name": "Ada L", "email": [{"value": "a@x.com", "primary": true}]}),
        ),
        (
            ProviderKind::Jobber,
            json!({"id": "Z2lk", "firstName": "Ada", "emails": [{"address": "a@x.com"}],
                   "updatedAt": "2024-01-01T00:00:00Z", "client": {"id": "c1"}}),
            "Z2lk",
            json!({"firstName": "Ada", "emails": [{"address": "a@x.com"}], "clientId": "c1"}),
        ),
    ];
    for (kind, record, id, fields) in table {
        let parsed = parse_records(kind, std::slice::from_ref(&record)).unwrap_or_else(|e| {
            panic!("{kind:?} native record refused: {e:?}");
        });
        assert_eq!(parsed[0].id.as_deref(), Some(id), "{kind:?}");
        assert_eq!(parsed[0].fields, fields, "{kind:?}");
        // The wrapped shape is accepted for every provider too.
        let wrapped = parse_records(kind, &[json!({"id": "w", "fields": {"a": 1}})]).unwrap();
        assert_eq!(wrapped[0].fields, json!({"a": 1}), "{kind:?}");
    }
}

#[test]
fn a_hubspot_or_salesforce_record_in_neither_shape_names_its_index() {
    for kind in [ProviderKind::Hubspot, ProviderKind::Salesforce] {
        let e = parse_records(
            kind,
            &[
                json!({"id": "1", "fields": {"a": 1}}),
                json!({"firstname": "pasted as fields, unwrapped"}),
            ],
        )
        .unwrap_err();
        assert_eq!(e.len(), 1, "{kind:?}");
        assert_eq!(e[0].field, "records[1]", "{kind:?}");
    }
    let e = parse_records(
        ProviderKind::Hubspot,
        &[json!({"id": "1", "properties": "not an object"})],
    )
    .unwrap_err();
    assert_eq!(e[0].field, "records[0]");
}

#[test]
fn a_native_hubspot_record_maps_its_properties() {
    let engine = CompiledMapping::compile(&pairs()).unwrap();
    let records = parse_records(
        ProviderKind::Hubspot,
        &[json!({"id": "9", "properties": {"firstname": "ada", "lastname": "L", "email": "A@X"}})],
    )
    .unwrap();
    let items = preview_records(&engine, &records);
    assert!(items[0].errors.is_empty(), "{:?}", items[0].errors);
    assert_eq!(items[0].payload.as_ref().unwrap()["firstName"], "ADA");
}

#[test]
fn sample_count_is_bounded_and_names_the_field() {
    use crate::api::preview_sample::{check_count, fields_read, SampleRequest};
    for bad in [0, 21, -1] {
        let e = check_count(&SampleRequest { count: bad }).unwrap_err();
        assert_eq!(e.field, "sample.count");
    }
    assert_eq!(check_count(&SampleRequest { count: 1 }).unwrap(), 1);
    assert_eq!(check_count(&SampleRequest { count: 20 }).unwrap(), 20);
    assert_eq!(
        fields_read(&pairs()),
        ["firstname", "lastname", "email"].map(String::from)
    );
}
