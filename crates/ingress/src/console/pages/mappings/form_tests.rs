//! Tests of the editor form ↔ mapping spec translation.

use super::*;
use serde_json::json;

fn raw(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[test]
fn a_posted_form_becomes_the_spec_the_api_takes() {
    let form = EditorForm::parse(&raw(&[
        ("csrf", "tok"),
        ("name", " contacts to clients "),
        ("source_connection", "s-id"),
        ("source_object", "contacts"),
        ("target_connection", "t-id"),
        ("target_object", "clients"),
        ("pair.0.source", "lastname"),
        ("pair.0.target", "lastName"),
        ("pair.0.transform", ""),
        ("pair.0.required", "on"),
        ("pair.zz9.source", "phone"),
        ("pair.zz9.target", "phones[0].number"),
        ("pair.zz9.transform", "phone_e164"),
        ("pair.zz9.region", "gb"),
        ("pair.zz9.timezone", "Europe/Paris"),
        ("pair.blank.source", ""),
        ("pair.blank.target", ""),
        ("pair.blank.transform", ""),
        ("pair.c.source", "firstname, lastname"),
        ("pair.c.target", "name"),
        ("pair.c.transform", "concatenate"),
        ("pair.c.separator", " - "),
        ("direction", "bidirectional"),
        ("conflict", "source_wins"),
        ("on_delete", "archive"),
        ("match_source", "email"),
        ("match_target", "emails[0].address"),
        ("cron", "*/15 * * * *"),
        ("timezone", ""),
        ("records", "[]"),
    ]));
    assert_eq!(form.csrf.as_deref(), Some("tok"));
    assert_eq!(form.pairs.len(), 3, "the blank row is dropped");
    let (spec, issues) = form.to_spec();
    assert!(issues.is_empty(), "{issues:?}");
    let got = serde_json::to_value(&spec).unwrap();
    assert_eq!(
        got,
        json!({
            "name": "contacts to clients",
            "source": {"connectionId": "s-id", "object": "contacts"},
            "target": {"connectionId": "t-id", "object": "clients"},
            "direction": "bidirectional",
            "fieldPairs": [
                {"sourceField": "lastname", "targetField": "lastName", "required": true},
                {"sourceField": "phone", "targetField": "phones[0].number",
                 "transform": "phone_e164", "transformOptions": {"region": "gb"}, "required": false},
                {"sourceFields": ["firstname", "lastname"], "targetField": "name",
                 "transform": "concatenate", "transformOptions": {"separator": " - "}, "required": false}
            ],
            "match": {"sourceField": "email", "targetField": "emails[0].address"},
            "conflictResolution": "source_wins",
            "schedule": {"cron": "*/15 * * * *", "timezone": "UTC"},
            "enabled": false,
            "onDelete": "archive"
        })
    );
}

#[test]
fn a_stored_spec_shows_in_the_form_and_saves_back_unchanged() {
    let spec: MappingSpec = serde_json::from_value(json!({
        "name": "deals",
        "source": {"connectionId": "a", "object": "deals"},
        "target": {"connectionId": "b", "object": "jobs"},
        "fieldPairs": [
            {"sourceField": "dealname", "targetField": "title", "transform": "uppercase"},
            {"sourceField": "owner", "targetField": "firstName", "transform": "split_name",
             "transformOptions": {"part": "first"}, "required": true}
        ],
        "associations": [{"source": "contacts", "mappingId": "m1", "targetField": "clientId"}],
        "schedule": {"cron": "0 9 * * MON-FRI", "timezone": "Europe/Berlin"},
        "onDelete": "unlink"
    }))
    .unwrap();
    let form = EditorForm::from_spec(&spec);
    assert_eq!(form.pairs[1].part, "first");
    assert_eq!(form.timezone, "Europe/Berlin");
    let (back, issues) = form.to_spec();
    assert!(issues.is_empty());
    assert_eq!(back, spec);
}

#[test]
fn a_select_outside_its_choices_is_named_and_blank_ones_take_the_default() {
    let form = EditorForm::parse(&raw(&[("direction", "sideways"), ("on_delete", "")]));
    let (spec, issues) = form.to_spec();
    assert_eq!(spec.direction, Direction::SourceToTarget);
    assert_eq!(spec.on_delete, OnDelete::Ignore);
    assert_eq!(issues.len(), 1);
    assert_eq!(issues[0].field, "direction");
    assert!(spec.schedule.is_none() && spec.match_rule.is_none());
}

#[test]
fn options_of_another_transform_are_not_sent() {
    let form = EditorForm::parse(&raw(&[
        ("pair.1.source", "email"),
        ("pair.1.target", "emails[0].address"),
        ("pair.1.transform", "lowercase"),
        ("pair.1.region", "US"),
        ("pair.1.part", "first"),
    ]));
    let (spec, _) = form.to_spec();
    assert_eq!(spec.field_pairs[0].transform_options, None);
}

#[test]
fn a_full_patch_clears_what_the_form_left_out() {
    let (spec, _) = EditorForm::default().to_spec();
    let body = full_patch(&spec);
    assert_eq!(body["schedule"], Value::Null);
    assert_eq!(body["match"], Value::Null);
    assert_eq!(body["associations"], Value::Null);
    assert_eq!(body["enabled"], true);
}
