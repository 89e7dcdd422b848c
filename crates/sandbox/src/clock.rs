//! Wall-clock helpers: epoch milliseconds and the ISO 8601 renderings the providers use.

use chrono::{DateTime, SecondsFormat, Utc};

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

/// `2024-01-01T00:00:00.000Z` (HubSpot).
pub fn iso_millis(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// `2024-01-01T00:00:00Z` (Jobber).
pub fn iso_seconds(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Parses an RFC 3339 timestamp or a bare date into epoch milliseconds.
pub fn parse_iso(s: &str) -> Option<i64> {
    if let Ok(dt) = DateTime::parse_from_rfc3339(s) {
        return Some(dt.timestamp_millis());
    }
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|dt| dt.and_utc().timestamp_millis())
}

/// Parses epoch milliseconds given as a string, or an ISO timestamp.
pub fn parse_ms_or_iso(s: &str) -> Option<i64> {
    s.trim().parse::<i64>().ok().or_else(|| parse_iso(s.trim()))
}

/// A fresh random correlation id (UUID v4), as the providers put in error bodies.
pub fn correlation_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_parses_round_trip() {
        assert_eq!(iso_millis(1_704_067_200_000), "2024-01-01T00:00:00.000Z");
        assert_eq!(iso_seconds(1_704_067_200_999), "2024-01-01T00:00:00Z");
        assert_eq!(
            parse_iso("2024-01-01T00:00:00.000Z"),
            Some(1_704_067_200_000)
        );
        assert_eq!(parse_ms_or_iso("1704067200000"), Some(1_704_067_200_000));
        assert_eq!(parse_ms_or_iso("nope"), None);
    }
}
