//! Mapping schedules: cron expressions (5 fields, or 6 with seconds) in an IANA time zone, and their next fire time.

use chrono::{DateTime, Timelike, Utc};
use chrono_tz::Tz;
use croner::parser::{CronParser, Seconds, Year};
use croner::Cron;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    #[error(
        "cron must have 5 fields (minute hour day month weekday) or 6 with seconds first, got {0}"
    )]
    FieldCount(usize),
    #[error("invalid cron expression: {0}")]
    Cron(String),
    #[error("'{0}' is not an IANA time zone (e.g. Europe/Paris)")]
    Timezone(String),
    #[error("the schedule never fires after {0}")]
    NoNextFire(DateTime<Utc>),
    #[error("the schedule has no fire time in the 5 years after {0}")]
    NoFireWithinHorizon(DateTime<Utc>),
}

/// How far ahead a schedule must fire at least once to be accepted: 5 years (1,826 days, leap day
/// included). Every valid 5- or 6-field cron fires within 8 years; only a February 29 spanning a
/// century's skipped leap year (2097 → 2104) is that sparse, so this refuses the crons that never
/// fire (`0 0 30 2 *`) and those whose search costs the scheduler most.
pub const FIRE_HORIZON: chrono::TimeDelta = chrono::TimeDelta::days(5 * 365 + 1);

/// Parses a 5- or 6-field cron expression (`*/15 * * * *`, `0 0 9 * * MON-FRI`).
pub fn parse_cron(expr: &str) -> Result<Cron, ScheduleError> {
    let fields = expr.split_whitespace().count();
    if fields != 5 && fields != 6 {
        return Err(ScheduleError::FieldCount(fields));
    }
    CronParser::builder()
        .seconds(Seconds::Optional)
        .year(Year::Disallowed)
        .build()
        .parse(expr)
        .map_err(|e| ScheduleError::Cron(e.to_string()))
}

/// Parses an IANA zone name.
pub fn parse_timezone(name: &str) -> Result<Tz, ScheduleError> {
    name.parse::<Tz>()
        .map_err(|_| ScheduleError::Timezone(name.to_string()))
}

/// The first fire time strictly after `after`, evaluating the cron in `timezone`. Fire times are
/// whole seconds: `after` is truncated first, so every caller derives the same times.
pub fn next_fire(
    cron: &str,
    timezone: &str,
    after: DateTime<Utc>,
) -> Result<DateTime<Utc>, ScheduleError> {
    let c = parse_cron(cron)?;
    let tz = parse_timezone(timezone)?;
    let after = after.with_nanosecond(0).unwrap_or(after);
    let local = after.with_timezone(&tz);
    c.find_next_occurrence(&local, false)
        .map(|d| d.with_timezone(&Utc))
        .map_err(|_| ScheduleError::NoNextFire(after))
}

/// The first fire time after `now`, if it is within [`FIRE_HORIZON`]; otherwise
/// [`ScheduleError::NoFireWithinHorizon`]. Parse errors of the cron or the zone are returned as such.
pub fn first_fire_within_horizon(
    cron: &str,
    timezone: &str,
    now: DateTime<Utc>,
) -> Result<DateTime<Utc>, ScheduleError> {
    match next_fire(cron, timezone, now) {
        Ok(t) if t - now <= FIRE_HORIZON => Ok(t),
        Ok(_) | Err(ScheduleError::NoNextFire(_)) => Err(ScheduleError::NoFireWithinHorizon(now)),
        Err(e) => Err(e),
    }
}

