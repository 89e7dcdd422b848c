//! Tests for field path parsing, reading and writing.

use super::*;
use proptest::prelude::*;
use serde_json::json;

#[test]
fn parses_and_displays_valid_paths() {
    for s in [
        "email",
        "billingAddress.street1",
        "emails[0].address",
        "phones[0].number",
        "a[1][2]",
        "custom_field__c",
        "a.b.c.d",
    ] {
        let p = FieldPath::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"));
        assert_eq!(p.to_string(), s);
    }
    let p = FieldPath::parse("emails[0].address").unwrap();
    assert_eq!(
        p.segments(),
        &[
            Segment::Key("emails".into()),
            Segment::Index(0),
            Segment::Key("address".into())
        ]
    );
    assert_eq!(p.top_level(), "emails");
}

#[test]
fn rejects_malformed_paths() {
    let cases: &[(&str, PathError)] = &[
        ("", PathError::Empty),
        (".a", PathError::EmptySegment(0)),
        ("a.", PathError::EmptySegment(2)),
        ("a..b", PathError::EmptySegment(2)),
        ("a[0", PathError::UnclosedBracket(1)),
        ("a]", PathError::UnexpectedBracket(1)),
        ("a[x]", PathError::BadIndex("x".into())),
        ("a[]", PathError::BadIndex(String::new())),
        ("a[-1]", PathError::BadIndex("-1".into())),
        ("a[1000]", PathError::IndexTooLarge(1000)),
        ("[0].a", PathError::LeadingIndex),
        ("a.[0]", PathError::EmptySegment(2)),
        ("a[0]b", PathError::BadChar('b', 4)),
        ("first name", PathError::BadChar(' ', 5)),
    ];
    for (s, want) in cases {
        assert_eq!(FieldPath::parse(s).as_ref(), Err(want), "path {s:?}");
    }
}

#[test]
fn get_follows_keys_and_indexes() {
    let v = json!({"emails": [{"address": "a@x.io"}, {"address": "b@x.io"}], "billingAddress": {"street1": "1 Main"}, "n": 3});
    let get = |s: &str| FieldPath::parse(s).unwrap().get(&v).cloned();
    assert_eq!(get("emails[1].address"), Some(json!("b@x.io")));
    assert_eq!(get("billingAddress.street1"), Some(json!("1 Main")));
    assert_eq!(get("emails[2].address"), None);
    assert_eq!(get("n.x"), None);
    assert_eq!(get("billingAddress[0]"), None);
    assert_eq!(get("missing"), None);
}

#[test]
fn set_creates_what_is_missing() {
    let mut v = json!({});
    FieldPath::parse("billingAddress.street1")
        .unwrap()
        .set(&mut v, json!("1 Main"));
    FieldPath::parse("emails[1].address")
        .unwrap()
        .set(&mut v, json!("b@x.io"));
    FieldPath::parse("tags[2]")
        .unwrap()
        .set(&mut v, json!("vip"));
    assert_eq!(
        v,
        json!({
            "billingAddress": {"street1": "1 Main"},
            "emails": [{}, {"address": "b@x.io"}],
            "tags": [null, null, "vip"],
        })
    );
}

#[test]
fn set_keeps_siblings_and_replaces_wrong_kinds() {
    let mut v = json!({"billingAddress": {"city": "Austin"}, "emails": "not-an-array"});
    FieldPath::parse("billingAddress.street1")
        .unwrap()
        .set(&mut v, json!("1 Main"));
    FieldPath::parse("emails[0].address")
        .unwrap()
        .set(&mut v, json!("a@x.io"));
    assert_eq!(
        v,
        json!({"billingAddress": {"city": "Austin", "street1": "1 Main"}, "emails": [{"address": "a@x.io"}]})
    );
}

fn arb_path() -> impl Strategy<Value = String> {
    let seg = prop_oneof![
        "[a-zA-Z_][a-zA-Z0-9_]{0,6}".prop_map(|k| format!(".{k}")),
        (0usize..5).prop_map(|i| format!("[{i}]")),
    ];
    (
        "[a-zA-Z_][a-zA-Z0-9_]{0,6}",
        prop::collection::vec(seg, 0..5),
    )
        .prop_map(|(head, rest)| format!("{head}{}", rest.concat()))
}

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        ".{0,8}".prop_map(Value::from)
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-z]{1,3}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #[test]
    fn set_then_get_returns_the_value(path in arb_path(), start in arb_json(), value in arb_json()) {
        let p = FieldPath::parse(&path).unwrap();
        prop_assert_eq!(p.to_string(), path);
        let mut target = start;
        p.set(&mut target, value.clone());
        prop_assert_eq!(p.get(&target), Some(&value));
    }

    #[test]
    fn parse_never_panics(s in ".{0,40}") {
        if let Ok(p) = FieldPath::parse(&s) {
            // A parsed path round-trips through its display form.
            prop_assert_eq!(FieldPath::parse(&p.to_string()), Ok(p));
        }
    }
}

#[test]
fn long_and_deep_paths_are_refused_before_use() {
    let sixteen = vec!["a"; MAX_PATH_SEGMENTS].join(".");
    assert!(FieldPath::parse(&sixteen).is_ok());
    let seventeen = vec!["a"; MAX_PATH_SEGMENTS + 1].join(".");
    assert_eq!(
        FieldPath::parse(&seventeen),
        Err(PathError::TooManySegments)
    );
    let indexes = format!("a{}", "[0]".repeat(MAX_PATH_SEGMENTS));
    assert_eq!(FieldPath::parse(&indexes), Err(PathError::TooManySegments));
    let long_key = "k".repeat(MAX_PATH_CHARS + 1);
    assert_eq!(FieldPath::parse(&long_key), Err(PathError::TooLong));
    assert!(FieldPath::parse(&"k".repeat(MAX_PATH_CHARS)).is_ok());
    // The observed attack: 100,000 dot-separated segments is refused at once, not parsed.
    let attack = vec!["x"; 100_000].join(".");
    assert_eq!(FieldPath::parse(&attack), Err(PathError::TooLong));
}
