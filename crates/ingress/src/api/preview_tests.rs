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
    let records = parse_records(&[
        json!({"id": "a1", "fields": {"email": "x"}}),
        json!({"fields": {"email": "y"}}),
        json!({"id": 42, "email": "z"}),
        json!({"email": "w", "fields": "a field called fields"}),
    ])
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
    let e = parse_records(&[
        json!({"email": "ok"}),
        json!(7),
        json!({"id": true, "fields": []}),
        json!(null),
    ])
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
    let e = parse_records(&many).unwrap_err();
    assert_eq!(e.len(), 1);
    assert_eq!(e[0].field, "records");
    assert!(parse_records(&vec![json!({}); MAX_PREVIEW_RECORDS]).is_ok());
}

#[test]
fn each_record_gets_a_payload_or_its_error() {
    let engine = CompiledMapping::compile(&pairs()).unwrap();
    let records = parse_records(&[
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
    let records = parse_records(&[json!({
        "firstName": "ada", "lastName": "L", "emails": [{"address": "A@X.COM"}], "name": "x"
    })])
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
    let records = parse_records(&vec![json!({"firstname": "a", "lastname": "b"}); 100]).unwrap();
    let all = preview_records_within(&engine, &records, std::time::Duration::from_secs(60));
    assert_eq!(all.map(|items| items.len()), Some(100));
    let none = preview_records_within(&engine, &records, std::time::Duration::ZERO);
    // The first record may start before the clock moves; the rest are not computed.
    assert_eq!(none, None);
}