/// The next `n` fire times strictly after `after`, in the schedule's zone (so they print with its
/// offset, daylight-saving changes included) — what the API shows as `schedule.nextRuns`, computed
/// by the same `next_fire` the scheduler fires with.
pub fn next_runs(
    cron: &str,
    timezone: &str,
    after: DateTime<Utc>,
    n: usize,
) -> Result<Vec<DateTime<Tz>>, ScheduleError> {
    let tz = parse_timezone(timezone)?;
    let mut out = Vec::with_capacity(n);
    let mut t = after;
    for _ in 0..n {
        t = next_fire(cron, timezone, t)?;
        out.push(t.with_timezone(&tz));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn accepts_five_and_six_fields() {
        assert!(parse_cron("*/15 * * * *").is_ok());
        assert!(parse_cron("0 0 9 * * MON-FRI").is_ok());
        assert_eq!(
            parse_cron("* * * *").unwrap_err(),
            ScheduleError::FieldCount(4)
        );
        assert_eq!(
            parse_cron("0 0 0 * * * 2030").unwrap_err(),
            ScheduleError::FieldCount(7)
        );
        assert!(matches!(
            parse_cron("61 * * * *"),
            Err(ScheduleError::Cron(_))
        ));
        assert!(matches!(
            parse_cron("a b c d e"),
            Err(ScheduleError::Cron(_))
        ));
    }

    #[test]
    fn schedules_must_fire_within_five_years() {
        let at = |y, mo, d| Utc.with_ymd_and_hms(y, mo, d, 12, 0, 0).unwrap();
        // (name, cron, zone, now, Ok(first fire) or Err(()) for "no fire within 5 years")
        #[allow(clippy::type_complexity)]
        let cases: [(&str, &str, &str, DateTime<Utc>, Result<DateTime<Utc>, ()>); 12] = [
            (
                "February 30 never comes",
                "0 0 30 2 *",
                "UTC",
                at(2025, 3, 1),
                Err(()),
            ),
            (
                "April 31 never comes",
                "0 0 31 4 *",
                "UTC",
                at(2025, 3, 1),
                Err(()),
            ),
            (
                "February 29: the next leap day",
                "0 0 29 2 *",
                "UTC",
                at(2025, 3, 1),
                Ok(Utc.with_ymd_and_hms(2028, 2, 29, 0, 0, 0).unwrap()),
            ),
            (
                "February 29 from the day after one: four years later",
                "0 0 29 2 *",
                "UTC",
                at(2024, 3, 1),
                Ok(Utc.with_ymd_and_hms(2028, 2, 29, 0, 0, 0).unwrap()),
            ),
            (
                // 2100 is not a leap year: after 2096 the next February 29 is in 2104.
                "February 29 across 2100: eight years away",
                "0 0 29 2 *",
                "UTC",
                at(2097, 3, 1),
                Err(()),
            ),
            (
                "six fields with seconds, February 30",
                "30 0 0 30 2 *",
                "UTC",
                at(2025, 3, 1),
                Err(()),
            ),
            (
                "six fields with seconds, February 29",
                "30 0 0 29 2 *",
                "UTC",
                at(2025, 3, 1),
                Ok(Utc.with_ymd_and_hms(2028, 2, 29, 0, 0, 30).unwrap()),
            ),
            (
                "every second",
                "* * * * * *",
                "UTC",
                at(2025, 3, 1),
                Ok(Utc.with_ymd_and_hms(2025, 3, 1, 12, 0, 1).unwrap()),
            ),
            (
                // Midnight of February 29 in Tokyo (UTC+9) is 15:00 UTC on February 28.
                "February 29 in Asia/Tokyo",
                "0 0 29 2 *",
                "Asia/Tokyo",
                at(2025, 3, 1),
                Ok(Utc.with_ymd_and_hms(2028, 2, 28, 15, 0, 0).unwrap()),
            ),
            (
                "February 30 in Europe/Paris",
                "0 0 30 2 *",
                "Europe/Paris",
                at(2025, 3, 1),
                Err(()),
            ),
            (
                "daily in America/New_York",
                "0 9 * * *",
                "America/New_York",
                at(2025, 3, 1),
                Ok(Utc.with_ymd_and_hms(2025, 3, 1, 14, 0, 0).unwrap()),
            ),
            (
                // Day of month and weekday both set: either matches (cron's rule), month still applies.
                "February 30 or a Monday of February: the next Monday of February",
                "0 0 30 2 MON",
                "UTC",
                at(2025, 3, 1),
                Ok(Utc.with_ymd_and_hms(2026, 2, 2, 0, 0, 0).unwrap()),
            ),
        ];
        for (name, cron, tz, now, want) in cases {
            let got = first_fire_within_horizon(cron, tz, now);
            match want {
                Ok(t) => assert_eq!(got, Ok(t), "{name}"),
                Err(()) => assert_eq!(got, Err(ScheduleError::NoFireWithinHorizon(now)), "{name}"),
            }
        }
        assert_eq!(
            first_fire_within_horizon("0 0 30 2 *", "Mars/Base", at(2025, 3, 1)),
            Err(ScheduleError::Timezone("Mars/Base".into()))
        );
        assert!(matches!(
            first_fire_within_horizon("0 0 32 2 *", "UTC", at(2025, 3, 1)),
            Err(ScheduleError::Cron(_))
        ));
    }

    #[test]
    fn next_fire_respects_the_time_zone() {
        let after = Utc.with_ymd_and_hms(2024, 3, 5, 12, 0, 0).unwrap();
        // 09:00 in New York (EST, UTC-5) is 14:00 UTC.
        assert_eq!(
            next_fire("0 9 * * *", "America/New_York", after),
            Ok(Utc.with_ymd_and_hms(2024, 3, 5, 14, 0, 0).unwrap())
        );
        assert_eq!(
            next_fire("*/15 * * * *", "UTC", after),
            Ok(Utc.with_ymd_and_hms(2024, 3, 5, 12, 15, 0).unwrap())
        );
        assert_eq!(
            next_fire("0 9 * * *", "Nowhere/City", after),
            Err(ScheduleError::Timezone("Nowhere/City".into()))
        );
    }

    #[test]
    fn next_runs_show_the_zone_offset_across_a_dst_change() {
        // US daylight saving starts on 2026-03-08: 09:00 New York is 14:00Z before, 13:00Z after.
        let after = Utc.with_ymd_and_hms(2026, 3, 6, 12, 0, 0).unwrap();
        let runs: Vec<String> = next_runs("0 9 * * *", "America/New_York", after, 5)
            .unwrap()
            .iter()
            .map(|t| t.to_rfc3339())
            .collect();
        assert_eq!(
            runs,
            [
                "2026-03-06T09:00:00-05:00",
                "2026-03-07T09:00:00-05:00",
                "2026-03-08T09:00:00-04:00",
                "2026-03-09T09:00:00-04:00",
                "2026-03-10T09:00:00-04:00",
            ]
        );
        let secs = next_runs(
            "*/2 * * * * *",
            "UTC",
            Utc.timestamp_millis_opt(1_000_500).unwrap(),
            2,
        )
        .unwrap();
        assert_eq!(
            secs[0].timestamp_millis(),
            1_002_000,
            "whole seconds, strictly after"
        );
        assert!(next_runs("0 9 * * *", "Mars/Olympus", after, 5).is_err());
    }
}
