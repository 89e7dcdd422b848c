//! End to end: an organization grows through invites, over two ingress replicas sharing one
//! database. The Owner invites an Admin and a Member; both accept (without a key) and use the
//! keys they got; a Member reads but cannot write; an Admin cannot invite an Owner; the last Owner
//! can neither leave nor be demoted; a key revoked through one replica is refused by the other at
//! its next request; demoting a member cuts its keys' rights at once; a used or expired invite
//! is refused; the audit log names the key that created a mapping.

use anyhow::Context;
use fluxcascade_tests::TestEnv;
use reqwest::Method;
use serde_json::{json, Value};

/// One API call to `base` with `key` (none for accepting an invite); status and JSON body.
async fn call(
    env: &TestEnv,
    base: &str,
    key: Option<&str>,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> anyhow::Result<(u16, Value)> {
    let mut req = env.http.request(method, format!("{base}{path}"));
    if let Some(k) = key {
        req = req.bearer_auth(k);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await?;
    let status = resp.status().as_u16();
    let text = resp.text().await?;
    Ok((
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    ))
}

fn code(v: &Value) -> Option<&str> {
    v["error"]["code"].as_str()
}

#[tokio::test]
async fn members_invites_keys_and_audit_across_two_replicas() -> anyhow::Result<()> {
    let mut env = TestEnv::start("organizations", 0).await?;
    let (mut replica, other) = env.start_ingress_replica("ingress-2").await?;
    let (one, owner) = (env.api_url.clone(), env.api_key.clone());

    // The Owner invites an Admin and a Member.
    let mut tokens = Vec::new();
    for (email, role) in [("admin@e2e.test", "admin"), ("member@e2e.test", "member")] {
        let (s, v) = call(
            &env,
            &one,
            Some(&owner),
            Method::POST,
            "/v1/invites",
            Some(json!({"email": email, "role": role})),
        )
        .await?;
        assert_eq!(s, 201, "{v}");
        tokens.push(v["token"].as_str().context("token")?.to_string());
    }
    // Each accepts without a key (on either replica) and gets its first key.
    let mut keys = Vec::new();
    for (token, base) in tokens.iter().zip([&one, &other]) {
        let (s, v) = call(
            &env,
            base,
            None,
            Method::POST,
            "/v1/invites/accept",
            Some(json!({"token": token})),
        )
        .await?;
        assert_eq!(s, 201, "{v}");
        keys.push((
            v["apiKey"]["secret"]
                .as_str()
                .context("secret")?
                .to_string(),
            v["apiKey"]["id"].as_str().context("key id")?.to_string(),
            v["member"]["id"].as_str().context("member id")?.to_string(),
        ));
    }
    let [(admin, admin_key_id, admin_id), (member, _, member_id)] =
        <[_; 2]>::try_from(keys).expect("two keys");

    // Both use their keys; the Admin connects providers and creates a mapping.
    for key in [&admin, &member] {
        let (s, v) = call(&env, &other, Some(key), Method::GET, "/v1/org", None).await?;
        assert_eq!((s, v["name"].as_str()), (200, Some("organizations")));
    }
    env.act_as(&admin);
    let hubspot = env.connect("hubspot").await?;
    let jobber = env.connect("jobber").await?;
    let mapping = env.contacts_to_clients(&hubspot, &jobber).await?;

    // A Member reads everything of the org but writes nothing.
    for path in ["/v1/connections", "/v1/mappings", "/v1/members"] {
        let (s, v) = call(&env, &one, Some(&member), Method::GET, path, None).await?;
        assert_eq!(s, 200, "{path}: {v}");
    }
    let (s, v) = call(
        &env,
        &one,
        Some(&member),
        Method::GET,
        &format!("/v1/mappings/{mapping}"),
        None,
    )
    .await?;
    assert_eq!((s, v["id"].as_str()), (200, Some(mapping.as_str())));
    let writes = [
        (
            Method::PATCH,
            format!("/v1/mappings/{mapping}"),
            json!({"name": "x"}),
        ),
        (
            Method::DELETE,
            format!("/v1/connections/{hubspot}"),
            Value::Null,
        ),
        (
            Method::POST,
            "/v1/syncs".to_string(),
            json!({"mappingId": mapping}),
        ),
        (
            Method::POST,
            "/v1/invites".to_string(),
            json!({"email": "x@e2e.test", "role": "member"}),
        ),
    ];
    for (method, path, body) in writes {
        let body = (!body.is_null()).then_some(body);
        let (s, v) = call(&env, &one, Some(&member), method.clone(), &path, body).await?;
        assert_eq!(s, 403, "{method} {path}: {v}");
    }

    // An Admin cannot invite an Owner.
    let (s, v) = call(
        &env,
        &other,
        Some(&admin),
        Method::POST,
        "/v1/invites",
        Some(json!({"email": "boss@e2e.test", "role": "owner"})),
    )
    .await?;
    assert_eq!((s, code(&v)), (403, Some("forbidden")), "{v}");

    // The last Owner can neither leave nor be demoted.
    let owner_id = env
        .db()
        .await?
        .query_one("SELECT id FROM members WHERE role = 'owner'", &[])
        .await?
        .get::<_, uuid::Uuid>(0)
        .to_string();
    let own = format!("/v1/members/{owner_id}");
    let (s, v) = call(&env, &one, Some(&owner), Method::DELETE, &own, None).await?;
    assert_eq!((s, code(&v)), (409, Some("last_owner")), "{v}");
    let (s, v) = call(
        &env,
        &other,
        Some(&owner),
        Method::PATCH,
        &own,
        Some(json!({"role": "admin"})),
    )
    .await?;
    assert_eq!((s, code(&v)), (409, Some("last_owner")), "{v}");

    // A key revoked through one replica is refused by the other at its next request.
    let (s, v) = call(
        &env,
        &one,
        Some(&member),
        Method::POST,
        "/v1/api-keys",
        Some(json!({"name": "script"})),
    )
    .await?;
    assert_eq!(s, 201, "{v}");
    let (script, script_id) = (
        v["secret"].as_str().context("secret")?.to_string(),
        v["id"].as_str().context("id")?.to_string(),
    );
    let (s, _) = call(
        &env,
        &other,
        Some(&script),
        Method::GET,
        "/v1/mappings",
        None,
    )
    .await?;
    assert_eq!(s, 200);
    let (s, _) = call(
        &env,
        &one,
        Some(&member),
        Method::DELETE,
        &format!("/v1/api-keys/{script_id}"),
        None,
    )
    .await?;
    assert_eq!(s, 204);
    let (s, _) = call(
        &env,
        &other,
        Some(&script),
        Method::GET,
        "/v1/mappings",
        None,
    )
    .await?;
    assert_eq!(s, 401, "the other replica refuses the revoked key at once");
    let (s, v) = call(
        &env,
        &other,
        Some(&member),
        Method::GET,
        "/v1/api-keys",
        None,
    )
    .await?;
    assert_eq!(s, 200);
    assert_eq!(v["data"].as_array().map(Vec::len), Some(1), "{v}");
    assert!(
        !v.to_string().contains(&member),
        "a list never shows a secret"
    );

    // Demoting a member cuts its keys' rights at once, on every replica.
    let (s, v) = call(
        &env,
        &one,
        Some(&admin),
        Method::PATCH,
        &format!("/v1/mappings/{mapping}"),
        Some(json!({"name": "renamed by the admin"})),
    )
    .await?;
    assert_eq!(s, 200, "{v}");
    let (s, v) = call(
        &env,
        &other,
        Some(&owner),
        Method::PATCH,
        &format!("/v1/members/{admin_id}"),
        Some(json!({"role": "member"})),
    )
    .await?;
    assert_eq!((s, v["role"].as_str()), (200, Some("member")), "{v}");
    let (s, _) = call(
        &env,
        &one,
        Some(&admin),
        Method::PATCH,
        &format!("/v1/mappings/{mapping}"),
        Some(json!({"name": "again"})),
    )
    .await?;
    assert_eq!(s, 403, "a demoted member's key writes no more");

    // A used invite, or an expired one, is refused.
    let (s, v) = call(
        &env,
        &other,
        None,
        Method::POST,
        "/v1/invites/accept",
        Some(json!({"token": tokens[0]})),
    )
    .await?;
    assert_eq!((s, code(&v)), (400, Some("invalid_invite")), "{v}");
    let (_, v) = call(
        &env,
        &one,
        Some(&owner),
        Method::POST,
        "/v1/invites",
        Some(json!({"email": "late@e2e.test", "role": "member"})),
    )
    .await?;
    let late = v["token"].as_str().context("token")?.to_string();
    env.db()
        .await?
        .execute(
            "UPDATE invites SET expires_at = now() - interval '1 minute' WHERE email = 'late@e2e.test'",
            &[],
        )
        .await?;
    let (s, v) = call(
        &env,
        &one,
        None,
        Method::POST,
        "/v1/invites/accept",
        Some(json!({"token": late})),
    )
    .await?;
    assert_eq!((s, code(&v)), (400, Some("invalid_invite")), "{v}");

    // The audit log shows the mapping's creation and change by the Admin's key.
    let (s, _) = call(&env, &one, Some(&member), Method::GET, "/v1/audit", None).await?;
    assert_eq!(s, 403);
    let (s, v) = call(
        &env,
        &other,
        Some(&owner),
        Method::GET,
        &format!("/v1/audit?targetId={mapping}"),
        None,
    )
    .await?;
    assert_eq!(s, 200, "{v}");
    let entries = v["data"].as_array().context("data")?;
    let actions: Vec<&str> = entries
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    assert_eq!(actions, ["mapping.updated", "mapping.created"], "{v}");
    for e in entries {
        assert_eq!(e["actor"]["apiKeyId"], json!(admin_key_id), "{e}");
        assert_eq!(e["actor"]["memberId"], json!(admin_id), "{e}");
    }
    assert_eq!(entries[0]["changedFields"], json!(["name"]));
    let (_, v) = call(
        &env,
        &one,
        Some(&owner),
        Method::GET,
        "/v1/audit?action=invite.accepted",
        None,
    )
    .await?;
    let accepted: Vec<&str> = v["data"]
        .as_array()
        .context("data")?
        .iter()
        .filter_map(|e| e["actor"]["memberId"].as_str())
        .collect();
    assert_eq!(accepted, [member_id.as_str(), admin_id.as_str()], "{v}");

    // The OAuth callbacks that created the connections carry no key: their entries name the
    // member and key that started the authorization.
    let (_, v) = call(
        &env,
        &one,
        Some(&owner),
        Method::GET,
        "/v1/audit?action=connection.created",
        None,
    )
    .await?;
    let created = v["data"].as_array().context("data")?;
    let targets: Vec<&str> = created
        .iter()
        .filter_map(|e| e["target"]["id"].as_str())
        .collect();
    assert_eq!(targets, [jobber.as_str(), hubspot.as_str()], "{v}");
    for e in created {
        assert_eq!(e["actor"]["apiKeyId"], json!(admin_key_id), "{e}");
        assert_eq!(e["actor"]["memberId"], json!(admin_id), "{e}");
    }

    replica.stop();
    Ok(())
}
