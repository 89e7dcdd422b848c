//! Salesforce search by field for `Provider::find_by`: `SELECT … FROM obj WHERE Field IN
//! ('a', 'b', …)` through `GET /query`.
//!
//! SOQL statements are limited to 100,000 characters, but a GET carries the query in the URI,
//! which Salesforce limits to 16,384 bytes (414 beyond), so a chunk of values whose URL would
//! be longer than [`MAX_URL_BYTES`] is split in halves. Text values are quoted with SOQL's
//! backslash escapes; a field whose type wants unquoted literals (numbers, dates) is refused
//! by Salesforce and the adapter falls back to scanning (see `client.rs`).

use super::records::{soql_string, SalesforceObject};
use crate::ProviderError;

/// Most values of one `find_by` call (it may still take several queries, see the module).
pub const MAX_FIND: usize = 200;
/// Longest query URL the adapter sends (Salesforce's URI limit is 16,384 bytes).
pub const MAX_URL_BYTES: usize = 16_000;

/// A SOQL field name: letters, digits, `_` and `.` (relationship paths), not empty.
pub fn check_field(field: &str) -> Result<(), ProviderError> {
    let ok = !field.is_empty()
        && field
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
    if ok {
        Ok(())
    } else {
        Err(ProviderError::Permanent(format!(
            "`{field}` is not a Salesforce field name"
        )))
    }
}

/// Trimmed, deduplicated, non-empty values.
pub fn normalize(values: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(values.len());
    for v in values {
        let v = v.trim();
        if !v.is_empty() && !out.iter().any(|o| o == v) {
            out.push(v.to_owned());
        }
    }
    out
}

/// `SELECT fields FROM obj WHERE field IN ('v1', 'v2')`.
pub fn find_soql(
    obj: &SalesforceObject,
    fields: &[String],
    field: &str,
    values: &[String],
) -> String {
    let list: Vec<String> = values.iter().map(|v| soql_string(v)).collect();
    format!(
        "SELECT {} FROM {} WHERE {field} IN ({})",
        fields.join(", "),
        obj.name,
        list.join(", ")
    )
}

/// Splits `values` into runs whose query URL (`url_of`) fits [`MAX_URL_BYTES`], halving
/// a run until it fits; a single value too long for any URL is an error.
pub fn split_to_fit(
    values: &[String],
    url_of: &dyn Fn(&[String]) -> String,
) -> Result<Vec<(Vec<String>, String)>, ProviderError> {
    let mut out = Vec::new();
    let mut todo: Vec<&[String]> = vec![values];
    while let Some(run) = todo.pop() {
        if run.is_empty() {
            continue;
        }
        let url = url_of(run);
        if url.len() <= MAX_URL_BYTES {
            out.push((run.to_vec(), url));
        } else if run.len() == 1 {
            return Err(ProviderError::Permanent(format!(
                "a find_by value of {} characters makes a Salesforce query URL longer than {MAX_URL_BYTES} bytes",
                run[0].len()
            )));
        } else {
            let (a, b) = run.split_at(run.len() / 2);
            todo.push(b);
            todo.push(a);
        }
    }
    Ok(out)
}

/// Whether Salesforce refused the literal's type (a number or date field compared with a
/// quoted value): then the field cannot be searched with text values.
pub fn is_literal_type_error(message: &str) -> bool {
    message.contains("value of filter criterion")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_are_escaped_and_long_lists_split() {
        let obj = super::super::records::object("Contact").unwrap();
        let q = find_soql(
            obj,
            &["Id".into()],
            "Email",
            &["o'neil@x.org".into(), "a\\b".into()],
        );
        assert_eq!(
            q,
            "SELECT Id FROM Contact WHERE Email IN ('o\\'neil@x.org', 'a\\\\b')"
        );
        let values: Vec<String> = (0..200).map(|i| format!("{i:0>150}")).collect();
        let runs = split_to_fit(&values, &|run| "x".repeat(run.len() * 160)).unwrap();
        assert!(runs.len() > 1);
        assert!(runs.iter().all(|(_, url)| url.len() <= MAX_URL_BYTES));
        let back: Vec<String> = runs.into_iter().flat_map(|(r, _)| r).collect();
        assert_eq!(back, values);
        assert!(check_field("Email").is_ok());
        assert!(check_field("Email) OR (Id").is_err());
        assert_eq!(
            normalize(&[" a ".into(), "a".into(), "".into()]),
            vec!["a".to_owned()]
        );
    }
}
