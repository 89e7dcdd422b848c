//! The Webhooks, Members and Usage pages in a real browser (headless Chromium through
//! chromedriver) against the real binary. Webhooks: the empty state, a refused URL with the API's
//! message at the field, a subscription created with its secret shown once, and its delivery log
//! after a sync delivered an event to a receiver on loopback. Usage: today's figures after that
//! sync and a bar in the chart, at desktop and phone width. Members: an invite created (token shown
//! once) and revoked, an API key created (secret shown once) that works against `/v1/connections`
//! until it is revoked (then 401), a form post without the CSRF field refused (403), and a Member
//! session that sees no create/revoke buttons and whose forged posts are refused.
//! Screenshots: `target/console/4N-*.png`.

mod browser;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, ensure, Context};
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::Router;
use browser::admin::{
    click_in_row, create_api_key, create_webhook, fill, has, invite, open, post_form,
    session_and_csrf, text_of,
};
use browser::{click_button, click_link, log_in, shot, wait_for_text, ChromeDriver};
use fantoccini::{Client, Locator};
use fluxcascade_tests::TestEnv;
use reqwest::Method;
use serde_json::{json, Value};

const SYNC_WAIT: Duration = Duration::from_secs(120);

/// A webhook receiver on loopback answering 200; counts what it got.
async fn receiver() -> anyhow::Result<(Arc<AtomicUsize>, String)> {
    async fn receive(State(got): State<Arc<AtomicUsize>>) -> StatusCode {
        got.fetch_add(1, Ordering::SeqCst);
        StatusCode::OK
    }
    let got = Arc::new(AtomicUsize::new(0));
    let app = Router::new()
        .route("/hook", post(receive))
        .with_state(Arc::clone(&got));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/hook", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok((got, url))
}

/// Runs `steps` in a fresh headless browser, closing it whatever happens.
async fn in_browser(
    steps: impl for<'b> AsyncFnOnce(&'b Client) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let driver = ChromeDriver::start().await?;
    let browser = driver.browser().await?;
    let result = steps(&browser).await;
    let _ = browser.close().await;
    result
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_with_their_delivery_log_and_usage_with_a_chart_in_a_browser() -> anyhow::Result<()>
{
    let env = TestEnv::start("console_admin_webhooks", 1).await?;
    in_browser(async |browser| webhooks_and_usage(&env, browser).await).await
}

