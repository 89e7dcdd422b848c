//! Browser steps: the Webhooks, Members and Usage pages' steps (log in, fill and submit their
//! forms, read what the page shows once, forge a post with the browser's own session).

use anyhow::{bail, Context};
use fantoccini::{Client, Locator};

use super::{click_button, WAIT};

/// Opens a console page by its path.
pub async fn open(browser: &Client, api_url: &str, path: &str) -> anyhow::Result<String> {
    browser.goto(&format!("{api_url}{path}")).await?;
    Ok(browser.source().await?)
}

/// Types `text` into the input `css` (after clearing it).
pub async fn fill(browser: &Client, css: &str, text: &str) -> anyhow::Result<()> {
    let input = browser
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css(css))
        .await
        .with_context(|| format!("no input {css}"))?;
    input.clear().await?;
    input.send_keys(text).await?;
    Ok(())
}

/// The text of the element `css`.
pub async fn text_of(browser: &Client, css: &str) -> anyhow::Result<String> {
    let el = browser
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css(css))
        .await
        .with_context(|| format!("no element {css}"))?;
    Ok(el.text().await?)
}

/// Whether the page has an element `css` right now.
pub async fn has(browser: &Client, css: &str) -> anyhow::Result<bool> {
    Ok(!browser.find_all(Locator::Css(css)).await?.is_empty())
}

/// Subscribes `url` to `events` on the Webhooks page (the form's event boxes set to exactly
/// those) and submits.
pub async fn create_webhook(browser: &Client, url: &str, events: &[&str]) -> anyhow::Result<()> {
    fill(browser, "#webhook-url", url).await?;
    for checkbox in browser
        .find_all(Locator::Css("fieldset.events input[type=checkbox]"))
        .await?
    {
        let value = checkbox.attr("value").await?.unwrap_or_default();
        let checked = checkbox.prop("checked").await?.as_deref() == Some("true");
        if checked != events.contains(&value.as_str()) {
            checkbox.click().await?;
        }
    }
    click_button(browser, "Create subscription").await
}

/// Clicks the button `label` in the table row whose cells contain `row_text`.
pub async fn click_in_row(browser: &Client, row_text: &str, label: &str) -> anyhow::Result<()> {
    let xpath = format!(
        "//tr[td[contains(normalize-space(), '{row_text}')]]//button[normalize-space()='{label}']"
    );
    browser
        .wait()
        .at_most(WAIT)
        .for_element(Locator::XPath(&xpath))
        .await
        .with_context(|| format!("no {label:?} button in the row of {row_text:?}"))?
        .click()
        .await?;
    Ok(())
}

/// Invites `email` with `role` on the Members page; returns the token it shows once.
pub async fn invite(browser: &Client, email: &str, role: &str) -> anyhow::Result<String> {
    fill(browser, "#invite-email", email).await?;
    browser
        .find(Locator::Css(&format!(
            "#invite-role option[value='{role}']"
        )))
        .await
        .with_context(|| format!("no role {role} to invite with"))?
        .click()
        .await?;
    click_button(browser, "Invite").await?;
    let token = text_of(browser, "#invite-token").await?;
    if !token.starts_with("fci_") {
        bail!("the invite token shown is {token:?}");
    }
    Ok(token)
}

/// Creates an API key named `name` on the Members page; returns the secret it shows once.
pub async fn create_api_key(browser: &Client, name: &str) -> anyhow::Result<String> {
    fill(browser, "#key-name", name).await?;
    click_button(browser, "Create key").await?;
    let secret = text_of(browser, "#api-key-secret").await?;
    if !secret.starts_with("fc_") {
        bail!("the key secret shown is {secret:?}");
    }
    Ok(secret)
}

/// The browser's session cookie and the page's CSRF token: what a forged or hand-made post needs.
pub async fn session_and_csrf(browser: &Client) -> anyhow::Result<(String, String)> {
    let cookie = browser
        .get_named_cookie("fc_session")
        .await
        .context("no session cookie")?;
    let csrf = browser
        .find(Locator::Css("form.logout input[name=csrf]"))
        .await?
        .attr("value")
        .await?
        .context("no csrf field")?;
    Ok((cookie.value().to_owned(), csrf))
}

/// Posts a form to the console as the browser's session would (no redirects followed).
pub async fn post_form(
    http: &reqwest::Client,
    api_url: &str,
    session: &str,
    path: &str,
    form: &[(&str, &str)],
) -> anyhow::Result<(u16, String)> {
    let resp = http
        .post(format!("{api_url}{path}"))
        .header(reqwest::header::COOKIE, format!("fc_session={session}"))
        .form(form)
        .send()
        .await?;
    let status = resp.status().as_u16();
    Ok((status, resp.text().await?))
}
