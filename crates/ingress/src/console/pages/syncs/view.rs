//! Pure pieces of the Syncs pages: a run's status as a word and a badge, whether it still moves
//! (the live part polls only then), its progress bar, the counts, the rate-limit note and the
//! record errors, rendered from a run row alone (no I/O), so they are unit-tested here.

use chrono::{DateTime, Utc};
use fluxcascade_core::{Counts, Progress, RecordError, SyncStatus, Waiting};
use fluxcascade_store::syncs::SyncRow;
use maud::{html, Markup};

use crate::console::pages::connections::provider_label;

/// The counts a run has, in the API's order, as `(key, label)`.
pub const COUNTS: [(&str, &str); 6] = [
    ("read", "Read"),
    ("created", "Created"),
    ("updated", "Updated"),
    ("skipped", "Skipped"),
    ("deleted", "Deleted"),
    ("failed", "Failed"),
];

/// One count of a run by its key in [`COUNTS`].
pub fn count(counts: &Counts, key: &str) -> u64 {
    match key {
        "read" => counts.read,
        "created" => counts.created,
        "updated" => counts.updated,
        "skipped" => counts.skipped,
        "deleted" => counts.deleted,
        _ => counts.failed,
    }
}

/// A number with thousands separators (`1,000`).
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Whether a run is over (completed, partial or failed): its page stops polling.
pub fn is_terminal(status: Option<SyncStatus>) -> bool {
    matches!(
        status,
        Some(SyncStatus::Completed | SyncStatus::Partial | SyncStatus::Failed)
    )
}

/// The badge class of a status.
pub fn status_class(status: Option<SyncStatus>) -> &'static str {
    match status {
        Some(SyncStatus::Completed) => "badge ok",
        Some(SyncStatus::Partial | SyncStatus::Pending | SyncStatus::Running) => "badge warn",
        _ => "badge bad",
    }
}

/// What a `<progress>` element shows: `value` of `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bar {
    pub value: u64,
    pub max: u64,
}

impl Bar {
    /// The share done, 0 to 100 (rounded down).
    pub fn percent(self) -> u64 {
        if self.max == 0 {
            return 0;
        }
        self.value.min(self.max) * 100 / self.max
    }
}

/// The bar of a run: records done with (processed) of its total. A running run with no total
/// yet has none (the bar is indeterminate); a finished run's total is what it read (a run that
/// read nothing is a full bar).
pub fn bar(progress: &Progress, status: Option<SyncStatus>) -> Option<Bar> {
    let terminal = is_terminal(status);
    let total = match progress.total {
        Some(total) => total,
        None if terminal => progress.read,
        None => return None,
    };
    let max = total.max(progress.processed);
    if max == 0 {
        return terminal.then_some(Bar { value: 1, max: 1 });
    }
    Some(Bar {
        value: progress.processed.min(max),
        max,
    })
}

/// The note of a run waiting on a provider's rate limit: which provider, until when.
pub fn waiting_note(waiting: &Waiting, now: DateTime<Utc>) -> String {
    let secs = (waiting.until - now).num_seconds().max(0);
    format!(
        "Waiting on {}'s rate limit until {} (in {}). The run goes on by itself then.",
        provider_label(waiting.provider),
        waiting.until.format("%Y-%m-%d %H:%M:%S UTC"),
        if secs >= 120 {
            format!("{} min", secs / 60)
        } else {
            format!("{secs} s")
        }
    )
}

/// The live part of a run's page: status, bar, counts, the wait, the errors. While the run still
/// moves it polls `/syncs/{id}/live` every second and is replaced by the answer; the answer for
/// a finished run carries no trigger, so polling stops.
pub fn live(run: &SyncRow, errors: &[RecordError], now: DateTime<Utc>) -> Markup {
    let status = SyncStatus::parse(&run.status);
    let polling = !is_terminal(status);
    let url = format!("/syncs/{}/live", run.id);
    let bar = bar(&run.progress, status);
    let p = &run.progress;
    html! {
        section #sync-live .sync-live
            hx-get=[polling.then_some(url.as_str())]
            hx-trigger=[polling.then_some("every 1s")]
            hx-swap=[polling.then_some("outerHTML")]
            aria-live="polite" {
            div.run-status {
                span #sync-status class=(status_class(status)) { (run.status) }
                @if let Some(b) = bar {
                    progress #sync-progress value=(b.value) max=(b.max) { (b.percent()) "%" }
                    span.percent { (b.percent()) "%" }
                } @else {
                    progress #sync-progress { "starting" }
                }
            }
            p.progress-text {
                (thousands(p.read)) " read · " (thousands(p.written)) " written · "
                (thousands(p.processed)) " done"
                @match p.total {
                    Some(total) => {
                        " of " (thousands(total))
                        @if p.total_is_estimate { " (estimated)" }
                    }
                    None => { @if polling { " of a total not known yet" } }
                }
            }
            @if let Some(w) = &run.waiting {
                p.waiting role="status" { (waiting_note(w, now)) }
            }
            @if let Some(e) = &run.error {
                p.error { (e) }
            }
            dl.counts {
                @for (key, label) in COUNTS {
                    div {
                        dt { (label) }
                        dd data-count=(key) { (thousands(count(&run.counts, key))) }
                    }
                }
            }
            (error_list(run, errors))
        }
    }
}

