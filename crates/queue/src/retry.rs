//! Retry policy: which retry tier a failed attempt goes to, with jitter.

use std::time::Duration;

use rand::Rng;

/// The tier (index into the four retry delays) for a job that failed on `attempt`.
///
/// Exponential backoff by attempt (1 → 1 s, 2 → 10 s, 3 → 1 min, ≥4 → 10 min);
/// a `retry_after` hint picks the smallest tier at least that long (the longest if none is).
pub fn retry_tier(attempt: u32, retry_after: Option<Duration>, delays: &[Duration; 4]) -> usize {
    match retry_after {
        Some(after) => delays
            .iter()
            .position(|delay| *delay >= after)
            .unwrap_or(delays.len() - 1),
        None => match attempt {
            0 | 1 => 0,
            2 => 1,
            3 => 2,
            _ => 3,
        },
    }
}

/// Per-message expiration (ms) that spreads retries over 75–100 % of the tier delay,
/// so jobs that failed together do not all come back at the same instant.
/// `None` when a `retry_after` was given: then the full tier delay is kept.
pub(crate) fn jittered_expiration_ms(
    tier_delay: Duration,
    retry_after: Option<Duration>,
) -> Option<u64> {
    if retry_after.is_some() {
        return None;
    }
    let full = u64::try_from(tier_delay.as_millis()).unwrap_or(u64::MAX);
    let low = full - full / 4;
    Some(rand::thread_rng().gen_range(low.max(1)..=full.max(1)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::DEFAULT_RETRY_DELAYS;

    #[test]
    fn attempts_climb_the_tiers() {
        let d = &DEFAULT_RETRY_DELAYS;
        let tiers: Vec<usize> = (1..=6).map(|a| retry_tier(a, None, d)).collect();
        assert_eq!(tiers, vec![0, 1, 2, 3, 3, 3]);
    }

    #[test]
    fn retry_after_picks_the_smallest_tier_long_enough() {
        let d = &DEFAULT_RETRY_DELAYS;
        assert_eq!(retry_tier(1, Some(Duration::from_secs(1)), d), 0);
        assert_eq!(retry_tier(1, Some(Duration::from_secs(2)), d), 1);
        assert_eq!(retry_tier(5, Some(Duration::from_secs(30)), d), 2);
        assert_eq!(retry_tier(1, Some(Duration::from_secs(3600)), d), 3);
    }

    #[test]
    fn jitter_stays_within_the_tier() {
        for _ in 0..100 {
            let ms = jittered_expiration_ms(Duration::from_secs(10), None).unwrap();
            assert!((7_500..=10_000).contains(&ms), "{ms}");
        }
        assert_eq!(
            jittered_expiration_ms(Duration::from_secs(10), Some(Duration::from_secs(3))),
            None
        );
    }
}
