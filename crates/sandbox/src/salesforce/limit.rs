//! Salesforce's daily API request limit per org (a rolling 24 hours here: the window restarts
//! 24 h after its first request), reported on every response as `Sforce-Limit-Info`.

use std::time::{Duration, Instant};

/// `rateLimits.salesforce` in the sandbox config.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct SalesforceRateLimitConfig {
    /// API requests per org per 24 hours (Salesforce's "Total API Requests" allocation).
    pub daily_api_requests: u64,
}

impl Default for SalesforceRateLimitConfig {
    fn default() -> Self {
        SalesforceRateLimitConfig {
            daily_api_requests: 100_000,
        }
    }
}

/// The window of the daily limit.
pub const DAY: Duration = Duration::from_secs(24 * 60 * 60);

/// API requests counted in the current day.
#[derive(Debug, Default)]
pub struct SalesforceLimiter {
    window_start: Option<Instant>,
    used: u64,
}

impl SalesforceLimiter {
    pub fn clear(&mut self) {
        self.window_start = None;
        self.used = 0;
    }

    /// Counts one request unless `enforce` and the org already used `limit` today.
    /// `Ok(used)` when admitted, `Err(used)` when refused.
    pub fn admit(&mut self, limit: u64, enforce: bool) -> Result<u64, u64> {
        let now = Instant::now();
        match self.window_start {
            Some(start) if now.duration_since(start) < DAY => {}
            _ => {
                self.window_start = Some(now);
                self.used = 0;
            }
        }
        if enforce && self.used >= limit {
            return Err(self.used);
        }
        self.used += 1;
        Ok(self.used)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_past_the_limit_only_when_enforced() {
        let mut l = SalesforceLimiter::default();
        assert_eq!(l.admit(2, true), Ok(1));
        assert_eq!(l.admit(2, true), Ok(2));
        assert_eq!(l.admit(2, true), Err(2));
        assert_eq!(l.admit(2, false), Ok(3));
    }
}
