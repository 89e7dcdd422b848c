//! The per-record decision of the forward leg: map (core), then create, update or skip by the
//! record's link; on bidirectional mappings a conflicting target change is settled by the policy.

use fluxcascade_core::decide::{
    decide_write, is_conflict, resolve_conflict, Decision, LinkState, Side,
};
use fluxcascade_core::{ConflictResolution, Record, RecordError};
use fluxcascade_providers::WriteOp;
use fluxcascade_store::links::LinkRow;

use crate::associations;
use crate::handler::Compiled;
use crate::writes::PlannedWrite;

/// What one source record turns into.
pub(crate) enum Planned {
    Write(PlannedWrite),
    Skipped,
    Failed(RecordError),
}

/// The decision for one record: map it (core), then create, update or skip by its link. On a
/// bidirectional mapping, `conflict` carries the policy and the target's current record: if the
/// target also changed since the last sync (and not by our own write), the policy decides.
pub(crate) fn plan(
    compiled: &Compiled,
    record: &Record,
    link: Option<&LinkRow>,
    conflict: Option<(ConflictResolution, &Record)>,
    extra: Option<&associations::Extra>,
) -> Planned {
    let mut mapped = match compiled.engine.apply(&record.fields) {
        Ok(v) => v,
        Err(e) => {
            return Planned::Failed(RecordError {
                record_id: record.id.clone(),
                code: e.code,
                message: e.message,
            })
        }
    };
    match extra {
        Some(Ok(values)) => {
            for (path, value) in values {
                path.set(&mut mapped, value.clone());
            }
        }
        Some(Err(e)) => return Planned::Failed(e.clone()),
        None => {}
    }
    let hash = compiled.projection.hash(&mapped);
    let state = link.and_then(|l| {
        l.target_id.as_ref().map(|t| LinkState {
            target_id: t.clone(),
            source_updated_at: l.source_updated_at,
            target_updated_at: l.target_updated_at,
            hash: Some(l.hash.clone()),
        })
    });
    let decision = decide_write(state.as_ref(), &hash);
    if let (Decision::Update { .. }, Some(link), Some((policy, target_now))) =
        (&decision, &state, conflict)
    {
        let target_changed = is_conflict(link, record.updated_at, target_now.updated_at)
            && compiled.projection.hash(&target_now.fields)
                != link.hash.clone().unwrap_or_default();
        if target_changed
            && resolve_conflict(policy, record.updated_at, target_now.updated_at) == Side::Target
        {
            return Planned::Skipped; // the reverse leg carries the target's version over
        }
    }
    let create = matches!(decision, Decision::Create);
    let op = match decision {
        Decision::Create => WriteOp::Create { fields: mapped },
        Decision::Update { target_id } => WriteOp::Update {
            id: target_id,
            fields: mapped,
        },
        Decision::Skip { .. } => return Planned::Skipped,
    };
    Planned::Write(PlannedWrite {
        record: record.clone(),
        op,
        hash,
        create,
    })
}
