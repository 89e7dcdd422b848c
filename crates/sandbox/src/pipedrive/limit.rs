//! Pipedrive's two limits: a rolling 2-second burst window per access token, and a daily token
//! budget per company where each request costs tokens by kind (list 10, get 1, write 5,
//! search 20, ...).

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use chrono::{NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// The burst window length.
pub const WINDOW: Duration = Duration::from_secs(2);

/// Configurable limits (`PUT /_sandbox/config {rateLimits:{pipedrive:{...}}}`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct PipedriveRateLimitConfig {
    /// Requests per rolling 2 seconds per access token (OAuth Lite: 80).
    pub burst_per_two_seconds: u32,
    /// Daily token budget of the company (30,000 base × plan multiplier × seats; Lite, 1 seat).
    pub daily_tokens: u64,
}

impl Default for PipedriveRateLimitConfig {
    fn default() -> Self {
        PipedriveRateLimitConfig {
            burst_per_two_seconds: 80,
            daily_tokens: 30_000,
        }
    }
}

/// Token cost of one request, by what it does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cost {
    List,
    Get,
    Write,
    Delete,
    Webhooks,
    /// v2 search endpoints.
    Search,
}

impl Cost {
    pub fn tokens(self) -> u64 {
        match self {
            Cost::List => 10,
            Cost::Get => 1,
            Cost::Write => 5,
            Cost::Delete => 3,
            Cost::Webhooks => 5,
            Cost::Search => 20,
        }
    }
}

/// Outcome of one admission check.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Admission {
    /// Let through; `remaining` requests left in the window, which resets in `reset_s`.
    Allowed {
        remaining: u32,
        reset_s: u64,
        daily_left: u64,
    },
    /// Too many requests in the 2-second window; retry in `reset_s`.
    Burst { reset_s: u64, daily_left: u64 },
    /// The company's daily budget is spent; it resets at midnight UTC in `reset_s`.
    Daily { reset_s: u64 },
}

/// Per-company limiter state.
#[derive(Debug)]
pub struct PipedriveLimiter {
    burst: HashMap<String, VecDeque<Instant>>,
    day: NaiveDate,
    pub daily_used: u64,
}

impl Default for PipedriveLimiter {
    fn default() -> Self {
        PipedriveLimiter {
            burst: HashMap::new(),
            day: Utc::now().date_naive(),
            daily_used: 0,
        }
    }
}

/// Whole seconds until `since` is `WINDOW` old (at least 1: the header is an integer).
fn seconds_until_free(since: Instant, now: Instant) -> u64 {
    let left = WINDOW.saturating_sub(now.duration_since(since));
    left.as_secs_f64().ceil().max(1.0) as u64
}

fn seconds_to_midnight() -> u64 {
    let now = Utc::now();
    let midnight = (now.date_naive() + chrono::Days::new(1))
        .and_hms_opt(0, 0, 0)
        .map(|t| t.and_utc())
        .unwrap_or(now);
    (midnight - now).num_seconds().max(1) as u64
}

impl PipedriveLimiter {
    pub fn clear(&mut self) {
        self.burst.clear();
        self.daily_used = 0;
        self.day = Utc::now().date_naive();
    }

    /// Admits one request of `token` costing `cost`.
    pub fn admit(&mut self, token: &str, cost: Cost, cfg: &PipedriveRateLimitConfig) -> Admission {
        let today = Utc::now().date_naive();
        if today != self.day {
            self.day = today;
            self.daily_used = 0;
        }
        let daily_left = cfg.daily_tokens.saturating_sub(self.daily_used);
        if daily_left < cost.tokens() {
            return Admission::Daily {
                reset_s: seconds_to_midnight(),
            };
        }
        let now = Instant::now();
        let q = self.burst.entry(token.to_owned()).or_default();
        while q.front().is_some_and(|t| now.duration_since(*t) >= WINDOW) {
            q.pop_front();
        }
        let max = cfg.burst_per_two_seconds as usize;
        if q.len() >= max {
            let reset_s = q.front().map_or(1, |t| seconds_until_free(*t, now));
            return Admission::Burst {
                reset_s,
                daily_left,
            };
        }
        q.push_back(now);
        self.daily_used += cost.tokens();
        let reset_s = q.front().map_or(2, |t| seconds_until_free(*t, now));
        Admission::Allowed {
            remaining: (max - q.len()) as u32,
            reset_s,
            daily_left: cfg.daily_tokens.saturating_sub(self.daily_used),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_daily_budget() {
        let cfg = PipedriveRateLimitConfig {
            burst_per_two_seconds: 2,
            daily_tokens: 25,
        };
        let mut l = PipedriveLimiter::default();
        assert!(matches!(
            l.admit("t", Cost::List, &cfg),
            Admission::Allowed {
                remaining: 1,
                daily_left: 15,
                ..
            }
        ));
        assert!(matches!(
            l.admit("t", Cost::List, &cfg),
            Admission::Allowed {
                remaining: 0,
                daily_left: 5,
                ..
            }
        ));
        assert!(matches!(
            l.admit("t", Cost::Get, &cfg),
            Admission::Burst { reset_s: 1..=2, .. }
        ));
        // Another token has its own window but shares the company's budget.
        assert!(matches!(
            l.admit("u", Cost::List, &cfg),
            Admission::Daily { .. }
        ));
        assert!(matches!(
            l.admit("u", Cost::Write, &cfg),
            Admission::Allowed { daily_left: 0, .. }
        ));
    }
}
