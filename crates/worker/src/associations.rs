//! Association rules (guide "Deals to Jobs"): fills a target field with the twin of an associated
//! record, found through another mapping's record links — e.g. a deal's contact → its Jobber client.

use std::collections::HashMap;

use fluxcascade_core::path::FieldPath;
use fluxcascade_core::{AssociationRule, Record, RecordError};
use fluxcascade_queue::JobError;
use fluxcascade_store::Store;
use serde_json::Value;
use uuid::Uuid;

use crate::error::WorkerError;

/// What association rules add to one record's mapped fields, or why the record cannot be written.
pub(crate) type Extra = Result<Vec<(FieldPath, Value)>, RecordError>;

/// The ids a record is associated with under `name` (`fields.associations.<name>`).
pub(crate) fn associated_ids(record: &Record, name: &str) -> Vec<String> {
    record.fields["associations"][name]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| match v {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        })
        .collect()
}

/// Resolves every rule for every record: one link lookup per rule and batch.
pub(crate) async fn resolve(
    store: &Store,
    org_id: Uuid,
    object: &str,
    rules: &[AssociationRule],
    records: &[Record],
) -> Result<HashMap<String, Extra>, WorkerError> {
    let mut out: HashMap<String, Extra> = records
        .iter()
        .map(|r| (r.id.clone(), Ok(Vec::new())))
        .collect();
    for rule in rules {
        let (Ok(mapping_id), Ok(path)) = (
            Uuid::parse_str(&rule.mapping_id),
            FieldPath::parse(&rule.target_field),
        ) else {
            return Err(JobError::Permanent {
                message: format!("invalid association rule {rule:?}"),
            }
            .into());
        };
        let ids: Vec<String> = records
            .iter()
            .flat_map(|r| associated_ids(r, &rule.source))
            .collect();
        let links = store.load_links(org_id, mapping_id, &ids).await?;
        for record in records {
            let Some(Ok(extras)) = out.get_mut(&record.id) else {
                continue;
            };
            let associated = associated_ids(record, &rule.source);
            let twin = associated
                .iter()
                .find_map(|id| links.get(id).and_then(|l| l.target_id.clone()));
            match (twin, associated.first()) {
                (Some(target_id), _) => extras.push((path.clone(), Value::String(target_id))),
                (None, None) => {
                    out.insert(
                        record.id.clone(),
                        Err(RecordError {
                            record_id: record.id.clone(),
                            code: "association_missing".into(),
                            message: format!(
                                "this {object} record has no associated {}",
                                rule.source
                            ),
                        }),
                    );
                }
                (None, Some(first)) => {
                    out.insert(
                        record.id.clone(),
                        Err(RecordError {
                            record_id: record.id.clone(),
                            code: "association_unlinked".into(),
                            message: format!(
                                "its associated {} {first} is not linked to a target record yet; \
                                 sync mapping {} first",
                                rule.source.trim_end_matches('s'),
                                rule.mapping_id
                            ),
                        }),
                    );
                }
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::associated_ids;
    use chrono::Utc;
    use fluxcascade_core::Record;
    use serde_json::json;

    #[test]
    fn associated_ids_read_strings_and_numbers_and_tolerate_absence() {
        let rec = |fields| Record {
            id: "d1".into(),
            updated_at: Utc::now(),
            fields,
            deleted: false,
        };
        assert_eq!(
            associated_ids(
                &rec(json!({"associations": {"contacts": ["1", 2]}})),
                "contacts"
            ),
            ["1", "2"]
        );
        assert!(associated_ids(&rec(json!({"associations": {}})), "contacts").is_empty());
        assert!(associated_ids(&rec(json!({})), "contacts").is_empty());
        assert!(
            associated_ids(&rec(json!({"associations": {"contacts": "x"}})), "contacts").is_empty()
        );
    }
}
