//! The console in a real browser: headless Chromium driven through chromedriver (WebDriver, the
//! `fantoccini` crate) against the real binary. Logs in with the org's key, sees the empty
//! Connections page, connects HubSpot and then Jobber through the sandbox's consent pages and is
//! back on Connections with each one active; then the Mappings and Syncs pages, empty and with a
//! mapping and a run, the phone width, and logout. Screenshots of each step go to
//! `target/console/NN-step.png` (`scripts/services.sh` installs `chromium` and `chromium-driver`).

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{bail, Context};
use fantoccini::{Client, ClientBuilder, Locator};
use fluxcascade_tests::TestEnv;
use serde_json::json;

const WAIT: Duration = Duration::from_secs(20);

/// A chromedriver on a free port, killed when dropped.
struct ChromeDriver {
    child: Child,
    url: String,
}

impl ChromeDriver {
    async fn start() -> anyhow::Result<ChromeDriver> {
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let child = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context(
                "chromedriver is not installed: run scripts/services.sh \
                 (apt-get install -y chromium chromium-driver)",
            )?;
        let driver = ChromeDriver {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        let http = reqwest::Client::new();
        for _ in 0..100 {
            let ready = http
                .get(format!("{}/status", driver.url))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if ready {
                return Ok(driver);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        bail!("chromedriver did not answer on {}", driver.url)
    }

    async fn browser(&self) -> anyhow::Result<Client> {
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            json!({"args": ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                            "--window-size=1280,900"]}),
        );
        Ok(ClientBuilder::native()
            .capabilities(caps)
            .connect(&self.url)
            .await?)
    }
}

impl Drop for ChromeDriver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `target/console/` (beside the binary the test runs).
fn screenshot_dir() -> anyhow::Result<PathBuf> {
    let dir = fluxcascade_tests::procs::bin_path()
        .parent()
        .and_then(|p| p.parent())
        .context("no target dir above the binary")?
        .join("console");
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

async fn shot(browser: &Client, name: &str) -> anyhow::Result<()> {
    let png = browser.screenshot().await?;
    let path = screenshot_dir()?.join(format!("{name}.png"));
    std::fs::write(&path, png)?;
    println!("screenshot {}", path.display());
    Ok(())
}

/// Waits until the page's text contains `text`.
async fn wait_for_text(browser: &Client, text: &str) -> anyhow::Result<String> {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let source = browser.source().await?;
        if source.contains(text) {
            return Ok(source);
        }
        if tokio::time::Instant::now() > deadline {
            bail!(
                "the page at {} never showed {text:?}:\n{source}",
                browser.current_url().await?
            );
        }
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
}

/// Clicks the button labelled `label`.
async fn click_button(browser: &Client, label: &str) -> anyhow::Result<()> {
    browser
        .wait()
        .at_most(WAIT)
        .for_element(Locator::XPath(&format!(
            "//button[normalize-space()='{label}']"
        )))
        .await
        .with_context(|| format!("no button {label:?}"))?
        .click()
        .await?;
    Ok(())
}

/// Follows the navigation link labelled `label`.
async fn click_link(browser: &Client, label: &str) -> anyhow::Result<()> {
    browser
        .find(Locator::LinkText(label))
        .await
        .with_context(|| format!("no link {label:?}"))?
        .click()
        .await?;
    Ok(())
}

/// The provider's card on the Connections page, with its status.
async fn card_status(browser: &Client, provider: &str) -> anyhow::Result<String> {
    let card = browser
        .find(Locator::XPath(&format!(
            "//li[contains(@class,'card')][.//span[@class='provider' and text()='{provider}']]"
        )))
        .await
        .with_context(|| format!("no {provider} card"))?;
    Ok(card.find(Locator::Css(".badge")).await?.text().await?)
}

async fn connect_through_consent(browser: &Client, label: &str) -> anyhow::Result<()> {
    click_button(browser, &format!("Connect {label}")).await?;
    // The sandbox's consent page approves and sends the browser back to our callback, which
    // forwards to the Connections page.
    wait_for_text(browser, &format!("{label} account connected.")).await?;
    let url = browser.current_url().await?;
    if url.path() != "/connections" {
        bail!("after connecting {label} the browser is at {url}");
    }
    Ok(())
}

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
