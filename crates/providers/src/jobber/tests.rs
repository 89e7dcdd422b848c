//! Unit tests of the Jobber mapping: client nodes, create/edit inputs, payloads, throttling
//! and the JWT expiry.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{TimeZone, Utc};
use serde_json::{json, Value};

use super::auth::{jwt_expiry, token_set};
use super::client::{graphql_errors, jobs_since, settle_writes, throttle_wait};
use super::records::*;
use crate::{ProviderError, WriteResult};

fn client_node() -> Value {
    json!({
        "id": "Z2lkOi8vSm9iYmVyL0NsaWVudC8x",
        "firstName": "Ada", "lastName": "Lovelace", "companyName": null, "isCompany": false, "title": "MS",
        "isArchived": false, "createdAt": "2026-01-01T00:00:00Z", "updatedAt": "2026-02-03T04:05:06Z",
        "emails": [{"id": "e1", "address": "ada@example.com", "description": "MAIN", "primary": true}],
        "phones": [{"id": "p1", "number": "+1 555 0100", "description": "MOBILE", "primary": true, "smsAllowed": false}],
        "billingAddress": {"street1": "1 Main St", "street2": "", "city": "Springfield", "province": "IL", "postalCode": "62701", "country": "US"}
    })
}

#[test]
fn client_node_becomes_a_record_without_id_and_updated_at_in_fields() {
    let rec = parse_node(&client_node()).unwrap();
    assert_eq!(rec.id, "Z2lkOi8vSm9iYmVyL0NsaWVudC8x");
    assert_eq!(
        rec.updated_at,
        Utc.with_ymd_and_hms(2026, 2, 3, 4, 5, 6).unwrap()
    );
    assert_eq!(rec.fields["firstName"], "Ada");
    assert_eq!(rec.fields["emails"][0]["address"], "ada@example.com");
    assert_eq!(rec.fields["billingAddress"]["city"], "Springfield");
    assert!(rec.fields.get("id").is_none() && rec.fields.get("updatedAt").is_none());
}

#[test]
fn connection_gives_the_cursor_only_when_there_is_a_next_page() {
    let conn =
        json!({"nodes": [client_node()], "pageInfo": {"endCursor": "MQ", "hasNextPage": true}});
    let (recs, next) = parse_connection(&conn).unwrap();
    assert_eq!(recs.len(), 1);
    assert_eq!(next.as_deref(), Some("MQ"));
    let conn = json!({"nodes": [], "pageInfo": {"endCursor": "MQ", "hasNextPage": false}});
    assert_eq!(parse_connection(&conn).unwrap().1, None);
}

#[test]
fn create_input_uses_the_schema_shapes() {
    let fields = json!({
        "firstName": "Ada", "lastName": "Lovelace", "title": "Ms.", "isCompany": false,
        "emails": [{"address": "ada@example.com", "description": "work", "primary": true}, {"address": ""}],
        "phones": [{"number": "+15550100", "description": "cell"}],
        "billingAddress": {"street1": "1 Main St", "city": "Springfield", "latitude": "1"},
        "createdAt": "ignored"
    });
    let input = client_create_input(&fields).unwrap();
    assert_eq!(
        input,
        json!({
            "firstName": "Ada", "lastName": "Lovelace", "title": "MS", "isCompany": false,
            "emails": [{"address": "ada@example.com", "description": "WORK", "primary": true}],
            "phones": [{"number": "+15550100", "description": "OTHER"}],
            "billingAddress": {"street1": "1 Main St", "city": "Springfield"}
        })
    );
}

#[test]
fn bad_field_values_are_record_errors() {
    assert!(client_create_input(&json!({"title": "Captain"}))
        .unwrap_err()
        .contains("title"));
    assert!(client_create_input(&json!({"emails": "ada@example.com"})).is_err());
    assert!(client_create_input(&json!({"isCompany": "yes"})).is_err());
    assert!(client_create_input(&json!([1, 2])).is_err());
}

