//! Jobber query cost and throttling: a leaky bucket of points plus a requests-per-5-minutes cap.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::document::{Field, Operation, OperationKind};
use super::exec::DEFAULT_PAGE;
use crate::config::JobberRateLimitConfig;

/// Points charged for each mutation root field.
pub const MUTATION_COST: u64 = 10;
const FIVE_MINUTES: Duration = Duration::from_secs(300);

fn field_cost(f: &Field) -> u64 {
    if f.selection.is_empty() {
        return 1;
    }
    let inner: u64 = f.selection.iter().map(field_cost).sum();
    let is_connection = f
        .selection
        .iter()
        .any(|s| s.name == "nodes" || s.name == "edges");
    if is_connection {
        let first = f
            .arg("first")
            .and_then(Value::as_u64)
            .unwrap_or(DEFAULT_PAGE as u64);
        1 + first.max(1).saturating_mul(inner)
    } else {
        1 + inner
    }
}

/// Estimated cost of an operation before running it.
pub fn requested_cost(op: &Operation) -> u64 {
    let base: u64 = op.fields.iter().map(field_cost).sum();
    match op.kind {
        OperationKind::Query => base,
        OperationKind::Mutation => base + MUTATION_COST * op.fields.len() as u64,
    }
}

/// Per-account throttle state.
#[derive(Debug)]
pub struct JobberThrottle {
    available: f64,
    last: Instant,
    requests: VecDeque<Instant>,
}

impl Default for JobberThrottle {
    fn default() -> Self {
        JobberThrottle {
            available: f64::MAX,
            last: Instant::now(),
            requests: VecDeque::new(),
        }
    }
}

/// What the throttle decided.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ThrottleDecision {
    Allowed { currently_available: u64 },
    Throttled { currently_available: u64 },
    TooManyRequests,
}

impl JobberThrottle {
    pub fn clear(&mut self) {
        *self = JobberThrottle::default();
    }

    fn refill(&mut self, cfg: &JobberRateLimitConfig) {
        let now = Instant::now();
        let max = f64::from(cfg.maximum_available);
        let gained = now.duration_since(self.last).as_secs_f64() * f64::from(cfg.restore_rate);
        self.available = (self.available + gained).min(max);
        self.last = now;
    }

    /// Counts the request and charges `cost` points when the bucket holds them.
    pub fn charge(&mut self, cost: u64, cfg: &JobberRateLimitConfig) -> ThrottleDecision {
        let now = Instant::now();
        while self
            .requests
            .front()
            .is_some_and(|t| now.duration_since(*t) >= FIVE_MINUTES)
        {
            self.requests.pop_front();
        }
        if self.requests.len() >= cfg.requests_per_five_minutes as usize {
            return ThrottleDecision::TooManyRequests;
        }
        self.requests.push_back(now);
        self.refill(cfg);
        if (cost as f64) > self.available {
            return ThrottleDecision::Throttled {
                currently_available: self.available as u64,
            };
        }
        self.available -= cost as f64;
        ThrottleDecision::Allowed {
            currently_available: self.available as u64,
        }
    }
}

/// `extensions.cost` as Jobber reports it.
pub fn cost_extension(
    requested: u64,
    actual: u64,
    available: u64,
    cfg: &JobberRateLimitConfig,
) -> Value {
    json!({
        "cost": {
            "requestedQueryCost": requested,
            "actualQueryCost": actual,
            "throttleStatus": {
                "maximumAvailable": cfg.maximum_available,
                "currentlyAvailable": available,
                "restoreRate": cfg.restore_rate,
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_throttles_when_short_and_caps_requests() {
        let cfg = JobberRateLimitConfig {
            maximum_available: 100,
            restore_rate: 0,
            requests_per_five_minutes: 3,
        };
        let mut t = JobberThrottle::default();
        assert_eq!(
            t.charge(60, &cfg),
            ThrottleDecision::Allowed {
                currently_available: 40
            }
        );
        assert_eq!(
            t.charge(60, &cfg),
            ThrottleDecision::Throttled {
                currently_available: 40
            }
        );
        assert!(matches!(
            t.charge(1, &cfg),
            ThrottleDecision::Allowed { .. }
        ));
        assert_eq!(t.charge(1, &cfg), ThrottleDecision::TooManyRequests);
    }
}
