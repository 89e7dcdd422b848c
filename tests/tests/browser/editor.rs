//! Browser steps: the mapping editor's steps (Mappings page): create a HubSpot contacts → Jobber
//! clients mapping in the editor (schedule with its live fire times, a pasted native record and a
//! sample fetched from the source in the preview pane, a transformed phone seen there), and an
//! invalid field whose 422 shows at that field.

use anyhow::{bail, Context};
use fantoccini::elements::Element;
use fantoccini::{Client, Locator};
use fluxcascade_tests::TestEnv;

use super::{click_button, click_link, shot, wait_for_text, WAIT};

/// Waits until `css` matches an element; returns it.
async fn element(browser: &Client, css: &str) -> anyhow::Result<Element> {
    browser
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css(css))
        .await
        .with_context(|| format!("no element {css:?}"))
}

/// Replaces the text of the input matched by `css`.
async fn type_into(browser: &Client, css: &str, text: &str) -> anyhow::Result<()> {
    let input = element(browser, css).await?;
    input.clear().await?;
    input.send_keys(text).await?;
    Ok(())
}

/// Waits until the text of the element matched by `css` contains `text`; returns that text.
async fn wait_for_text_in(browser: &Client, css: &str, text: &str) -> anyhow::Result<String> {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let now = match browser.find(Locator::Css(css)).await {
            Ok(e) => e.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        if now.contains(text) {
            return Ok(now);
        }
        if tokio::time::Instant::now() > deadline {
            bail!("{css} never showed {text:?}; it shows {now:?}");
        }
        tokio::time::sleep(std::time::Duration::from_millis(150)).await;
    }
}

/// Scrolls the element matched by `css` to the middle of the window (for the screenshot).
async fn scroll_to(browser: &Client, css: &str) -> anyhow::Result<()> {
    let target = element(browser, css).await?;
    browser
        .execute(
            "arguments[0].scrollIntoView({block: 'center'})",
            vec![serde_json::to_value(target)?],
        )
        .await?;
    Ok(())
}

/// Picks the connection whose label starts with `provider` for `side`, then `object` among the
/// objects the page fetched for it.
async fn pick_endpoint(
    browser: &Client,
    side: &str,
    provider: &str,
    object: &str,
) -> anyhow::Result<()> {
    element(browser, &format!("#{side}_connection"))
        .await?
        .find(Locator::XPath(&format!(
            "./option[starts-with(normalize-space(), '{provider}')]"
        )))
        .await
        .with_context(|| format!("no {provider} connection to pick for the {side}"))?
        .click()
        .await?;
    // The object select is swapped for the provider's objects.
    let select = format!("#{side}-object");
    wait_for_text_in(browser, &select, object).await?;
    element(browser, &select)
        .await?
        .select_by_value(object)
        .await?;
    Ok(())
}

/// The field-pair rows on the page.
async fn pair_rows(browser: &Client) -> anyhow::Result<Vec<Element>> {
    Ok(browser.find_all(Locator::Css("#pairs .pair")).await?)
}

/// The input of a field-pair row named `pair.<key>.<suffix>`.
async fn input(row: &Element, suffix: &str) -> anyhow::Result<Element> {
    row.find(Locator::Css(&format!("[name$='.{suffix}']")))
        .await
        .with_context(|| format!("no {suffix} input in the row"))
}

