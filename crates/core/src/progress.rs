//! A run's progress as the API shows it (records read and done out of a known or estimated total)
//! and what a run is waiting on; pure rules, fed by the store's counts and run columns.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::{Counts, ProviderKind};

/// How far a run got: what a progress bar draws.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Progress {
    /// Records read from the provider(s) and committed by a batch (both legs of a bidirectional
    /// run); the same number as `counts.read`.
    pub read: u64,
    /// Records this run wrote to the other side: created + updated + deleted (a deletion applied).
    pub written: u64,
    /// Records done with, whatever the outcome: written + skipped (unchanged, echo, conflict lost)
    /// + failed. A bar is `processed` out of `total`.
    pub processed: u64,
    /// How many records the run reads in all: exact once every page is read (and, once the run
    /// ended, always equal to `read`); before that an estimate (`totalIsEstimate`) where one is
    /// sensible, else null. Never below `read`.
    pub total: Option<u64>,
    /// `total` is an estimate (from the mapping's last run that read everything, or its links),
    /// not a count. False when `total` is exact or null.
    pub total_is_estimate: bool,
}

/// What the store knows about a run besides its counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RunTotals {
    /// The run ended (completed, partial, failed).
    pub finished: bool,
    /// Every page of every leg was read and published as batches.
    pub read_done: bool,
    /// Records published in batches so far (every page read so far).
    pub published: u64,
    /// The run's estimate of its total, fixed when it started (the store's rules).
    pub estimate: Option<u64>,
}

impl Progress {
    /// The progress of a run with these committed `counts`.
    pub fn of(counts: &Counts, run: &RunTotals) -> Progress {
        let read = counts.read;
        let written = counts.created + counts.updated + counts.deleted;
        let processed = written + counts.skipped + counts.failed;
        let (total, total_is_estimate) = if run.finished {
            (Some(read), false)
        } else if run.read_done {
            (Some(run.published.max(read)), false)
        } else if let Some(estimate) = run.estimate.filter(|e| *e > 0) {
            (Some(estimate.max(run.published).max(read)), true)
        } else {
            (None, false)
        };
        Progress {
            read,
            written,
            processed,
            total,
            total_is_estimate,
        }
    }
}

/// Why a running run is not making progress right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum WaitReason {
    /// A job of the run waits for a provider's rate-limit window (FluxCascade's shared request
    /// budget, or the provider's own 429).
    RateLimit,
}

/// A running run waiting on a provider: which one, until when.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Waiting {
    pub reason: WaitReason,
    /// The provider whose limit the run waits on.
    pub provider: ProviderKind,
    /// When the run's deferred job comes back (RFC 3339).
    pub until: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(read: u64, created: u64, updated: u64, skipped: u64, failed: u64) -> Counts {
        Counts {
            read,
            created,
            updated,
            skipped,
            failed,
            deleted: 1,
        }
    }

    #[test]
    fn written_and_processed_count_what_they_say() {
        let p = Progress::of(&counts(20, 3, 4, 5, 6), &RunTotals::default());
        assert_eq!(
            (p.read, p.written, p.processed),
            (20, 3 + 4 + 1, 3 + 4 + 1 + 5 + 6)
        );
    }

    #[test]
    fn total_rules() {
        let c = counts(40, 10, 0, 0, 0);
        let at = |run: RunTotals| {
            let p = Progress::of(&c, &run);
            (p.total, p.total_is_estimate)
        };
        // Nothing known: null, not an estimate.
        assert_eq!(at(RunTotals::default()), (None, false));
        // A zero estimate (a mapping never synced) is no estimate.
        let zero = RunTotals {
            estimate: Some(0),
            ..Default::default()
        };
        assert_eq!(at(zero), (None, false));
        // An estimate while reading, never below what is read or published already.
        let est = |estimate, published| RunTotals {
            estimate: Some(estimate),
            published,
            ..Default::default()
        };
        assert_eq!(at(est(1_000, 100)), (Some(1_000), true));
        assert_eq!(at(est(30, 35)), (Some(40), true), "below read");
        assert_eq!(at(est(30, 60)), (Some(60), true), "below published");
        // Every page read: the published count is exact, estimate or not.
        let read_done = RunTotals {
            read_done: true,
            published: 55,
            estimate: Some(1_000),
            ..Default::default()
        };
        assert_eq!(at(read_done), (Some(55), false));
        // Ended: total = read, whatever was estimated or published.
        let ended = RunTotals {
            finished: true,
            read_done: true,
            published: 55,
            estimate: Some(1_000),
        };
        assert_eq!(at(ended), (Some(40), false));
    }

    #[test]
    fn the_api_shape_is_camel_case() {
        let p = Progress::of(&counts(2, 1, 0, 0, 0), &RunTotals::default());
        assert_eq!(
            serde_json::to_value(p).unwrap(),
            serde_json::json!({"read": 2, "written": 2, "processed": 2, "total": null,
                               "totalIsEstimate": false})
        );
        let w = Waiting {
            reason: WaitReason::RateLimit,
            provider: ProviderKind::Jobber,
            until: DateTime::from_timestamp(1_800_000_000, 0).unwrap(),
        };
        assert_eq!(
            serde_json::to_value(w).unwrap(),
            serde_json::json!({"reason": "rate_limit", "provider": "jobber",
                               "until": "2027-01-15T08:00:00Z"})
        );
    }
}
