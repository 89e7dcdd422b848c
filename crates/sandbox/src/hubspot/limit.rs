//! HubSpot's per-account rolling ten-second limit and the secondly search limit.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Request timestamps inside the current windows.
#[derive(Debug, Default)]
pub struct HubspotLimiter {
    ten_secondly: VecDeque<Instant>,
    search: VecDeque<Instant>,
    /// Requests admitted since the sandbox started or was reset (the "daily" count).
    pub daily_used: u64,
}

/// HubSpot's daily cap reported in `X-HubSpot-RateLimit-Daily` (not enforced).
pub const DAILY_LIMIT: u64 = 250_000;

/// Outcome of one admission check.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum HubspotAdmission {
    Allowed { remaining: u32 },
    TenSecondly,
    Secondly,
}

pub const TEN_SECONDS: Duration = Duration::from_secs(10);

fn admit(q: &mut VecDeque<Instant>, now: Instant, window: Duration, max: u32) -> Option<u32> {
    while q.front().is_some_and(|t| now.duration_since(*t) >= window) {
        q.pop_front();
    }
    if q.len() >= max as usize {
        return None;
    }
    q.push_back(now);
    Some(max.saturating_sub(q.len() as u32))
}

impl HubspotLimiter {
    pub fn clear(&mut self) {
        self.ten_secondly.clear();
        self.search.clear();
        self.daily_used = 0;
    }

    /// Admits one request (search requests also count against the secondly limit).
    pub fn admit(
        &mut self,
        is_search: bool,
        ten_secondly: u32,
        per_second: u32,
    ) -> HubspotAdmission {
        let now = Instant::now();
        if is_search && admit(&mut self.search, now, Duration::from_secs(1), per_second).is_none() {
            return HubspotAdmission::Secondly;
        }
        match admit(&mut self.ten_secondly, now, TEN_SECONDS, ten_secondly) {
            Some(remaining) => {
                self.daily_used += 1;
                HubspotAdmission::Allowed { remaining }
            }
            None => HubspotAdmission::TenSecondly,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_after_max_in_window() {
        let mut l = HubspotLimiter::default();
        assert_eq!(
            l.admit(false, 2, 5),
            HubspotAdmission::Allowed { remaining: 1 }
        );
        assert_eq!(
            l.admit(false, 2, 5),
            HubspotAdmission::Allowed { remaining: 0 }
        );
        assert_eq!(l.admit(false, 2, 5), HubspotAdmission::TenSecondly);
        let mut s = HubspotLimiter::default();
        assert!(matches!(
            s.admit(true, 100, 1),
            HubspotAdmission::Allowed { .. }
        ));
        assert_eq!(s.admit(true, 100, 1), HubspotAdmission::Secondly);
    }
}
