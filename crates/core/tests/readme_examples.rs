//! The transform examples the README shows, checked so the documentation stays true.

use fluxcascade_core::transform::Transform;
use serde_json::{json, Value};

fn run(name: &str, options: Value, inputs: &[Value]) -> Value {
    let t = Transform::from_spec(
        name,
        if options.is_null() {
            None
        } else {
            Some(&options)
        },
    )
    .expect("valid spec");
    let inputs: Vec<Option<&Value>> = inputs.iter().map(Some).collect();
    t.apply(&inputs).expect("transforms")
}

#[test]
fn readme_transform_examples_hold() {
    let cases = [
        ("uppercase", Value::Null, vec![json!("acme")], json!("ACME")),
        (
            "lowercase",
            Value::Null,
            vec![json!("Ann@X.COM")],
            json!("ann@x.com"),
        ),
        (
            "phone_e164",
            Value::Null,
            vec![json!("(201) 555-0119")],
            json!("+12015550119"),
        ),
        (
            "phone_e164",
            json!({"region": "GB"}),
            vec![json!("020 7946 0958")],
            json!("+442079460958"),
        ),
        (
            "date_iso",
            Value::Null,
            vec![json!("03/05/2024")],
            json!("2024-03-05"),
        ),
        (
            "date_iso",
            Value::Null,
            vec![json!("05.03.2024 14:30")],
            json!("2024-03-05T14:30:00Z"),
        ),
        (
            "date_iso",
            Value::Null,
            vec![json!(1709650200000u64)],
            json!("2024-03-05T14:50:00Z"),
        ),
        (
            "split_name",
            json!({"part": "first"}),
            vec![json!("Mary Ann van der Berg")],
            json!("Mary Ann"),
        ),
        (
            "split_name",
            json!({"part": "last"}),
            vec![json!("Mary Ann van der Berg")],
            json!("van der Berg"),
        ),
        (
            "split_name",
            json!({"part": "first"}),
            vec![json!("Cher")],
            json!("Cher"),
        ),
        (
            "split_name",
            json!({"part": "last"}),
            vec![json!("Cher")],
            json!(""),
        ),
        (
            "concatenate",
            Value::Null,
            vec![json!("Ann"), json!(""), json!("Lee")],
            json!("Ann Lee"),
        ),
    ];
    for (name, options, inputs, want) in cases {
        assert_eq!(
            run(name, options.clone(), &inputs),
            want,
            "{name} {options} {inputs:?}"
        );
    }
}
