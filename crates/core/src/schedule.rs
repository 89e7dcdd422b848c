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
}

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
