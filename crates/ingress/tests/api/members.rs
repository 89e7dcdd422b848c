//! The organization, its members and API keys: who may do what, the last Owner, revocation.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::harness::{error_fields, App};
use fluxcascade_store::members::MemberError;
use fluxcascade_store::orgs::Role;

/// A new key for a new member of the app's first org with `role`.
pub async fn key_with_role(app: &App, role: Role, email: &str) -> String {
    app.store
        .create_api_key(app.org_id().await, role, email)
        .await
        .expect("key")
}

/// The member id behind a key.
pub async fn member_of(app: &App, key: &str) -> String {
    app.store
        .authenticate(key)
        .await
        .expect("auth")
        .expect("live key")
        .member_id
        .to_string()
}

fn code(v: &Value) -> Option<&str> {
    v["error"]["code"].as_str()
}

#[tokio::test]
async fn the_org_is_read_by_anyone_and_renamed_by_an_owner() {
    let app = App::start().await;
    let member = app.member_key().await;
    let admin = key_with_role(&app, Role::Admin, "admin@acme.test").await;
    let (s, v) = app.call(Method::GET, "/v1/org", Some(&member), None).await;
    assert_eq!((s, v["name"].as_str()), (StatusCode::OK, Some("Acme")));
    assert_eq!(v["id"], json!(app.org_id().await.to_string()));
    for key in [&member, &admin] {
        let (s, v) = app
            .call(
                Method::PATCH,
                "/v1/org",
                Some(key),
                Some(json!({"name": "Evil"})),
            )
            .await;
        assert_eq!((s, code(&v)), (StatusCode::FORBIDDEN, Some("forbidden")));
    }
    let (s, v) = app
        .call(
            Method::PATCH,
            "/v1/org",
            Some(&app.owner),
            Some(json!({"name": " "})),
        )
        .await;
    assert_eq!(
        (s, error_fields(&v)),
        (StatusCode::UNPROCESSABLE_ENTITY, vec!["name".to_string()])
    );
    let (s, v) = app
        .call(
            Method::PATCH,
            "/v1/org",
            Some(&app.owner),
            Some(json!({"name": "Acme Ltd"})),
        )
        .await;
    assert_eq!((s, v["name"].as_str()), (StatusCode::OK, Some("Acme Ltd")));
    let (_, v) = app.call(Method::GET, "/v1/org", Some(&member), None).await;
    assert_eq!(v["name"], "Acme Ltd");
}

