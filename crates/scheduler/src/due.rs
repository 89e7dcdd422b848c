//! Which fire time of a schedule is due now: a pure function of the schedule, the last fire and the clock.

use chrono::{DateTime, Utc};
use fluxcascade_core::schedule::{next_fire, ScheduleError};

/// Fire times looked at per call before giving up on older ones (a `* * * * * *` cron with a
/// one-hour window is 3 600); past this the window start moves forward.
const MAX_STEPS: usize = 100_000;

/// When a schedule that has no fire time left (a stored cron from before such crons were refused,
/// e.g. `0 0 30 2 *`) is looked at again: its search is the costly one, so once a day.
const NEVER_FIRES_RECHECK: chrono::TimeDelta = chrono::TimeDelta::days(1);

/// A schedule's due fire time, if any, and when it must be looked at again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DueStep {
    /// See [`due_fire`].
    pub due: Option<DateTime<Utc>>,
    /// The first fire time after `now` (whole seconds): the schedule's next wake-up.
    pub next: DateTime<Utc>,
}

/// The one fire time to run now, if any: the latest fire time `t` of `cron` (in `timezone`) with
/// `start < t <= now`, where `start` is the later of `last_fire` (or the mapping's `created_at`
/// when it never fired) and `now - catch_up_window`. Older missed fire times are never returned:
/// after downtime a schedule fires at most one catch-up run.
pub fn due_fire(
    cron: &str,
    timezone: &str,
    last_fire: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    now: DateTime<Utc>,
    catch_up_window: chrono::Duration,
) -> Result<Option<DateTime<Utc>>, ScheduleError> {
    due_step(cron, timezone, last_fire, created_at, now, catch_up_window).map(|s| s.due)
}

