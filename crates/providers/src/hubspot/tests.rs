//! Unit tests of the HubSpot mapping: parsing objects, property values, search paging
//! and re-anchoring, and matching batch results back to their inputs.

use chrono::{TimeZone, Utc};
use serde_json::{json, Value};

use super::batch::{create_body, match_created, match_updated};
use super::records::*;
use crate::WriteResult;

fn contacts() -> &'static HubspotObject {
    object("contacts").unwrap()
}

fn contact(id: &str, modified: &str) -> Value {
    json!({
        "id": id,
        "properties": {"email": format!("{id}@example.com"), "firstname": "Ada", "lastmodifieddate": modified, "hs_object_id": id},
        "createdAt": "2026-01-01T00:00:00Z",
        "updatedAt": modified,
        "archived": false
    })
}

#[test]
fn simple_public_object_becomes_a_record_with_properties_as_fields() {
    let rec = parse_object(contacts(), &contact("51", "2026-03-04T05:06:07.890Z")).unwrap();
    assert_eq!(rec.id, "51");
    assert_eq!(
        rec.updated_at,
        Utc.with_ymd_and_hms(2026, 3, 4, 5, 6, 7).unwrap() + chrono::Duration::milliseconds(890)
    );
    assert_eq!(rec.fields["firstname"], "Ada");
    assert_eq!(rec.fields["email"], "51@example.com");
}

#[test]
fn object_without_updated_at_falls_back_to_the_modified_property_and_else_fails() {
    let v = json!({"id": "1", "properties": {"lastmodifieddate": "1700000000000"}});
    assert_eq!(
        parse_object(contacts(), &v)
            .unwrap()
            .updated_at
            .timestamp_millis(),
        1_700_000_000_000
    );
    assert!(parse_object(contacts(), &json!({"id": "1", "properties": {}})).is_err());
    assert!(parse_object(contacts(), &json!({"properties": {}})).is_err());
}

#[test]
fn unknown_object_is_a_permanent_error_and_companies_use_hs_lastmodifieddate() {
    assert!(matches!(
        object("widgets"),
        Err(crate::ProviderError::Permanent(_))
    ));
    assert_eq!(
        object("companies").unwrap().modified_property,
        "hs_lastmodifieddate"
    );
    assert_eq!(
        object("deals").unwrap().modified_property,
        "hs_lastmodifieddate"
    );
    let props = properties_for(object("deals").unwrap(), &["dealname".to_owned()]);
    assert_eq!(props, vec!["dealname", "hs_lastmodifieddate"]);
}

#[test]
fn property_values_are_written_as_strings() {
    let p = to_properties(&json!({"a": "x", "n": 42, "f": 1.5, "b": true, "z": null})).unwrap();
    assert_eq!(
        Value::Object(p),
        json!({"a": "x", "n": "42", "f": "1.5", "b": "true", "z": ""})
    );
    assert!(to_properties(&json!({"nested": {"x": 1}})).is_err());
    assert!(to_properties(&json!([1])).is_err());
}

#[test]
fn paging_after_is_read_from_paging_next() {
    assert_eq!(
        next_after(&json!({"results": [], "paging": {"next": {"after": "100", "link": "x"}}})),
        Some("100".into())
    );
    assert_eq!(next_after(&json!({"results": []})), None);
}

#[test]
fn search_token_round_trips_and_rejects_garbage() {
    let t = SearchToken {
        anchor: 1_700_000_000_000,
        after: Some("200".into()),
    };
    assert_eq!(SearchToken::decode(&t.encode()).unwrap(), t);
    assert!(SearchToken::is_search_token(&t.encode()));
    assert!(!SearchToken::is_search_token("100"));
    assert!(SearchToken::decode("100").is_err());
    assert!(SearchToken::decode("s1.!!!").is_err());
}

#[test]
fn search_body_filters_gte_and_sorts_ascending_on_the_modified_date() {
    let t = SearchToken {
        anchor: 1234,
        after: Some("400".into()),
    };
    let b = search_body(contacts(), &t, &["email".to_owned()], 200);
    assert_eq!(
        b["filterGroups"][0]["filters"][0],
        json!({"propertyName": "lastmodifieddate", "operator": "GTE", "value": "1234"})
    );
    assert_eq!(
        b["sorts"][0],
        json!({"propertyName": "lastmodifieddate", "direction": "ASCENDING"})
    );
    assert_eq!(b["after"], "400");
    assert_eq!(b["limit"], 200);
}

#[test]
fn search_reanchors_on_the_last_modified_date_before_the_10000_cap() {
    let start = SearchToken {
        anchor: 1000,
        after: None,
    };
    let page: Vec<_> = ["2026-01-01T00:00:01Z", "2026-01-01T00:00:05Z"]
        .iter()
        .enumerate()
        .map(|(i, m)| parse_object(contacts(), &contact(&i.to_string(), m)).unwrap())
        .collect();
    // Well below the cap: keep paging the same query.
    let next = next_search_token(contacts(), &start, &page, Some("400".into()), 200).unwrap();
    assert_eq!(
        next,
        SearchToken {
            anchor: 1000,
            after: Some("400".into())
        }
    );
    // The next page would pass 10,000: start a new query at the last modified date seen.
    let next = next_search_token(contacts(), &start, &page, Some("9900".into()), 200).unwrap();
    let last = Utc
        .with_ymd_and_hms(2026, 1, 1, 0, 0, 5)
        .unwrap()
        .timestamp_millis();
    assert_eq!(
        next,
        SearchToken {
            anchor: last,
            after: None
        }
    );
    // No next page: done.
    assert_eq!(
        next_search_token(contacts(), &start, &page, None, 200),
        None
    );
}

