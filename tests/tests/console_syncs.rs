//! The Syncs and Dead letters pages in a real browser (headless Chromium, see `browser/`) against
//! the real binary: Run now on a 1,000-contact import, the progress bar advancing to completed
//! and the 1,000 clients created count; Run again with records missing a required field showing
//! their error codes; a run waiting on Jobber's rate limit saying so; a dead letter listed,
//! replayed and shown replayed. Over plain HTTP: a Member sees no Run now / Replay and is refused
//! on the server, and a Run now without the CSRF field is 403. Screenshots `3x-*.png`.

mod browser;

use std::time::Duration;

use anyhow::{ensure, Context};
use browser::syncs::{
    count_on_run_page, dead_letter_row, open_dead_letters, replay_dead_letter, run_now_and_watch,
    run_status, watch_run,
};
use browser::{click_button, log_in, shot, wait_for_text, ChromeDriver};
use fantoccini::{Client, Locator};
use fluxcascade_queue::{JobEnvelope, JobKind, Publisher, QueueConfig};
use fluxcascade_tests::{TestEnv, AMQP_URL};
use reqwest::header::{COOKIE, SET_COOKIE};
use reqwest::Method;
use serde_json::{json, Value};

const CONTACTS: u64 = 1000;

/// HubSpot and Jobber connected through the OAuth flow, and the demo mapping between them.
async fn connect_and_map(env: &TestEnv) -> anyhow::Result<String> {
    let hubspot = env.connect_account("hubspot", None).await?;
    let jobber = env.connect_account("jobber", None).await?;
    env.contacts_to_clients(
        hubspot["id"].as_str().context("hubspot id")?,
        jobber["id"].as_str().context("jobber id")?,
    )
    .await
}

