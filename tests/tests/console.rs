//! The console in a real browser: headless Chromium driven through chromedriver (WebDriver, the
//! `fantoccini` crate) against the real binary. Logs in with the org's key, sees the empty
//! Connections page, connects HubSpot and then Jobber through the sandbox's consent pages and is
//! back on Connections with each one active; seeds the HubSpot account with 1,000 contacts; then
//! the Mappings page empty, a contacts → clients mapping made in the editor (a sample fetched in
//! its preview shows a transformed phone), saved; Run now on the Syncs page and the run's progress
//! bar filling up to `completed` with 1,000 clients created; an invalid field's 422 shown at the
//! field in the editor; the phone width, and logout. Screenshots of each step go to
//! `target/console/NN-step.png` (`scripts/services.sh` installs `chromium` and `chromium-driver`).

mod browser;

/// The mapping the flow creates in the editor.
const MAPPING: &str = "contacts to clients";

use anyhow::Context;
use browser::{
    card_status, click_button, click_link, connect_through_consent, editor, shot, syncs,
    wait_for_text, ChromeDriver,
};
use fantoccini::{Client, Locator};
use fluxcascade_tests::TestEnv;

#[tokio::test]
async fn log_in_and_connect_hubspot_and_jobber_in_a_browser() -> anyhow::Result<()> {
    let env = TestEnv::start("console_browser", 1).await?;
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
    // The HubSpot account the browser connected (the sandbox's consent page approves as its
    // `default` account, whose portal id is the connection's externalAccountId) gets 1,000
    // contacts with phones; the editor previews a sample of them.
    let hubspot = conns["data"]
        .as_array()
        .and_then(|all| all.iter().find(|c| c["provider"] == "hubspot"))
        .context("the HubSpot connection")?;
    assert!(
        hubspot["externalAccountId"]
            .as_str()
            .is_some_and(|a| !a.is_empty()),
        "{hubspot}"
    );
    env.seed_account("hubspot", "contacts", "default", 1_000)
        .await?;
    let seeded = env.sandbox_records("hubspot", "contacts").await?;
    assert_eq!(seeded.len(), 1_000);
    assert!(seeded.iter().all(|c| fluxcascade_tests::fields(c)["phone"]
        .as_str()
        .is_some_and(|p| !p.is_empty())));

    editor::create_contacts_to_clients_in_editor(env, browser, MAPPING).await?;
    let page = browser.source().await?;
    assert!(
        page.contains("hubspot 10000001"),
        "the source connection by name"
    );
    let mappings = env
        .api_ok(reqwest::Method::GET, "/v1/mappings", None)
        .await?;
    let saved = mappings["data"]
        .as_array()
        .and_then(|all| all.iter().find(|m| m["name"] == MAPPING))
        .context("the mapping made in the editor")?;
    assert_eq!(saved["source"]["connectionId"], id_of("hubspot")?.as_str());
    assert_eq!(saved["target"]["object"], "clients");
    assert_eq!(saved["fieldPairs"][3]["transform"], "phone_e164");
    assert_eq!(saved["schedule"]["timezone"], "Europe/Paris");

    // Run now from the Syncs page; the run's page shows the bar filling up to completed, with
    // the 1,000 clients created.
    click_link(browser, "Syncs").await?;
    wait_for_text(browser, "No syncs have run yet.").await?;
    let watched = syncs::run_now_and_watch(env, browser, MAPPING, "full").await?;
    assert_eq!(syncs::count_on_run_page(browser, "created").await?, 1_000);
    assert_eq!(syncs::count_on_run_page(browser, "failed").await?, 0);
    let run = env
        .api_ok(
            reqwest::Method::GET,
            &format!("/v1/syncs/{}", watched.sync_id),
            None,
        )
        .await?;
    assert_eq!(run["status"], "completed", "{run}");
    assert_eq!(run["counts"]["created"], 1_000, "{run}");
    assert_eq!(env.sandbox_records("jobber", "clients").await?.len(), 1_000);
    click_link(browser, "Syncs").await?;
    wait_for_text(browser, "1,000").await?;
    shot(browser, "07-syncs-list").await?;

    // A mistake in the editor: the API's 422 is shown at the field, nothing is saved.
    editor::invalid_field_shows_its_422(env, browser, MAPPING).await?;
    editor::editor_at_phone_width(env, browser).await?;
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
