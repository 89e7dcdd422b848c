//! `get_many(object, ids, fields)` against the sandbox: each adapter brings back a field that is
//! outside its defaults when the caller names it (the fields a mapping reads on a webhook run).

mod common;

use std::sync::Arc;

use fluxcascade_core::ProviderKind;
use fluxcascade_providers::{connect, ConnectionContext, Provider, WriteOp, WriteResult};
use serde_json::json;

fn created_id(results: &[WriteResult]) -> String {
    match &results[0] {
        WriteResult::Ok(rec) => rec.id.clone(),
        other => panic!("create failed: {other:?}"),
    }
}

#[tokio::test]
async fn hubspot_get_many_reads_a_named_non_default_property() {
    let sb = common::start().await;
    let p = sb.provider(ProviderKind::Hubspot).await;
    let create = WriteOp::Create {
        fields: json!({"email": "ada@example.com", "lastname": "Lovelace", "jobtitle": "Analyst"}),
    };
    let id = created_id(&p.write("contacts", &[create]).await.expect("write"));
    let ids = [id];

    let defaults = p.get_many("contacts", &ids, &[]).await.expect("get_many");
    assert!(
        defaults[0].fields.get("jobtitle").is_none(),
        "jobtitle is not a default"
    );

    let named = p
        .get_many("contacts", &ids, &["jobtitle".to_owned()])
        .await
        .expect("get_many");
    assert_eq!(named.len(), 1);
    assert_eq!(named[0].fields["jobtitle"], "Analyst");
    // Named properties replace the defaults, as in `list`.
    assert!(named[0].fields.get("email").is_none());
}

/// The adapter on the token response's `instance_url`.
async fn salesforce(sb: &common::TestSandbox) -> Arc<dyn Provider> {
    let t = sb.connect_oauth(ProviderKind::Salesforce).await;
    let mut ctx = ConnectionContext::simple(
        Arc::new(fluxcascade_providers::StaticToken(t.access_token)),
        reqwest::Client::new(),
    );
    ctx.instance_url = t.instance_url.clone();
    connect(ProviderKind::Salesforce, &sb.config, ctx).expect("connect")
}

#[tokio::test]
async fn salesforce_get_many_reads_a_named_custom_field() {
    let sb = common::start().await;
    let p = salesforce(&sb).await;
    let create = WriteOp::Create {
        fields: json!({"LastName": "Hopper", "Email": "grace@example.com", "Loyalty_Tier__c": "Gold"}),
    };
    let id = created_id(&p.write("Contact", &[create]).await.expect("write"));
    let ids = [id];

    let defaults = p.get_many("Contact", &ids, &[]).await.expect("get_many");
    assert!(defaults[0].fields.get("Loyalty_Tier__c").is_none());

    let named = p
        .get_many("Contact", &ids, &["Loyalty_Tier__c".to_owned()])
        .await
        .expect("get_many");
    assert_eq!(named.len(), 1);
    assert_eq!(named[0].fields["Loyalty_Tier__c"], "Gold");
    assert_eq!(
        named[0].fields["Email"], "grace@example.com",
        "defaults stay"
    );

    let bad = p
        .get_many("Contact", &ids, &["Email) FROM x".to_owned()])
        .await;
    assert!(
        bad.is_err(),
        "a name that is not a field is refused: {bad:?}"
    );
}

/// Pipedrive v2 answers the whole object, custom fields included: a named custom field is there.
#[tokio::test]
async fn pipedrive_get_many_reads_custom_fields() {
    let sb = common::start().await;
    let p = sb.provider(ProviderKind::Pipedrive).await;
    let key = "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678";
    let create = WriteOp::Create {
        fields: json!({"name": "Katherine Johnson", "custom_fields": {key: "Gold"}}),
    };
    let id = created_id(&p.write("persons", &[create]).await.expect("write"));
    let named = p
        .get_many("persons", &[id], &["custom_fields".to_owned()])
        .await
        .expect("get_many");
    assert_eq!(named.len(), 1);
    assert_eq!(named[0].fields["custom_fields"][key], "Gold");
}

/// Jobber's selection is fixed (its documents are validated against the schema); every client
/// field the adapter knows comes back whatever is named, the company name among them.
#[tokio::test]
async fn jobber_get_many_reads_a_named_client_field() {
    let sb = common::start().await;
    let p = sb.provider(ProviderKind::Jobber).await;
    let create = WriteOp::Create {
        fields: json!({"firstName": "Mary", "lastName": "Jackson", "companyName": "NACA"}),
    };
    let id = created_id(&p.write("clients", &[create]).await.expect("write"));
    let named = p
        .get_many("clients", &[id], &["companyName".to_owned()])
        .await
        .expect("get_many");
    assert_eq!(named.len(), 1);
    assert_eq!(named[0].fields["companyName"], "NACA");
    assert_eq!(named[0].fields["lastName"], "Jackson");
}