/// Runs `steps` with a fresh headless browser, closing it whatever happened.
async fn with_browser<F, Fut>(steps: F) -> anyhow::Result<()>
where
    F: FnOnce(Client) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    let driver = ChromeDriver::start().await?;
    let browser = driver.browser().await?;
    let result = steps(browser.clone()).await;
    let _ = browser.close().await;
    result
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_now_shows_the_progress_the_counts_and_the_record_errors() -> anyhow::Result<()> {
    let mut env = TestEnv::start("console_syncs_run", 0).await?;
    env.seed("hubspot", "contacts", CONTACTS).await?;
    // Pages of 50, one job at a time.
    env.add_worker(&[
        ("FLUXCASCADE_PAGE_SIZE", "50"),
        ("FLUXCASCADE_WORKER_CONCURRENCY", "1"),
    ])
    .await?;
    connect_and_map(&env).await?;
    with_browser(|browser| async move {
        let browser = &browser;
        log_in(browser, &env.api_url, &env.api_key).await?;
        browser.goto(&format!("{}/syncs", env.api_url)).await?;
        let page = wait_for_text(browser, "No syncs have run yet.").await?;
        ensure!(page.contains("press Run now"), "the empty state says what to do");
        shot(browser, "30-syncs-empty").await?;

        // Every provider request takes 100 ms: the run lasts a few seconds, so the bar is seen
        // part way however fast the machine is.
        env.sandbox_config(json!({"latencyMs": 100})).await?;
        let watched = run_now_and_watch(&env, browser, "contacts to clients", "full").await?;
        env.sandbox_config(json!({"latencyMs": 0})).await?;
        println!("{} looks at the bar, the first {:?}", watched.bars.len(), watched.bars.first());
        ensure!(
            watched.saw_in_between(),
            "the bar was seen part way: {:?}",
            watched.bars
        );
        ensure!(
            watched.bars.last() == Some(&(CONTACTS, CONTACTS)),
            "{:?}",
            watched.bars
        );
        assert_eq!(count_on_run_page(browser, "created").await?, CONTACTS);
        assert_eq!(count_on_run_page(browser, "read").await?, CONTACTS);
        assert_eq!(count_on_run_page(browser, "failed").await?, 0);
        let page = browser.source().await?;
        ensure!(page.contains("1,000"), "the counts read as people write them");
        ensure!(!page.contains("Record errors"), "no errors, no error list");
        let sync_id = watched.sync_id.clone();

        // The Syncs list: the run, its counts, a link to its page.
        browser.goto(&format!("{}/syncs", env.api_url)).await?;
        wait_for_text(browser, "contacts to clients").await?;
        let row = browser
            .find(Locator::Css(&format!("tr[data-sync='{sync_id}']")))
            .await
            .context("the run is listed")?;
        let created = row
            .find(Locator::Css("[data-count='created']"))
            .await?
            .text()
            .await?;
        assert_eq!(created, "1,000");
        shot(browser, "32-syncs-list").await?;
        browser.set_window_size(390, 844).await?;
        shot(browser, "33-syncs-list-phone").await?;
        row.find(Locator::Css("a")).await?.click().await?;
        wait_for_text(browser, "Run again").await?;
        assert_eq!(run_status(browser).await?, "completed");
        shot(browser, "34-syncs-run-phone").await?;
        browser.set_window_size(1280, 900).await?;

        // Three new contacts without a last name (required in the mapping): Run again fails
        // just them, with their code, and the run is partial.
        for i in 0..3 {
            env.http
                .post(format!("{}/_sandbox/hubspot/contacts", env.sandbox_url))
                .json(&json!({"firstname": format!("Nameless{i}"), "email": format!("n{i}@e2e.test")}))
                .send()
                .await?
                .error_for_status()?;
        }
        click_button(browser, "Run again").await?;
        let deadline = tokio::time::Instant::now() + browser::WAIT;
        while browser.current_url().await?.path() == format!("/syncs/{sync_id}") {
            ensure!(tokio::time::Instant::now() < deadline, "Run again stayed on the run");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        wait_for_text(browser, "Run of").await?;
        let again = watch_run(browser, "35-syncs-again").await?;
        assert_ne!(again.sync_id, sync_id, "a new run");
        assert_eq!(again.statuses.last().map(String::as_str), Some("partial"));
        assert_eq!(count_on_run_page(browser, "failed").await?, 3);
        let page = wait_for_text(browser, "Record errors").await?;
        let codes = browser
            .find_all(Locator::Css(".record-errors code.error-code"))
            .await?;
        assert_eq!(codes.len(), 3, "each failed record is listed");
        for code in codes {
            assert_eq!(code.text().await?, "required_field_missing");
        }
        ensure!(page.contains("lastName"), "the message names the field");
        Ok(())
    })
    .await
}

/// A console session over plain HTTP: the cookie and the page's CSRF token.
struct Session {
    cookie: String,
    csrf: String,
}

async fn http_login(env: &TestEnv, key: &str) -> anyhow::Result<Session> {
    let resp = env
        .http
        .post(format!("{}/login", env.api_url))
        .form(&[("api_key", key)])
        .send()
        .await?;
    ensure!(resp.status() == 303, "login answered {}", resp.status());
    let cookie = resp
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("fc_session="))
        .and_then(|v| v.split(';').next())
        .context("no session cookie")?
        .to_owned();
    let page = env
        .http
        .get(format!("{}/syncs", env.api_url))
        .header(COOKIE, &cookie)
        .send()
        .await?
        .text()
        .await?;
    let csrf = page
        .split(r#"name="csrf" value=""#)
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .context("no CSRF field on the page")?
        .to_owned();
    Ok(Session { cookie, csrf })
}

impl Session {
    async fn get(&self, env: &TestEnv, path: &str) -> anyhow::Result<(u16, String)> {
        let resp = env
            .http
            .get(format!("{}{path}", env.api_url))
            .header(COOKIE, &self.cookie)
            .send()
            .await?;
        Ok((resp.status().as_u16(), resp.text().await?))
    }

    async fn post(
        &self,
        env: &TestEnv,
        path: &str,
        form: &[(&str, &str)],
    ) -> anyhow::Result<(u16, String)> {
        let resp = env
            .http
            .post(format!("{}{path}", env.api_url))
            .header(COOKIE, &self.cookie)
            .form(form)
            .send()
            .await?;
        Ok((resp.status().as_u16(), resp.text().await?))
    }
}

/// A Member's key, through an invite the env's Owner makes and the member accepts.
async fn member_key(env: &TestEnv) -> anyhow::Result<String> {
    let invite = env
        .api_ok(
            Method::POST,
            "/v1/invites",
            Some(json!({"email": "member@e2e.test", "role": "member"})),
        )
        .await?;
    let resp = env
        .http
        .post(format!("{}/v1/invites/accept", env.api_url))
        .json(&json!({"token": invite["token"]}))
        .send()
        .await?;
    ensure!(resp.status() == 201, "accept answered {}", resp.status());
    let v: Value = resp.json().await?;
    Ok(v["apiKey"]["secret"].as_str().context("secret")?.to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_only_read_and_a_post_without_csrf_is_refused() -> anyhow::Result<()> {
    let env = TestEnv::start("console_syncs_roles", 0).await?;
    let mapping = connect_and_map(&env).await?;
    let admin = http_login(&env, &env.api_key).await?;
    let member = http_login(&env, &member_key(&env).await?).await?;

    let (s, page) = admin.get(&env, "/syncs").await?;
    assert_eq!(s, 200);
    ensure!(page.contains(">Run now</button>"), "an Owner sees Run now");
    let (s, page) = member.get(&env, "/syncs").await?;
    assert_eq!(s, 200);
    ensure!(!page.contains("Run now"), "a Member sees no Run now");
    ensure!(page.contains("an admin starts one"), "{page}");

    // A Member's Run now is refused on the server too, CSRF token or not; nothing starts.
    let (s, page) = member
        .post(
            &env,
            "/syncs",
            &[
                ("csrf", &member.csrf),
                ("mapping_id", &mapping),
                ("mode", "full"),
            ],
        )
        .await?;
    assert_eq!(s, 403, "{page}");
    // Without the CSRF field: 403 csrf_failed, even for the Owner.
    let (s, body) = admin
        .post(
            &env,
            "/syncs",
            &[("mapping_id", &mapping), ("mode", "full")],
        )
        .await?;
    assert_eq!(s, 403, "{body}");
    ensure!(body.contains("csrf_failed"), "{body}");
    let (s, body) = admin
        .post(
            &env,
            "/syncs",
            &[
                ("csrf", "forged"),
                ("mapping_id", &mapping),
                ("mode", "full"),
            ],
        )
        .await?;
    assert_eq!(s, 403, "{body}");
    let runs = env.api_ok(Method::GET, "/v1/syncs", None).await?;
    assert_eq!(runs["data"], json!([]), "no run was started");

    // Bad input is the form's message at its field, never a 500.
    let (s, page) = admin
        .post(
            &env,
            "/syncs",
            &[
                ("csrf", &admin.csrf),
                ("mapping_id", &mapping),
                ("mode", "sideways"),
            ],
        )
        .await?;
    assert_eq!(s, 422);
    ensure!(page.contains("must be incremental or full"), "{page}");
    let (s, page) = admin
        .post(
            &env,
            "/syncs",
            &[
                ("csrf", &admin.csrf),
                ("mapping_id", &uuid::Uuid::new_v4().to_string()),
                ("mode", "full"),
            ],
        )
        .await?;
    assert_eq!(s, 422);
    ensure!(
        page.contains("no such mapping in this organization"),
        "{page}"
    );
    let (s, _) = admin
        .get(&env, &format!("/syncs/{}", uuid::Uuid::new_v4()))
        .await?;
    assert_eq!(s, 404);
    let (s, _) = admin.get(&env, "/syncs/not-an-id").await?;
    assert_eq!(s, 404);

    // The Owner's Run now with the token: 303 to the new run's page.
    let resp = env
        .http
        .post(format!("{}/syncs", env.api_url))
        .header(COOKIE, &admin.cookie)
        .form(&[
            ("csrf", admin.csrf.as_str()),
            ("mapping_id", &mapping),
            ("mode", "full"),
        ])
        .send()
        .await?;
    assert_eq!(resp.status(), 303);
    let location = resp.headers()["location"].to_str()?.to_owned();
    ensure!(location.starts_with("/syncs/"), "{location}");
    let (s, page) = member.get(&env, &location).await?;
    assert_eq!(s, 200, "a Member reads the run");
    ensure!(page.contains(r#"id="sync-status""#));
    ensure!(!page.contains("Run again"), "but may not run it again");
    let (s, _) = member
        .post(
            &env,
            &format!("{location}/again"),
            &[("csrf", &member.csrf)],
        )
        .await?;
    assert_eq!(s, 403);

    // Dead letters: the empty state, and a Member's replay or delete is refused.
    let (s, page) = member.get(&env, "/dead-letters").await?;
    assert_eq!(s, 200);
    ensure!(page.contains("No dead letters."), "{page}");
    let some = uuid::Uuid::new_v4().to_string();
    for action in ["replay", "delete"] {
        let path = format!("/dead-letters/{some}/{action}");
        let (s, _) = member.post(&env, &path, &[("csrf", &member.csrf)]).await?;
        assert_eq!(s, 403, "a Member's {action}");
        let (s, body) = admin.post(&env, &path, &[]).await?;
        assert_eq!(s, 403, "{action} without CSRF: {body}");
        let (s, body) = admin.post(&env, &path, &[("csrf", &admin.csrf)]).await?;
        assert_eq!(s, 404, "{action} of no such dead letter: {body}");
        ensure!(body.contains("No such dead letter"), "{body}");
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_limit_wait_is_shown_and_a_dead_letter_is_replayed() -> anyhow::Result<()> {
    let mut env = TestEnv::start("console_syncs_wait", 0).await?;
    env.seed("hubspot", "contacts", 40).await?;
    // As tests/sync_progress.rs: pages of 5 clients, one job at a time, 20 Jobber requests per
    // 15 s, so the run must wait for Jobber's window.
    env.add_worker(&[
        ("FLUXCASCADE_RATE_BUDGET", "documented"),
        ("FLUXCASCADE_RATE_BUDGET_HUBSPOT", "off"),
        ("FLUXCASCADE_RATE_BUDGET_JOBBER", "20/15s"),
        ("FLUXCASCADE_PAGE_SIZE", "5"),
        ("FLUXCASCADE_WORKER_CONCURRENCY", "1"),
    ])
    .await?;
    let mapping = connect_and_map(&env).await?;
    with_browser(|browser| async move {
        let browser = &browser;
        log_in(browser, &env.api_url, &env.api_key).await?;
        let page = open_dead_letters(&env, browser).await?;
        ensure!(page.contains("No dead letters."), "the empty state");
        shot(browser, "36-dead-letters-empty").await?;

        let sync = env.trigger_sync(&mapping, "full").await?;
        browser
            .goto(&format!("{}/syncs/{sync}", env.api_url))
            .await?;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
        loop {
            let page = browser.source().await?;
            if page.contains("Waiting on Jobber") {
                ensure!(page.contains("rate limit until"), "{page}");
                ensure!(page.contains("UTC"), "until when");
                break;
            }
            ensure!(
                tokio::time::Instant::now() < deadline,
                "the run page never said it waits on Jobber: {page}"
            );
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
        assert_eq!(run_status(browser).await?, "running");
        shot(browser, "37-syncs-waiting").await?;
        let done = watch_run(browser, "38-syncs-waited").await?;
        assert_eq!(done.statuses.last().map(String::as_str), Some("completed"));
        ensure!(
            !browser.source().await?.contains("Waiting on"),
            "no wait once done"
        );
        assert_eq!(count_on_run_page(browser, "read").await?, 40);

        // A poison job (undecodable batch payload) ends up a dead letter.
        let org: uuid::Uuid = env
            .db()
            .await?
            .query_one("SELECT id FROM organizations", &[])
            .await?
            .get(0);
        let publisher = Publisher::connect(&QueueConfig::new(AMQP_URL, &env.prefix)).await?;
        let poison = JobEnvelope::new(JobKind::Batch, org.to_string(), vec![0xff; 11]);
        publisher.publish(&poison).await?;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
        loop {
            let page = open_dead_letters(&env, browser).await?;
            if page.contains(&poison.job_id) {
                break;
            }
            ensure!(
                tokio::time::Instant::now() < deadline,
                "the dead letter never showed"
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        let row = dead_letter_row(browser, &poison.job_id).await?;
        let text = row.text().await?;
        ensure!(text.contains("undecodable batch job"), "why: {text}");
        ensure!(text.contains("Sync batch"), "what: {text}");
        shot(browser, "39-dead-letters").await?;

        let page = replay_dead_letter(browser, &poison.job_id).await?;
        ensure!(page.contains("queued again as"), "{page}");
        let row = dead_letter_row(browser, &poison.job_id).await?;
        let text = row.text().await?;
        ensure!(text.contains("replayed"), "its replayed state: {text}");
        ensure!(
            row.find(Locator::XPath(".//button[normalize-space()='Replay']"))
                .await
                .is_err(),
            "no second Replay"
        );
        shot(browser, "3a-dead-letters-replayed").await?;
        let letter = env
            .api_ok(Method::GET, "/v1/dead-letters?kind=batch", None)
            .await?;
        let original = letter["data"]
            .as_array()
            .and_then(|d| d.iter().find(|l| l["jobId"] == poison.job_id.as_str()))
            .context("listed in the API")?;
        ensure!(!original["replayedAt"].is_null(), "{original}");
        Ok(())
    })
    .await
}