#[test]
fn created_results_follow_input_order_and_207_errors_land_on_their_inputs() {
    let props: Vec<_> = (0..3)
        .map(|i| to_properties(&json!({"email": format!("{i}@x.com")})).unwrap())
        .collect();
    let body = create_body(&props);
    assert_eq!(body["inputs"][1]["objectWriteTraceId"], "1");
    assert_eq!(body["inputs"][2]["properties"]["email"], "2@x.com");
    let response = json!({
        "status": "COMPLETE",
        "results": [contact("100", "2026-01-01T00:00:00Z"), contact("102", "2026-01-01T00:00:00Z")],
        "numErrors": 1,
        "errors": [{"status": "error", "category": "VALIDATION_ERROR", "message": "Property values were not valid",
                    "context": {"objectWriteTraceId": ["1"]}}]
    });
    let out = match_created(contacts(), 3, &response);
    assert!(matches!(&out[0], WriteResult::Ok(r) if r.id == "100"));
    assert!(
        matches!(&out[1], WriteResult::Failed { message, .. } if message.contains("not valid"))
    );
    assert!(matches!(&out[2], WriteResult::Ok(r) if r.id == "102"));
}

#[test]
fn missing_create_results_are_failures_not_panics() {
    let out = match_created(
        contacts(),
        2,
        &json!({"status": "COMPLETE", "results": [contact("1", "2026-01-01T00:00:00Z")]}),
    );
    assert!(matches!(&out[0], WriteResult::Ok(_)));
    assert!(matches!(&out[1], WriteResult::Failed { .. }));
}

#[test]
fn updated_results_are_matched_by_id_and_errors_by_context_ids() {
    let ids = vec!["7".to_owned(), "8".to_owned(), "9".to_owned()];
    let response = json!({
        "results": [contact("9", "2026-01-01T00:00:00Z"), contact("7", "2026-01-01T00:00:00Z")],
        "errors": [{"message": "Object not found", "category": "OBJECT_NOT_FOUND", "context": {"ids": ["8"]}}]
    });
    let out = match_updated(contacts(), &ids, &response);
    assert!(matches!(&out[0], WriteResult::Ok(r) if r.id == "7"));
    assert!(
        matches!(&out[1], WriteResult::Failed { message, .. } if message.contains("not found"))
    );
    assert!(matches!(&out[2], WriteResult::Ok(r) if r.id == "9"));
}

mod associations {
    use std::collections::HashMap;

    use serde_json::json;

    use super::super::assoc::*;
    use super::super::records::{object, parse_results};

    #[test]
    fn only_deals_carry_contact_associations() {
        assert_eq!(associated_types(object("deals").unwrap()), &["contacts"]);
        assert!(associated_types(object("contacts").unwrap()).is_empty());
        assert!(associated_types(object("companies").unwrap()).is_empty());
    }

    #[test]
    fn list_blocks_become_deduplicated_string_ids_and_missing_blocks_empty_arrays() {
        let body = json!({"results": [
            {"id": "1", "updatedAt": "2026-01-01T00:00:00Z", "properties": {"dealname": "A"},
             "associations": {"contacts": {"results": [
                {"id": "7", "type": "deal_to_contact"},
                {"id": 7, "type": "deal_to_contact_unlabeled"},
                {"id": "8", "type": "deal_to_contact"}]}}},
            {"id": "2", "updatedAt": "2026-01-01T00:00:00Z", "properties": {}},
        ]});
        let deals = object("deals").unwrap();
        let mut records = parse_results(deals, &body).unwrap();
        attach(&mut records, "contacts", &v3_blocks(&body, "contacts"));
        assert_eq!(
            records[0].fields["associations"],
            json!({"contacts": ["7", "8"]})
        );
        assert_eq!(records[0].fields["dealname"], "A");
        assert_eq!(records[1].fields["associations"], json!({"contacts": []}));
    }

    #[test]
    fn v4_batch_read_collects_ids_and_pages_and_accepts_the_v3_shape() {
        let mut found = HashMap::new();
        let more = parse_batch_read(
            &json!({"status": "COMPLETE", "results": [
                {"from": {"id": "1"}, "to": [{"toObjectId": 7, "associationTypes": []}],
                 "paging": {"next": {"after": "abc"}}},
                {"from": {"id": "2"}, "to": [{"id": "9", "type": "deal_to_contact"}]},
            ], "errors": [{"message": "no associations", "context": {"fromObjectId": ["3"]}}]}),
            &mut found,
        );
        assert_eq!(more, vec![("1".to_owned(), Some("abc".to_owned()))]);
        parse_batch_read(
            &json!({"results": [{"from": {"id": "1"}, "to": [{"toObjectId": "8"}]}]}),
            &mut found,
        );
        assert_eq!(found["1"], vec!["7", "8"]);
        assert_eq!(found["2"], vec!["9"]);
        assert!(!found.contains_key("3"));
        assert_eq!(
            batch_read_body(&more),
            json!({"inputs": [{"id": "1", "after": "abc"}]})
        );
        assert_eq!(
            parse_v4_list(&json!({"results": [{"toObjectId": 5}, {"toObjectId": 5}]})),
            vec!["5"]
        );
        // Garbage never panics.
        assert!(parse_batch_read(&json!([1, 2]), &mut found).is_empty());
        assert!(parse_v4_list(&json!("x")).is_empty());
        assert!(v3_blocks(&json!({"results": "x"}), "contacts").is_empty());
    }

    #[test]
    fn associations_are_stripped_before_writing() {
        let fields = json!({"dealname": "A", "associations": {"contacts": ["1"]}});
        assert_eq!(strip(&fields), json!({"dealname": "A"}));
        assert_eq!(strip(&json!(3)), json!(3));
    }
}
