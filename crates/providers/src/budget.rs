//! A connection's request budget: what every adapter asks before each provider request, so the
//! provider's per-account limit is shared by all worker replicas instead of multiplied by them.

use std::time::Duration;

use crate::ProviderError;

/// Which of a provider's limits a request counts against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RequestClass {
    /// The account's general request limit (HubSpot's ten-second window, Pipedrive's burst).
    General,
    /// A separately limited search endpoint (HubSpot search: 5/s), which also counts as general.
    Search,
}

impl RequestClass {
    pub fn as_str(self) -> &'static str {
        match self {
            RequestClass::General => "general",
            RequestClass::Search => "search",
        }
    }
}

/// The shared budget of one connection. The worker implements it on Postgres; tests and
/// single-process tools use [`Unlimited`].
#[async_trait::async_trait]
pub trait RequestBudget: Send + Sync {
    /// Takes one more request of `class`, waiting for it only briefly: when the next slot is
    /// further away than [`crate::MAX_INLINE_WAIT`] it returns `ProviderError::RateLimited`
    /// with the time until it frees, instead of sleeping.
    async fn acquire(&self, class: RequestClass) -> Result<(), ProviderError>;
    /// The provider answered 429 and named `retry_after`: hold every replica off that long.
    async fn back_off(&self, _class: RequestClass, _retry_after: Duration) {}
}

/// No shared budget: requests go out as fast as the caller sends them.
pub struct Unlimited;

#[async_trait::async_trait]
impl RequestBudget for Unlimited {
    async fn acquire(&self, _class: RequestClass) -> Result<(), ProviderError> {
        Ok(())
    }
}

/// At most `requests` in any rolling `window` (HubSpot: 100 per 10 s).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowLimit {
    pub requests: u32,
    pub window: Duration,
}

impl WindowLimit {
    /// Parses `100/10s`, `5/1s`, `80/2s`, `2500/5m`, `250/500ms`.
    pub fn parse(s: &str) -> Result<WindowLimit, String> {
        let (n, w) = s
            .trim()
            .split_once('/')
            .ok_or_else(|| format!("{s:?} is not <requests>/<window>, e.g. 100/10s"))?;
        let requests: u32 = n
            .trim()
            .parse()
            .map_err(|_| format!("{n:?} is not a request count"))?;
        let w = w.trim();
        let (num, unit) = w.split_at(w.find(|c: char| !c.is_ascii_digit()).unwrap_or(w.len()));
        let num: u64 = num
            .parse()
            .map_err(|_| format!("{w:?} is not a window such as 10s"))?;
        let window = match unit {
            "ms" => Duration::from_millis(num),
            "s" | "" => Duration::from_secs(num),
            "m" => Duration::from_secs(num * 60),
            _ => return Err(format!("{w:?} has an unknown unit (ms, s, m)")),
        };
        if requests == 0 || window.is_zero() {
            return Err(format!("{s:?} allows nothing"));
        }
        Ok(WindowLimit { requests, window })
    }
}

/// One provider's limits per connection; `None` means the class is not paced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BudgetLimits {
    pub general: Option<WindowLimit>,
    pub search: Option<WindowLimit>,
}

impl BudgetLimits {
    pub fn limit(&self, class: RequestClass) -> Option<WindowLimit> {
        match class {
            RequestClass::General => self.general,
            RequestClass::Search => self.search,
        }
    }
}

/// The per-connection budgets the worker paces requests by, per provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateBudgets {
    pub hubspot: BudgetLimits,
    pub jobber: BudgetLimits,
    pub pipedrive: BudgetLimits,
    pub salesforce: BudgetLimits,
}

impl RateBudgets {
    /// The providers' documented per-account limits: HubSpot 100 per rolling 10 s (OAuth apps,
    /// free/starter) and 5 searches/s; Jobber 2,500 requests per 5 minutes (its query-cost bucket
    /// is answered by `THROTTLED` and waited out); Pipedrive 80 per rolling 2 s (OAuth, Lite);
    /// Salesforce has only a daily limit, so it is not paced.
    pub fn documented() -> RateBudgets {
        let w = |requests, secs| {
            Some(WindowLimit {
                requests,
                window: Duration::from_secs(secs),
            })
        };
        RateBudgets {
            hubspot: BudgetLimits {
                general: w(100, 10),
                search: w(5, 1),
            },
            jobber: BudgetLimits {
                general: w(2_500, 300),
                search: None,
            },
            pipedrive: BudgetLimits {
                general: w(80, 2),
                search: None,
            },
            salesforce: BudgetLimits::default(),
        }
    }

    /// No pacing at all (benchmarks against an unlimited sandbox).
    pub fn unlimited() -> RateBudgets {
        RateBudgets {
            hubspot: BudgetLimits::default(),
            jobber: BudgetLimits::default(),
            pipedrive: BudgetLimits::default(),
            salesforce: BudgetLimits::default(),
        }
    }

    pub fn for_kind(&self, kind: fluxcascade_core::ProviderKind) -> BudgetLimits {
        use fluxcascade_core::ProviderKind as K;
        match kind {
            K::Hubspot => self.hubspot,
            K::Jobber => self.jobber,
            K::Pipedrive => self.pipedrive,
            K::Salesforce => self.salesforce,
        }
    }

    pub fn for_kind_mut(&mut self, kind: fluxcascade_core::ProviderKind) -> &mut BudgetLimits {
        use fluxcascade_core::ProviderKind as K;
        match kind {
            K::Hubspot => &mut self.hubspot,
            K::Jobber => &mut self.jobber,
            K::Pipedrive => &mut self.pipedrive,
            K::Salesforce => &mut self.salesforce,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_limits_parse_with_units() {
        let l = WindowLimit::parse("100/10s").unwrap();
        assert_eq!((l.requests, l.window), (100, Duration::from_secs(10)));
        assert_eq!(
            WindowLimit::parse("2500/5m").unwrap().window,
            Duration::from_secs(300)
        );
        assert_eq!(
            WindowLimit::parse("250/500ms").unwrap().window,
            Duration::from_millis(500)
        );
        for bad in ["100", "x/10s", "100/10h", "0/10s", "10/0s", "100/s"] {
            assert!(WindowLimit::parse(bad).is_err(), "{bad}");
        }
    }
}
