//! The `date_iso` transform: common date and date-time inputs → ISO 8601.
//!
//! How values render:
//! - A date without a time stays a calendar date: `03/05/2024` → `2024-03-05`
//!   (no time zone is applied, so the day never shifts).
//! - A date-time becomes an RFC 3339 instant in UTC with `Z`:
//!   `2024-03-05T09:30:00-05:00` → `2024-03-05T14:30:00Z`. Fractional
//!   seconds appear only when present (`.250`, in groups of three digits).
//! - A date-time without an offset is read in `transformOptions.timezone`
//!   (IANA name like `Europe/Berlin`, `UTC`, or a fixed offset like `+02:00`;
//!   default UTC). A local time that does not exist there (a DST gap) is an
//!   error; an ambiguous one (DST overlap) takes the earlier instant.
//! - Epoch milliseconds (a JSON integer, or a string of digits) are instants.
//!
//! Accepted string inputs: ISO 8601 / RFC 3339 dates and date-times with or
//! without offset (`T` or space, minutes optional seconds, `Z`, `+02:00`,
//! `+0200`), RFC 2822 (`Tue, 5 Mar 2024 14:30:00 +0000`), US `MM/DD/YYYY`
//! (slashes are always month first) with optional `HH:MM[:SS]` or
//! `h:MM[:SS] AM/PM`, European `DD.MM.YYYY` and `DD-MM-YYYY` (day first)
//! with optional `HH:MM[:SS]`, `YYYY/MM/DD`, and `March 5, 2024` /
//! `5 March 2024`. Years must have four digits.

use chrono::{
    DateTime, FixedOffset, LocalResult, NaiveDate, NaiveDateTime, SecondsFormat, TimeZone, Utc,
};
use serde_json::Value;

use super::TransformError;

/// The zone a date-time without an offset is read in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Zone {
    Utc,
    Fixed(FixedOffset),
    Named(chrono_tz::Tz),
}

impl Zone {
    /// Parses `UTC`, an IANA zone name (`America/New_York`) or a fixed offset (`+02:00`, `-0530`).
    pub fn parse(s: &str) -> Result<Zone, String> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("utc") || s == "Z" {
            return Ok(Zone::Utc);
        }
        if s.starts_with('+') || s.starts_with('-') {
            return parse_offset(s)
                .map(Zone::Fixed)
                .ok_or_else(|| format!("'{s}' is not an offset like +02:00"));
        }
        s.parse::<chrono_tz::Tz>().map(Zone::Named).map_err(|_| {
            format!(
                "'{s}' is not an IANA time zone (like Europe/Berlin) or an offset (like +02:00)"
            )
        })
    }

    fn to_utc(self, local: NaiveDateTime) -> Option<DateTime<Utc>> {
        fn earliest<T: TimeZone>(r: LocalResult<DateTime<T>>) -> Option<DateTime<Utc>> {
            r.earliest().map(|d| d.with_timezone(&Utc))
        }
        match self {
            Zone::Utc => Some(local.and_utc()),
            Zone::Fixed(off) => earliest(off.from_local_datetime(&local)),
            Zone::Named(tz) => earliest(tz.from_local_datetime(&local)),
        }
    }
}

fn parse_offset(s: &str) -> Option<FixedOffset> {
    let (sign, rest) = match s.as_bytes().first()? {
        b'+' => (1, &s[1..]),
        b'-' => (-1, &s[1..]),
        _ => return None,
    };
    let digits: String = rest.chars().filter(|c| *c != ':').collect();
    if digits.len() != 4
        || !digits.bytes().all(|b| b.is_ascii_digit())
        || (rest.contains(':') && rest.len() != 5)
    {
        return None;
    }
    let hours: i32 = digits[..2].parse().ok()?;
    let minutes: i32 = digits[2..].parse().ok()?;
    if hours > 23 || minutes > 59 {
        return None;
    }
    FixedOffset::east_opt(sign * (hours * 3600 + minutes * 60))
}

/// Formats with an explicit offset (after a trailing `Z` became `+00:00`).
const OFFSET_FORMATS: [&str; 4] = [
    "%Y-%m-%dT%H:%M:%S%.f%:z",
    "%Y-%m-%d %H:%M:%S%.f%:z",
    "%Y-%m-%dT%H:%M%:z",
    "%Y-%m-%d %H:%M%:z",
];

const NAIVE_DATETIME_FORMATS: [&str; 20] = [
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d %H:%M",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y %H:%M",
    "%m/%d/%Y %I:%M:%S %p",
    "%m/%d/%Y %I:%M %p",
    "%m/%d/%Y %I:%M:%S%p",
    "%m/%d/%Y %I:%M%p",
    "%d.%m.%Y %H:%M:%S",
    "%d.%m.%Y %H:%M",
    "%d.%m.%Y, %H:%M:%S",
    "%d.%m.%Y, %H:%M",
    "%d-%m-%Y %H:%M:%S",
    "%d-%m-%Y %H:%M",
    "%d-%m-%YT%H:%M:%S",
    "%Y%m%dT%H%M%S",
];

const DATE_FORMATS: [&str; 9] = [
    "%Y-%m-%d",
    "%m/%d/%Y",
    "%d.%m.%Y",
    "%d-%m-%Y",
    "%Y/%m/%d",
    "%B %d, %Y",
    "%b %d, %Y",
    "%d %B %Y",
    "%d %b %Y",
];

/// What an input string turned out to be.
enum Parsed {
    Date(NaiveDate),
    Instant(DateTime<Utc>),
}

