//! Tests for mapping validation: each issue names the field a user must fix.

use super::*;
use crate::domain::{Endpoint, FieldPair, MatchRule, Schedule};
use serde_json::json;

fn spec(v: serde_json::Value) -> MappingSpec {
    serde_json::from_value(v).unwrap()
}

fn valid() -> serde_json::Value {
    json!({
        "name": "HubSpot contacts to Jobber clients",
        "source": {"connectionId": "c1", "object": "contacts"},
        "target": {"connectionId": "c2", "object": "clients"},
        "direction": "bidirectional",
        "fieldPairs": [
            {"sourceField": "firstname", "targetField": "firstName", "required": true},
            {"sourceField": "phone", "targetField": "phones[0].number", "transform": "phone_e164", "transformOptions": {"region": "GB"}},
            {"sourceFields": ["firstname", "lastname"], "targetField": "title", "transform": "concatenate"}
        ],
        "match": {"sourceField": "email", "targetField": "emails[0].address"},
        "schedule": {"cron": "*/15 * * * *", "timezone": "Europe/London"}
    })
}

fn fields(v: serde_json::Value) -> Vec<String> {
    validate_mapping(&spec(v), ProviderKind::Hubspot, ProviderKind::Jobber)
        .into_iter()
        .map(|i| i.field)
        .collect()
}

#[test]
fn a_valid_mapping_has_no_issues() {
    assert_eq!(
        validate_mapping(&spec(valid()), ProviderKind::Hubspot, ProviderKind::Jobber),
        vec![]
    );
}

#[test]
fn rare_but_real_fire_times_are_accepted() {
    for (cron, tz) in [
        ("0 0 29 2 *", "UTC"),
        ("0 0 0 29 2 *", "Asia/Tokyo"),
        ("0 0 31 12 *", "Pacific/Kiritimati"),
    ] {
        let mut v = valid();
        v["schedule"] = json!({"cron": cron, "timezone": tz});
        assert_eq!(fields(v), Vec::<String>::new(), "{cron} in {tz}");
    }
}

#[test]
fn each_problem_names_its_field() {
    let cases: Vec<(&str, serde_json::Value, &str)> = vec![
        ("/name", json!("  "), "name"),
        ("/source/object", json!("clients"), "source.object"),
        ("/target/object", json!("Contact"), "target.object"),
        ("/source/connectionId", json!(""), "source.connectionId"),
        ("/fieldPairs", json!([]), "fieldPairs"),
        (
            "/fieldPairs/0/sourceField",
            json!("first..name"),
            "fieldPairs[0].sourceField",
        ),
        (
            "/fieldPairs/0/targetField",
            json!("phones[x]"),
            "fieldPairs[0].targetField",
        ),
        (
            "/fieldPairs/1/transform",
            json!("to_e164"),
            "fieldPairs[1].transform",
        ),
        (
            "/fieldPairs/1/transformOptions",
            json!({"region": "ZZ"}),
            "fieldPairs[1].transformOptions.region",
        ),
        (
            "/fieldPairs/1/transformOptions",
            json!({"region": "US", "format": "x"}),
            "fieldPairs[1].transformOptions.format",
        ),
        (
            "/fieldPairs/2/sourceFields",
            json!(["firstname", "last[name"]),
            "fieldPairs[2].sourceFields[1]",
        ),
        (
            "/fieldPairs/2/sourceFields",
            json!([]),
            "fieldPairs[2].sourceFields",
        ),
        ("/match/sourceField", json!(""), "match.sourceField"),
        (
            "/match/targetField",
            json!("emails[0]."),
            "match.targetField",
        ),
        ("/schedule/cron", json!("every 5 minutes"), "schedule.cron"),
        ("/schedule/cron", json!("99 * * * *"), "schedule.cron"),
        // Valid crons that never fire (no February 30, no April 31): refused, not stored.
        ("/schedule/cron", json!("0 0 30 2 *"), "schedule.cron"),
        ("/schedule/cron", json!("30 0 0 31 4 *"), "schedule.cron"),
        (
            "/schedule/timezone",
            json!("Mars/Olympus"),
            "schedule.timezone",
        ),
    ];
    for (pointer, value, want) in cases {
        let mut v = valid();
        *v.pointer_mut(pointer).unwrap() = value;
        assert_eq!(fields(v), [want], "setting {pointer}");
    }
}

#[test]
fn source_field_shape_must_fit_the_transform() {
    let mut v = valid();
    v["fieldPairs"][2] =
        json!({"sourceField": "firstname", "targetField": "title", "transform": "concatenate"});
    assert_eq!(fields(v), ["fieldPairs[2].sourceFields"]);

    let mut v = valid();
    v["fieldPairs"][0] = json!({"sourceFields": ["a", "b"], "targetField": "firstName"});
    assert_eq!(fields(v), ["fieldPairs[0].sourceField"]);

    let mut v = valid();
    v["fieldPairs"][0] =
        json!({"sourceField": "a", "sourceFields": ["a"], "targetField": "firstName"});
    assert_eq!(fields(v), ["fieldPairs[0].sourceFields"]);

    let mut v = valid();
    v["fieldPairs"][0] = json!({"targetField": "firstName"});
    assert_eq!(fields(v), ["fieldPairs[0].sourceField"]);

    let mut v = valid();
    v["fieldPairs"][0] = json!({"sourceField": "a", "targetField": "firstName", "transform": "split_name", "transformOptions": {"part": "middle"}});
    assert_eq!(fields(v), ["fieldPairs[0].transformOptions.part"]);
}

