//! A connection's account is learned from the provider with its token, never taken from a client:
//! an org cannot claim another tenant's portal to receive its webhook events.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::harness::{error_fields, App};

async fn connections(app: &App) -> Vec<Value> {
    let (s, v) = app
        .call(Method::GET, "/v1/connections", Some(&app.owner), None)
        .await;
    assert_eq!(s, StatusCode::OK);
    v["data"].as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn each_provider_names_the_account_and_a_claim_must_agree() {
    let app = App::start().await;
    for provider in ["hubspot", "jobber", "pipedrive", "salesforce"] {
        let tokens = app.sandbox_tokens(provider, "victim").await;
        let (s, v) = app
            .import_connection(&app.owner, provider, "mine", json!({}))
            .await;
        assert_eq!(s, StatusCode::CREATED, "{provider}: {v}");
        let mine = v["externalAccountId"].as_str().expect("account").to_owned();
        assert!(!mine.is_empty(), "{provider}: the account is learned");

        // Claiming the victim's account with one's own token is refused, naming the field.
        let victim = match tokens.account_id {
            Some(a) => a,
            None => {
                // Pipedrive's token response names no company: learn it the way a user would.
                let (s, v) = app
                    .import_connection(&app.owner, provider, "victim", json!({}))
                    .await;
                assert_eq!(s, StatusCode::CREATED, "{v}");
                v["externalAccountId"].as_str().expect("account").to_owned()
            }
        };
        assert_ne!(victim, mine, "{provider}: two sandbox accounts differ");
        let before = connections(&app).await.len();
        let (s, v) = app
            .import_connection(
                &app.owner,
                provider,
                "mine",
                json!({"externalAccountId": victim}),
            )
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{provider}: {v}");
        assert_eq!(error_fields(&v), ["externalAccountId"], "{provider}");
        assert_eq!(connections(&app).await.len(), before, "nothing stored");

        // A claim that agrees is fine.
        let (s, v) = app
            .import_connection(
                &app.owner,
                provider,
                "mine",
                json!({"externalAccountId": mine}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{provider}: {v}");
        assert_eq!(v["externalAccountId"], mine.as_str());
    }
}

#[tokio::test]
async fn a_token_the_provider_does_not_know_is_refused_and_nothing_is_stored() {
    let app = App::start().await;
    for provider in ["hubspot", "jobber", "pipedrive", "salesforce"] {
        let mut body = json!({"provider": provider,
            "externalAccountId": "123", "credentials": {"accessToken": "forged-token"}});
        if matches!(provider, "pipedrive" | "salesforce") {
            body["instanceUrl"] = json!(format!("{}/{provider}", app.sandbox));
        }
        let (s, v) = app
            .call(
                Method::POST,
                "/v1/connections",
                Some(&app.owner),
                Some(body),
            )
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{provider}: {v}");
        assert_eq!(error_fields(&v), ["credentials.accessToken"], "{provider}");
        assert!(
            !v.to_string().contains("forged-token"),
            "the token is not echoed: {v}"
        );
    }
    assert!(connections(&app).await.is_empty());
}