/// Converts a date, date-time or epoch-millis value to ISO 8601 (see the module docs).
pub(super) fn to_iso(v: &Value, zone: &Zone) -> Result<Value, TransformError> {
    let parsed = match v {
        Value::Number(n) => {
            let millis = n
                .as_i64()
                .or_else(|| {
                    n.as_f64()
                        .filter(|f| f.is_finite() && f.abs() < 9.0e15)
                        .map(|f| f.floor() as i64)
                })
                .ok_or_else(|| invalid(&n.to_string(), "the number is not epoch milliseconds"))?;
            Parsed::Instant(from_millis(millis, &n.to_string())?)
        }
        Value::String(s) => parse_str(s.trim(), zone)?,
        other => {
            return Err(TransformError::invalid_type(
                "date_iso",
                "a string or epoch milliseconds",
                other,
            ))
        }
    };
    Ok(Value::String(match parsed {
        Parsed::Date(d) => d.format("%Y-%m-%d").to_string(),
        Parsed::Instant(t) => t.to_rfc3339_opts(SecondsFormat::AutoSi, true),
    }))
}

fn parse_str(s: &str, zone: &Zone) -> Result<Parsed, TransformError> {
    if s.is_empty() {
        return Err(invalid(s, "it is empty"));
    }
    let digits = s.strip_prefix('-').unwrap_or(s);
    if !digits.is_empty()
        && digits.len() <= 15
        && digits.bytes().all(|b| b.is_ascii_digit())
        && digits.len() != 8
    {
        let millis: i64 = s
            .parse()
            .map_err(|_| invalid(s, "the number is not epoch milliseconds"))?;
        return from_millis(millis, s).map(Parsed::Instant);
    }
    if let Some(t) = parse_with_offset(s) {
        return check_year(t.with_timezone(&Utc).naive_utc().date(), s)
            .map(|_| Parsed::Instant(t.with_timezone(&Utc)));
    }
    for fmt in NAIVE_DATETIME_FORMATS {
        if let Ok(local) = NaiveDateTime::parse_from_str(s, fmt) {
            check_year(local.date(), s)?;
            return zone.to_utc(local).map(Parsed::Instant).ok_or_else(|| {
                invalid(
                    s,
                    "that local time does not exist in the time zone (daylight-saving gap)",
                )
            });
        }
    }
    // `20240305` (basic ISO date) is also 8 digits: read it as a date, never as millis.
    let basic = if digits.len() == 8 && digits.len() == s.len() {
        Some("%Y%m%d")
    } else {
        None
    };
    for fmt in DATE_FORMATS.iter().copied().chain(basic) {
        if let Ok(date) = NaiveDate::parse_from_str(s, fmt) {
            return check_year(date, s).map(|_| Parsed::Date(date));
        }
    }
    Err(invalid(s, "not a recognised date or date-time format"))
}

fn parse_with_offset(s: &str) -> Option<DateTime<FixedOffset>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t);
    }
    if let Ok(t) = DateTime::parse_from_rfc2822(s) {
        return Some(t);
    }
    let normalised = match s.strip_suffix('Z').or_else(|| s.strip_suffix('z')) {
        Some(head) => format!("{head}+00:00"),
        None => insert_offset_colon(s),
    };
    OFFSET_FORMATS
        .iter()
        .find_map(|fmt| DateTime::parse_from_str(&normalised, fmt).ok())
}

/// `...+0200` → `...+02:00`, so one offset format covers both spellings.
fn insert_offset_colon(s: &str) -> String {
    let b = s.as_bytes();
    if b.len() > 5 {
        let tail = &b[b.len() - 5..];
        if (tail[0] == b'+' || tail[0] == b'-') && tail[1..].iter().all(u8::is_ascii_digit) {
            let cut = s.len() - 2;
            return format!("{}:{}", &s[..cut], &s[cut..]);
        }
    }
    s.to_string()
}

fn from_millis(millis: i64, raw: &str) -> Result<DateTime<Utc>, TransformError> {
    DateTime::from_timestamp_millis(millis)
        .filter(|t| (1000..=9999).contains(&chrono::Datelike::year(t)))
        .ok_or_else(|| invalid(raw, "epoch milliseconds out of range"))
}

fn check_year(date: NaiveDate, raw: &str) -> Result<(), TransformError> {
    if (1000..=9999).contains(&chrono::Datelike::year(&date)) {
        Ok(())
    } else {
        Err(invalid(raw, "the year must have four digits"))
    }
}

fn invalid(raw: &str, why: &str) -> TransformError {
    let shown: String = raw.chars().take(40).collect();
    TransformError::new("invalid_date", format!("'{shown}' is not a date: {why}"))
}

/// Reads `transformOptions.timezone`: an IANA zone name (`Europe/Berlin`) or
/// `UTC`; absent means UTC. Fixed offsets are rejected here because the
/// transform stores a named zone.
pub(crate) fn timezone_option(
    opts: &super::options::Options<'_>,
) -> Result<Option<chrono_tz::Tz>, super::SpecError> {
    let Some(raw) = opts.string("timezone")? else {
        return Ok(None);
    };
    match Zone::parse(&raw) {
        Ok(Zone::Utc) => Ok(None),
        Ok(Zone::Named(tz)) => Ok(Some(tz)),
        Ok(Zone::Fixed(_)) => Err(super::SpecError::option(
            "timezone",
            &format!("'{raw}' is an offset; use an IANA time zone name (like Europe/Berlin)"),
        )),
        Err(message) => Err(super::SpecError::option("timezone", &message)),
    }
}

/// Applies `date_iso` with an optional named zone for inputs without an offset.
pub(crate) fn apply(v: &Value, tz: Option<chrono_tz::Tz>) -> Result<Value, TransformError> {
    to_iso(v, &tz.map_or(Zone::Utc, Zone::Named))
}
