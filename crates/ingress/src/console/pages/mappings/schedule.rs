//! The schedule's next five fire times as the user types (the `#next-runs` fragment), computed by
//! `fluxcascade_core::schedule::next_runs`, the code the scheduler fires with.

use fluxcascade_core::schedule;
use maud::{html, Markup};

/// How many fire times the editor shows.
pub const SHOWN_RUNS: usize = 5;

/// The next fire times of `cron` in `timezone` (blank zone: UTC), or the error, as shown under
/// the schedule's fields.
pub fn next_runs_markup(cron: &str, timezone: &str) -> Markup {
    let cron = cron.trim();
    let timezone = match timezone.trim() {
        "" => "UTC",
        tz => tz,
    };
    if cron.is_empty() {
        return html! { p.hint { "No schedule: syncs run when you start them (Syncs page, or the API)." } };
    }
    let now = chrono::Utc::now();
    let runs = schedule::first_fire_within_horizon(cron, timezone, now)
        .and_then(|_| schedule::next_runs(cron, timezone, now, SHOWN_RUNS));
    match runs {
        Ok(runs) => html! {
            p.hint { "Next " (SHOWN_RUNS) " runs (" (timezone) "):" }
            ol.next-runs {
                @for t in &runs {
                    li { time datetime=(t.to_rfc3339()) { (t.format("%a %Y-%m-%d %H:%M:%S %Z")) } }
                }
            }
        },
        Err(e) => html! { p.field-error role="alert" { (e) } },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_runs_or_the_error() {
        let ok = next_runs_markup("0 9 * * *", "Europe/Paris").into_string();
        assert_eq!(ok.matches("<li>").count(), 5, "{ok}");
        assert!(ok.contains("09:00:00 CE"), "{ok}");
        let bad = next_runs_markup("* * *", "UTC").into_string();
        assert!(
            bad.contains("field-error") && bad.contains("cron must have 5 fields"),
            "{bad}"
        );
        let zone = next_runs_markup("0 9 * * *", "Mars/Base").into_string();
        assert!(zone.contains("not an IANA time zone"), "{zone}");
        assert!(next_runs_markup(" ", "UTC")
            .into_string()
            .contains("No schedule"));
    }
}
