//! FluxCascade's domain: records, mappings, transforms and sync decisions, as plain functions with no I/O.

pub mod decide;
pub mod deletes;
pub mod domain;
pub mod duration;
pub mod engine;
pub mod hash;
pub mod limits;
pub mod path;
pub mod progress;
pub mod record;
pub mod run;
pub mod schedule;
pub mod transform;
pub mod validate;

pub use decide::{
    decide_write, is_conflict, is_echo, plan, resolve_conflict, Decision, Leg, LinkState, Plan,
    PlanInput, Side, SkipReason,
};
pub use deletes::{on_delete, DeleteAction};
pub use domain::*;
pub use engine::{CompiledMapping, MappingError};
pub use hash::values_hash;
pub use path::{FieldPath, PathError};
pub use progress::{Progress, RunTotals, WaitReason, Waiting};
pub use record::{Cursor, Record};
pub use run::RunLeg;
pub use transform::{SpecError, Transform, TransformError};
pub use validate::{validate_mapping, ValidationIssue};
