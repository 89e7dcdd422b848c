//! Canonical hashing of mapped values, for echo suppression and "unchanged" skips.

use serde_json::Value;
use sha2::{Digest, Sha256};

/// Hex SHA-256 of `v` as canonical JSON: object keys sorted (recursively), no
/// whitespace, strings and numbers as `serde_json` prints them. Equal values
/// hash equal whatever the key order they arrived in.
pub fn values_hash(v: &Value) -> String {
    let mut buf = String::new();
    write_canonical(v, &mut buf);
    hex::encode(Sha256::digest(buf.as_bytes()))
}

/// The canonical JSON text that [`values_hash`] hashes.
pub fn canonical_json(v: &Value) -> String {
    let mut buf = String::new();
    write_canonical(v, &mut buf);
    buf
}

fn write_canonical(v: &Value, out: &mut String) {
    match v {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                if let Some(child) = map.get(k) {
                    write_canonical(child, out);
                }
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    #[test]
    fn key_order_does_not_matter_but_values_do() {
        let a: Value =
            serde_json::from_str(r#"{"b":1,"a":{"y":[1,{"q":2,"p":3}],"x":"s"}}"#).unwrap();
        let b: Value =
            serde_json::from_str(r#"{"a":{"x":"s","y":[1,{"p":3,"q":2}]},"b":1}"#).unwrap();
        assert_eq!(values_hash(&a), values_hash(&b));
        assert_eq!(
            canonical_json(&b),
            r#"{"a":{"x":"s","y":[1,{"p":3,"q":2}]},"b":1}"#
        );
        assert_ne!(values_hash(&json!({"a": 1})), values_hash(&json!({"a": 2})));
        assert_ne!(
            values_hash(&json!({"a": "1"})),
            values_hash(&json!({"a": 1}))
        );
        assert_ne!(values_hash(&json!([1, 2])), values_hash(&json!([2, 1])));
        assert_eq!(values_hash(&json!({})), hex::encode(Sha256::digest(b"{}")));
        assert_eq!(values_hash(&json!({})).len(), 64);
    }

    proptest! {
        #[test]
        fn hash_is_independent_of_key_order(entries in prop::collection::vec(("[a-z]{1,4}", any::<i32>(), ".{0,6}"), 0..8)) {
            let mut fwd = serde_json::Map::new();
            for (k, n, s) in &entries {
                fwd.insert(k.clone(), json!({"n": n, "s": s}));
            }
            // Build the same object inserting keys in reverse, with inner keys reversed too.
            let mut rev_text = String::from("{");
            let pairs: Vec<(&String, &Value)> = fwd.iter().collect();
            for (i, (k, v)) in pairs.iter().rev().enumerate() {
                if i > 0 { rev_text.push(','); }
                rev_text.push_str(&format!("{}:{{\"s\":{},\"n\":{}}}", json!(k), v["s"], v["n"]));
            }
            rev_text.push('}');
            let rev: Value = serde_json::from_str(&rev_text).unwrap();
            prop_assert_eq!(values_hash(&Value::Object(fwd)), values_hash(&rev));
        }
    }
}
