//! The stored forms of a sync run's mode and of the leg its coordinator is in (`sync_runs.mode`,
//! `sync_runs.leg`), as enums the worker branches on instead of string literals.

use crate::domain::SyncMode;

impl SyncMode {
    pub const ALL: [SyncMode; 2] = [SyncMode::Incremental, SyncMode::Full];

    /// The stored and wire form (`incremental`, `full`).
    pub fn as_str(self) -> &'static str {
        match self {
            SyncMode::Incremental => "incremental",
            SyncMode::Full => "full",
        }
    }

    pub fn parse(s: &str) -> Option<SyncMode> {
        Self::ALL.into_iter().find(|m| m.as_str() == s)
    }
}

/// Where a run's coordinator is: reading the forward leg (source → target), done reading it
/// and waiting for its batches before a bidirectional run's reverse leg, or reading the reverse
/// leg (target → source).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunLeg {
    Forward,
    ForwardDone,
    Reverse,
}

impl RunLeg {
    pub const ALL: [RunLeg; 3] = [RunLeg::Forward, RunLeg::ForwardDone, RunLeg::Reverse];

    /// The stored form (`forward`, `forward_done`, `reverse`).
    pub fn as_str(self) -> &'static str {
        match self {
            RunLeg::Forward => "forward",
            RunLeg::ForwardDone => "forward_done",
            RunLeg::Reverse => "reverse",
        }
    }

    pub fn parse(s: &str) -> Option<RunLeg> {
        Self::ALL.into_iter().find(|l| l.as_str() == s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::SyncStatus;

    #[test]
    fn every_stored_form_parses_back_and_nothing_else_does() {
        for leg in RunLeg::ALL {
            assert_eq!(RunLeg::parse(leg.as_str()), Some(leg));
        }
        for mode in SyncMode::ALL {
            assert_eq!(SyncMode::parse(mode.as_str()), Some(mode));
            let json = serde_json::to_value(mode).expect("serializes");
            assert_eq!(json, mode.as_str(), "the wire form is the stored form");
        }
        for status in ["pending", "running", "completed", "partial", "failed"] {
            assert_eq!(
                SyncStatus::parse(status).map(SyncStatus::as_str),
                Some(status)
            );
        }
        for bad in ["", "Forward", "reverse ", "forward-done", "FULL"] {
            assert_eq!(RunLeg::parse(bad), None, "{bad:?}");
            assert_eq!(SyncMode::parse(bad), None, "{bad:?}");
        }
    }
}
