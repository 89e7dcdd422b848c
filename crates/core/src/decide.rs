//! Sync decisions as plain functions: create/update/skip, echo suppression, conflict detection and resolution.

use crate::domain::ConflictResolution;
use chrono::{DateTime, Utc};

/// What the record link table remembers about a synced pair of records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkState {
    pub source_id: String,
    pub target_id: String,
    pub source_updated_at: Option<DateTime<Utc>>,
    pub target_updated_at: Option<DateTime<Utc>>,
    /// [`values_hash`](crate::hash::values_hash) of the values last written.
    pub hash: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SkipReason {
    /// The mapped values equal what was last written.
    Unchanged,
    /// Our own write coming back from the other side.
    Echo,
    /// A conflict the other side won.
    ConflictLost,
}

impl SkipReason {
    pub fn as_str(self) -> &'static str {
        match self {
            SkipReason::Unchanged => "unchanged",
            SkipReason::Echo => "echo",
            SkipReason::ConflictLost => "conflict_lost",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Create,
    Update { target_id: String },
    Skip { reason: SkipReason },
}

/// No link → create; a link whose stored hash equals `mapped_hash` → skip
/// (unchanged); otherwise update the linked target.
pub fn decide_write(link: Option<&LinkState>, mapped_hash: &str) -> Decision {
    match link {
        None => Decision::Create,
        Some(l) if l.hash.as_deref() == Some(mapped_hash) => Decision::Skip {
            reason: SkipReason::Unchanged,
        },
        Some(l) => Decision::Update {
            target_id: l.target_id.clone(),
        },
    }
}

/// Whether an incoming change is our own write coming back: its mapped
/// values hash to what we wrote last on that link.
pub fn is_echo(link: Option<&LinkState>, values_hash_of_incoming: &str) -> bool {
    link.and_then(|l| l.hash.as_deref()) == Some(values_hash_of_incoming)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Source,
    Target,
}

/// Which side's values win a conflict. `newest_wins`: the later timestamp,
/// a tie goes to the source.
pub fn resolve_conflict(
    policy: ConflictResolution,
    source_updated: DateTime<Utc>,
    target_updated: DateTime<Utc>,
) -> Side {
    match policy {
        ConflictResolution::SourceWins => Side::Source,
        ConflictResolution::TargetWins => Side::Target,
        ConflictResolution::NewestWins => {
            if target_updated > source_updated {
                Side::Target
            } else {
                Side::Source
            }
        }
    }
}

/// Both sides changed since the link last recorded them. A side whose stored
/// time is unknown counts as changed.
pub fn is_conflict(
    link: &LinkState,
    source_updated: DateTime<Utc>,
    target_updated: DateTime<Utc>,
) -> bool {
    let changed =
        |stored: Option<DateTime<Utc>>, now: DateTime<Utc>| stored.is_none_or(|s| now > s);
    changed(link.source_updated_at, source_updated)
        && changed(link.target_updated_at, target_updated)
}

mod plan;
pub use plan::{plan, CreateIntent, Incoming, Leg, Other, Plan, PlanInput};

#[cfg(test)]
#[path = "decide_tests.rs"]
mod tests;
