//! Unit tests of the Salesforce wire mapping: object names, SOQL, records, page tokens.

use chrono::{TimeZone, Utc};
use fluxcascade_core::Cursor;
use serde_json::json;

use super::records::*;

#[test]
fn object_names_are_accepted_in_any_case_and_plural() {
    assert_eq!(object("Contact").unwrap().name, "Contact");
    assert_eq!(object("contacts").unwrap().name, "Contact");
    assert_eq!(object("ACCOUNTS").unwrap().name, "Account");
    assert_eq!(object("opportunities").unwrap().name, "Opportunity");
    assert!(object("Lead").is_err());
}

#[test]
fn fields_add_the_callers_once_and_refuse_non_soql_names() {
    let c = object("Contact").unwrap();
    let f = fields_for(c, &["email".into(), "Title".into()]).unwrap();
    assert_eq!(
        f.iter().filter(|x| x.eq_ignore_ascii_case("email")).count(),
        1
    );
    assert_eq!(f.last().map(String::as_str), Some("Title"));
    assert!(fields_for(c, &["Id FROM User --".into()]).is_err());
}

#[test]
fn incremental_soql_uses_the_compound_cursor_at_whole_seconds() {
    let c = object("Contact").unwrap();
    let cursor = Cursor {
        updated_at: Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap()
            + chrono::Duration::milliseconds(700),
        id: "003Ab'c".into(),
    };
    let q = soql(c, &["Id".into(), "SystemModstamp".into()], Some(&cursor));
    assert_eq!(
        q,
        "SELECT Id, SystemModstamp FROM Contact WHERE SystemModstamp > 2026-01-02T03:04:05Z \
         OR (SystemModstamp = 2026-01-02T03:04:05Z AND Id > '003Ab\\'c') ORDER BY SystemModstamp, Id"
    );
    let from_time = Cursor {
        id: String::new(),
        ..cursor
    };
    assert_eq!(
        soql(c, &["Id".into()], Some(&from_time)),
        "SELECT Id FROM Contact WHERE SystemModstamp >= 2026-01-02T03:04:05Z ORDER BY SystemModstamp, Id"
    );
    assert_eq!(
        soql(c, &["Id".into()], None),
        "SELECT Id FROM Contact ORDER BY SystemModstamp, Id"
    );
}

#[test]
fn records_parse_system_modstamp_and_drop_attributes() {
    let c = object("Contact").unwrap();
    let r = parse_record(
        c,
        &json!({"attributes": {"type": "Contact", "url": "/x"}, "Id": "003A",
                "LastName": "Lovelace", "SystemModstamp": "2026-01-01T00:00:00.000+0000"}),
    )
    .unwrap();
    assert_eq!(r.id, "003A");
    assert_eq!(
        r.updated_at,
        Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap()
    );
    assert!(r.fields.get("attributes").is_none());
    assert_eq!(r.fields["LastName"], "Lovelace");
    assert!(parse_record(c, &json!({"Id": "003A"})).is_err());
}

#[test]
fn page_tokens_round_trip_and_refuse_foreign_urls() {
    let t = PageToken {
        locator: "/services/data/v60.0/query/01gABC-200".into(),
        resume: Some(Cursor {
            updated_at: Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap(),
            id: "003X".into(),
        }),
    };
    assert_eq!(PageToken::decode(&t.encode()).unwrap(), t);
    assert!(PageToken::decode("https://evil.example/x").is_err());
    assert!(next_token(&json!({"done": true, "records": []}), &[]).is_none());
}

#[test]
fn batch_size_is_clamped_to_salesforce_bounds() {
    assert_eq!(batch_header(0), "batchSize=2000");
    assert_eq!(batch_header(50), "batchSize=200");
    assert_eq!(batch_header(250), "batchSize=200");
    assert_eq!(batch_header(1000), "batchSize=1000");
    assert_eq!(batch_header(5000), "batchSize=2000");
}

#[test]
fn read_only_fields_are_not_written() {
    let w = writable(&json!({"Id": "x", "SystemModstamp": "t", "attributes": {}, "LastName": "A"}))
        .unwrap();
    assert_eq!(w.len(), 1);
    assert!(writable(&json!([1])).is_err());
}
