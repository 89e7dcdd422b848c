//! Salesforce deletions: `DELETE /sobjects/{SObject}/{Id}` per record (the record goes to the
//! recycle bin; Salesforce has no archive for these objects).

use chrono::Utc;
use fluxcascade_core::Record;
use futures::future::{BoxFuture, FutureExt};
use futures::stream::{self, StreamExt, TryStreamExt};
use reqwest::Method;

use super::client::SalesforceClient;
use super::records::SalesforceObject;
use crate::{ProviderError, WriteResult};

/// Deletes in flight at once.
const DELETE_CONCURRENCY: usize = 4;

fn tombstone(id: &str) -> WriteResult {
    WriteResult::Ok(Record::tombstone(id.to_owned(), Utc::now()))
}

/// A 404 (`ENTITY_IS_DELETED`, `NOT_FOUND`): the record is already gone.
fn is_gone(e: &ProviderError) -> bool {
    matches!(e, ProviderError::Permanent(m) if m.starts_with("salesforce answered 404"))
}

impl SalesforceClient {
    /// Deletes `ids` of `obj`, results in id order: deleted or already gone is a tombstone,
    /// another refusal (4xx) fails that record; a rate limit, a 5xx or an auth failure ends the
    /// call.
    pub(super) async fn delete_ids(
        &self,
        obj: &SalesforceObject,
        ids: &[String],
    ) -> Result<Vec<WriteResult>, ProviderError> {
        let calls: Vec<BoxFuture<'_, Result<WriteResult, ProviderError>>> = ids
            .iter()
            .map(|id| {
                async move {
                    let segment: String =
                        url::form_urlencoded::byte_serialize(id.as_bytes()).collect();
                    let url = self.data_url(&format!("/sobjects/{}/{segment}", obj.name));
                    match self.send(Method::DELETE, url, None, &[]).await {
                        Ok(_) => Ok(tombstone(id)),
                        Err(e) if is_gone(&e) => Ok(tombstone(id)),
                        Err(ProviderError::Permanent(message)) => Ok(WriteResult::Failed {
                            code: "provider_rejected".into(),
                            message,
                        }),
                        Err(e) => Err(e),
                    }
                }
                .boxed()
            })
            .collect();
        stream::iter(calls)
            .buffered(DELETE_CONCURRENCY)
            .try_collect()
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_404_counts_as_already_gone() {
        let p = |m: &str| ProviderError::Permanent(m.into());
        assert!(is_gone(&p(
            "salesforce answered 404 Not Found: ENTITY_IS_DELETED: entity is deleted"
        )));
        assert!(!is_gone(&p(
            "salesforce answered 400 Bad Request: DELETE_FAILED: x"
        )));
    }
}
