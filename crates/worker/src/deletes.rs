//! Applying deletion decisions (`fluxcascade_core::on_delete`) for the tombstones of one batch:
//! archive the twins through the adapter, then remove the links of every deletion applied.
//!
//! The write path (`page.rs`) calls [`apply_deletes`] with the tombstones a page read
//! (`Record { deleted: true }`) and their actions, adds `outcome.applied.len()` to
//! `Counts.deleted`, `outcome.ignored.len()` to `skipped`, and the errors to the batch's
//! errors; then it commits the batch as usual.
//!
//! Order and retries: the twin is archived before its link goes, so a crash in between leaves the
//! link and the retried batch archives again (archiving an archived or missing record is `Ok`).
//! Removing links is idempotent. A twin that could not be archived keeps its link and is a record
//! error, so the deletion is tried again when the tombstone is read again.

use fluxcascade_core::{DeleteAction, RecordError};
use fluxcascade_providers::{Provider, WriteResult};
use fluxcascade_store::unlink::LinkSide;
use fluxcascade_store::Store;
use uuid::Uuid;

use crate::classify;
use crate::error::WorkerError;

/// What applying a batch's deletions did, by the tombstone's record id.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct DeleteOutcome {
    /// Deletions applied (twin archived and unlinked, or unlinked): `Counts.deleted`.
    pub applied: Vec<String>,
    /// Nothing to do (no link, or `onDelete: ignore`): `Counts.skipped`.
    pub ignored: Vec<String>,
    /// Twins that could not be archived; their links stay.
    pub errors: Vec<RecordError>,
}

/// The tombstones to archive (record id, twin id) and to unlink at once, in input order.
type Split<'a> = (Vec<(&'a str, &'a str)>, Vec<&'a str>, Vec<String>);

fn split(tombstones: &[(String, DeleteAction)]) -> Split<'_> {
    let (mut archive, mut unlink, mut ignored) = (Vec::new(), Vec::new(), Vec::new());
    for (id, action) in tombstones {
        match action {
            DeleteAction::Ignore => ignored.push(id.clone()),
            DeleteAction::Unlink => unlink.push(id.as_str()),
            DeleteAction::Archive { target_id } => archive.push((id.as_str(), target_id.as_str())),
        }
    }
    (archive, unlink, ignored)
}

/// Matches archive results (in twin order) to their tombstones: an archived twin is unlinked, a
/// refused one (or one with no result) is a record error.
fn settle<'a>(
    archive: &[(&'a str, &str)],
    results: Vec<WriteResult>,
    unlink: &mut Vec<&'a str>,
    errors: &mut Vec<RecordError>,
) {
    let mut results = results.into_iter();
    for (record_id, twin) in archive {
        match results.next() {
            Some(WriteResult::Ok(_)) => unlink.push(record_id),
            Some(WriteResult::Failed { code, message }) => errors.push(RecordError {
                record_id: (*record_id).to_owned(),
                code,
                message: classify::bounded(&format!("archiving {twin}: {message}")),
            }),
            None => errors.push(RecordError {
                record_id: (*record_id).to_owned(),
                code: "no_result".into(),
                message: format!("the provider returned no result for archiving {twin}"),
            }),
        }
    }
}

/// Applies `tombstones` (record id read on `side`, its action) of one mapping: twins archived in
/// `twin_object` through `twin`, in chunks of its `max_batch`, then links removed.
pub(crate) async fn apply_deletes(
    store: &Store,
    twin: &dyn Provider,
    (org_id, mapping_id): (Uuid, Uuid),
    side: LinkSide,
    twin_object: &str,
    tombstones: &[(String, DeleteAction)],
) -> Result<DeleteOutcome, WorkerError> {
    let (archive, mut unlink, ignored) = split(tombstones);
    let mut errors = Vec::new();
    for chunk in archive.chunks(twin.max_batch(twin_object).max(1)) {
        let ids: Vec<String> = chunk.iter().map(|(_, t)| (*t).to_owned()).collect();
        let results = twin.archive(twin_object, &ids).await?;
        settle(chunk, results, &mut unlink, &mut errors);
    }
    let ids: Vec<String> = unlink.iter().map(|s| (*s).to_owned()).collect();
    store.remove_links(org_id, mapping_id, side, &ids).await?;
    Ok(DeleteOutcome {
        applied: ids,
        ignored,
        errors,
    })
}

#[cfg(test)]
#[path = "deletes_tests.rs"]
mod tests;
