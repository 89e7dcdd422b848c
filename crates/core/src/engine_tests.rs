//! Tests for compiling and applying field pairs, the reverse mapping, and the paths a mapping needs.

use super::*;
use crate::domain::FieldPair;
use serde_json::json;

fn pair(src: &str, tgt: &str) -> FieldPair {
    FieldPair {
        source_field: Some(src.into()),
        target_field: tgt.into(),
        ..Default::default()
    }
}

fn with(mut p: FieldPair, transform: &str, opts: Option<Value>) -> FieldPair {
    p.transform = Some(transform.into());
    p.transform_options = opts;
    p
}

fn required(mut p: FieldPair) -> FieldPair {
    p.required = true;
    p
}

fn hubspot_to_jobber() -> Vec<FieldPair> {
    vec![
        required(pair("firstname", "firstName")),
        pair("lastname", "lastName"),
        with(pair("email", "emails[0].address"), "lowercase", None),
        with(
            pair("phone", "phones[0].number"),
            "phone_e164",
            Some(json!({"region": "US"})),
        ),
        pair("address", "billingAddress.street1"),
        with(pair("createdate", "customFields.since"), "date_iso", None),
        FieldPair {
            source_fields: Some(vec!["firstname".into(), "lastname".into()]),
            target_field: "title".into(),
            transform: Some("concatenate".into()),
            ..Default::default()
        },
    ]
}

#[test]
fn applies_pairs_into_nested_target_paths() {
    let m = CompiledMapping::compile(&hubspot_to_jobber()).unwrap();
    let out = m
        .apply(&json!({
            "firstname": "Ada", "lastname": "Lovelace", "email": "ADA@Example.com",
            "phone": "(201) 555-0123", "address": "1 Main St", "createdate": "1709649000000", "ignored": 1
        }))
        .unwrap();
    assert_eq!(
        out,
        json!({
            "firstName": "Ada", "lastName": "Lovelace",
            "emails": [{"address": "ada@example.com"}],
            "phones": [{"number": "+12015550123"}],
            "billingAddress": {"street1": "1 Main St"},
            "customFields": {"since": "2024-03-05T14:30:00Z"},
            "title": "Ada Lovelace",
        })
    );
}

#[test]
fn absent_fields_are_not_written_but_nulls_are() {
    let m = CompiledMapping::compile(&[
        pair("a", "x"),
        pair("b", "y"),
        with(pair("c", "z"), "uppercase", None),
    ])
    .unwrap();
    assert_eq!(m.apply(&json!({"b": null})).unwrap(), json!({"y": null}));
    assert_eq!(m.apply(&json!({"c": null})).unwrap(), json!({"z": null}));
}

#[test]
fn transform_errors_keep_their_code_and_name_the_target() {
    let m = CompiledMapping::compile(&hubspot_to_jobber()).unwrap();
    let err = m
        .apply(&json!({"firstname": "Ada", "phone": "12345"}))
        .unwrap_err();
    assert_eq!(err.code, "invalid_phone");
    assert_eq!(err.field, "phones[0].number");
    assert!(
        err.message.contains("'phone'") && err.message.contains("12345"),
        "{}",
        err.message
    );

    let err = m
        .apply(&json!({"firstname": "Ada", "createdate": "someday"}))
        .unwrap_err();
    assert_eq!(
        (err.code.as_str(), err.field.as_str()),
        ("invalid_date", "customFields.since")
    );
}

#[test]
fn required_fields_are_checked_after_transforming() {
    let pairs = [
        required(with(
            pair("name", "lastName"),
            "split_name",
            Some(json!({"part": "last"})),
        )),
        required(pair("email", "email")),
    ];
    let m = CompiledMapping::compile(&pairs).unwrap();
    assert_eq!(
        m.apply(&json!({"name": "Ada Lovelace", "email": "a@x.io"}))
            .unwrap(),
        json!({"lastName": "Lovelace", "email": "a@x.io"})
    );
    for src in [
        json!({"name": "Cher", "email": "a@x.io"}),
        json!({"email": "a@x.io"}),
        json!({"name": null, "email": "a@x.io"}),
        json!({"name": "  ", "email": "a@x.io"}),
    ] {
        let err = m.apply(&src).unwrap_err();
        assert_eq!(err.code, "required_field_missing", "{src}");
        assert_eq!(err.field, "lastName");
        assert!(err.message.contains("'lastName'"), "{}", err.message);
    }
    let err = m
        .apply(&json!({"name": "Ada Lovelace", "email": ""}))
        .unwrap_err();
    assert_eq!(
        (err.code.as_str(), err.field.as_str()),
        ("required_field_missing", "email")
    );
}