#[test]
fn edit_input_edits_stored_emails_by_id_and_adds_new_ones() {
    let current = parse_node(&client_node()).unwrap().fields;
    let fields = json!({
        "firstName": "Augusta",
        "emails": [{"address": "ada@newmail.com"}, {"address": "second@example.com", "description": "PERSONAL"}],
        "phones": [{"number": "+1 555 0100", "description": "MOBILE", "primary": true}]
    });
    let input = client_edit_input(&fields, Some(&current)).unwrap();
    assert_eq!(input["firstName"], "Augusta");
    assert_eq!(
        input["emailsToEdit"],
        json!([{"id": "e1", "address": "ada@newmail.com"}])
    );
    assert_eq!(
        input["emailsToAdd"],
        json!([{"address": "second@example.com", "description": "PERSONAL"}])
    );
    // The phone is unchanged: nothing to send for phones.
    assert!(input.get("phonesToEdit").is_none() && input.get("phonesToAdd").is_none());
    assert!(input.get("emails").is_none());
    assert!(edit_needs_current(&fields));
    assert!(!edit_needs_current(&json!({"firstName": "x"})));
}

#[test]
fn mutation_payload_with_user_errors_is_a_record_failure() {
    let p = json!({"client": null, "userErrors": [{"message": "First name can't be blank", "path": ["input", "firstName"]}]});
    assert_eq!(
        parse_mutation_payload(&p).unwrap(),
        Err("input.firstName: First name can't be blank".to_owned())
    );
    let p = json!({"client": client_node(), "userErrors": []});
    assert_eq!(
        parse_mutation_payload(&p).unwrap().unwrap().fields["lastName"],
        "Lovelace"
    );
}

#[test]
fn throttled_is_rate_limited_until_the_bucket_refills() {
    let body = json!({
        "errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}],
        "extensions": {"cost": {"requestedQueryCost": 2100, "actualQueryCost": null,
            "throttleStatus": {"maximumAvailable": 10000, "currentlyAvailable": 100, "restoreRate": 500}}}
    });
    match graphql_errors(&body) {
        Err(ProviderError::RateLimited { retry_after }) => assert_eq!(retry_after.as_secs(), 4),
        other => panic!("expected RateLimited, got {other:?}"),
    }
    assert_eq!(throttle_wait(&json!({})).as_secs(), 2);
    assert!(
        matches!(graphql_errors(&json!({"errors": [{"message": "Field 'x' doesn't exist"}]})), Err(ProviderError::Permanent(m)) if m.contains("doesn't exist"))
    );
    assert!(graphql_errors(&json!({"data": {}})).is_ok());
}

#[test]
fn a_throttled_op_fails_the_whole_write_with_the_longest_wait() {
    let rec = parse_node(&client_node()).unwrap();
    let limited = || {
        Err(ProviderError::RateLimited {
            retry_after: std::time::Duration::from_secs(1),
        })
    };
    let longer = Err(ProviderError::RateLimited {
        retry_after: std::time::Duration::from_secs(5),
    });
    // Some written, one throttled: the call fails so the worker retries the batch (its create
    // intents find what was already written).
    let err = settle_writes(vec![Ok(WriteResult::Ok(rec.clone())), limited(), longer]).unwrap_err();
    assert!(
        matches!(err, ProviderError::RateLimited { retry_after } if retry_after.as_secs() == 5)
    );
    assert!(settle_writes(vec![limited(), limited()]).is_err());
    let ok = settle_writes(vec![Ok(WriteResult::Ok(rec))]).unwrap();
    assert_eq!(ok.len(), 1);
}

fn jwt(claims: Value) -> String {
    format!(
        "eyJhbGciOiJIUzI1NiJ9.{}.sig",
        URL_SAFE_NO_PAD.encode(claims.to_string())
    )
}

#[test]
fn jwt_expiry_comes_from_the_exp_claim() {
    assert_eq!(
        jwt_expiry(&jwt(json!({"exp": 1_800_000_000, "sub": "1"}))),
        Utc.timestamp_opt(1_800_000_000, 0).single()
    );
    assert_eq!(jwt_expiry("not-a-jwt"), None);
    assert_eq!(jwt_expiry(&jwt(json!({"sub": "1"}))), None);
    let t = token_set(
        &json!({"access_token": jwt(json!({"exp": 1_800_000_000})), "refresh_token": "r2"}),
    )
    .unwrap();
    assert_eq!(t.expires_at, Utc.timestamp_opt(1_800_000_000, 0).single());
    assert_eq!(t.refresh_token.as_deref(), Some("r2"));
}

