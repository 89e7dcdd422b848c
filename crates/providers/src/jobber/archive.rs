//! Jobber deletions: `clientArchive` per client, and archived clients read as tombstones.

use futures::future::{BoxFuture, FutureExt};
use futures::stream::{self, StreamExt};
use serde_json::{json, Value};

use super::client::{JobberClient, REJECTED, WRITE_CONCURRENCY};
use super::queries::ARCHIVE_CLIENT;
use super::records::{data_field, parse_mutation_payload};
use crate::{ProviderError, WriteResult};
use fluxcascade_core::Record;

/// Marks the clients Jobber lists with `isArchived: true` as tombstones (their fields stay).
pub fn mark_archived(records: &mut [Record]) {
    for r in records {
        if r.fields.get("isArchived") == Some(&Value::Bool(true)) {
            r.deleted = true;
        }
    }
}

/// Whether joined `userErrors` say the client does not exist.
fn is_not_found(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    m.contains("not found") || m.contains("couldn't find")
}

impl JobberClient {
    /// `clientArchive` for each id (concurrently, bounded), results in id order: the archived
    /// client as a tombstone, or its `userErrors` (an unknown id) as a failed record.
    pub(super) async fn archive_clients(
        &self,
        ids: &[String],
    ) -> Result<Vec<WriteResult>, ProviderError> {
        let calls: Vec<BoxFuture<'_, Result<WriteResult, ProviderError>>> =
            ids.iter().map(|id| self.archive_one(id).boxed()).collect();
        let results: Vec<_> = stream::iter(calls)
            .buffered(WRITE_CONCURRENCY)
            .collect()
            .await;
        results.into_iter().collect()
    }

    async fn archive_one(&self, id: &str) -> Result<WriteResult, ProviderError> {
        let body = self.graphql(ARCHIVE_CLIENT, json!({ "id": id })).await?;
        let payload = data_field(&body, "clientArchive")?;
        Ok(match parse_mutation_payload(payload)? {
            Ok(mut rec) => {
                rec.deleted = true;
                WriteResult::Ok(rec)
            }
            // Already gone (deleted in Jobber): nothing left to archive, as the trait asks.
            Err(message) if is_not_found(&message) => {
                WriteResult::Ok(Record::tombstone(id.to_owned(), chrono::Utc::now()))
            }
            Err(message) => WriteResult::Failed {
                code: REJECTED.to_owned(),
                message,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_archived_clients_become_tombstones() {
        let rec = |id: &str, fields: Value| Record {
            id: id.into(),
            updated_at: chrono::Utc::now(),
            fields,
            deleted: false,
        };
        let mut records = vec![
            rec("a", json!({"isArchived": true, "firstName": "A"})),
            rec("b", json!({"isArchived": false})),
            rec("c", json!({})),
        ];
        mark_archived(&mut records);
        let deleted: Vec<bool> = records.iter().map(|r| r.deleted).collect();
        assert_eq!(deleted, [true, false, false]);
        assert_eq!(
            records[0].fields["firstName"], "A",
            "a tombstone keeps its fields"
        );
    }

    #[test]
    fn not_found_user_errors_are_recognised() {
        assert!(is_not_found("clientId: Client not found"));
        assert!(is_not_found("Couldn't find Client with 'id'=1"));
        assert!(!is_not_found("clientId: is not archivable"));
    }
}
