//! The per-record step of both legs: the record's values in the link's projection (mapped first
//! on the forward leg), then `fluxcascade_core::decide::plan`, then the write that plan asks for.

use std::collections::HashMap;

use fluxcascade_core::decide::{plan, Incoming, Leg, LinkState, Other, Plan, PlanInput};
use fluxcascade_core::{Record, RecordError};
use fluxcascade_providers::WriteOp;
use serde_json::Value;

use crate::associations;
use crate::leg::LegCtx;
use crate::writes::PlannedWrite;

/// What one record read turns into.
pub(crate) enum Planned {
    Write(PlannedWrite),
    Skipped,
    Failed(RecordError),
}

/// A record's values as the decision and the write need them.
struct Prepared {
    /// Hash in the link's (target-side) projection.
    hash: String,
    /// The values to write on the other side (an error if they cannot be mapped).
    values: Result<Value, RecordError>,
}

fn record_error(record: &Record, code: String, message: String) -> RecordError {
    RecordError {
        record_id: record.id.clone(),
        code,
        message,
    }
}

/// Forward: map (plus association values), hash the mapped values. Reverse: hash the target
/// record itself; map it back only if it is written.
fn prepare(
    ctx: &LegCtx,
    record: &Record,
    extra: Option<&associations::Extra>,
) -> Result<Prepared, RecordError> {
    let compiled = &ctx.compiled;
    match &ctx.reversed {
        None => {
            let mut mapped = compiled
                .engine
                .apply(&record.fields)
                .map_err(|e| record_error(record, e.code, e.message))?;
            match extra {
                Some(Ok(values)) => {
                    for (path, value) in values {
                        path.set(&mut mapped, value.clone());
                    }
                }
                Some(Err(e)) => return Err(e.clone()),
                None => {}
            }
            Ok(Prepared {
                hash: compiled.projection.hash(&mapped),
                values: Ok(mapped),
            })
        }
        Some(reversed) => Ok(Prepared {
            hash: compiled.projection.hash(&record.fields),
            values: reversed
                .apply(&record.fields)
                .map_err(|e| record_error(record, e.code, e.message)),
        }),
    }
}

/// The other side's current version of a linked record, in the link's projection.
pub(crate) fn other_hash(ctx: &LegCtx, other: &Record) -> Option<String> {
    match ctx.leg {
        Leg::Forward => Some(ctx.compiled.projection.hash(&other.fields)),
        Leg::Reverse => ctx
            .compiled
            .engine
            .apply(&other.fields)
            .ok()
            .map(|v| ctx.compiled.projection.hash(&v)),
    }
}

/// The decision and the write for one record, given its link and (bidirectional) the other
/// side's current records by id.
pub(crate) fn plan_record(
    ctx: &LegCtx,
    record: &Record,
    link: Option<&LinkState>,
    others: &HashMap<String, Record>,
    extra: Option<&associations::Extra>,
) -> Planned {
    let prepared = match prepare(ctx, record, extra) {
        Ok(p) => p,
        Err(e) => return Planned::Failed(e),
    };
    let other_id = link.map(|l| match ctx.leg {
        Leg::Forward => &l.target_id,
        Leg::Reverse => &l.source_id,
    });
    let other = other_id.and_then(|id| others.get(id));
    let other_hash = other.and_then(|o| other_hash(ctx, o));
    let input = PlanInput {
        leg: ctx.leg,
        incoming: Incoming {
            id: &record.id,
            hash: &prepared.hash,
            updated_at: record.updated_at,
        },
        link,
        policy: ctx.policy,
        other: other.map(|o| Other {
            hash: other_hash.as_deref(),
            updated_at: o.updated_at,
        }),
    };
    let values = match (plan(&input), prepared.values) {
        (Plan::Skip { .. }, _) => return Planned::Skipped,
        (_, Err(e)) => return Planned::Failed(e),
        (decision, Ok(values)) => (decision, values),
    };
    let (create, op) = match values {
        (Plan::Update { id }, fields) => (false, WriteOp::Update { id, fields }),
        (_, fields) => (true, WriteOp::Create { fields }),
    };
    Planned::Write(PlannedWrite {
        record: record.clone(),
        op,
        hash: prepared.hash,
        create,
    })
}
