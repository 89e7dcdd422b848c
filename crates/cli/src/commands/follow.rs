//! Following a run until it ends: `GET /v1/syncs/{id}` every 500 ms, shown as an `indicatif`
//! progress bar on stderr (on a terminal) or one line per status change (otherwise).

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use fluxcascade_core::{Counts, SyncStatus};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Deserialize;
use serde_json::Value;

use crate::client::ApiClient;

/// How often the run is read.
pub const POLL_INTERVAL: Duration = Duration::from_millis(500);
/// How long the API may be unreachable (or answer 502/503/504) before following gives up.
pub const TRANSIENT_GRACE: Duration = Duration::from_secs(30);

/// How far the run is, when the API says (`progress` of `GET /v1/syncs/{id}`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Progress {
    pub read: u64,
    pub written: u64,
    #[serde(default)]
    pub total: Option<u64>,
    #[serde(default)]
    pub total_is_estimate: bool,
}

/// What the run waits for, when it waits (`waiting` of `GET /v1/syncs/{id}`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Waiting {
    pub reason: String,
    pub provider: String,
    pub until: DateTime<Utc>,
}

/// The fields of a run that following reads (older APIs have no `progress` or `waiting`).
#[derive(Debug, Clone, Deserialize)]
pub struct RunView {
    pub status: SyncStatus,
    pub counts: Counts,
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default)]
    pub progress: Option<Progress>,
    #[serde(default)]
    pub waiting: Option<Waiting>,
}

impl RunView {
    pub fn is_finished(&self) -> bool {
        matches!(
            self.status,
            SyncStatus::Completed | SyncStatus::Partial | SyncStatus::Failed
        )
    }

    /// Records written so far (or skipped, failed, deleted: done with), from `progress` or the counts.
    pub fn done(&self) -> u64 {
        match &self.progress {
            Some(p) => p.written,
            None => {
                let c = &self.counts;
                c.created + c.updated + c.skipped + c.failed + c.deleted
            }
        }
    }

    pub fn read(&self) -> u64 {
        self.progress.as_ref().map_or(self.counts.read, |p| p.read)
    }

    /// The total, when the API knows it, and whether it is an estimate.
    pub fn total(&self) -> Option<(u64, bool)> {
        let p = self.progress.as_ref()?;
        Some((p.total?, p.total_is_estimate))
    }
}

/// `waiting on jobber's rate limit until 14:03:07` (in `tz`).
pub fn waiting_message<Tz: TimeZone>(w: &Waiting, tz: &Tz) -> String
where
    Tz::Offset: std::fmt::Display,
{
    let until = w.until.with_timezone(tz).format("%H:%M:%S");
    let provider = crate::commands::output::clean(&w.provider);
    match w.reason.as_str() {
        "rate_limit" => format!("waiting on {provider}'s rate limit until {until}"),
        other => format!(
            "waiting on {provider} ({}) until {until}",
            crate::commands::output::clean(other)
        ),
    }
}

/// The bar's message: what the run waits for, else its status and counts.
pub fn bar_message(view: &RunView) -> String {
    match &view.waiting {
        Some(w) => waiting_message(w, &chrono::Local),
        None => format!(
            "{}: read {}, written {}",
            view.status.as_str(),
            view.read(),
            view.done()
        ),
    }
}

/// The line printed (without a terminal) when the status or the wait changes.
pub fn status_line(id: &str, view: &RunView) -> String {
    match &view.waiting {
        Some(w) => format!(
            "sync {id}: {} ({})",
            view.status.as_str(),
            waiting_message(w, &chrono::Local)
        ),
        None => format!("sync {id}: {}", view.status.as_str()),
    }
}

/// What a new line (without a terminal) is printed for: the status, and what the run waits for
/// (not until when: a wait that is extended is the same wait).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeKey {
    status: SyncStatus,
    waiting: Option<(String, String)>,
}

pub fn change_key(view: &RunView) -> ChangeKey {
    ChangeKey {
        status: view.status,
        waiting: view
            .waiting
            .as_ref()
            .map(|w| (w.reason.clone(), w.provider.clone())),
    }
}

/// Where progress goes.
enum Reporter {
    Bar(ProgressBar),
    Lines { last: Option<ChangeKey> },
}

impl Reporter {
    fn new() -> Reporter {
        if std::io::stderr().is_terminal() {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            bar.enable_steady_tick(Duration::from_millis(120));
            Reporter::Bar(bar)
        } else {
            Reporter::Lines { last: None }
        }
    }

    fn update(&mut self, id: &str, view: &RunView) {
        match self {
            Reporter::Bar(bar) => {
                let template = match view.total() {
                    Some((total, estimate)) => {
                        bar.set_length(total.max(view.done()));
                        if estimate {
                            "{spinner} [{elapsed_precise}] {bar:30} {pos}/~{len} {msg}"
                        } else {
                            "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} {msg}"
                        }
                    }
                    None => "{spinner} [{elapsed_precise}] {msg}",
                };
                if let Ok(style) = ProgressStyle::with_template(template) {
                    bar.set_style(style);
                }
                bar.set_position(view.done());
                bar.set_message(bar_message(view));
            }
            Reporter::Lines { last } => {
                let key = change_key(view);
                if last.as_ref() != Some(&key) {
                    eprintln!("{}", status_line(id, view));
                    *last = Some(key);
                }
            }
        }
    }

