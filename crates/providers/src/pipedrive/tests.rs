//! Unit tests of the Pipedrive wire format: parsing v2 pages, write bodies, 429 handling.

use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::StatusCode;
use serde_json::json;

use super::client::updated_since;
use super::records::{needs_current_name, object, parse_list, parse_time, write_body};
use crate::ProviderError;

#[test]
fn a_v2_page_becomes_records_and_a_cursor() {
    let persons = object("persons").unwrap();
    let body = json!({
        "success": true,
        "data": [
            {"id": 7, "name": "Ada Lovelace", "first_name": "Ada", "last_name": "Lovelace",
             "emails": [{"value": "ada@example.com", "primary": true, "label": "work"}],
             "add_time": "2024-01-01T00:00:00Z", "update_time": "2024-05-02T03:04:05Z"},
        ],
        "additional_data": {"next_cursor": "eyJpZCI6N30"},
    });
    let (records, next) = parse_list(persons, &body).unwrap();
    assert_eq!(records[0].id, "7");
    assert_eq!(
        records[0].updated_at.to_rfc3339(),
        "2024-05-02T03:04:05+00:00"
    );
    assert_eq!(records[0].fields["emails"][0]["value"], "ada@example.com");
    assert_eq!(next.as_deref(), Some("eyJpZCI6N30"));
    let last = json!({"success": true, "data": [], "additional_data": {"next_cursor": null}});
    assert_eq!(parse_list(persons, &last).unwrap(), (vec![], None));
    let bad = json!({"data": [{"id": 1}]});
    assert!(parse_list(persons, &bad).is_err(), "no update_time");
    assert!(object("leads").is_err());
}

#[test]
fn v1_times_are_read_as_utc() {
    let t = parse_time(&json!("2024-05-02 03:04:05")).unwrap();
    assert_eq!(t.to_rfc3339(), "2024-05-02T03:04:05+00:00");
    assert!(parse_time(&json!(12)).is_none());
}

#[test]
fn write_bodies_drop_read_only_fields_and_join_names() {
    let persons = object("persons").unwrap();
    let body = write_body(
        persons,
        &json!({"first_name": "Grace", "last_name": "Hopper", "id": 3, "update_time": "x",
                "org_id": "12", "emails": [{"value": "g@example.com"}]}),
        None,
        true,
    )
    .unwrap();
    assert_eq!(
        body,
        json!({"name": "Grace Hopper", "org_id": 12, "emails": [{"value": "g@example.com"}]})
    );
    let fields = json!({"last_name": "Brewster"});
    assert!(needs_current_name(persons, &fields));
    let current = json!({"first_name": "Grace", "last_name": "Hopper"});
    let body = write_body(persons, &fields, Some(&current), false).unwrap();
    assert_eq!(body, json!({"name": "Grace Brewster"}));
    assert!(write_body(persons, &json!({"org_id": "twelve"}), None, false).is_err());
    let deals = object("deals").unwrap();
    assert!(
        write_body(deals, &json!({"value": 10}), None, true).is_err(),
        "title needed"
    );
    let body = write_body(deals, &json!({"title": "D", "value": "1500.5"}), None, true).unwrap();
    assert_eq!(body["value"], json!(1500.5));
}

#[test]
fn updated_since_is_the_cursor_second() {
    let at = chrono::DateTime::parse_from_rfc3339("2024-05-02T03:04:05.999Z")
        .unwrap()
        .with_timezone(&chrono::Utc);
    assert_eq!(updated_since(at), "2024-05-02T03:04:05Z");
}

#[test]
fn a_429_waits_what_x_ratelimit_reset_says_and_a_spent_budget_is_not_waited_out() {
    use crate::http::ProviderPolicy;
    let policy = super::client::policy_for_tests();
    let mut h = HeaderMap::new();
    h.insert("x-ratelimit-reset", HeaderValue::from_static("2"));
    let body = json!({"success": false, "error": "Request over limit"});
    match policy.classify_error(StatusCode::TOO_MANY_REQUESTS, &h, &body) {
        Some(ProviderError::RateLimited { retry_after }) => assert_eq!(retry_after.as_secs(), 2),
        other => panic!("{other:?}"),
    }
    h.insert("x-daily-requests-left", HeaderValue::from_static("0"));
    assert!(matches!(
        policy.classify_error(StatusCode::TOO_MANY_REQUESTS, &h, &body),
        Some(ProviderError::Transient(_))
    ));
    let nf = json!({"success": false, "error": "Person not found"});
    match policy.classify_error(StatusCode::NOT_FOUND, &HeaderMap::new(), &nf) {
        Some(ProviderError::Permanent(m)) => {
            assert_eq!(m, "Pipedrive answered 404: Person not found")
        }
        other => panic!("{other:?}"),
    }
    assert!(policy
        .classify_error(StatusCode::BAD_GATEWAY, &HeaderMap::new(), &nf)
        .is_none());
}
