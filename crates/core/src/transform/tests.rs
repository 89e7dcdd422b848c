//! Table-driven tests for every transform, spec parsing, and no-panic properties.

use super::*;
use proptest::prelude::*;
use serde_json::json;

fn t(name: &str, opts: Value) -> Transform {
    let opts = if opts.is_null() { None } else { Some(opts) };
    Transform::from_spec(name, opts.as_ref()).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn run(tr: &Transform, v: Value) -> Result<Value, TransformError> {
    tr.apply(&[Some(&v)])
}

fn code(r: Result<Value, TransformError>) -> String {
    match r {
        Ok(v) => format!("ok: {v}"),
        Err(e) => e.code,
    }
}

#[test]
fn case_transforms() {
    let up = t("uppercase", Value::Null);
    let low = t("lowercase", Value::Null);
    assert_eq!(run(&up, json!("straße Ada")).unwrap(), json!("STRASSE ADA"));
    assert_eq!(
        run(&low, json!("ADA@Example.COM")).unwrap(),
        json!("ada@example.com")
    );
    assert_eq!(run(&up, json!("")).unwrap(), json!(""));
    assert_eq!(code(run(&up, json!(42))), "invalid_type");
    assert_eq!(code(run(&low, json!({"a": 1}))), "invalid_type");
}

#[test]
fn null_and_missing_pass_through() {
    for tr in [
        t("uppercase", Value::Null),
        t("phone_e164", Value::Null),
        t("date_iso", Value::Null),
        t("split_name", json!({"part": "last"})),
    ] {
        assert_eq!(tr.apply(&[None]).unwrap(), Value::Null, "{}", tr.name());
        assert_eq!(
            tr.apply(&[Some(&Value::Null)]).unwrap(),
            Value::Null,
            "{}",
            tr.name()
        );
        assert_eq!(tr.apply(&[]).unwrap(), Value::Null, "{}", tr.name());
    }
}

#[test]
fn phone_numbers_to_e164() {
    let cases: &[(&str, &str, &str)] = &[
        ("US", "(201) 555-0123", "+12015550123"),
        ("US", "201.555.0123", "+12015550123"),
        ("US", "+1 650-253-0000", "+16502530000"),
        ("US", "1-650-253-0000", "+16502530000"),
        ("GB", "07400 123456", "+447400123456"),
        ("GB", "0121 234 5678", "+441212345678"),
        ("US", "+44 7400 123456", "+447400123456"),
        ("DE", "030 123456", "+4930123456"),
        ("DE", "01512 3456789", "+4915123456789"),
        ("US", "+49 30 123456", "+4930123456"),
        ("FR", "01 23 45 67 89", "+33123456789"),
        ("FR", "06 12 34 56 78", "+33612345678"),
        ("US", "+33 6 12 34 56 78", "+33612345678"),
        ("AU", "(02) 1234 5678", "+61212345678"),
        ("AU", "0412 345 678", "+61412345678"),
        ("GB", "+61 412 345 678", "+61412345678"),
        ("gb", "00 33 6 12 34 56 78", "+33612345678"),
    ];
    for (region, input, want) in cases {
        let tr = t("phone_e164", json!({"region": region}));
        assert_eq!(run(&tr, json!(input)), Ok(json!(want)), "{region} {input}");
    }
    // Default region is US; integers are accepted.
    assert_eq!(
        run(&t("phone_e164", Value::Null), json!(2015550123u64)),
        Ok(json!("+12015550123"))
    );
    assert_eq!(
        run(&t("phone_e164", Value::Null), json!("  ")),
        Ok(json!(""))
    );
}

#[test]
fn invalid_phone_numbers_are_errors() {
    let us = t("phone_e164", Value::Null);
    for input in [
        "12345",
        "not a phone",
        "+1 555",
        "(000) 000-0000",
        "+44 20 1234",
        "+999 1234567",
        "555-0123-4567-8901-2345",
    ] {
        let err = run(&us, json!(input)).expect_err(input);
        assert_eq!(err.code, "invalid_phone", "{input}");
        assert!(
            err.message.contains("not a valid phone number"),
            "{}",
            err.message
        );
    }
    let de = t("phone_e164", json!({"region": "DE"}));
    assert_eq!(code(run(&de, json!("12"))), "invalid_phone");
    assert_eq!(code(run(&us, json!(true))), "invalid_type");
    assert_eq!(code(run(&us, json!(-5))), "invalid_type");
}

#[test]
fn dates_to_iso() {
    let utc = t("date_iso", Value::Null);
    let cases: &[(Value, &str)] = &[
        (json!("2024-03-05"), "2024-03-05"),
        (json!("2024/03/05"), "2024-03-05"),
        (json!("20240305"), "2024-03-05"),
        (json!("03/05/2024"), "2024-03-05"),
        (json!("3/5/2024"), "2024-03-05"),
        (json!("12/25/2024"), "2024-12-25"),
        (json!("05.03.2024"), "2024-03-05"),
        (json!("05-03-2024"), "2024-03-05"),
        (json!("March 5, 2024"), "2024-03-05"),
        (json!("5 Mar 2024"), "2024-03-05"),
        (json!("2024-03-05T14:30:00Z"), "2024-03-05T14:30:00Z"),
        (
            json!("2024-03-05T14:30:00.250Z"),
            "2024-03-05T14:30:00.250Z",
        ),
        (json!("2024-03-05T09:30:00-05:00"), "2024-03-05T14:30:00Z"),
        (json!("2024-03-05T15:30:00+0100"), "2024-03-05T14:30:00Z"),
        (json!("2024-03-05 14:30:00+00:00"), "2024-03-05T14:30:00Z"),
        (json!("2024-03-05T14:30:00"), "2024-03-05T14:30:00Z"),
        (json!("2024-03-05 14:30"), "2024-03-05T14:30:00Z"),
        (json!("03/05/2024 2:30 PM"), "2024-03-05T14:30:00Z"),
        (json!("05.03.2024 14:30"), "2024-03-05T14:30:00Z"),
        (
            json!("Tue, 5 Mar 2024 14:30:00 +0000"),
            "2024-03-05T14:30:00Z",
        ),
        (
            json!("Tue, 05 Mar 2024 09:30:00 -0500"),
            "2024-03-05T14:30:00Z",
        ),
        (json!(1709649000000i64), "2024-03-05T14:30:00Z"),
        (json!("1709649000000"), "2024-03-05T14:30:00Z"),
        (json!(1709649000123i64), "2024-03-05T14:30:00.123Z"),
        (json!(""), ""),
        (json!("   "), ""),
    ];
    for (input, want) in cases {
        assert_eq!(run(&utc, input.clone()), Ok(json!(want)), "{input}");
    }
}

#[test]
fn dates_with_a_timezone_option() {
    let ny = t("date_iso", json!({"timezone": "America/New_York"}));
    let cases: &[(&str, &str)] = &[
        // Local times are read in the zone (EST in March before DST, EDT in July), rendered in UTC.
        ("2024-03-05 09:30", "2024-03-05T14:30:00Z"),
        ("07/04/2024 09:30", "2024-07-04T13:30:00Z"),
        // Inputs with an offset ignore the option.
        ("2024-03-05T14:30:00Z", "2024-03-05T14:30:00Z"),
        ("2024-03-05T10:30:00+01:00", "2024-03-05T09:30:00Z"),
        // Dates stay dates.
        ("2024-03-05", "2024-03-05"),
    ];
    for (input, want) in cases {
        assert_eq!(run(&ny, json!(input)), Ok(json!(want)), "{input}");
    }
    let berlin = t("date_iso", json!({"timezone": "Europe/Berlin"}));
    assert_eq!(
        run(&berlin, json!("05.03.2024 15:30")),
        Ok(json!("2024-03-05T14:30:00Z"))
    );
    // 02:30 on the spring-forward day does not exist in New York.
    let err = run(&ny, json!("2024-03-10 02:30")).unwrap_err();
    assert_eq!(err.code, "invalid_date");
    assert!(err.message.contains("does not exist"), "{}", err.message);
}

#[test]
fn invalid_dates_are_errors() {
    let utc = t("date_iso", Value::Null);
    for input in [
        json!("yesterday"),
        json!("2024-13-05"),
        json!("02/30/2024"),
        json!("5/3/24"),
        json!("25/12/2024"),
        json!("12.5"),
        json!("2024-03-05T25:00:00Z"),
        json!(1e300),
        json!("9".repeat(30)),
    ] {
        assert_eq!(code(run(&utc, input.clone())), "invalid_date", "{input}");
    }
    assert_eq!(code(run(&utc, json!(true))), "invalid_type");
    assert_eq!(code(run(&utc, json!(["2024-03-05"]))), "invalid_type");
}

#[test]
fn names_split_into_first_and_last() {
    let first = t("split_name", json!({"part": "first"}));
    let last = t("split_name", json!({"part": "last"}));
    let cases: &[(&str, &str, &str)] = &[
        ("Ada Lovelace", "Ada", "Lovelace"),
        ("  Ada   Lovelace ", "Ada", "Lovelace"),
        ("Cher", "Cher", ""),
        ("Mary Ann Smith", "Mary Ann", "Smith"),
        ("John Ronald Reuel Tolkien", "John Ronald Reuel", "Tolkien"),
        ("Ludwig van Beethoven", "Ludwig", "van Beethoven"),
        ("Johannes van der Waals", "Johannes", "van der Waals"),
        ("Maria de la Cruz", "Maria", "de la Cruz"),
        ("Jean Claude Van Damme", "Jean Claude", "Van Damme"),
        ("Martin Luther King Jr.", "Martin Luther", "King Jr."),
        ("Martin Luther King, Jr.", "Martin Luther", "King Jr."),
        ("Dr. Jane Goodall", "Jane", "Goodall"),
        ("Lovelace, Ada", "Ada", "Lovelace"),
        ("de la Cruz, Maria", "Maria", "de la Cruz"),
        ("", "", ""),
    ];
    for (input, f, l) in cases {
        assert_eq!(
            run(&first, json!(input)),
            Ok(json!(f)),
            "first of {input:?}"
        );
        assert_eq!(run(&last, json!(input)), Ok(json!(l)), "last of {input:?}");
    }
    assert_eq!(code(run(&first, json!(7))), "invalid_type");
}

#[test]
fn concatenate_skips_empty_parts() {
    let space = t("concatenate", Value::Null);
    let comma = t("concatenate", json!({"separator": ", "}));
    let a = json!("Ada");
    let b = json!(" Lovelace ");
    let empty = json!("");
    let blank = json!("   ");
    let null = Value::Null;
    let n = json!(42);
    assert_eq!(
        space.apply(&[Some(&a), Some(&b)]),
        Ok(json!("Ada Lovelace"))
    );
    assert_eq!(
        space.apply(&[
            Some(&a),
            None,
            Some(&empty),
            Some(&null),
            Some(&blank),
            Some(&b)
        ]),
        Ok(json!("Ada Lovelace"))
    );
    assert_eq!(
        comma.apply(&[Some(&b), Some(&a), Some(&n)]),
        Ok(json!("Lovelace, Ada, 42"))
    );
    assert_eq!(space.apply(&[None, Some(&null)]), Ok(json!("")));
    assert_eq!(
        code(space.apply(&[Some(&a), Some(&json!({"x": 1}))])),
        "invalid_type"
    );
}

#[test]
fn spec_errors_name_the_field() {
    let err = |name: &str, opts: Value| Transform::from_spec(name, Some(&opts)).unwrap_err();
    assert_eq!(
        Transform::from_spec("titlecase", None).unwrap_err().field,
        "transform"
    );
    assert_eq!(
        err("phone_e164", json!({"region": "XX"})).field,
        "transformOptions.region"
    );
    assert_eq!(
        err("phone_e164", json!({"region": "USA"})).field,
        "transformOptions.region"
    );
    assert_eq!(
        err("phone_e164", json!({"region": 1})).field,
        "transformOptions.region"
    );
    assert_eq!(
        err("phone_e164", json!({"region": "US", "strict": true})).field,
        "transformOptions.strict"
    );
    assert_eq!(
        err("split_name", json!({"part": "middle"})).field,
        "transformOptions.part"
    );
    assert_eq!(err("split_name", json!({})).field, "transformOptions.part");
    assert_eq!(
        err("date_iso", json!({"timezone": "Mars/Base"})).field,
        "transformOptions.timezone"
    );
    assert_eq!(
        err("uppercase", json!({"locale": "tr"})).field,
        "transformOptions.locale"
    );
    assert_eq!(
        err("concatenate", json!({"separator": 1})).field,
        "transformOptions.separator"
    );
    assert_eq!(err("uppercase", json!("x")).field, "transformOptions");
    assert_eq!(
        t("phone_e164", json!({"region": "de"})),
        Transform::PhoneE164 {
            region: phonenumber::country::Id::DE
        }
    );
}

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        ".{0,30}".prop_map(Value::from),
        "[+0-9 ()./-]{0,20}".prop_map(Value::from),
        "[0-9]{1,4}[-/. ][0-9]{1,2}[-/. ][0-9]{1,4}( [0-9]{1,2}:[0-9]{2})?".prop_map(Value::from),
    ];
    leaf.prop_recursive(2, 8, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
            prop::collection::btree_map("[a-z]{1,3}", inner, 0..3)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn all_transforms() -> Vec<Transform> {
    vec![
        t("uppercase", Value::Null),
        t("lowercase", Value::Null),
        t("phone_e164", Value::Null),
        t("phone_e164", json!({"region": "GB"})),
        t("date_iso", Value::Null),
        t("date_iso", json!({"timezone": "Australia/Sydney"})),
        t("split_name", json!({"part": "first"})),
        t("split_name", json!({"part": "last"})),
        t("concatenate", Value::Null),
    ]
}

proptest! {
    #[test]
    fn no_transform_panics(a in arb_json(), b in arb_json()) {
        for tr in all_transforms() {
            let _ = tr.apply(&[Some(&a), Some(&b)]);
            let _ = tr.apply(&[Some(&a)]);
        }
    }

    #[test]
    fn from_spec_never_panics(name in "[a-z_]{0,12}", opts in arb_json()) {
        for n in [name.as_str(), "phone_e164", "date_iso", "split_name", "concatenate"] {
            let _ = Transform::from_spec(n, Some(&opts));
        }
    }

    #[test]
    fn uppercase_is_idempotent(s in ".{0,40}") {
        let up = Transform::Uppercase;
        let once = up.apply(&[Some(&json!(s))]).unwrap();
        let twice = up.apply(&[Some(&once)]).unwrap();
        prop_assert_eq!(once, twice);
    }

    #[test]
    fn split_name_loses_no_words(words in prop::collection::vec("[A-Za-z]{1,8}".prop_filter("not an honorific", |w| !["mr", "mrs", "ms", "dr", "prof"].contains(&w.to_lowercase().as_str())), 1..6)) {
        let full = words.join(" ");
        let (first, last) = name::split(&full);
        let rejoined = format!("{first} {last}");
        prop_assert_eq!(rejoined.split_whitespace().collect::<Vec<_>>(), words.iter().map(String::as_str).collect::<Vec<_>>());
        prop_assert!(!first.is_empty());
    }
}
