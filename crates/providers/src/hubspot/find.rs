//! HubSpot search by field for `Provider::find_by`: one `IN` filter per request
//! (`POST /crm/v3/objects/{type}/search`).
//!
//! HubSpot's documented limits: at most 5 filterGroups, 10 filters per group and 25 in all,
//! 100 values per `IN`, `limit` ≤ 200, `after` paging up to 10,000 results of one query. `IN` on a
//! text property compares lowercase values, so values are trimmed and lowercased here.

use serde_json::{json, Value};

use super::records::{MAX_SEARCH_LIMIT, SEARCH_RESULT_CAP};

/// Most values of one `IN` filter, hence of one `find_by` call.
pub const MAX_FIND: usize = 100;

/// A plain property name (HubSpot's internal names: letters, digits, `_`, `-`).
pub fn is_property_name(field: &str) -> bool {
    !field.is_empty()
        && field
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// Trimmed, lowercased, deduplicated, non-empty values.
pub fn normalize(values: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(values.len());
    for v in values {
        let v = v.trim().to_lowercase();
        if !v.is_empty() && !out.contains(&v) {
            out.push(v);
        }
    }
    out
}

/// The search body: `field IN values`, the wanted properties, 200 a page from `after`.
pub fn find_body(
    field: &str,
    values: &[String],
    properties: &[String],
    after: Option<&str>,
) -> Value {
    let mut body = json!({
        "filterGroups": [{"filters": [{
            "propertyName": field,
            "operator": "IN",
            "values": values,
        }]}],
        "properties": properties,
        "limit": MAX_SEARCH_LIMIT,
    });
    if let Some(after) = after {
        body["after"] = Value::String(after.to_owned());
    }
    body
}

/// Whether paging on to `after` stays inside HubSpot's 10,000-result window.
pub fn within_cap(after: &str) -> bool {
    after.parse::<u64>().is_ok_and(|a| a < SEARCH_RESULT_CAP)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_trimmed_lowercased_and_deduplicated() {
        let got = normalize(&[
            " Ann@X.org ".into(),
            "ann@x.org".into(),
            "  ".into(),
            "b".into(),
        ]);
        assert_eq!(got, vec!["ann@x.org".to_owned(), "b".to_owned()]);
    }

    #[test]
    fn body_is_one_in_filter() {
        let b = find_body("email", &["a".into()], &["email".into()], Some("200"));
        assert_eq!(b["filterGroups"][0]["filters"][0]["operator"], "IN");
        assert_eq!(b["filterGroups"][0]["filters"][0]["values"][0], "a");
        assert_eq!(b["after"], "200");
        assert_eq!(b["limit"], 200);
        assert!(within_cap("9800"));
        assert!(!within_cap("10000"));
    }
}
