//! The console's security, over plain HTTP against the real binary: the session cookie's flags,
//! CSRF on every state-changing cookie-authenticated request, OAuth flows bound to the browser
//! session that started them, logout and the role rules.

use anyhow::{ensure, Context};
use fluxcascade_store::orgs::Role;
use fluxcascade_tests::{redirect_target, TestEnv};
use reqwest::header::{COOKIE, SET_COOKIE};
use serde_json::{json, Value};

/// A browser's worth of cookies, kept by hand (the test client stores none).
#[derive(Debug, Default, Clone)]
struct Jar {
    session: Option<String>,
    oauth: Option<String>,
}

impl Jar {
    fn header(&self) -> String {
        let mut parts = Vec::new();
        if let Some(s) = &self.session {
            parts.push(format!("fc_session={s}"));
        }
        if let Some(o) = &self.oauth {
            parts.push(format!("fc_oauth={o}"));
        }
        parts.join("; ")
    }

    /// Takes the cookies an answer sets (an empty value clears one).
    fn absorb(&mut self, resp: &reqwest::Response) {
        for v in resp.headers().get_all(SET_COOKIE) {
            let v = v.to_str().unwrap_or_default();
            let Some((name, rest)) = v.split_once('=') else {
                continue;
            };
            let value = rest.split(';').next().unwrap_or_default().to_owned();
            let value = (!value.is_empty()).then_some(value);
            match name {
                "fc_session" => self.session = value,
                "fc_oauth" => self.oauth = value,
                _ => {}
            }
        }
    }
}

/// A logged-in console browser.
struct Browser<'a> {
    env: &'a TestEnv,
    jar: Jar,
}

