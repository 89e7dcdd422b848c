//! Match rules: an unlinked source record finds its existing twin in the target by a field
//! (for example the email) instead of creating a duplicate.

use std::collections::HashMap;

use fluxcascade_core::path::FieldPath;
use fluxcascade_core::{MatchRule, Record};
use fluxcascade_providers::{ListQuery, Provider};

use crate::error::WorkerError;

/// Stop scanning the target after this many pages (then unmatched records are created).
const MAX_SCAN_PAGES: usize = 500;

/// The comparable form of a match value: trimmed, case-folded strings; numbers as text.
pub(crate) fn match_key(v: &serde_json::Value) -> Option<String> {
    let s = match v {
        serde_json::Value::String(s) => s.trim().to_lowercase(),
        serde_json::Value::Number(n) => n.to_string(),
        _ => return None,
    };
    (!s.is_empty()).then_some(s)
}

/// Finds, for each unlinked source record, a target record whose `targetField` equals the
/// source's `sourceField`. A target field the provider can search
/// (`Provider::can_search_by`) is looked up with `Provider::find_by`, in `max_find` chunks of
/// the batch's distinct values, so the cost follows the batch, not the size of the target;
/// otherwise (no search API, or a nested path the API cannot search) the target is scanned
/// once. Runs once per batch and only when some record of the batch is unlinked.
pub(crate) async fn find_twins(
    target: &dyn Provider,
    object: &str,
    rule: &MatchRule,
    unlinked: &[&Record],
    target_fields: &[String],
) -> Result<HashMap<String, Record>, WorkerError> {
    let (Ok(source_path), Ok(target_path)) = (
        FieldPath::parse(&rule.source_field),
        FieldPath::parse(&rule.target_field),
    ) else {
        return Ok(HashMap::new()); // validated on save; nothing to match with
    };
    let mut wanted: HashMap<String, Vec<String>> = HashMap::new();
    for r in unlinked {
        if let Some(key) = source_path.get(&r.fields).and_then(match_key) {
            wanted.entry(key).or_default().push(r.id.clone());
        }
    }
    let mut found = HashMap::new();
    if wanted.is_empty() {
        return Ok(found);
    }
    if target.can_search_by(object, &rule.target_field) {
        search(
            target,
            object,
            &rule.target_field,
            &target_path,
            wanted,
            target_fields,
            &mut found,
        )
        .await?;
        return Ok(found);
    }
    let mut fields = target_fields.to_vec();
    let top = rule
        .target_field
        .split(['.', '['])
        .next()
        .unwrap_or_default()
        .to_string();
    if !fields.contains(&top) {
        fields.push(top);
    }
    let mut query = ListQuery {
        since: None,
        page: None,
        page_size: 200,
        fields,
    };
    for _ in 0..MAX_SCAN_PAGES {
        let page = target.list(object, &query).await?;
        for rec in page.records {
            let Some(key) = target_path.get(&rec.fields).and_then(match_key) else {
                continue;
            };
            if let Some(sources) = wanted.remove(&key) {
                for s in sources {
                    found.insert(s, rec.clone());
                }
            }
        }
        if wanted.is_empty() || page.next_page.is_none() {
            break;
        }
        query.page = page.next_page;
    }
    Ok(found)
}

/// `find_by` on a top-level field, `max_find` values per call; each source gets the first
/// target record (in the provider's order) whose field has its key.
async fn search(
    target: &dyn Provider,
    object: &str,
    field: &str,
    target_path: &FieldPath,
    mut wanted: HashMap<String, Vec<String>>,
    target_fields: &[String],
    found: &mut HashMap<String, Record>,
) -> Result<(), WorkerError> {
    let mut fields = target_fields.to_vec();
    if !fields.iter().any(|f| f == field) {
        fields.push(field.to_owned());
    }
    let mut keys: Vec<String> = wanted.keys().cloned().collect();
    keys.sort();
    for chunk in keys.chunks(target.max_find(object).max(1)) {
        let records = target.find_by(object, field, chunk, &fields).await?;
        for rec in records {
            let Some(key) = target_path.get(&rec.fields).and_then(match_key) else {
                continue;
            };
            if let Some(sources) = wanted.remove(&key) {
                for s in sources {
                    found.insert(s, rec.clone());
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::match_key;
    use serde_json::json;

    #[test]
    fn match_keys_ignore_case_and_surrounding_space() {
        let cases = [
            (json!(" Ann@Example.ORG "), Some("ann@example.org")),
            (json!(42), Some("42")),
            (json!(""), None),
            (json!("   "), None),
            (json!(null), None),
            (json!({"a": 1}), None),
        ];
        for (input, want) in cases {
            assert_eq!(match_key(&input).as_deref(), want, "{input}");
        }
    }
}
