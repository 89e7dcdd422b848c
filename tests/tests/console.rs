//! The console in a real browser: headless Chromium driven through chromedriver (WebDriver, the
//! `fantoccini` crate) against the real binary. Logs in with the org's key, sees the empty
//! Connections page, connects HubSpot and then Jobber through the sandbox's consent pages and is
//! back on Connections with each one active; then the Mappings and Syncs pages, empty and with a
//! mapping and a run, the phone width, and logout. Screenshots of each step go to
//! `target/console/NN-step.png` (`scripts/services.sh` installs `chromium` and `chromium-driver`).

mod browser;

use anyhow::Context;
use browser::{
    card_status, click_button, click_link, connect_through_consent, shot, wait_for_text,
    ChromeDriver,
};
use fantoccini::{Client, Locator};
use fluxcascade_tests::TestEnv;

#[tokio::test]
async fn log_in_and_connect_hubspot_and_jobber_in_a_browser() -> anyhow::Result<()> {
    let env = TestEnv::start("console_browser", 0).await?;
    let driver = ChromeDriver::start().await?;
    let browser = driver.browser().await?;
    let result = run(&env, &browser).await;
    let _ = browser.close().await;
    result
}

async fn run(env: &TestEnv, browser: &Client) -> anyhow::Result<()> {
    browser.goto(&format!("{}/", env.api_url)).await?;
    let url = browser.current_url().await?;
    assert_eq!(url.path(), "/login", "not logged in: the login page");
    browser
        .find(Locator::Css("#api_key"))
        .await?
        .send_keys(&env.api_key)
        .await?;
    shot(browser, "01-login").await?;
    click_button(browser, "Log in").await?;

    let page = wait_for_text(browser, "No connections yet.").await?;
    assert!(page.contains("Connect HubSpot"));
    assert!(!page.contains(&env.api_key), "the key is not on the page");
    shot(browser, "02-connections-empty").await?;

    connect_through_consent(browser, "HubSpot").await?;
    assert_eq!(card_status(browser, "HubSpot").await?, "active");
    shot(browser, "03-hubspot-connected").await?;

    connect_through_consent(browser, "Jobber").await?;
    assert_eq!(card_status(browser, "Jobber").await?, "active");
    assert_eq!(card_status(browser, "HubSpot").await?, "active");
    shot(browser, "04-jobber-connected").await?;

    let conns = env
        .api_ok(reqwest::Method::GET, "/v1/connections", None)
        .await?;
    let mut providers: Vec<&str> = conns["data"]
        .as_array()
        .context("data")?
        .iter()
        .filter_map(|c| c["provider"].as_str())
        .collect();
    providers.sort_unstable();
    assert_eq!(providers, ["hubspot", "jobber"]);

    // Mappings and Syncs: empty states that say what to do, then the lists.
    click_link(browser, "Mappings").await?;
    wait_for_text(browser, "No mappings yet.").await?;
    shot(browser, "05-mappings-empty").await?;
    let id_of = |provider: &str| {
        conns["data"]
            .as_array()
            .and_then(|all| all.iter().find(|c| c["provider"] == provider))
            .and_then(|c| c["id"].as_str())
            .map(str::to_owned)
            .context("connection id")
    };
    let mapping = env
        .contacts_to_clients(&id_of("hubspot")?, &id_of("jobber")?)
        .await?;
    browser.refresh().await?;
    let page = wait_for_text(browser, "contacts to clients").await?;
    assert!(
        page.contains("hubspot 10000001"),
        "the source connection by name"
    );
    shot(browser, "06-mappings-list").await?;
    click_link(browser, "Syncs").await?;
    wait_for_text(browser, "No syncs have run yet.").await?;
    env.trigger_sync(&mapping, "full").await?;
    browser.refresh().await?;
    wait_for_text(browser, "pending").await?;
    shot(browser, "07-syncs-list").await?;
    click_link(browser, "Connections").await?;
    wait_for_text(browser, "Connect Jobber").await?;

    // Phone width: the same page, laid out for it.
    browser.set_window_size(390, 844).await?;
    browser.refresh().await?;
    wait_for_text(browser, "Jobber").await?;
    shot(browser, "08-connections-phone").await?;
    browser.set_window_size(1280, 900).await?;

    // Logging out ends the session: the console is back at the login page.
    click_button(browser, "Log out").await?;
    wait_for_text(browser, "Paste an API key").await?;
    browser
        .goto(&format!("{}/connections", env.api_url))
        .await?;
    assert_eq!(browser.current_url().await?.path(), "/login");
    Ok(())
}
