//! Pipedrive deletions: `DELETE /api/v2/{object}/{id}` per record (Pipedrive has no archive;
//! a deleted record is kept for 30 days with `is_deleted`).

use chrono::Utc;
use fluxcascade_core::Record;
use futures::future::{BoxFuture, FutureExt};
use futures::stream::{self, StreamExt, TryStreamExt};
use reqwest::Method;

use super::client::{rejected, segment, PipedriveClient, WRITE_CONCURRENCY};
use super::records::PipedriveObject;
use crate::{ProviderError, WriteResult};

/// A tombstone for a record deleted (or already gone) now.
fn tombstone(id: &str) -> WriteResult {
    WriteResult::Ok(Record::tombstone(id.to_owned(), Utc::now()))
}

/// Whether a permanent error is Pipedrive's 404 (the record does not exist or is deleted).
fn is_not_found(e: &ProviderError) -> bool {
    matches!(e, ProviderError::Permanent(m) if m.starts_with("Pipedrive answered 404"))
}

impl PipedriveClient {
    /// Deletes `ids`, [`WRITE_CONCURRENCY`] at a time, results in id order. An id already gone
    /// (404) is a tombstone; another refusal (4xx) fails that record; a 429 after retries, a 5xx
    /// or an auth failure ends the call.
    pub(super) async fn delete_ids(
        &self,
        obj: &PipedriveObject,
        ids: &[String],
    ) -> Result<Vec<WriteResult>, ProviderError> {
        let calls: Vec<BoxFuture<'_, Result<WriteResult, ProviderError>>> = ids
            .iter()
            .map(|id| {
                async move {
                    if id.parse::<u64>().is_err() {
                        return Ok(tombstone(id));
                    }
                    let url = self.url(obj, &format!("/{}", segment(id)));
                    match self.call(Method::DELETE, url, None).await {
                        Ok(_) => Ok(tombstone(id)),
                        Err(e) if is_not_found(&e) => Ok(tombstone(id)),
                        Err(e) => rejected(e),
                    }
                }
                .boxed()
            })
            .collect();
        stream::iter(calls)
            .buffered(WRITE_CONCURRENCY)
            .try_collect()
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_404_counts_as_already_gone() {
        assert!(is_not_found(&ProviderError::Permanent(
            "Pipedrive answered 404: not found".into()
        )));
        assert!(!is_not_found(&ProviderError::Permanent(
            "Pipedrive answered 400: bad".into()
        )));
        assert!(!is_not_found(&ProviderError::Transient("x".into())));
    }
}