/// Fills the last field-pair row (adding one first unless `first`).
async fn fill_pair(
    browser: &Client,
    first: bool,
    (source, target): (&str, &str),
    transform: Option<(&str, Option<(&str, &str)>)>,
    required: bool,
) -> anyhow::Result<()> {
    let before = pair_rows(browser).await?.len();
    if !first {
        click_button(browser, "Add field").await?;
        let deadline = tokio::time::Instant::now() + WAIT;
        while pair_rows(browser).await?.len() == before {
            if tokio::time::Instant::now() > deadline {
                bail!("\"Add field\" added no row");
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }
    let row = pair_rows(browser)
        .await?
        .pop()
        .context("no field-pair row")?;
    input(&row, "source").await?.send_keys(source).await?;
    input(&row, "target").await?.send_keys(target).await?;
    if let Some((name, option)) = transform {
        input(&row, "transform")
            .await?
            .select_by_value(name)
            .await?;
        if let Some((key, value)) = option {
            // The option's input shows once its transform is picked.
            let field = input(&row, key).await?;
            field.clear().await?;
            field.send_keys(value).await?;
        }
    }
    if required {
        input(&row, "required").await?.click().await?;
    }
    Ok(())
}

/// The value the preview shows for target field `path` of its first record that writes it.
async fn previewed(browser: &Client, path: &str) -> anyhow::Result<String> {
    let cell = browser
        .find(Locator::XPath(&format!(
            "//div[@id='preview-result']//tr[th/code='{path}']/td"
        )))
        .await
        .with_context(|| format!("the preview writes no {path}"))?;
    Ok(cell.text().await?)
}

/// Opens the editor from the Mappings page, fills a HubSpot contacts → Jobber clients mapping
/// (names, email lowercased, phone through `phone_e164`, match on email, a weekday schedule whose
/// next five runs show as typed, a bad cron's error under the field), previews a pasted HubSpot
/// record and a sample of 5 fetched from the source (a transformed phone shows), saves, and sees
/// it in the list.
pub async fn create_contacts_to_clients_in_editor(
    env: &TestEnv,
    browser: &Client,
    name: &str,
) -> anyhow::Result<()> {
    browser.goto(&format!("{}/mappings", env.api_url)).await?;
    click_link(browser, "New mapping").await?;
    wait_for_text(browser, "Field pairs").await?;
    shot(browser, "21-editor-empty").await?;

    type_into(browser, "#name", name).await?;
    pick_endpoint(browser, "source", "HubSpot", "contacts").await?;
    pick_endpoint(browser, "target", "Jobber", "clients").await?;
    fill_pair(browser, true, ("firstname", "firstName"), None, false).await?;
    fill_pair(browser, false, ("lastname", "lastName"), None, true).await?;
    fill_pair(
        browser,
        false,
        ("email", "emails[0].address"),
        Some(("lowercase", None)),
        false,
    )
    .await?;
    fill_pair(
        browser,
        false,
        ("phone", "phones[0].number"),
        Some(("phone_e164", Some(("region", "US")))),
        false,
    )
    .await?;
    type_into(browser, "#match_source", "email").await?;
    type_into(browser, "#match_target", "emails[0].address").await?;

    // The schedule's next runs follow the typing; a bad cron says why under the field.
    type_into(browser, "#cron", "0 9 * *").await?;
    wait_for_text_in(browser, "#next-runs", "cron must have 5 fields").await?;
    type_into(browser, "#cron", "0 9 * * MON-FRI").await?;
    type_into(browser, "#timezone", "Europe/Paris").await?;
    let runs = wait_for_text_in(browser, "#next-runs", "Next 5 runs (Europe/Paris)").await?;
    let times = browser.find_all(Locator::Css("#next-runs li")).await?;
    assert_eq!(times.len(), 5, "five fire times: {runs}");
    assert!(runs.contains("09:00:00"), "{runs}");
    shot(browser, "22-editor-filled").await?;

    // A record pasted exactly as HubSpot returns it.
    type_into(
        browser,
        "#records",
        r#"{"id": "901", "properties": {"firstname": "Ada", "lastname": "Lovelace",
            "email": "ADA@Example.COM", "phone": "(415) 555-0123"}, "archived": false}"#,
    )
    .await?;
    click_button(browser, "Preview pasted records").await?;
    wait_for_text_in(browser, "#preview-result", "Record 901").await?;
    assert_eq!(
        previewed(browser, "phones[0].number").await?,
        "+14155550123"
    );
    assert_eq!(
        previewed(browser, "emails[0].address").await?,
        "ada@example.com"
    );

    // A sample read from the source connection.
    type_into(browser, "#sample_count", "5").await?;
    click_button(browser, "Fetch sample").await?;
    let summary = wait_for_text_in(browser, "#preview-result", "5 record(s)").await?;
    assert!(summary.contains("5 would be written"), "{summary}");
    let phone = previewed(browser, "phones[0].number").await?;
    assert!(
        phone.starts_with("+1") && phone[1..].chars().all(|c| c.is_ascii_digit()),
        "a transformed phone in the sample preview, got {phone:?}"
    );
    scroll_to(browser, "#preview-result").await?;
    shot(browser, "23-editor-preview").await?;

    click_button(browser, "Save mapping").await?;
    let page = wait_for_text(browser, "Mapping created.").await?;
    assert!(page.contains(name), "the list shows the new mapping");
    assert_eq!(browser.current_url().await?.path(), "/mappings");
    shot(browser, "24-mappings-created").await?;
    Ok(())
}

