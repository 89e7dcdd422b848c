//! The one sync decision both legs take per record: create (behind a create intent), update the
//! linked record, or skip it (unchanged, our own write coming back, or a conflict the other side won).
//!
//! One function over a [`Leg`] rather than a forward and a reverse copy: the legs are mirror
//! images (link hashes are always in the target-side projection, only which side is read and
//! which is written differs), so one body keeps them from drifting apart, and one proptest
//! interleaves both.

use chrono::{DateTime, Utc};

use super::{is_conflict, resolve_conflict, LinkState, Side, SkipReason};
use crate::domain::ConflictResolution;

/// Which way a leg's records flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Leg {
    /// Source records written to the target.
    Forward,
    /// Target records written back to the source.
    Reverse,
}

impl Leg {
    /// The side this leg reads its records from.
    pub fn reads(self) -> Side {
        match self {
            Leg::Forward => Side::Source,
            Leg::Reverse => Side::Target,
        }
    }

    /// The side this leg writes to.
    pub fn writes(self) -> Side {
        match self {
            Leg::Forward => Side::Target,
            Leg::Reverse => Side::Source,
        }
    }

    /// The batch side label the store keeps (`sync_batches.side`, `mapping_cursors.side`).
    pub fn as_str(self) -> &'static str {
        match self {
            Leg::Forward => "source",
            Leg::Reverse => "target",
        }
    }
}

/// The record a leg read, as the decision sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Incoming<'a> {
    pub id: &'a str,
    /// Hash of its values in the target-side projection (mapped first on the forward leg).
    pub hash: &'a str,
    pub updated_at: DateTime<Utc>,
}

/// The other side's current version of a linked record (bidirectional mappings only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Other<'a> {
    /// Its hash in the target-side projection; `None` if it could not be projected (counts as changed).
    pub hash: Option<&'a str>,
    pub updated_at: DateTime<Utc>,
}

/// Everything one record's decision depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlanInput<'a> {
    pub leg: Leg,
    pub incoming: Incoming<'a>,
    /// The record's link, if it has a linked twin (an unresolved create intent is no link).
    pub link: Option<&'a LinkState>,
    /// On a bidirectional mapping: the conflict policy.
    pub policy: Option<ConflictResolution>,
    /// On a bidirectional mapping: the linked twin as it is now, if it was found.
    pub other: Option<Other<'a>>,
}

/// Write-ahead record of a create: committed before the provider is asked to create, so a retry
/// after a crash can find and link what was created instead of creating it again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateIntent {
    /// The record read (the key the intent is stored under).
    pub record_id: String,
    /// The hash its link will hold once created.
    pub hash: String,
}

/// What one record turns into.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    Create {
        intent: CreateIntent,
    },
    /// Update the linked record on the side the leg writes.
    Update {
        id: String,
    },
    Skip {
        reason: SkipReason,
    },
}

/// The decision for one record read by `input.leg`.
///
/// - no link → create;
/// - the link's hash equals the record's → skip: [`SkipReason::Echo`] when the mapping is
///   bidirectional and the record is the very version the last sync recorded (our own write
///   coming back, or the version we read), [`SkipReason::Unchanged`] otherwise;
/// - both sides changed since the link (timestamps, and the other side's values differ from the
///   link's) → the policy picks a side; the losing leg skips ([`SkipReason::ConflictLost`]);
/// - else → update the linked record.
pub fn plan(input: &PlanInput<'_>) -> Plan {
    let PlanInput {
        leg,
        incoming,
        link,
        policy,
        other,
    } = *input;
    let Some(link) = link else {
        return Plan::Create {
            intent: CreateIntent {
                record_id: incoming.id.to_string(),
                hash: incoming.hash.to_string(),
            },
        };
    };
    let stored_at = |side: Side| match side {
        Side::Source => link.source_updated_at,
        Side::Target => link.target_updated_at,
    };
    if link.hash.as_deref() == Some(incoming.hash) {
        let recorded = stored_at(leg.reads()) == Some(incoming.updated_at);
        let reason = if policy.is_some() && recorded {
            SkipReason::Echo
        } else {
            SkipReason::Unchanged
        };
        return Plan::Skip { reason };
    }
    if let (Some(policy), Some(other)) = (policy, other) {
        let (source_now, target_now) = match leg {
            Leg::Forward => (incoming.updated_at, other.updated_at),
            Leg::Reverse => (other.updated_at, incoming.updated_at),
        };
        let other_changed = is_conflict(link, source_now, target_now)
            && (other.hash.is_none() || other.hash != link.hash.as_deref());
        if other_changed && resolve_conflict(policy, source_now, target_now) != leg.reads() {
            return Plan::Skip {
                reason: SkipReason::ConflictLost,
            };
        }
    }
    let id = match leg.writes() {
        Side::Target => link.target_id.clone(),
        Side::Source => link.source_id.clone(),
    };
    Plan::Update { id }
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