#[tokio::test]
async fn only_owners_change_roles_and_the_last_owner_stays() {
    let app = App::start().await;
    let member = app.member_key().await;
    let member_id = member_of(&app, &member).await;
    let owner_id = member_of(&app, &app.owner).await;
    let admin = key_with_role(&app, Role::Admin, "admin@acme.test").await;
    let other = app.other_org().await;
    let other_owner_id = member_of(&app, &other).await;

    let (s, v) = app
        .call(Method::GET, "/v1/members?limit=2", Some(&member), None)
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["data"].as_array().unwrap().len(), 2);
    assert_eq!(v["data"][0]["email"], "owner@acme.test");
    assert_eq!(v["data"][0]["role"], "owner");
    let cursor = v["nextCursor"]
        .as_str()
        .expect("a third member")
        .to_string();
    let (_, v) = app
        .call(
            Method::GET,
            &format!("/v1/members?cursor={cursor}"),
            Some(&member),
            None,
        )
        .await;
    assert_eq!(v["data"].as_array().unwrap().len(), 1);
    assert_eq!(v["nextCursor"], Value::Null);

    let path = format!("/v1/members/{member_id}");
    for key in [&member, &admin] {
        let (s, _) = app
            .call(
                Method::PATCH,
                &path,
                Some(key),
                Some(json!({"role": "owner"})),
            )
            .await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        let (s, _) = app
            .call(
                Method::DELETE,
                &format!("/v1/members/{owner_id}"),
                Some(key),
                None,
            )
            .await;
        assert_eq!(s, StatusCode::FORBIDDEN);
    }
    let (s, v) = app
        .call(
            Method::PATCH,
            &path,
            Some(&app.owner),
            Some(json!({"role": "boss"})),
        )
        .await;
    assert_eq!(
        (s, error_fields(&v)),
        (StatusCode::UNPROCESSABLE_ENTITY, vec!["role".to_string()])
    );
    // Another org's member is not found, like an id that does not exist.
    let (s, _) = app
        .call(
            Method::PATCH,
            &format!("/v1/members/{other_owner_id}"),
            Some(&app.owner),
            Some(json!({"role": "member"})),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = app
        .call(
            Method::DELETE,
            &format!("/v1/members/{other_owner_id}"),
            Some(&app.owner),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // The last Owner can be neither demoted nor removed.
    let own = format!("/v1/members/{owner_id}");
    let (s, v) = app
        .call(
            Method::PATCH,
            &own,
            Some(&app.owner),
            Some(json!({"role": "admin"})),
        )
        .await;
    assert_eq!((s, code(&v)), (StatusCode::CONFLICT, Some("last_owner")));
    let (s, v) = app.call(Method::DELETE, &own, Some(&app.owner), None).await;
    assert_eq!((s, code(&v)), (StatusCode::CONFLICT, Some("last_owner")));

    // A Member promoted to Owner may write at once with the key it already has.
    let (s, _) = app
        .call(
            Method::PATCH,
            "/v1/org",
            Some(&member),
            Some(json!({"name": "Acme"})),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, v) = app
        .call(
            Method::PATCH,
            &path,
            Some(&app.owner),
            Some(json!({"role": "owner"})),
        )
        .await;
    assert_eq!((s, v["role"].as_str()), (StatusCode::OK, Some("owner")));
    let (s, _) = app
        .call(
            Method::PATCH,
            "/v1/org",
            Some(&member),
            Some(json!({"name": "Acme"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);

    // Two Owners demoting each other at once (in the store, past the handlers' role check made
    // at authentication): whichever commits second finds itself facing the last Owner.
    let a = app.store.authenticate(&app.owner).await.unwrap().unwrap();
    let b = app.store.authenticate(&member).await.unwrap().unwrap();
    assert_eq!((a.role, b.role), (Role::Owner, Role::Owner));
    let (ra, rb) = tokio::join!(
        app.store.set_member_role(&a, b.member_id, Role::Member),
        app.store.set_member_role(&b, a.member_id, Role::Member),
    );
    let refused: Vec<_> = [&ra, &rb]
        .into_iter()
        .filter_map(|r| r.as_ref().err())
        .collect();
    assert_eq!(refused.len(), 1, "{ra:?} {rb:?}");
    assert!(matches!(refused[0], MemberError::LastOwner), "{refused:?}");
    let (_, v) = app
        .call(Method::GET, "/v1/members", Some(&admin), None)
        .await;
    let owners = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["role"] == "owner")
        .count();
    assert_eq!(owners, 1, "{v}");
}

#[tokio::test]
async fn a_member_may_leave_and_its_keys_stop_working() {
    let app = App::start().await;
    let member = app.member_key().await;
    let member_id = member_of(&app, &member).await;
    let admin = key_with_role(&app, Role::Admin, "admin@acme.test").await;
    let admin_id = member_of(&app, &admin).await;
    // Leaving is one's own business; removing someone else is an Owner's.
    let (s, _) = app
        .call(
            Method::DELETE,
            &format!("/v1/members/{admin_id}"),
            Some(&member),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = app
        .call(
            Method::DELETE,
            &format!("/v1/members/{member_id}"),
            Some(&member),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = app.call(Method::GET, "/v1/org", Some(&member), None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, _) = app
        .call(
            Method::DELETE,
            &format!("/v1/members/{admin_id}"),
            Some(&app.owner),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = app.call(Method::GET, "/v1/org", Some(&admin), None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (_, v) = app
        .call(Method::GET, "/v1/members", Some(&app.owner), None)
        .await;
    assert_eq!(v["data"].as_array().unwrap().len(), 1, "{v}");
}

#[tokio::test]
async fn api_keys_are_listed_without_secrets_and_revoked_at_once() {
    let app = App::start().await;
    let member = app.member_key().await;
    let member_id = member_of(&app, &member).await;
    let owner_id = member_of(&app, &app.owner).await;
    let other = app.other_org().await;

    // Anyone makes its own keys; only an Owner makes keys for someone else.
    let (s, v) = app
        .call(
            Method::POST,
            "/v1/api-keys",
            Some(&member),
            Some(json!({"name": "laptop"})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let laptop = v["secret"].as_str().expect("secret shown once").to_string();
    assert!(laptop.starts_with(v["prefix"].as_str().unwrap()) && laptop.starts_with("fc_"));
    assert_eq!(
        (v["memberId"].as_str(), v["role"].as_str()),
        (Some(member_id.as_str()), Some("member"))
    );
    let laptop_id = v["id"].as_str().unwrap().to_string();
    let (s, _) = app.call(Method::GET, "/v1/org", Some(&laptop), None).await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = app
        .call(
            Method::POST,
            "/v1/api-keys",
            Some(&member),
            Some(json!({"name": "x", "memberId": owner_id})),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, v) = app
        .call(
            Method::POST,
            "/v1/api-keys",
            Some(&app.owner),
            Some(json!({"name": "ci", "memberId": member_id})),
        )
        .await;
    assert_eq!(
        (s, v["memberEmail"].as_str()),
        (StatusCode::CREATED, Some("member@acme.test"))
    );
    let ci = v["secret"].as_str().unwrap().to_string();
    let (s, v) = app
        .call(
            Method::POST,
            "/v1/api-keys",
            Some(&app.owner),
            Some(json!({"name": ""})),
        )
        .await;
    assert_eq!(
        (s, error_fields(&v)),
        (StatusCode::UNPROCESSABLE_ENTITY, vec!["name".to_string()])
    );
    let (s, v) = app
        .call(
            Method::POST,
            "/v1/api-keys",
            Some(&app.owner),
            Some(json!({"name": "x", "memberId": member_of(&app, &other).await})),
        )
        .await;
    assert_eq!(
        (s, error_fields(&v)),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            vec!["memberId".to_string()]
        )
    );

    // An Owner sees every key, a Member its own; no list shows a secret.
    let (s, all) = app
        .call(Method::GET, "/v1/api-keys", Some(&app.owner), None)
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(all["data"].as_array().unwrap().len(), 4, "{all}");
    let (_, own) = app
        .call(Method::GET, "/v1/api-keys", Some(&member), None)
        .await;
    assert_eq!(own["data"].as_array().unwrap().len(), 3, "{own}");
    assert!(own["data"]
        .as_array()
        .unwrap()
        .iter()
        .all(|k| k["memberId"] == json!(member_id)));
    for body in [&all, &own] {
        let text = body.to_string();
        for secret in [&app.owner, &member, &laptop, &ci] {
            assert!(!text.contains(secret.as_str()), "a list shows a secret");
        }
        assert!(body["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|k| k.get("secret").is_none()));
    }

    // Revoking: a Member only its own keys (others' are not found); the key is refused at once.
    let owner_key_id = all["data"][0]["id"].as_str().unwrap().to_string();
    let (s, _) = app
        .call(
            Method::DELETE,
            &format!("/v1/api-keys/{owner_key_id}"),
            Some(&member),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = app
        .call(
            Method::DELETE,
            &format!("/v1/api-keys/{laptop_id}"),
            Some(&other),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = app
        .call(
            Method::DELETE,
            &format!("/v1/api-keys/{laptop_id}"),
            Some(&member),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = app.call(Method::GET, "/v1/org", Some(&laptop), None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, _) = app
        .call(
            Method::DELETE,
            &format!("/v1/api-keys/{laptop_id}"),
            Some(&member),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "a revoked key is gone");
    let (_, all) = app
        .call(Method::GET, "/v1/api-keys", Some(&app.owner), None)
        .await;
    assert_eq!(
        all["data"].as_array().unwrap().len(),
        3,
        "revoked keys are not listed"
    );
}

#[tokio::test]
async fn demoting_a_member_cuts_its_keys_rights_at_once() {
    let app = App::start().await;
    let admin = key_with_role(&app, Role::Admin, "admin@acme.test").await;
    let admin_id = member_of(&app, &admin).await;
    let invite = json!({"email": "new@acme.test", "role": "member"});
    let (s, _) = app
        .call(
            Method::POST,
            "/v1/invites",
            Some(&admin),
            Some(invite.clone()),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, _) = app
        .call(
            Method::PATCH,
            &format!("/v1/members/{admin_id}"),
            Some(&app.owner),
            Some(json!({"role": "member"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = app
        .call(
            Method::POST,
            "/v1/invites",
            Some(&admin),
            Some(json!({"email": "b@acme.test", "role": "member"})),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, v) = app
        .call(Method::GET, "/v1/api-keys", Some(&admin), None)
        .await;
    assert_eq!(
        (s, v["data"][0]["role"].as_str()),
        (StatusCode::OK, Some("member"))
    );
}

#[tokio::test]
async fn the_organization_routes_are_described_in_openapi() {
    let app = App::start().await;
    let (s, doc) = app.call(Method::GET, "/openapi.json", None, None).await;
    assert_eq!(s, StatusCode::OK);
    let paths = &doc["paths"];
    for (path, methods) in [
        ("/v1/org", &["get", "patch"][..]),
        ("/v1/members", &["get"]),
        ("/v1/members/{id}", &["patch", "delete"]),
        ("/v1/invites", &["get", "post"]),
        ("/v1/invites/{id}", &["delete"]),
        ("/v1/invites/accept", &["post"]),
        ("/v1/api-keys", &["get", "post"]),
        ("/v1/api-keys/{id}", &["delete"]),
        ("/v1/audit", &["get"]),
    ] {
        for m in methods {
            assert!(paths[path][m].is_object(), "{m} {path} is not described");
        }
    }
    // Accepting an invite needs no key; everything else needs one.
    assert_eq!(paths["/v1/invites/accept"]["post"]["security"], json!([{}]));
    assert!(paths["/v1/invites"]["post"].get("security").is_none());
    let audit_params: Vec<&str> = paths["/v1/audit"]["get"]["parameters"]
        .as_array()
        .expect("parameters")
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    assert_eq!(audit_params, ["action", "targetId", "limit", "cursor"]);
}
