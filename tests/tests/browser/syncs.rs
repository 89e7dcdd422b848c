//! Browser steps: the Syncs and Dead letters pages' steps (log in, Run now and watch the run's
//! progress bar to the end, read a count or the status off a run's page, replay a dead letter).

use std::time::Duration;

use anyhow::{bail, Context};
use fantoccini::{Client, Locator};
use fluxcascade_tests::TestEnv;

use super::{click_button, shot, wait_for_text};

/// How long a run may take to end on its page.
pub const RUN_WAIT: Duration = Duration::from_secs(180);

/// What a user saw while watching a run.
#[derive(Debug, Clone)]
pub struct Watched {
    pub sync_id: String,
    /// The bar's `(value, max)` at each look, while it had them.
    pub bars: Vec<(u64, u64)>,
    /// The statuses seen, in order, each once.
    pub statuses: Vec<String>,
}

impl Watched {
    /// The bar was seen part way (neither empty nor full) while the run was under way.
    pub fn saw_in_between(&self) -> bool {
        self.bars.iter().any(|&(v, m)| v > 0 && v < m)
    }
}

/// Opens the Syncs page.
pub async fn open_syncs(env: &TestEnv, browser: &Client) -> anyhow::Result<()> {
    browser.goto(&format!("{}/syncs", env.api_url)).await?;
    wait_for_text(browser, "Syncs").await?;
    Ok(())
}

/// The run page's status word (`#sync-status`).
pub async fn run_status(browser: &Client) -> anyhow::Result<String> {
    Ok(browser
        .find(Locator::Css("#sync-status"))
        .await?
        .text()
        .await?
        .trim()
        .to_owned())
}

/// The run page's bar, `(value, max)`, when it has them (none: not started, total unknown).
pub async fn progress_bar(browser: &Client) -> anyhow::Result<Option<(u64, u64)>> {
    let bar = browser.find(Locator::Css("#sync-progress")).await?;
    let value = bar.attr("value").await?;
    let max = bar.attr("max").await?;
    Ok(match (value, max) {
        (Some(v), Some(m)) => Some((v.parse()?, m.parse()?)),
        _ => None,
    })
}

/// One count on the run page (`read`, `created`, `updated`, `skipped`, `deleted`, `failed`), as
/// shown (`1,000`) and read back as a number.
pub async fn count_on_run_page(browser: &Client, key: &str) -> anyhow::Result<u64> {
    let text = browser
        .find(Locator::Css(&format!("#sync-live [data-count='{key}']")))
        .await
        .with_context(|| format!("no {key} count on the run page"))?
        .text()
        .await?;
    text.trim()
        .replace(',', "")
        .parse()
        .with_context(|| format!("the {key} count {text:?}"))
}

/// Watches the open run page until the run ends (the page updates itself), taking a screenshot
/// `{shot_prefix}-running` at the first look while it runs and `{shot_prefix}-done` at the end.
/// The bar never goes back and is full at the end.
pub async fn watch_run(browser: &Client, shot_prefix: &str) -> anyhow::Result<Watched> {
    let url = browser.current_url().await?;
    let sync_id = url
        .path()
        .strip_prefix("/syncs/")
        .filter(|id| !id.is_empty() && !id.contains('/'))
        .with_context(|| format!("not on a run page: {url}"))?
        .to_owned();
    let mut watched = Watched {
        sync_id,
        bars: Vec::new(),
        statuses: Vec::new(),
    };
    let mut shot_running = false;
    let deadline = tokio::time::Instant::now() + RUN_WAIT;
    loop {
        // The live part is swapped every second: an element found just before a swap is stale,
        // so a failed look is simply taken again.
        let look = async {
            Ok::<_, anyhow::Error>((run_status(browser).await?, progress_bar(browser).await?))
        };
        if let Ok((status, bar)) = look.await {
            if watched.statuses.last() != Some(&status) {
                watched.statuses.push(status.clone());
            }
            if let Some(bar) = bar {
                if let Some(&(last, _)) = watched.bars.last() {
                    if bar.0 < last {
                        bail!("the progress bar went back from {last} to {bar:?}");
                    }
                }
                watched.bars.push(bar);
            }
            if status == "running" && !shot_running {
                shot(browser, &format!("{shot_prefix}-running")).await?;
                shot_running = true;
            }
            if matches!(status.as_str(), "completed" | "partial" | "failed") {
                shot(browser, &format!("{shot_prefix}-done")).await?;
                match watched.bars.last() {
                    Some(&(v, m)) if v == m => {}
                    other => bail!("the run ended {status} with the bar at {other:?}"),
                }
                return Ok(watched);
            }
        }
        if tokio::time::Instant::now() > deadline {
            bail!(
                "the run page never showed an end after {RUN_WAIT:?}: {:?}",
                watched.statuses
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Syncs page → pick the mapping by name and the mode (`incremental` or `full`) → Run now → on
/// the run's page, watch the bar advance until the status is `completed` (screenshots
/// `31-syncs-running` and `31-syncs-done`). The browser stays on the run's page.
pub async fn run_now_and_watch(
    env: &TestEnv,
    browser: &Client,
    mapping_name: &str,
    mode: &str,
) -> anyhow::Result<Watched> {
    open_syncs(env, browser).await?;
    run_now(browser, mapping_name, mode).await?;
    let watched = watch_run(browser, "31-syncs").await?;
    let status = watched.statuses.last().cloned().unwrap_or_default();
    if status != "completed" {
        bail!(
            "the run ended {status}, not completed (statuses seen {:?}): {}",
            watched.statuses,
            browser.source().await?
        );
    }
    Ok(watched)
}

/// On the Syncs page: picks the mapping and mode and presses Run now; waits for the run's page.
pub async fn run_now(browser: &Client, mapping_name: &str, mode: &str) -> anyhow::Result<()> {
    browser
        .find(Locator::Css("#mapping_id"))
        .await
        .context("no Run now form (is the user an admin?)")?
        .select_by_label(mapping_name)
        .await
        .with_context(|| format!("no mapping {mapping_name:?} to pick"))?;
    browser
        .find(Locator::Css("#mode"))
        .await?
        .select_by_value(mode)
        .await?;
    click_button(browser, "Run now").await?;
    browser
        .wait()
        .at_most(super::WAIT)
        .for_element(Locator::Css("#sync-live"))
        .await
        .context("Run now did not lead to the run's page")?;
    Ok(())
}

/// Opens the Dead letters page.
pub async fn open_dead_letters(env: &TestEnv, browser: &Client) -> anyhow::Result<String> {
    browser
        .goto(&format!("{}/dead-letters", env.api_url))
        .await?;
    wait_for_text(browser, "A dead letter is a job").await
}

/// The row of the dead letter of job `job_id` on the Dead letters page.
pub async fn dead_letter_row(
    browser: &Client,
    job_id: &str,
) -> anyhow::Result<fantoccini::elements::Element> {
    browser
        .find(Locator::XPath(&format!(
            "//tr[@data-dead-letter][.//code[normalize-space()='{job_id}']]"
        )))
        .await
        .with_context(|| format!("no dead letter of job {job_id} listed"))
}

/// Presses Replay on the dead letter of job `job_id` and waits for the notice.
pub async fn replay_dead_letter(browser: &Client, job_id: &str) -> anyhow::Result<String> {
    dead_letter_row(browser, job_id)
        .await?
        .find(Locator::XPath(".//button[normalize-space()='Replay']"))
        .await
        .context("no Replay button on the dead letter")?
        .click()
        .await?;
    wait_for_text(browser, "Dead letter replayed").await
}
