//! Retry policy: what happens to a failed job — which retry tier, after how long, or the
//! dead-letter queue — decided by a pure function of the failure class, the attempt and time.

use std::time::Duration;

use rand::Rng;

use fluxcascade_core::duration::human;

use crate::error::JobError;

/// The default retry window: how long infrastructure and provider-transient faults are retried
/// (counted from the job's first failure) before a job is given up.
pub const DEFAULT_RETRY_WINDOW: Duration = Duration::from_secs(3600);

/// The retry policy of one consumer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Delays of the four retry tiers, shortest first.
    pub delays: [Duration; 4],
    /// Transient faults are retried until this long after the job first failed.
    pub window: Duration,
}

/// What the consumer does with a job whose handler failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Disposition {
    /// Republish to retry tier `tier`; the message expires after `expiration_ms` if set (else
    /// the tier's full delay). `attempt` and `first_failed_at_ms` go into the republished envelope.
    Retry {
        tier: usize,
        expiration_ms: Option<u64>,
        attempt: u32,
        first_failed_at_ms: i64,
    },
    /// Give the job up: the dead-letter queue, with this reason prefix.
    DeadLetter { why: String },
}

/// The tier an attempt climbs to by itself: 1 → 1 s, 2 → 10 s, 3 → 1 min, ≥4 → 10 min.
fn attempt_tier(attempt: u32) -> usize {
    match attempt {
        0 | 1 => 0,
        2 => 1,
        3 => 2,
        _ => 3,
    }
}

/// The tier for a failed `attempt`: tiers climb with the attempt whatever the hint; a
/// `retry_after` hint only raises the floor to the smallest tier at least that long.
pub fn retry_tier(attempt: u32, retry_after: Option<Duration>, delays: &[Duration; 4]) -> usize {
    let floor = match retry_after {
        Some(after) => delays
            .iter()
            .position(|delay| *delay >= after)
            .unwrap_or(delays.len() - 1),
        None => 0,
    };
    attempt_tier(attempt).max(floor)
}

/// The tier for a job that must wait `wait` without failing: the longest tier not longer than
/// the wait (the shortest if all are), so it never comes back later than needed; a job that
/// comes back early simply waits again.
pub fn wait_tier(wait: Duration, delays: &[Duration; 4]) -> usize {
    delays.iter().rposition(|delay| *delay <= wait).unwrap_or(0)
}

impl RetryPolicy {
    /// Whether a job that first failed at `first_failed_at_ms` (0: never) has used up the window.
    pub fn window_elapsed(&self, first_failed_at_ms: i64, now_ms: i64) -> bool {
        if first_failed_at_ms <= 0 {
            return false;
        }
        let window_ms = i64::try_from(self.window.as_millis()).unwrap_or(i64::MAX);
        now_ms.saturating_sub(first_failed_at_ms) >= window_ms
    }

    /// What to do with a job that failed with `error` on `attempt`.
    ///
    /// - `Transient`: retried on climbing, jittered tiers until the window has passed since the
    ///   job first failed, then dead-lettered;
    /// - `Infrastructure`: retried on climbing tiers, never dead-lettered here (the handler could
    ///   record nothing; it gives up itself once it can);
    /// - `Deferred`: back after about its wait, with the same attempt (it consumes none);
    /// - `Permanent`: dead-lettered.
    pub fn decide(
        &self,
        error: &JobError,
        attempt: u32,
        first_failed_at_ms: i64,
        now_ms: i64,
    ) -> Disposition {
        let first = if first_failed_at_ms > 0 {
            first_failed_at_ms
        } else {
            now_ms
        };
        match error {
            JobError::Permanent { .. } => Disposition::DeadLetter { why: String::new() },
            JobError::Transient { .. } if self.window_elapsed(first, now_ms) => {
                Disposition::DeadLetter {
                    why: format!(
                        "gave up after retrying for {} ({attempt} attempts): ",
                        human(self.window)
                    ),
                }
            }
            JobError::Transient { retry_after, .. } => self.climb(attempt, *retry_after, first),
            JobError::Infrastructure { .. } => self.climb(attempt, None, first),
            JobError::Deferred { wait, .. } => Disposition::Retry {
                tier: wait_tier(*wait, &self.delays),
                expiration_ms: None,
                attempt,
                first_failed_at_ms,
            },
        }
    }

    fn climb(&self, attempt: u32, retry_after: Option<Duration>, first: i64) -> Disposition {
        let tier = retry_tier(attempt, retry_after, &self.delays);
        let delay = self.delays.get(tier).copied().unwrap_or_default();
        Disposition::Retry {
            tier,
            expiration_ms: Some(jittered_expiration_ms(delay, retry_after)),
            attempt: attempt.saturating_add(1),
            first_failed_at_ms: first,
        }
    }
}

