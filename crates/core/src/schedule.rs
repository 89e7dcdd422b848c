//! Mapping schedules: cron expressions (5 fields, or 6 with seconds) in an IANA time zone, and their next fire time.

use chrono::{DateTime, Utc};
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

/// The first fire time strictly after `after`, evaluating the cron in `timezone`.
pub fn next_fire(
    cron: &str,
    timezone: &str,
    after: DateTime<Utc>,
) -> Result<DateTime<Utc>, ScheduleError> {
    let c = parse_cron(cron)?;
    let tz = parse_timezone(timezone)?;
    let local = after.with_timezone(&tz);
    c.find_next_occurrence(&local, false)
        .map(|d| d.with_timezone(&Utc))
        .map_err(|_| ScheduleError::NoNextFire(after))
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
}