    fn note(&mut self, text: &str) {
        match self {
            Reporter::Bar(bar) => bar.set_message(text.to_string()),
            Reporter::Lines { .. } => eprintln!("{text}"),
        }
    }

    fn finish(&self) {
        if let Reporter::Bar(bar) = self {
            bar.finish_and_clear();
        }
    }
}

/// How following ended.
pub enum Followed {
    /// The run ended: its last answer and its final status.
    Finished(Value, SyncStatus),
    /// Ctrl-C: the run goes on, only following stopped.
    Interrupted,
}

/// Polls the run until it ends (or Ctrl-C).
pub async fn follow(client: &ApiClient, id: &str) -> anyhow::Result<Followed> {
    let mut display = Reporter::new();
    let result = poll(client, id, &mut display).await;
    display.finish();
    result
}

async fn poll(client: &ApiClient, id: &str, display: &mut Reporter) -> anyhow::Result<Followed> {
    let path = format!("/v1/syncs/{id}");
    let mut ticker = tokio::time::interval(POLL_INTERVAL);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    // Without a Ctrl-C handler (it could not be installed), follow on without one.
    let mut ctrl_c_armed = true;
    let mut failing_since: Option<Instant> = None;
    loop {
        tokio::select! {
            signal = &mut ctrl_c, if ctrl_c_armed => match signal {
                Ok(()) => return Ok(Followed::Interrupted),
                Err(_) => {
                    ctrl_c_armed = false;
                    continue;
                }
            },
            _ = ticker.tick() => {}
        }
        match client.get(&path, &[]).await {
            Ok(raw) => {
                failing_since = None;
                let view: RunView = serde_json::from_value(raw.clone()).map_err(|e| {
                    anyhow::anyhow!("the API's answer for sync {id} is not a run: {e}")
                })?;
                display.update(id, &view);
                if view.is_finished() {
                    return Ok(Followed::Finished(raw, view.status));
                }
            }
            Err(e) if e.is_transient() => match failing_since {
                None => {
                    failing_since = Some(Instant::now());
                    display.note(&format!("retrying: {e}"));
                }
                Some(since) if since.elapsed() > TRANSIENT_GRACE => return Err(e.into()),
                Some(_) => {}
            },
            Err(e) => return Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn view(v: Value) -> RunView {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn an_api_without_progress_falls_back_to_the_counts() {
        let v = view(json!({"id": "s", "status": "running",
            "counts": {"read": 10, "created": 4, "updated": 1, "skipped": 2, "failed": 1, "deleted": 0}}));
        assert_eq!((v.read(), v.done(), v.total()), (10, 8, None));
        assert!(!v.is_finished());
        assert_eq!(bar_message(&v), "running: read 10, written 8");
    }

    #[test]
    fn progress_and_its_total_are_used_when_present() {
        let v = view(json!({"status": "running",
            "counts": {"read": 0, "created": 0, "updated": 0, "skipped": 0, "failed": 0},
            "progress": {"read": 50, "written": 20, "total": 200, "totalIsEstimate": true},
            "waiting": null}));
        assert_eq!((v.read(), v.done(), v.total()), (50, 20, Some((200, true))));
        let v = view(json!({"status": "completed",
            "counts": {"read": 3, "created": 3, "updated": 0, "skipped": 0, "failed": 0},
            "progress": {"read": 3, "written": 3, "total": null}}));
        assert_eq!(v.total(), None);
        assert!(v.is_finished());
    }

    #[test]
    fn a_rate_limit_wait_names_the_provider_and_the_time() {
        let w: Waiting = serde_json::from_value(json!({"reason": "rate_limit",
            "provider": "jobber", "until": "2026-12-04T14:03:07Z"}))
        .unwrap();
        assert_eq!(
            waiting_message(&w, &Utc),
            "waiting on jobber's rate limit until 14:03:07"
        );
        let v = view(json!({"status": "running",
            "counts": {"read": 1, "created": 0, "updated": 0, "skipped": 0, "failed": 0},
            "waiting": {"reason": "rate_limit", "provider": "jobber", "until": "2026-12-04T14:03:07Z"}}));
        assert!(bar_message(&v).starts_with("waiting on jobber's rate limit until "));
        assert!(status_line("s1", &v).starts_with("sync s1: running (waiting on jobber's"));
        let mut later = v.clone();
        later.waiting.as_mut().unwrap().until += chrono::Duration::seconds(5);
        assert_eq!(
            change_key(&v),
            change_key(&later),
            "an extended wait is no new line"
        );
        later.waiting = None;
        assert_ne!(change_key(&v), change_key(&later));
    }
}