/// Opens mapping `name` in the editor, breaks its `phones[0].number` target field and saves:
/// the API's 422 message shows at that field, the form keeps what was typed, and nothing is
/// saved. Leaves the browser on the Mappings list.
pub async fn invalid_field_shows_its_422(
    env: &TestEnv,
    browser: &Client,
    name: &str,
) -> anyhow::Result<()> {
    browser.goto(&format!("{}/mappings", env.api_url)).await?;
    click_link(browser, name).await?;
    wait_for_text(browser, "Edit mapping").await?;
    let targets = browser
        .find_all(Locator::Css("#pairs input[name$='.target']"))
        .await?;
    let mut index = None;
    for (i, t) in targets.iter().enumerate() {
        if t.prop("value").await?.as_deref() == Some("phones[0].number") {
            index = Some(i);
        }
    }
    let i = index.context("no pair writes phones[0].number")?;
    let bad = "phones[x].number";
    targets[i].clear().await?;
    targets[i].send_keys(bad).await?;
    click_button(browser, "Save mapping").await?;
    wait_for_text(browser, "Not saved").await?;
    let slot = format!("fieldPairs[{i}].targetField");
    let message = element(browser, &format!("div[data-field='{slot}'] .field-error"))
        .await?
        .text()
        .await?;
    assert!(
        message.contains(&format!("'{bad}' is not a valid path")),
        "the 422 at the field: {message:?}"
    );
    let kept = element(browser, &format!("div[data-field='{slot}'] input"))
        .await?
        .prop("value")
        .await?;
    assert_eq!(kept.as_deref(), Some(bad), "the form keeps what was typed");
    scroll_to(browser, &format!("div[data-field='{slot}']")).await?;
    shot(browser, "25-editor-invalid-field").await?;

    let stored = env
        .api_ok(reqwest::Method::GET, "/v1/mappings", None)
        .await?;
    let unchanged = stored["data"]
        .as_array()
        .and_then(|all| all.iter().find(|m| m["name"] == name))
        .context("the mapping")?;
    assert_eq!(
        unchanged["fieldPairs"][i]["targetField"], "phones[0].number",
        "nothing saved"
    );
    click_link(browser, "Cancel").await?;
    wait_for_text(browser, "New mapping").await?;
    Ok(())
}

/// The editor laid out at phone width (390 px); the window is set back to 1280 px after.
pub async fn editor_at_phone_width(env: &TestEnv, browser: &Client) -> anyhow::Result<()> {
    browser.set_window_size(390, 844).await?;
    browser
        .goto(&format!("{}/mappings/new", env.api_url))
        .await?;
    wait_for_text(browser, "Field pairs").await?;
    shot(browser, "26-editor-phone").await?;
    browser.set_window_size(1280, 900).await?;
    Ok(())
}