async fn webhooks_and_usage(env: &TestEnv, browser: &Client) -> anyhow::Result<()> {
    let api = env.api_url.as_str();
    log_in(browser, api, &env.api_key).await?;
    click_link(browser, "Webhooks").await?;
    let page = wait_for_text(browser, "No webhook subscriptions yet.").await?;
    assert!(
        page.contains("Create subscription"),
        "an owner may subscribe"
    );
    shot(browser, "40-webhooks-empty").await?;

    // A URL the API refuses: its message, the API's own, at the URL field; the URL is kept.
    let bad_url = "ftp://127.0.0.1/hook";
    let (status, refused) = env
        .api(
            Method::POST,
            "/v1/webhooks",
            Some(json!({"url": bad_url, "events": ["sync.completed"]})),
        )
        .await?;
    assert_eq!(status, 422, "{refused}");
    let api_message = refused["error"]["details"][0]["message"]
        .as_str()
        .context("the API's message")?;
    create_webhook(browser, bad_url, &["sync.completed"]).await?;
    assert_eq!(text_of(browser, "#webhook-url-error").await?, api_message);
    let kept = browser
        .find(Locator::Css("#webhook-url"))
        .await?
        .prop("value")
        .await?;
    assert_eq!(kept.as_deref(), Some(bad_url));
    shot(browser, "41-webhook-refused-url").await?;

    // A receiver on loopback: created, its secret shown once.
    let (got, url) = receiver().await?;
    create_webhook(browser, &url, &["sync.completed"]).await?;
    let secret = text_of(browser, "#webhook-secret").await?;
    ensure!(secret.len() >= 16, "secret shown: {secret:?}");
    let page = browser.source().await?;
    assert!(page.contains(&url) && page.contains("none yet"), "{page}");
    shot(browser, "42-webhook-created").await?;
    open(browser, api, "/webhooks").await?;
    let page = wait_for_text(browser, &url).await?;
    assert!(!page.contains(&secret), "the secret is shown only once");
    let hooks = env.api_ok(Method::GET, "/v1/webhooks", None).await?;
    assert_eq!(hooks["data"].as_array().map(Vec::len), Some(1), "{hooks}");

    // A sync produces a delivery; the log shows it (the page polls while it is pending).
    env.seed("hubspot", "contacts", 5).await?;
    let hubspot = env.connect("hubspot").await?;
    let jobber = env.connect("jobber").await?;
    let mapping = env.contacts_to_clients(&hubspot, &jobber).await?;
    let sync_id = env.trigger_sync(&mapping, "full").await?;
    let run = env.wait_sync(&sync_id, SYNC_WAIT).await?;
    assert_eq!(run["status"], "completed", "{run}");
    click_link(browser, "Delivery log").await?;
    wait_for_text(browser, "sync.completed").await?;
    wait_for_text(browser, "badge ok").await?;
    assert!(
        got.load(Ordering::SeqCst) >= 1,
        "the receiver got the event"
    );
    assert_eq!(
        text_of(browser, "tr[data-delivery] td[data-label=Status]").await?,
        "delivered"
    );
    assert_eq!(
        text_of(browser, "tr[data-delivery] td[data-label=Code]").await?,
        "200"
    );
    shot(browser, "43-webhook-delivery-log").await?;
    click_link(browser, "Webhooks").await?;
    let page = wait_for_text(browser, &url).await?;
    assert!(
        page.contains(">delivered<"),
        "the list shows the last delivery"
    );

    // Usage: today's figures and a bar in the chart.
    click_link(browser, "Usage").await?;
    wait_for_text(browser, "(today)").await?;
    let today = chrono::Utc::now().date_naive();
    let read = text_of(
        browser,
        &format!("tr[data-day='{today}'] td[data-label=Read]"),
    )
    .await?;
    assert_eq!(read, "5");
    let bars = browser
        .find_all(Locator::Css("figure.usage-chart rect.bar"))
        .await?;
    ensure!(!bars.is_empty(), "the chart has no bar");
    let mut tallest = 0.0_f64;
    for b in &bars {
        let h: f64 = b.attr("height").await?.unwrap_or_default().parse()?;
        tallest = tallest.max(h);
    }
    ensure!(tallest > 0.0, "the bars are flat");
    assert!(
        has(browser, "figure.usage-chart svg text").await?,
        "axis labels"
    );
    shot(browser, "44-usage").await?;
    browser.set_window_size(390, 844).await?;
    browser.refresh().await?;
    wait_for_text(browser, "(today)").await?;
    shot(browser, "45-usage-phone").await?;
    browser.set_window_size(1280, 900).await?;

    // A bad date: the API's message at its field, never a 500.
    open(browser, api, "/usage?from=2026-13-01").await?;
    assert_eq!(
        text_of(browser, "#usage-from-error").await?,
        "must be a date YYYY-MM-DD"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_invites_and_api_keys_with_their_role_rules_in_a_browser() -> anyhow::Result<()> {
    let env = TestEnv::start("console_admin_members", 0).await?;
    in_browser(async |browser| members(&env, browser).await).await
}

async fn members(env: &TestEnv, browser: &Client) -> anyhow::Result<()> {
    let api = env.api_url.as_str();
    log_in(browser, api, &env.api_key).await?;
    click_link(browser, "Members").await?;
    let page = wait_for_text(browser, "No pending invites.").await?;
    assert!(page.contains("owner@e2e.test"));
    assert_eq!(
        text_of(browser, "table.members td[data-label=Role]").await?,
        "owner"
    );
    shot(browser, "46-members").await?;

    // An invite: refused email at the field; then created, its token shown once; then revoked.
    fill(browser, "#invite-email", "not-an-email").await?;
    click_button(browser, "Invite").await?;
    assert_eq!(
        text_of(browser, "#invite-email-error").await?,
        "must be an email address (name@domain)"
    );
    let token = invite(browser, "new.person@example.com", "admin").await?;
    let row = text_of(browser, "table.invites tbody tr").await?;
    assert!(
        row.contains("new.person@example.com") && row.contains("admin"),
        "{row}"
    );
    shot(browser, "47-invite-created").await?;
    let page = open(browser, api, "/members").await?;
    assert!(!page.contains(&token), "the token is shown only once");
    click_in_row(browser, "new.person@example.com", "Revoke").await?;
    let page = wait_for_text(browser, "Invite revoked").await?;
    assert!(
        !page.contains("new.person@example.com"),
        "no longer pending"
    );
    let (status, _) = env
        .api(
            Method::POST,
            "/v1/invites/accept",
            Some(json!({"token": token})),
        )
        .await?;
    assert_eq!(status, 400, "a revoked invite cannot be accepted");

    // An API key: its secret shown once, it works, and after Revoke it is refused.
    let secret = create_api_key(browser, "deploy-bot").await?;
    shot(browser, "48-api-key-created").await?;
    let with_key = |key: String| {
        let http = env.http.clone();
        let url = format!("{api}/v1/connections");
        async move {
            anyhow::Ok(
                http.get(url)
                    .bearer_auth(key)
                    .send()
                    .await?
                    .status()
                    .as_u16(),
            )
        }
    };
    assert_eq!(with_key(secret.clone()).await?, 200);
    let page = open(browser, api, "/members").await?;
    assert!(!page.contains(&secret), "the secret is shown only once");
    assert!(page.contains("deploy-bot"));
    click_in_row(browser, "deploy-bot", "Revoke").await?;
    let page = wait_for_text(browser, "API key revoked").await?;
    assert!(!page.contains("deploy-bot"));
    assert_eq!(with_key(secret).await?, 401);

    // A form post without the CSRF field: 403, nothing created.
    let (session, csrf) = session_and_csrf(browser).await?;
    for path in ["/members/api-keys", "/members/invites", "/webhooks"] {
        let (status, body) = post_form(
            &env.http,
            api,
            &session,
            path,
            &[
                ("name", "sneaky"),
                ("email", "x@example.com"),
                ("role", "member"),
            ],
        )
        .await?;
        assert_eq!(status, 403, "{path}: {body}");
    }
    let (status, _) = post_form(
        &env.http,
        api,
        &session,
        "/members/api-keys",
        &[("csrf", &csrf), ("name", "with-token")],
    )
    .await?;
    assert_eq!(status, 201, "with the token the same post works");

    // A Member: sees the lists, no buttons; forged posts refused.
    let hook = env
        .api_ok(
            Method::POST,
            "/v1/webhooks",
            Some(json!({"url": "http://127.0.0.1:9/hook", "events": ["sync.failed"]})),
        )
        .await?;
    let hook_id = hook["id"].as_str().context("webhook id")?.to_owned();
    let invited = env
        .api_ok(
            Method::POST,
            "/v1/invites",
            Some(json!({"email": "member@e2e.test", "role": "member"})),
        )
        .await?;
    let accepted: Value = env
        .http
        .post(format!("{api}/v1/invites/accept"))
        .json(&json!({"token": invited["token"]}))
        .send()
        .await?
        .json()
        .await?;
    let member_key = accepted["apiKey"]["secret"]
        .as_str()
        .context("the member's key")?;
    click_button(browser, "Log out").await?;
    wait_for_text(browser, "Paste an API key").await?;
    log_in(browser, api, member_key).await?;
    open(browser, api, "/members").await?;
    let page = wait_for_text(browser, "owner@e2e.test").await?;
    assert!(page.contains("member@e2e.test"));
    for absent in [
        "Create key",
        "Invite</button>",
        "Revoke",
        "Change role",
        "Remove",
    ] {
        assert!(!page.contains(absent), "a Member sees no {absent:?}");
    }
    shot(browser, "49-members-as-member").await?;
    open(browser, api, "/webhooks").await?;
    let page = wait_for_text(browser, "127.0.0.1:9").await?;
    assert!(!page.contains("Create subscription") && !page.contains(">Delete<"));
    let (session, csrf) = session_and_csrf(browser).await?;
    let forged: [(&str, Vec<(&str, &str)>); 3] = [
        (
            &format!("/webhooks/{hook_id}/delete"),
            vec![("csrf", &csrf)],
        ),
        ("/members/api-keys", vec![("csrf", &csrf), ("name", "mine")]),
        (
            "/members/invites",
            vec![
                ("csrf", &csrf),
                ("email", "y@example.com"),
                ("role", "admin"),
            ],
        ),
    ];
    for (path, form) in &forged {
        let (status, body) = post_form(&env.http, api, &session, path, form).await?;
        if status != 403 {
            bail!("a Member's forged POST {path} answered {status}: {body}");
        }
    }
    let (status, _) = env
        .api(Method::GET, &format!("/v1/webhooks/{hook_id}"), None)
        .await?;
    assert_eq!(status, 200, "the webhook is still there");
    Ok(())
}
