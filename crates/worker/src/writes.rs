//! Executes planned writes against a provider in its batch size, keeping one outcome per write.

use fluxcascade_core::{Counts, Record, RecordError};
use fluxcascade_providers::{Provider, WriteOp, WriteResult};

use crate::classify;
use crate::error::WorkerError;

/// One write decided for one record that was read.
pub(crate) struct PlannedWrite {
    /// The record read (source record on the forward leg, target record on the reverse leg).
    pub record: Record,
    pub op: WriteOp,
    /// Hash of the agreed values (target-side projection) the link stores once written.
    pub hash: String,
    pub create: bool,
}

/// What became of one planned write.
pub(crate) enum Outcome {
    Written(Record),
    Failed(RecordError),
}

/// Writes in chunks of the provider's batch size. A call-level error fails the whole job
/// (retried by the queue); per-record refusals come back as `Outcome::Failed`.
pub(crate) async fn execute(
    provider: &dyn Provider,
    object: &str,
    writes: &[PlannedWrite],
) -> Result<Vec<Outcome>, WorkerError> {
    let mut outcomes = Vec::with_capacity(writes.len());
    for group in writes.chunks(provider.max_batch(object).max(1)) {
        let ops: Vec<WriteOp> = group.iter().map(|w| w.op.clone()).collect();
        let results = provider.write(object, &ops).await?;
        let mut results = results.into_iter();
        for w in group {
            outcomes.push(match results.next() {
                Some(WriteResult::Ok(written)) => Outcome::Written(written),
                Some(WriteResult::Failed { code, message }) => Outcome::Failed(RecordError {
                    record_id: w.record.id.clone(),
                    code,
                    message: classify::bounded(&message),
                }),
                None => Outcome::Failed(RecordError {
                    record_id: w.record.id.clone(),
                    code: "no_result".into(),
                    message: "the provider returned no result for this record".into(),
                }),
            });
        }
    }
    Ok(outcomes)
}

/// Counts one outcome.
pub(crate) fn count(counts: &mut Counts, write: &PlannedWrite, outcome: &Outcome) {
    match outcome {
        Outcome::Written(_) if write.create => counts.created += 1,
        Outcome::Written(_) => counts.updated += 1,
        Outcome::Failed(_) => counts.failed += 1,
    }
}