#[test]
fn several_problems_are_all_reported() {
    let s = MappingSpec {
        name: String::new(),
        source: Endpoint {
            connection_id: "c1".into(),
            object: "leads".into(),
        },
        target: Endpoint {
            connection_id: "c2".into(),
            object: "Contact".into(),
        },
        direction: Default::default(),
        field_pairs: vec![FieldPair {
            source_field: Some("a".into()),
            target_field: "b[".into(),
            ..Default::default()
        }],
        match_rule: Some(MatchRule {
            source_field: "email".into(),
            target_field: "Email".into(),
        }),
        conflict_resolution: Default::default(),
        schedule: Some(Schedule {
            cron: "0 9 * * *".into(),
            timezone: "UTC".into(),
        }),
        enabled: true,
        associations: Vec::new(),
        on_delete: Default::default(),
    };
    let issues = validate_mapping(&s, ProviderKind::Pipedrive, ProviderKind::Salesforce);
    let f: Vec<&str> = issues.iter().map(|i| i.field.as_str()).collect();
    assert_eq!(f, ["name", "source.object", "fieldPairs[0].targetField"]);
    assert!(
        issues[1].message.contains("persons"),
        "{}",
        issues[1].message
    );
    assert_eq!(
        serde_json::to_value(&issues[0]).unwrap(),
        json!({"field": "name", "message": "must not be empty"})
    );
}

/// The observed attacks and the limits of DESIGN §9: each is one issue naming its field.
#[test]
fn limits_name_the_field() {
    let with = |f: &dyn Fn(&mut serde_json::Value)| {
        let mut v = valid();
        f(&mut v);
        fields(v)
    };
    let deep_path = vec!["x"; 100_000].join(".");
    let pair = json!({"sourceField": "firstname", "targetField": "firstName"});
    let many_pairs: Vec<_> = (0..20_000)
        .map(|i| json!({"sourceField": "a", "targetField": format!("f{i}")}))
        .collect();
    let assoc = json!({"source": "contacts", "mappingId": "m", "targetField": "clientId"});
    type Edit = Box<dyn Fn(&mut serde_json::Value)>;
    let cases: Vec<(&str, Edit, Vec<&str>)> = vec![
        (
            "deep targetField",
            Box::new(move |v| v["fieldPairs"][0]["targetField"] = json!(deep_path.clone())),
            vec!["fieldPairs[0].targetField"],
        ),
        (
            "20,000 field pairs",
            Box::new(move |v| v["fieldPairs"] = json!(many_pairs.clone())),
            vec!["fieldPairs"],
        ),
        (
            "201 field pairs",
            Box::new(move |v| {
                v["fieldPairs"] = json!((0..201)
                    .map(|i| json!({"sourceField": "a", "targetField": format!("f{i}")}))
                    .collect::<Vec<_>>())
            }),
            vec!["fieldPairs"],
        ),
        (
            "200 field pairs are fine",
            Box::new(move |v| {
                v["fieldPairs"] = json!((0..200)
                    .map(|i| json!({"sourceField": "a", "targetField": format!("f{i}")}))
                    .collect::<Vec<_>>())
            }),
            vec![],
        ),
        (
            "10,000 associations",
            Box::new(move |v| v["associations"] = json!(vec![assoc.clone(); 10_000])),
            vec!["associations"],
        ),
        (
            "long name",
            Box::new(|v| v["name"] = json!("n".repeat(201))),
            vec!["name"],
        ),
        (
            "NUL in name",
            Box::new(|v| v["name"] = json!("Acme\u{0}")),
            vec!["name"],
        ),
        (
            "control character in object",
            Box::new(|v| v["source"]["object"] = json!("contacts\u{1b}")),
            vec!["source.object"],
        ),
        (
            "NUL in connection id",
            Box::new(|v| v["target"]["connectionId"] = json!("c\u{0}")),
            vec!["target.connectionId"],
        ),
        (
            "huge transformOptions",
            Box::new(|v| {
                v["fieldPairs"][1]["transformOptions"] =
                    json!({"region": "GB", "pad": "x".repeat(5000)})
            }),
            vec!["fieldPairs[1].transformOptions"],
        ),
        (
            "NUL in cron",
            Box::new(|v| v["schedule"]["cron"] = json!("* * * * *\u{0}")),
            vec!["schedule.cron"],
        ),
        (
            "duplicate target among many",
            Box::new(move |v| v["fieldPairs"] = json!([pair.clone(), pair.clone()])),
            vec!["fieldPairs[1].targetField"],
        ),
    ];
    for (what, edit, want) in cases {
        assert_eq!(with(&*edit), want, "{what}");
    }
}
