//! What the console's browser tests share: a chromedriver on a free port driving headless
//! Chromium (WebDriver, `fantoccini`), screenshots under `target/console/`, and the steps every
//! test takes (wait for text, click a button or link, connect through the sandbox's consent page).
//! Each browser test file includes it with `mod browser;`, and each uses only some of it.
#![allow(dead_code)]

pub mod admin;
pub mod editor;
pub mod syncs;

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{bail, Context};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

pub const WAIT: Duration = Duration::from_secs(20);

/// A chromedriver on a free port, killed when dropped.
pub struct ChromeDriver {
    child: Child,
    url: String,
}

impl ChromeDriver {
    pub async fn start() -> anyhow::Result<ChromeDriver> {
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

    pub async fn browser(&self) -> anyhow::Result<Client> {
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
pub fn screenshot_dir() -> anyhow::Result<PathBuf> {
    let dir = fluxcascade_tests::procs::bin_path()
        .parent()
        .and_then(|p| p.parent())
        .context("no target dir above the binary")?
        .join("console");
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

pub async fn shot(browser: &Client, name: &str) -> anyhow::Result<()> {
    let png = browser.screenshot().await?;
    let path = screenshot_dir()?.join(format!("{name}.png"));
    std::fs::write(&path, png)?;
    println!("screenshot {}", path.display());
    Ok(())
}

/// Waits until the page's text contains `text`.
pub async fn wait_for_text(browser: &Client, text: &str) -> anyhow::Result<String> {
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
pub async fn click_button(browser: &Client, label: &str) -> anyhow::Result<()> {
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
pub async fn click_link(browser: &Client, label: &str) -> anyhow::Result<()> {
    browser
        .find(Locator::LinkText(label))
        .await
        .with_context(|| format!("no link {label:?}"))?
        .click()
        .await?;
    Ok(())
}

/// The provider's card on the Connections page, with its status.
pub async fn card_status(browser: &Client, provider: &str) -> anyhow::Result<String> {
    let card = browser
        .find(Locator::XPath(&format!(
            "//li[contains(@class,'card')][.//span[@class='provider' and text()='{provider}']]"
        )))
        .await
        .with_context(|| format!("no {provider} card"))?;
    Ok(card.find(Locator::Css(".badge")).await?.text().await?)
}

pub async fn connect_through_consent(browser: &Client, label: &str) -> anyhow::Result<()> {
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

/// Logs in through the login page with `key`; the browser ends on the Connections page.
pub async fn log_in(browser: &Client, api_url: &str, key: &str) -> anyhow::Result<()> {
    browser.goto(&format!("{api_url}/login")).await?;
    browser
        .find(Locator::Css("#api_key"))
        .await?
        .send_keys(key)
        .await?;
    click_button(browser, "Log in").await?;
    wait_for_text(browser, "Log out").await?;
    Ok(())
}