/// Per-message expiration (ms) that spreads retries over 75–100 % of the tier delay, so jobs that
/// failed together do not all come back at the same instant; never below a `retry_after` hint.
pub(crate) fn jittered_expiration_ms(tier_delay: Duration, retry_after: Option<Duration>) -> u64 {
    let full = u64::try_from(tier_delay.as_millis()).unwrap_or(u64::MAX);
    let floor = retry_after
        .map(|after| u64::try_from(after.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
        .min(full);
    let low = (full - full / 4).max(floor);
    rand::thread_rng().gen_range(low.max(1)..=full.max(1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::DEFAULT_RETRY_DELAYS;
    use proptest::prelude::*;

    const POLICY: RetryPolicy = RetryPolicy {
        delays: DEFAULT_RETRY_DELAYS,
        window: DEFAULT_RETRY_WINDOW,
    };
    const HOUR_MS: i64 = 3_600_000;

    fn tier_of(d: &Disposition) -> Option<usize> {
        match d {
            Disposition::Retry { tier, .. } => Some(*tier),
            Disposition::DeadLetter { .. } => None,
        }
    }

    #[test]
    fn attempts_climb_the_tiers() {
        let d = &DEFAULT_RETRY_DELAYS;
        let tiers: Vec<usize> = (1..=6).map(|a| retry_tier(a, None, d)).collect();
        assert_eq!(tiers, vec![0, 1, 2, 3, 3, 3]);
    }

    #[test]
    fn a_hint_raises_the_floor_but_never_stops_the_climb() {
        let d = &DEFAULT_RETRY_DELAYS;
        // The outage: a store error hinted 1 s and every retry stayed on the 1 s tier.
        let tiers: Vec<usize> = (1..=5)
            .map(|a| retry_tier(a, Some(Duration::from_secs(1)), d))
            .collect();
        assert_eq!(tiers, vec![0, 1, 2, 3, 3]);
        assert_eq!(retry_tier(1, Some(Duration::from_secs(2)), d), 1);
        assert_eq!(retry_tier(1, Some(Duration::from_secs(30)), d), 2);
        assert_eq!(retry_tier(1, Some(Duration::from_secs(3600)), d), 3);
        assert_eq!(retry_tier(4, Some(Duration::from_secs(2)), d), 3);
    }

    #[test]
    fn waits_pick_the_longest_tier_not_past_the_wait() {
        let d = &DEFAULT_RETRY_DELAYS;
        assert_eq!(wait_tier(Duration::from_millis(300), d), 0);
        assert_eq!(wait_tier(Duration::from_secs(9), d), 0);
        assert_eq!(wait_tier(Duration::from_secs(10), d), 1);
        assert_eq!(wait_tier(Duration::from_secs(299), d), 2);
        assert_eq!(wait_tier(Duration::from_secs(3600), d), 3);
    }

    #[test]
    fn decisions_by_class() {
        let now = 10 * HOUR_MS;
        let cases: Vec<(JobError, u32, i64, Option<usize>, &str)> = vec![
            (
                JobError::permanent("x"),
                1,
                0,
                None,
                "permanent dead-letters at once",
            ),
            (
                JobError::transient("x"),
                1,
                0,
                Some(0),
                "first transient failure: 1 s",
            ),
            (
                JobError::transient("x"),
                3,
                now - 60_000,
                Some(2),
                "third: 1 min",
            ),
            (
                JobError::transient("x"),
                9,
                now - HOUR_MS,
                None,
                "window spent",
            ),
            (
                JobError::transient("x"),
                40,
                now - HOUR_MS + 1,
                Some(3),
                "many attempts, window left",
            ),
            (JobError::infrastructure("db"), 1, 0, Some(0), "outage: 1 s"),
            (
                JobError::infrastructure("db"),
                30,
                now - 100 * HOUR_MS,
                Some(3),
                "outage never dead-letters",
            ),
            (
                JobError::Deferred {
                    message: "429".into(),
                    wait: Duration::from_secs(120),
                },
                7,
                now - 2 * HOUR_MS,
                Some(2),
                "deferred never dead-letters",
            ),
        ];
        for (error, attempt, first, want, why) in cases {
            assert_eq!(
                tier_of(&POLICY.decide(&error, attempt, first, now)),
                want,
                "{why}"
            );
        }
    }

    #[test]
    fn deferred_jobs_keep_their_attempt_and_failure_clock() {
        let wait = JobError::Deferred {
            message: "rate limited".into(),
            wait: Duration::from_secs(30),
        };
        assert_eq!(
            POLICY.decide(&wait, 3, 0, 5_000),
            Disposition::Retry {
                tier: 1,
                expiration_ms: None,
                attempt: 3,
                first_failed_at_ms: 0
            }
        );
        match POLICY.decide(&JobError::transient("503"), 3, 0, 5_000) {
            Disposition::Retry {
                attempt,
                first_failed_at_ms,
                ..
            } => assert_eq!((attempt, first_failed_at_ms), (4, 5_000)),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn jitter_stays_within_the_tier_and_above_the_hint() {
        for _ in 0..100 {
            let ms = jittered_expiration_ms(Duration::from_secs(10), None);
            assert!((7_500..=10_000).contains(&ms), "{ms}");
            let hinted =
                jittered_expiration_ms(Duration::from_secs(10), Some(Duration::from_secs(9)));
            assert!((9_000..=10_000).contains(&hinted), "{hinted}");
        }
    }

    proptest! {
        /// An outage of any length costs retries, never the job; a transient fault is given up
        /// exactly when the window has passed.
        #[test]
        fn only_the_window_ends_transient_retries(attempt in 1u32..10_000, age_ms in 0i64..(4 * HOUR_MS)) {
            let now = 100 * HOUR_MS;
            let first = now - age_ms;
            let infra = POLICY.decide(&JobError::infrastructure("x"), attempt, first, now);
            prop_assert!(tier_of(&infra).is_some());
            let transient = POLICY.decide(&JobError::transient("x"), attempt, first, now);
            prop_assert_eq!(tier_of(&transient).is_none(), age_ms >= HOUR_MS);
        }
    }
}