/// The run's record errors with their codes (the first page of them; all: the API).
fn error_list(run: &SyncRow, errors: &[RecordError]) -> Markup {
    if errors.is_empty() {
        return html! {};
    }
    let failed = run.counts.failed;
    html! {
        h2 { "Record errors" }
        @if (errors.len() as u64) < failed {
            p.hint {
                "The first " (errors.len()) " of " (thousands(failed)) ". All of them: "
                code { "GET /v1/syncs/" (run.id) "/errors" }
            }
        }
        table.list.record-errors {
            thead { tr { th { "Record" } th { "Code" } th { "Message" } } }
            tbody {
                @for e in errors {
                    tr {
                        td data-label="Record" { code { (e.record_id) } }
                        td data-label="Code" { code.error-code { (e.code) } }
                        td data-label="Message" { (e.message) }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fluxcascade_core::{ProviderKind, WaitReason};

    fn progress(read: u64, processed: u64, total: Option<u64>) -> Progress {
        Progress {
            read,
            written: processed,
            processed,
            total,
            total_is_estimate: false,
        }
    }

    fn run(status: &str) -> SyncRow {
        SyncRow {
            id: uuid::Uuid::nil(),
            org_id: uuid::Uuid::nil(),
            mapping_id: uuid::Uuid::nil(),
            status: status.into(),
            trigger: "manual".into(),
            mode: "full".into(),
            created_at: Utc::now(),
            started_at: None,
            finished_at: None,
            counts: Counts::default(),
            error: None,
            progress: progress(0, 0, None),
            waiting: None,
        }
    }

    #[test]
    fn the_bar_is_processed_of_the_total() {
        let running = Some(SyncStatus::Running);
        assert_eq!(
            bar(&progress(400, 250, Some(1000)), running),
            Some(Bar {
                value: 250,
                max: 1000
            })
        );
        assert_eq!(
            bar(&progress(400, 250, Some(1000)), running)
                .unwrap()
                .percent(),
            25
        );
        assert_eq!(bar(&progress(10, 0, None), running), None, "no total yet");
        assert_eq!(bar(&progress(0, 0, Some(0)), running), None);
        // Finished: the total is what it read; nothing read is a full bar.
        let done = Some(SyncStatus::Completed);
        assert_eq!(
            bar(&progress(7, 7, None), done),
            Some(Bar { value: 7, max: 7 })
        );
        assert_eq!(
            bar(&progress(0, 0, None), done),
            Some(Bar { value: 1, max: 1 })
        );
        // Never beyond the bar's end.
        let b = bar(&progress(12, 12, Some(10)), running).unwrap();
        assert_eq!((b.value, b.max, b.percent()), (12, 12, 100));
    }

    #[test]
    fn polling_stops_once_the_run_is_over() {
        for s in ["pending", "running"] {
            let html = live(&run(s), &[], Utc::now()).into_string();
            assert!(html.contains(r#"hx-trigger="every 1s""#), "{s}: {html}");
            assert!(html.contains(r#"hx-get="/syncs/00000000-0000-0000-0000-000000000000/live""#));
        }
        for s in ["completed", "partial", "failed"] {
            let html = live(&run(s), &[], Utc::now()).into_string();
            assert!(!html.contains("hx-trigger"), "{s}: {html}");
            assert!(!html.contains("hx-get"), "{s}");
            assert!(html.contains(r#"id="sync-status" class="#));
            assert!(html.contains(&format!(">{s}</span>")), "{s}: {html}");
        }
    }

    #[test]
    fn a_waiting_run_names_the_provider_and_until_when() {
        let now = Utc::now();
        let until = now + chrono::Duration::seconds(42);
        let mut r = run("running");
        r.waiting = Some(Waiting {
            reason: WaitReason::RateLimit,
            provider: ProviderKind::Jobber,
            until,
        });
        let html = live(&r, &[], now).into_string();
        assert!(
            html.contains("Waiting on Jobber&#39;s rate limit until")
                || html.contains("Waiting on Jobber's rate limit until"),
            "{html}"
        );
        assert!(html.contains(&until.format("%H:%M:%S UTC").to_string()));
        assert!(html.contains("(in 42 s)"), "{html}");
    }

    #[test]
    fn counts_and_errors_are_shown_with_their_codes() {
        let mut r = run("partial");
        r.counts = Counts {
            read: 1200,
            created: 1000,
            updated: 0,
            skipped: 0,
            failed: 200,
            deleted: 0,
        };
        let errors = [RecordError {
            record_id: "r1".into(),
            code: "required_field_missing".into(),
            message: "lastName is required".into(),
        }];
        let html = live(&r, &errors, Utc::now()).into_string();
        assert!(html.contains(r#"data-count="created">1,000<"#), "{html}");
        assert!(html.contains(r#"data-count="failed">200<"#));
        assert!(html.contains("required_field_missing"));
        assert!(html.contains("The first 1 of 200"));
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }
}
