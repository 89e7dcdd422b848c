//! Invites (who may invite whom, single use, no oracle) and the audit log.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::harness::{error_fields, App};
use crate::members::{key_with_role, member_of};
use fluxcascade_store::orgs::Role;

fn code(v: &Value) -> Option<&str> {
    v["error"]["code"].as_str()
}

async fn invite(app: &App, key: &str, email: &str, role: &str) -> (StatusCode, Value) {
    app.call(
        Method::POST,
        "/v1/invites",
        Some(key),
        Some(json!({"email": email, "role": role})),
    )
    .await
}

async fn accept(app: &App, token: &str) -> (StatusCode, Value) {
    app.call(
        Method::POST,
        "/v1/invites/accept",
        None,
        Some(json!({"token": token, "keyName": "laptop"})),
    )
    .await
}

#[tokio::test]
async fn invites_are_checked_and_accepted_once() {
    let app = App::start().await;
    let member = app.member_key().await;
    let admin = key_with_role(&app, Role::Admin, "admin@acme.test").await;

    let (s, _) = invite(&app, &member, "x@acme.test", "member").await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, v) = invite(&app, &admin, "boss@acme.test", "owner").await;
    assert_eq!((s, code(&v)), (StatusCode::FORBIDDEN, Some("forbidden")));
    let (s, v) = invite(&app, &admin, "not-an-email", "superuser").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_fields(&v), vec!["email", "role"]);
    let long = format!("{}@acme.test", "a".repeat(250));
    let (s, v) = invite(&app, &admin, &long, "member").await;
    assert_eq!(
        (s, error_fields(&v)),
        (StatusCode::UNPROCESSABLE_ENTITY, vec!["email".to_string()])
    );
    let (s, v) = invite(&app, &admin, "Member@Acme.test", "member").await;
    assert_eq!(
        s,
        StatusCode::CONFLICT,
        "already a member (emails compare case-insensitively): {v}"
    );

    let (s, v) = invite(&app, &admin, "new@acme.test", "admin").await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let token = v["token"].as_str().expect("token shown once").to_string();
    assert!(token.starts_with("fci_"));
    assert_eq!(v["role"], "admin");
    let expires = chrono::DateTime::parse_from_rfc3339(v["expiresAt"].as_str().unwrap()).unwrap();
    let days = (expires.with_timezone(&chrono::Utc) - chrono::Utc::now()).num_hours();
    assert!((167..=168).contains(&days), "7 days, got {days} h");

    let (s, _) = app
        .call(Method::GET, "/v1/invites", Some(&member), None)
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, list) = app
        .call(Method::GET, "/v1/invites", Some(&admin), None)
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(list["data"][0]["email"], "new@acme.test");
    assert!(
        !list.to_string().contains(&token),
        "a list never shows a token"
    );

    // Two accepts of one token at once: one member, one refusal.
    let (a, b) = tokio::join!(accept(&app, &token), accept(&app, &token));
    let mut statuses = [a.0, b.0];
    statuses.sort();
    assert_eq!(
        statuses,
        [StatusCode::CREATED, StatusCode::BAD_REQUEST],
        "{} {}",
        a.1,
        b.1
    );
    let accepted = if a.0 == StatusCode::CREATED { a.1 } else { b.1 };
    assert_eq!(accepted["member"]["email"], "new@acme.test");
    assert_eq!(accepted["member"]["role"], "admin");
    assert_eq!(accepted["apiKey"]["name"], "laptop");
    let key = accepted["apiKey"]["secret"].as_str().unwrap().to_string();
    let (s, _) = app
        .call(
            Method::POST,
            "/v1/invites",
            Some(&key),
            Some(json!({"email": "c@acme.test", "role": "member"})),
        )
        .await;
    assert_eq!(
        s,
        StatusCode::CREATED,
        "the new Admin's key works with its role"
    );
    let (_, v) = accept(&app, &token).await;
    assert_eq!(code(&v), Some("invalid_invite"));
    let (_, list) = app
        .call(Method::GET, "/v1/invites", Some(&admin), None)
        .await;
    assert!(list["data"]
        .as_array()
        .unwrap()
        .iter()
        .all(|i| i["email"] != "new@acme.test"));

    // Expired, revoked and unknown tokens get the same answer as a used one.
    let (_, v) = invite(&app, &admin, "late@acme.test", "member").await;
    let late = v["token"].as_str().unwrap().to_string();
    let client = app.sql().await;
    client
        .execute("UPDATE invites SET expires_at = now() - interval '1 second' WHERE email = 'late@acme.test'", &[])
        .await
        .unwrap();
    let (_, v) = invite(&app, &admin, "gone@acme.test", "member").await;
    let (gone, gone_id) = (
        v["token"].as_str().unwrap().to_string(),
        v["id"].as_str().unwrap().to_string(),
    );
    let (s, _) = app
        .call(
            Method::DELETE,
            &format!("/v1/invites/{gone_id}"),
            Some(&member),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let other = app.other_org().await;
    let (s, _) = app
        .call(
            Method::DELETE,
            &format!("/v1/invites/{gone_id}"),
            Some(&other),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = app
        .call(
            Method::DELETE,
            &format!("/v1/invites/{gone_id}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let fake = format!("fci_{}", "A".repeat(43));
    for t in [late.as_str(), gone.as_str(), fake.as_str(), "garbage", ""] {
        let (s, v) = accept(&app, t).await;
        assert_eq!(
            (s, code(&v)),
            (StatusCode::BAD_REQUEST, Some("invalid_invite")),
            "{t}"
        );
        assert_eq!(
            v["error"]["message"],
            "the invite is unknown, used, expired or revoked"
        );
    }

    // Two invites to one email: the second accept finds a member already (and stays unused).
    let (_, v1) = invite(&app, &app.owner, "twice@acme.test", "member").await;
    let (_, v2) = invite(&app, &app.owner, "twice@acme.test", "owner").await;
    let (s, _) = accept(&app, v1["token"].as_str().unwrap()).await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, v) = accept(&app, v2["token"].as_str().unwrap()).await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
}

#[tokio::test]
async fn the_audit_log_names_the_key_and_the_changed_fields() {
    let app = App::start().await;
    let admin = key_with_role(&app, Role::Admin, "admin@acme.test").await;
    let admin_principal = app.store.authenticate(&admin).await.unwrap().unwrap();
    let member = app.member_key().await;
    let hub = app.connection(&app.owner, "hubspot").await;
    let jobber = app.connection(&app.owner, "jobber").await;
    let mapping = app.mapping(&admin, &hub, &jobber).await;
    let (s, v) = app
        .call(
            Method::PATCH,
            &format!("/v1/mappings/{mapping}"),
            Some(&admin),
            Some(json!({"name": "Renamed", "enabled": true})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");

    let (s, _) = app
        .call(Method::GET, "/v1/audit", Some(&member), None)
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, v) = app
        .call(
            Method::GET,
            &format!("/v1/audit?targetId={mapping}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let entries = v["data"].as_array().unwrap();
    let actions: Vec<&str> = entries
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        vec!["mapping.updated", "mapping.created"],
        "newest first"
    );
    for e in entries {
        assert_eq!(
            e["actor"]["apiKeyId"],
            json!(admin_principal.key_id.to_string())
        );
        assert_eq!(e["actor"]["memberId"], json!(member_of(&app, &admin).await));
        assert_eq!(e["target"], json!({"type": "mapping", "id": mapping}));
    }
    assert_eq!(
        entries[0]["changedFields"],
        json!(["name"]),
        "an unchanged value is not a change"
    );
    assert_eq!(entries[1]["changedFields"], json!([]));

    let (_, v) = app
        .call(
            Method::GET,
            "/v1/audit?action=connection.created&limit=1",
            Some(&app.owner),
            None,
        )
        .await;
    assert_eq!(v["data"][0]["target"]["id"], json!(jobber));
    let cursor = v["nextCursor"].as_str().expect("a second page").to_string();
    let (_, v) = app
        .call(
            Method::GET,
            &format!("/v1/audit?action=connection.created&cursor={cursor}"),
            Some(&app.owner),
            None,
        )
        .await;
    assert_eq!(v["data"].as_array().unwrap().len(), 1);
    assert_eq!(v["data"][0]["target"]["id"], json!(hub));
    let (s, v) = app
        .call(
            Method::GET,
            "/v1/audit?targetId=nope",
            Some(&app.owner),
            None,
        )
        .await;
    assert_eq!(
        (s, error_fields(&v)),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            vec!["targetId".to_string()]
        )
    );

    // Another org sees none of it.
    let other = app.other_org().await;
    let (_, v) = app.call(Method::GET, "/v1/audit", Some(&other), None).await;
    assert_eq!(v["data"], json!([]));
}