#[test]
fn incremental_jobs_stop_at_the_first_job_older_than_the_cursor() {
    let job = |id: &str, updated: &str| {
        parse_node(&json!({"id": id, "title": "Fix", "updatedAt": updated, "client": {"id": "c"}}))
            .unwrap()
    };
    let floor = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    let page = jobs_since(
        vec![
            job("a", "2026-01-02T00:00:00Z"),
            job("b", "2026-01-01T00:00:00Z"),
        ],
        Some("cur".into()),
        floor,
    );
    assert_eq!(page.records.len(), 2);
    assert_eq!(page.next_page.as_deref(), Some("cur"));
    let page = jobs_since(
        vec![
            job("c", "2026-01-01T00:00:01Z"),
            job("d", "2025-12-31T23:59:59Z"),
        ],
        Some("cur".into()),
        floor,
    );
    assert_eq!(
        page.records
            .iter()
            .map(|r| r.id.as_str())
            .collect::<Vec<_>>(),
        vec!["c"]
    );
    assert_eq!(page.next_page, None);
}

mod jobs {
    use serde_json::json;

    use super::super::jobs::*;
    use super::super::records::{parse_node, parse_payload};

    #[test]
    fn job_nodes_flatten_client_and_property_to_ids() {
        let rec = parse_node(
            &json!({"id": "J1", "title": "Fix", "updatedAt": "2026-01-01T00:00:00Z",
            "client": {"id": "C1"}, "property": {"id": "P1"}}),
        )
        .unwrap();
        assert_eq!(rec.fields["clientId"], "C1");
        assert_eq!(rec.fields["propertyId"], "P1");
        assert!(rec.fields.get("client").is_none());
    }

    #[test]
    fn create_input_has_the_required_defaults_and_ignores_read_only_fields() {
        let fields = json!({"clientId": "C1", "title": "Roof", "instructions": null,
            "jobNumber": "42", "jobStatus": "late"});
        assert_eq!(job_client_id(&fields).unwrap(), "C1");
        let input = job_create_input(&fields, "P1").unwrap();
        assert_eq!(
            input,
            json!({"propertyId": "P1", "title": "Roof", "jobNumber": 42,
                "scheduling": {"createVisits": false, "notifyTeam": false},
                "invoicing": {"invoicingType": "FIXED_PRICE", "invoicingSchedule": "ON_COMPLETION"}})
        );
    }

    #[test]
    fn bad_job_fields_are_record_errors() {
        assert!(job_client_id(&json!({"title": "x"})).is_err());
        assert!(job_client_id(&json!({"clientId": 5})).is_err());
        assert!(job_client_id(&json!([1])).is_err());
        assert!(job_create_input(&json!({"title": {"a": 1}}), "P").is_err());
        assert!(job_edit_input(&json!({"jobNumber": -1})).is_err());
        assert!(job_edit_input(&json!({"jobNumber": 1.5})).is_err());
        assert!(job_edit_input(&json!("x")).is_err());
    }

    #[test]
    fn edit_input_clears_null_text_and_is_empty_without_editable_fields() {
        let input = job_edit_input(&json!({"title": null, "instructions": "Go"})).unwrap();
        assert_eq!(json!(input), json!({"title": "", "instructions": "Go"}));
        assert!(job_edit_input(&json!({"clientId": "C", "jobStatus": "x"}))
            .unwrap()
            .is_empty());
    }

    #[test]
    fn property_input_copies_the_billing_address() {
        assert_eq!(property_create_input(None), json!({"properties": [{}]}));
        assert_eq!(
            property_create_input(Some(
                &json!({"street1": "1 Main", "city": "", "country": null})
            )),
            json!({"properties": [{"address": {"street1": "1 Main"}}]})
        );
    }

    #[test]
    fn job_payload_user_errors_are_record_failures() {
        let p = json!({"job": null, "userErrors": [{"message": "Property not found", "path": ["input", "propertyId"]}]});
        assert_eq!(
            parse_payload(&p, "job").unwrap().unwrap_err(),
            "input.propertyId: Property not found"
        );
        assert!(
            parse_payload(&json!({"job": null, "userErrors": []}), "job")
                .unwrap()
                .is_err()
        );
    }
}