/// [`due_fire`] and the fire time after `now`, found by the same walk over the fire times.
pub fn due_step(
    cron: &str,
    timezone: &str,
    last_fire: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    now: DateTime<Utc>,
    catch_up_window: chrono::Duration,
) -> Result<DueStep, ScheduleError> {
    let window_start = now - catch_up_window;
    // Fire times are whole seconds (`next_fire` truncates its input), so every replica derives
    // the same fire time whatever its clock reading, and the claim's unique key sees them as one.
    let mut after = last_fire.unwrap_or(created_at).max(window_start);
    let mut due = None;
    for _ in 0..MAX_STEPS {
        match next_fire(cron, timezone, after) {
            Ok(t) if t > now => return Ok(DueStep { due, next: t }),
            Ok(t) => {
                due = Some(t);
                after = t;
            }
            Err(ScheduleError::NoNextFire(_)) => {
                return Ok(DueStep {
                    due,
                    next: now + NEVER_FIRES_RECHECK,
                })
            }
            Err(e) => return Err(e),
        }
    }
    // More fire times since `after` than one call walks: fire the latest found, continue next tick.
    Ok(DueStep { due, next: now })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap()
    }

    struct Case {
        name: &'static str,
        cron: &'static str,
        tz: &'static str,
        last: Option<DateTime<Utc>>,
        created: DateTime<Utc>,
        now: DateTime<Utc>,
        window_s: i64,
        want: Option<DateTime<Utc>>,
    }

    #[test]
    fn due_fire_table() {
        let cases = [
            Case {
                name: "no fire yet, none due since creation",
                cron: "*/15 * * * *",
                tz: "UTC",
                last: None,
                created: at(2024, 3, 5, 12, 1, 0),
                now: at(2024, 3, 5, 12, 10, 0),
                window_s: 3600,
                want: None,
            },
            Case {
                name: "no fire yet, one due since creation",
                cron: "*/15 * * * *",
                tz: "UTC",
                last: None,
                created: at(2024, 3, 5, 12, 1, 0),
                now: at(2024, 3, 5, 12, 16, 0),
                window_s: 3600,
                want: Some(at(2024, 3, 5, 12, 15, 0)),
            },
            Case {
                name: "several missed: only the latest",
                cron: "*/15 * * * *",
                tz: "UTC",
                last: Some(at(2024, 3, 5, 10, 0, 0)),
                created: at(2024, 3, 1, 0, 0, 0),
                now: at(2024, 3, 5, 10, 50, 0),
                window_s: 3600,
                want: Some(at(2024, 3, 5, 10, 45, 0)),
            },
            Case {
                name: "missed fires all older than the window: nothing",
                cron: "0 * * * *",
                tz: "UTC",
                last: Some(at(2024, 3, 5, 6, 0, 0)),
                created: at(2024, 3, 1, 0, 0, 0),
                now: at(2024, 3, 5, 10, 59, 0),
                window_s: 1800,
                want: None,
            },
            Case {
                name: "already fired the latest",
                cron: "*/15 * * * *",
                tz: "UTC",
                last: Some(at(2024, 3, 5, 12, 15, 0)),
                created: at(2024, 3, 1, 0, 0, 0),
                now: at(2024, 3, 5, 12, 29, 59),
                window_s: 3600,
                want: None,
            },
            Case {
                name: "fire time exactly now is due",
                cron: "*/15 * * * *",
                tz: "UTC",
                last: Some(at(2024, 3, 5, 12, 15, 0)),
                created: at(2024, 3, 1, 0, 0, 0),
                now: at(2024, 3, 5, 12, 30, 0),
                window_s: 3600,
                want: Some(at(2024, 3, 5, 12, 30, 0)),
            },
            Case {
                name: "fire time exactly at the window start is outside",
                cron: "0 * * * *",
                tz: "UTC",
                last: Some(at(2024, 3, 5, 8, 0, 0)),
                created: at(2024, 3, 1, 0, 0, 0),
                now: at(2024, 3, 5, 10, 30, 0),
                window_s: 5400,
                want: Some(at(2024, 3, 5, 10, 0, 0)),
            },
            Case {
                name: "window start exactly on the only fire time: nothing",
                cron: "0 * * * *",
                tz: "UTC",
                last: Some(at(2024, 3, 5, 8, 0, 0)),
                created: at(2024, 3, 1, 0, 0, 0),
                now: at(2024, 3, 5, 9, 30, 0),
                window_s: 1800,
                want: None,
            },
            Case {
                name: "fire time exactly at creation is not due",
                cron: "0 * * * *",
                tz: "UTC",
                last: None,
                created: at(2024, 3, 5, 9, 0, 0),
                now: at(2024, 3, 5, 9, 30, 0),
                window_s: 3600,
                want: None,
            },
            Case {
                name: "six fields with seconds",
                cron: "*/2 * * * * *",
                tz: "UTC",
                last: Some(at(2024, 3, 5, 12, 0, 0)),
                created: at(2024, 3, 1, 0, 0, 0),
                now: at(2024, 3, 5, 12, 0, 11),
                window_s: 3600,
                want: Some(at(2024, 3, 5, 12, 0, 10)),
            },
            Case {
                name: "six fields, next second not yet",
                cron: "*/2 * * * * *",
                tz: "UTC",
                last: Some(at(2024, 3, 5, 12, 0, 10)),
                created: at(2024, 3, 1, 0, 0, 0),
                now: at(2024, 3, 5, 12, 0, 11),
                window_s: 3600,
                want: None,
            },
            Case {
                // 2024-03-10 New York springs forward: 09:00 EST is 14:00Z, 09:00 EDT is 13:00Z.
                name: "DST spring forward in America/New_York",
                cron: "0 9 * * *",
                tz: "America/New_York",
                last: Some(at(2024, 3, 9, 14, 0, 0)),
                created: at(2024, 3, 1, 0, 0, 0),
                now: at(2024, 3, 10, 13, 30, 0),
                window_s: 86_400,
                want: Some(at(2024, 3, 10, 13, 0, 0)),
            },
            Case {
                // 2024-11-03 New York falls back: 09:00 EDT is 13:00Z, 09:00 EST is 14:00Z.
                name: "DST fall back in America/New_York",
                cron: "0 9 * * *",
                tz: "America/New_York",
                last: Some(at(2024, 11, 2, 13, 0, 0)),
                created: at(2024, 10, 1, 0, 0, 0),
                now: at(2024, 11, 3, 13, 30, 0),
                window_s: 86_400,
                want: None,
            },
        ];
        for c in cases {
            let got = due_fire(
                c.cron,
                c.tz,
                c.last,
                c.created,
                c.now,
                chrono::Duration::seconds(c.window_s),
            );
            assert_eq!(got, Ok(c.want), "{}", c.name);
        }
    }

    #[test]
    fn fire_times_are_whole_seconds_whatever_the_start() {
        let created = at(2024, 3, 5, 12, 0, 0) + chrono::Duration::microseconds(271_144);
        let now = at(2024, 3, 5, 12, 0, 5) + chrono::Duration::milliseconds(900);
        let w = chrono::Duration::hours(1);
        assert_eq!(
            due_fire("*/2 * * * * *", "UTC", None, created, now, w),
            Ok(Some(at(2024, 3, 5, 12, 0, 4)))
        );
        // Two replicas reading the clock at different instants agree on the fire time.
        let later = now + chrono::Duration::milliseconds(50);
        let window = chrono::Duration::seconds(5);
        assert_eq!(
            due_fire("* * * * * *", "UTC", None, created, now, window),
            due_fire("* * * * * *", "UTC", None, created, later, window)
        );
    }

    #[test]
    fn the_next_wake_up_is_the_first_fire_time_after_now() {
        let w = chrono::Duration::hours(1);
        let created = at(2024, 3, 1, 0, 0, 0);
        let now = at(2024, 3, 5, 12, 0, 0) + chrono::Duration::milliseconds(20);
        assert_eq!(
            due_step(
                "* * * * *",
                "UTC",
                Some(at(2024, 3, 5, 11, 59, 0)),
                created,
                now,
                w
            ),
            Ok(DueStep {
                due: Some(at(2024, 3, 5, 12, 0, 0)),
                next: at(2024, 3, 5, 12, 1, 0),
            })
        );
        // Not due: the wake-up is the coming fire time, in the schedule's zone (09:00 EST = 14:00Z).
        assert_eq!(
            due_step("0 9 * * *", "America/New_York", None, created, now, w),
            Ok(DueStep {
                due: None,
                next: at(2024, 3, 5, 14, 0, 0),
            })
        );
        // A stored cron that never fires is looked at again a day later, not every tick.
        assert_eq!(
            due_step("0 0 30 2 *", "UTC", None, created, now, w),
            Ok(DueStep {
                due: None,
                next: now + chrono::Duration::days(1),
            })
        );
    }

    #[test]
    fn invalid_schedules_are_errors() {
        let now = at(2024, 3, 5, 12, 0, 0);
        let w = chrono::Duration::hours(1);
        assert!(due_fire("* * *", "UTC", None, now, now, w).is_err());
        assert!(due_fire("* * * * *", "Mars/Base", None, now, now, w).is_err());
    }
}