#[test]
fn compile_reports_every_bad_pair() {
    let pairs = vec![
        pair("ok", "ok"),
        pair("bad..path", "t1"),
        with(pair("p", "t2"), "nope", None),
        pair("x", "ok"),
        FieldPair {
            target_field: "t3".into(),
            ..Default::default()
        },
    ];
    let issues = CompiledMapping::compile(&pairs).unwrap_err();
    let fields: Vec<&str> = issues.iter().map(|i| i.field.as_str()).collect();
    assert_eq!(
        fields,
        [
            "fieldPairs[1].sourceField",
            "fieldPairs[2].transform",
            "fieldPairs[4].sourceField",
            "fieldPairs[3].targetField"
        ]
    );
}

#[test]
fn reversed_swaps_invertible_pairs_and_drops_the_rest() {
    let m = CompiledMapping::compile(&hubspot_to_jobber()).unwrap();
    let r = m.reversed();
    let out = r
        .apply(&json!({
            "firstName": "Ada", "lastName": "Lovelace", "title": "Ms Ada Lovelace",
            "emails": [{"address": "Ada@X.io"}], "phones": [{"number": "201-555-0123"}],
            "customFields": {"since": "2024-03-05T09:30:00-05:00"}
        }))
        .unwrap();
    // `title` came from concatenate: not written back.
    assert_eq!(
        out,
        json!({"firstname": "Ada", "lastname": "Lovelace", "email": "ada@x.io", "phone": "+12015550123", "createdate": "2024-03-05T14:30:00Z"})
    );
    assert_eq!(
        r.source_paths(),
        [
            "firstName",
            "lastName",
            "emails",
            "phones",
            "billingAddress",
            "customFields"
        ]
    );
    // Reversing twice gives back the invertible forward pairs.
    assert_eq!(r.reversed().pairs().len(), m.pairs().len() - 1);
}

#[test]
fn paths_a_mapping_needs() {
    let m = CompiledMapping::compile(&hubspot_to_jobber()).unwrap();
    assert_eq!(
        m.source_paths(),
        [
            "firstname",
            "lastname",
            "email",
            "phone",
            "address",
            "createdate"
        ]
    );
    assert_eq!(
        m.target_paths(),
        [
            "firstName",
            "lastName",
            "emails",
            "phones",
            "billingAddress",
            "customFields",
            "title"
        ]
    );
}

#[test]
fn a_written_record_coming_back_is_recognised_as_an_echo() {
    use crate::decide::{is_echo, LinkState};
    use crate::hash::values_hash;
    let forward = CompiledMapping::compile(&hubspot_to_jobber()).unwrap();
    let backward = forward.reversed();
    let source = json!({"firstname": "Ada", "lastname": "Lovelace", "email": "ada@x.io", "phone": "+12015550123", "address": "1 Main St", "createdate": "2024-03-05T14:30:00Z"});

    // We write the mapped values to the target and remember their hash.
    let written = forward.apply(&source).unwrap();
    let link = LinkState {
        source_id: "H1".into(),
        target_id: "J1".into(),
        source_updated_at: None,
        target_updated_at: None,
        hash: Some(values_hash(&written)),
    };

    // The target's webhook brings our write back: mapped to the source side
    // and forward again, it hashes to what we wrote.
    let back = backward.apply(&written).unwrap();
    let mut source_again = source.clone();
    for (k, v) in back.as_object().unwrap() {
        source_again[k] = v.clone();
    }
    assert_eq!(source_again, source);
    assert!(is_echo(
        Some(&link),
        &values_hash(&forward.apply(&source_again).unwrap())
    ));

    // A real edit on the target is not an echo.
    let mut edited = written.clone();
    edited["emails"][0]["address"] = json!("ada@lovelace.dev");
    let mut source_edited = source.clone();
    for (k, v) in backward.apply(&edited).unwrap().as_object().unwrap() {
        source_edited[k] = v.clone();
    }
    assert!(!is_echo(
        Some(&link),
        &values_hash(&forward.apply(&source_edited).unwrap())
    ));
}