impl<'a> Browser<'a> {
    /// Logs in through the login form with `key`.
    async fn login(env: &'a TestEnv, key: &str) -> anyhow::Result<Browser<'a>> {
        let resp = env
            .http
            .post(format!("{}/login", env.api_url))
            .form(&[("api_key", key)])
            .send()
            .await?;
        ensure!(
            resp.status() == 303,
            "login answered {}: {}",
            resp.status(),
            resp.text().await?
        );
        let mut jar = Jar::default();
        jar.absorb(&resp);
        ensure!(jar.session.is_some(), "login set no session cookie");
        Ok(Browser { env, jar })
    }

    async fn get(&self, path: &str) -> anyhow::Result<reqwest::Response> {
        Ok(self
            .env
            .http
            .get(format!("{}{path}", self.env.api_url))
            .header(COOKIE, self.jar.header())
            .send()
            .await?)
    }

    async fn page(&self, path: &str) -> anyhow::Result<(u16, String)> {
        let resp = self.get(path).await?;
        let status = resp.status().as_u16();
        let location = resp
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let body = resp.text().await?;
        Ok((status, if status == 303 { location } else { body }))
    }

    async fn post_form(
        &mut self,
        path: &str,
        form: &[(&str, &str)],
    ) -> anyhow::Result<reqwest::Response> {
        let resp = self
            .env
            .http
            .post(format!("{}{path}", self.env.api_url))
            .header(COOKIE, self.jar.header())
            .form(form)
            .send()
            .await?;
        self.jar.absorb(&resp);
        Ok(resp)
    }

    /// The CSRF token of the session, as the Connections page's forms carry it.
    async fn csrf(&self) -> anyhow::Result<String> {
        let (status, body) = self.page("/connections").await?;
        ensure!(status == 200, "/connections answered {status}");
        let at = body
            .find(r#"name="csrf" value=""#)
            .context("no csrf field on the page")?;
        let rest = &body[at + r#"name="csrf" value=""#.len()..];
        Ok(rest[..rest.find('"').context("unterminated value")?].to_owned())
    }

    /// Clicks "Connect <provider>" and follows the sandbox's consent page; returns the callback
    /// URL the provider sends the browser back to (not yet opened).
    async fn start_connect(&mut self, provider: &str) -> anyhow::Result<String> {
        let csrf = self.csrf().await?;
        let resp = self
            .post_form(
                &format!("/connections/connect/{provider}"),
                &[("csrf", &csrf)],
            )
            .await?;
        ensure!(resp.status() == 303, "connect answered {}", resp.status());
        let consent = redirect_target(&resp, "connect")?;
        let resp = self.env.http.get(&consent).send().await?;
        redirect_target(&resp, "the consent page")
    }

    async fn callback(&mut self, url: &str) -> anyhow::Result<(u16, String)> {
        let resp = self
            .env
            .http
            .get(url)
            .header(COOKIE, self.jar.header())
            .send()
            .await?;
        self.jar.absorb(&resp);
        let status = resp.status().as_u16();
        Ok((status, resp.text().await?))
    }
}

async fn connection_count(env: &TestEnv) -> anyhow::Result<usize> {
    let list = env
        .api_ok(reqwest::Method::GET, "/v1/connections", None)
        .await?;
    Ok(list["data"].as_array().map_or(0, Vec::len))
}

fn error_code(body: &str) -> String {
    serde_json::from_str::<Value>(body).unwrap_or_default()["error"]["code"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn console_sessions_csrf_and_oauth_binding() -> anyhow::Result<()> {
    let env = TestEnv::start("console_security", 0).await?;

    // The JSON login: an HttpOnly, SameSite=Strict cookie, not Secure over http.
    let resp = env
        .http
        .post(format!("{}/v1/session", env.api_url))
        .json(&json!({"apiKey": env.api_key}))
        .send()
        .await?;
    assert_eq!(resp.status(), 201);
    let cookie = resp
        .headers()
        .get(SET_COOKIE)
        .context("no Set-Cookie")?
        .to_str()?
        .to_owned();
    assert!(cookie.starts_with("fc_session="), "{cookie}");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Strict"), "{cookie}");
    assert!(cookie.contains("Path=/"), "{cookie}");
    assert!(
        !cookie.contains("Secure"),
        "http must not get Secure: {cookie}"
    );
    assert!(
        !cookie.contains(&env.api_key),
        "the cookie is not the API key"
    );
    let body: Value = resp.json().await?;
    let api_csrf = body["csrfToken"].as_str().context("csrfToken")?.to_owned();
    let api_jar = Jar {
        session: cookie["fc_session=".len()..]
            .split(';')
            .next()
            .map(str::to_owned),
        oauth: None,
    };

    // Bad logins: unknown key 401, empty or oversized key 422 naming apiKey.
    for (key, status) in [
        ("fc_not-a-key".to_owned(), 401),
        (String::new(), 422),
        ("x".repeat(10_000), 422),
    ] {
        let resp = env
            .http
            .post(format!("{}/v1/session", env.api_url))
            .json(&json!({"apiKey": key}))
            .send()
            .await?;
        assert_eq!(resp.status(), status);
        let body: Value = resp.json().await?;
        if status == 422 {
            assert_eq!(body["error"]["details"][0]["field"], "apiKey", "{body}");
        }
    }
    // The login form with a wrong key shows the login page again, no cookie.
    let resp = env
        .http
        .post(format!("{}/login", env.api_url))
        .form(&[("api_key", "fc_wrong")])
        .send()
        .await?;
    assert_eq!(resp.status(), 401);
    assert!(resp.headers().get(SET_COOKIE).is_none());
    assert!(resp.text().await?.contains("unknown or revoked"));

    // Not logged in: console pages go to the login page, the API says 401.
    let resp = env
        .http
        .get(format!("{}/connections", env.api_url))
        .send()
        .await?;
    assert_eq!(resp.status(), 303);
    assert_eq!(redirect_target(&resp, "connections")?, "/login");
    let login = env
        .http
        .get(format!("{}/login", env.api_url))
        .send()
        .await?;
    let csp = login
        .headers()
        .get("content-security-policy")
        .context("no CSP")?
        .to_str()?
        .to_owned();
    assert!(csp.contains("default-src 'self'"), "{csp}");
    assert!(!csp.contains("unsafe-inline"), "{csp}");

    // The cookie authenticates the API; reads need no CSRF token.
    let resp = env
        .http
        .get(format!("{}/v1/connections", env.api_url))
        .header(COOKIE, api_jar.header())
        .send()
        .await?;
    assert_eq!(resp.status(), 200);

    let mut a = Browser::login(&env, &env.api_key).await?;
    let (status, body) = a.page("/connections").await?;
    assert_eq!(status, 200);
    assert!(body.contains("No connections yet."), "{body}");
    assert!(body.contains("Connect HubSpot"));

    // CSRF: a form post without the token, or with another session's, is 403 and changes nothing.
    let jobber = env.connect("jobber").await?;
    for form in [vec![], vec![("csrf", api_csrf.as_str())]] {
        let resp = a
            .post_form(&format!("/connections/{jobber}/delete"), &form)
            .await?;
        assert_eq!(resp.status(), 403);
        assert_eq!(error_code(&resp.text().await?), "csrf_failed");
        let resp = a.post_form("/connections/connect/hubspot", &form).await?;
        assert_eq!(resp.status(), 403);
    }
    let (status, _) = env
        .api(
            reqwest::Method::GET,
            &format!("/v1/connections/{jobber}"),
            None,
        )
        .await?;
    assert_eq!(status, 200, "the connection survived the forged posts");
    let states: i64 = env
        .db()
        .await?
        .query_one("SELECT count(*) FROM oauth_states", &[])
        .await?
        .get(0);
    assert_eq!(states, 0, "a forged connect started no authorization");
    // A cookie-authenticated API write needs X-CSRF-Token too; a bearer one does not.
    let delete = |csrf: Option<&str>| {
        let mut req = env
            .http
            .delete(format!("{}/v1/connections/{jobber}", env.api_url))
            .header(COOKIE, api_jar.header());
        if let Some(c) = csrf {
            req = req.header("x-csrf-token", c);
        }
        req.send()
    };
    let resp = delete(None).await?;
    assert_eq!(resp.status(), 403);
    assert_eq!(error_code(&resp.text().await?), "csrf_failed");
    assert_eq!(delete(Some(&api_csrf)).await?.status(), 204);
    assert_eq!(connection_count(&env).await?, 0);

    // OAuth bound to the session: a flow A started, completed with B's cookies or none, is 400
    // invalid_state and connects nothing.
    let b = Browser::login(&env, &env.api_key).await?;
    let callback = a.start_connect("hubspot").await?;
    assert!(a.jar.oauth.is_some(), "connect set the binding cookie");
    let mut b_only = Browser {
        env: &env,
        jar: b.jar.clone(),
    };
    let (status, body) = b_only.callback(&callback).await?;
    assert_eq!(status, 400, "{body}");
    assert_eq!(error_code(&body), "invalid_state");
    let callback = a.start_connect("hubspot").await?;
    let mut nobody = Browser {
        env: &env,
        jar: Jar::default(),
    };
    let (status, body) = nobody.callback(&callback).await?;
    assert_eq!(status, 400, "{body}");
    assert_eq!(error_code(&body), "invalid_state");
    assert_eq!(
        connection_count(&env).await?,
        0,
        "no connection was created"
    );

    // The browser that started it completes it and is sent back to Connections.
    let callback = a.start_connect("hubspot").await?;
    let (status, body) = a.callback(&callback).await?;
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains("/connections?done=connected&amp;provider=hubspot"),
        "{body}"
    );
    assert!(a.jar.oauth.is_none(), "the binding cookie is cleared");
    assert_eq!(connection_count(&env).await?, 1);
    let (_, page) = a
        .page("/connections?done=connected&provider=hubspot")
        .await?;
    assert!(page.contains("HubSpot account connected."), "{page}");
    assert!(page.contains(r#"class="badge ok">active"#), "{page}");

    // An expired connection offers Reconnect, which runs the flow for that connection and
    // makes it active again (the same connection, no new one).
    let db = env.db().await?;
    let hubspot: uuid::Uuid = db
        .query_one(
            "UPDATE connections SET status = 'expired', status_message = 'refresh token revoked'
             WHERE provider = 'hubspot' RETURNING id",
            &[],
        )
        .await?
        .get(0);
    let (_, page) = a.page("/connections").await?;
    assert!(page.contains("refresh token revoked"), "{page}");
    assert!(page.contains(">Reconnect<"), "{page}");
    let csrf = a.csrf().await?;
    let hubspot_id = hubspot.to_string();
    let resp = a
        .post_form(
            "/connections/connect/hubspot",
            &[("csrf", &csrf), ("connection_id", &hubspot_id)],
        )
        .await?;
    assert_eq!(resp.status(), 303);
    let consent = redirect_target(&resp, "reconnect")?;
    let resp = env.http.get(&consent).send().await?;
    let callback = redirect_target(&resp, "the consent page")?;
    let (status, body) = a.callback(&callback).await?;
    assert_eq!(status, 200, "{body}");
    let status: String = db
        .query_one("SELECT status FROM connections WHERE id = $1", &[&hubspot])
        .await?
        .get(0);
    assert_eq!(status, "active");
    assert_eq!(connection_count(&env).await?, 1);

    // An API flow (bearer key) stays unbound: its callback needs no cookie (JSON, 201).
    let conn = env.connect_account("pipedrive", None).await?;
    assert_eq!(conn["provider"], "pipedrive");

    // A Member sees no Connect or Delete buttons and may not connect.
    let org: uuid::Uuid = env
        .db()
        .await?
        .query_one("SELECT id FROM organizations", &[])
        .await?
        .get(0);
    let store = fluxcascade_store::Store::connect(&env.db_url, 2)?;
    let member_key = store.create_api_key(org, Role::Member, "m@a.test").await?;
    let mut m = Browser::login(&env, &member_key).await?;
    let (status, page) = m.page("/connections").await?;
    assert_eq!(status, 200);
    assert!(page.contains("HubSpot"), "{page}");
    assert!(!page.contains("Connect HubSpot"), "{page}");
    assert!(!page.contains(">Delete<"), "{page}");
    let csrf = m.csrf().await?;
    let resp = m
        .post_form("/connections/connect/jobber", &[("csrf", &csrf)])
        .await?;
    assert_eq!(resp.status(), 403);

    // Logout (with the token) ends the session: the old cookie is logged out everywhere.
    let old = a.jar.clone();
    let csrf = a.csrf().await?;
    let resp = a.post_form("/logout", &[("csrf", &csrf)]).await?;
    assert_eq!(resp.status(), 303);
    assert_eq!(redirect_target(&resp, "logout")?, "/login");
    assert!(a.jar.session.is_none(), "logout clears the cookie");
    let replay = Browser {
        env: &env,
        jar: old.clone(),
    };
    let (status, location) = replay.page("/connections").await?;
    assert_eq!((status, location.as_str()), (303, "/login"));
    let resp = env
        .http
        .get(format!("{}/v1/connections", env.api_url))
        .header(COOKIE, old.header())
        .send()
        .await?;
    assert_eq!(resp.status(), 401);

    // DELETE /v1/session needs the token, then ends the JSON session.
    let end = |csrf: Option<&str>| {
        let mut req = env
            .http
            .delete(format!("{}/v1/session", env.api_url))
            .header(COOKIE, api_jar.header());
        if let Some(c) = csrf {
            req = req.header("x-csrf-token", c);
        }
        req.send()
    };
    assert_eq!(end(None).await?.status(), 403);
    assert_eq!(end(Some(&api_csrf)).await?.status(), 204);
    let resp = env
        .http
        .get(format!("{}/v1/connections", env.api_url))
        .header(COOKIE, api_jar.header())
        .send()
        .await?;
    assert_eq!(resp.status(), 401);
    Ok(())
}

#[tokio::test]
async fn an_api_flow_returns_only_to_an_allowed_redirect_origin() -> anyhow::Result<()> {
    let env = TestEnv::start_with(
        "console_redirect_to",
        0,
        fluxcascade_tests::Options::default().with_env(
            "FLUXCASCADE_OAUTH_REDIRECT_ORIGINS",
            "https://app.example.test",
        ),
    )
    .await?;
    let authorize = |redirect_to: &str| {
        env.http
            .get(format!("{}/v1/oauth/hubspot/authorize", env.api_url))
            .query(&[("redirectTo", redirect_to)])
            .bearer_auth(&env.api_key)
            .send()
    };
    // Another origin (host, scheme or port) is refused, naming the field; nothing starts.
    for bad in [
        "https://evil.example.test/done",
        "http://app.example.test/done",
        "https://app.example.test:8443/done",
        "javascript:alert(1)",
        "not a url",
    ] {
        let resp = authorize(bad).await?;
        assert_eq!(resp.status(), 422, "{bad}");
        let body: Value = resp.json().await?;
        assert_eq!(body["error"]["details"][0]["field"], "redirectTo", "{body}");
    }
    // An allowed one: the callback sends the browser back there with the new connection.
    let resp = authorize("https://app.example.test/done?from=fc").await?;
    let consent = redirect_target(&resp, "authorize")?;
    let resp = env.http.get(&consent).send().await?;
    let callback = redirect_target(&resp, "the consent page")?;
    let resp = env.http.get(&callback).send().await?;
    assert_eq!(resp.status(), 303);
    let back = redirect_target(&resp, "the callback")?;
    let prefix = "https://app.example.test/done?from=fc&connectionId=";
    assert!(back.starts_with(prefix), "{back}");
    assert!(
        back.ends_with("&provider=hubspot&status=connected"),
        "{back}"
    );
    let id = &back[prefix.len()..back.find("&provider").context("provider")?];
    let (status, conn) = env
        .api(reqwest::Method::GET, &format!("/v1/connections/{id}"), None)
        .await?;
    assert_eq!(status, 200, "{conn}");
    assert_eq!(conn["provider"], "hubspot");
    Ok(())
}
