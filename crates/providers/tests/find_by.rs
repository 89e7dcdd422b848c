//! `find_by(object, field, values, fields)` against the sandbox: each adapter finds records by
//! a standard field through the provider's search (not a scan), values with a quote work,
//! missing values are simply absent, and more values than `max_find` are chunked.

mod common;

use std::sync::Arc;

use fluxcascade_core::ProviderKind;
use fluxcascade_providers::{connect, ConnectionContext, Provider, WriteOp, WriteResult};
use serde_json::{json, Value};

async fn create(p: &dyn Provider, object: &str, fields: Vec<Value>) -> Vec<String> {
    let ops: Vec<WriteOp> = fields
        .into_iter()
        .map(|fields| WriteOp::Create { fields })
        .collect();
    p.write(object, &ops)
        .await
        .expect("write")
        .into_iter()
        .map(|r| match r {
            WriteResult::Ok(rec) => rec.id,
            other => panic!("create failed: {other:?}"),
        })
        .collect()
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| (*s).to_owned()).collect()
}

fn sorted_ids(records: &[fluxcascade_core::Record]) -> Vec<String> {
    let mut ids: Vec<String> = records.iter().map(|r| r.id.clone()).collect();
    ids.sort();
    ids
}

#[tokio::test]
async fn hubspot_finds_by_email_with_in_searches_in_chunks_of_100() {
    let sb = common::start().await;
    sb.seed("hubspot", "contacts", 500).await;
    let p = sb.provider(ProviderKind::Hubspot).await;
    let ids = create(
        p.as_ref(),
        "contacts",
        vec![
            json!({"email": "Ada@Example.com", "lastname": "Lovelace"}),
            json!({"email": "o'brien@example.com", "lastname": "O'Brien"}),
        ],
    )
    .await;
    assert_eq!(p.max_find("contacts"), 100);
    assert!(p.can_search_by("contacts", "email"));
    assert!(!p.can_search_by("contacts", "emails[0].value"));
    // 148 values that match nothing plus the two: two IN searches of ≤100 values.
    let mut values: Vec<String> = (0..148)
        .map(|i| format!("missing-{i}@nowhere.io"))
        .collect();
    values.extend(strings(&[" ada@example.COM ", "O'Brien@example.com"]));
    let found = p
        .find_by("contacts", "email", &values, &strings(&["lastname"]))
        .await
        .expect("find_by");
    let mut want = ids.clone();
    want.sort();
    assert_eq!(sorted_ids(&found), want);
    assert!(found.iter().all(|r| r.fields["lastname"].is_string()));
    assert_eq!(sb.request_count("hubspot", "/search").await, 2);
    assert_eq!(
        sb.request_count("hubspot", "GET /crm/v3/objects/contacts")
            .await,
        0
    );
    let none = p
        .find_by("contacts", "email", &strings(&["nobody@none.io"]), &[])
        .await
        .expect("find_by");
    assert!(none.is_empty());
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
async fn salesforce_finds_by_email_with_soql_in_escaping_quotes_and_splitting_long_queries() {
    let sb = common::start().await;
    let p = salesforce(&sb).await;
    let ids = create(
        p.as_ref(),
        "Contact",
        vec![
            json!({"LastName": "O'Hara", "Email": "o'hara@example.com"}),
            json!({"LastName": "Back\\slash", "Email": "grace@example.com"}),
        ],
    )
    .await;
    assert_eq!(p.max_find("Contact"), 200);
    assert!(p.can_search_by("Contact", "Email"));
    assert!(!p.can_search_by("Contact", "Email) OR (Id"));
    // 198 long missing values: one call, split into several queries under the URI limit.
    let mut values: Vec<String> = (0..198)
        .map(|i| format!("{i}-{}@nowhere.io", "x".repeat(120)))
        .collect();
    values.extend(strings(&["O'HARA@example.com", "grace@example.com"]));
    let found = p
        .find_by("Contact", "Email", &values, &strings(&["LastName"]))
        .await
        .expect("find_by");
    let mut want = ids.clone();
    want.sort();
    assert_eq!(sorted_ids(&found), want);
    let queries = sb.request_count("salesforce", "/query").await;
    assert!(queries >= 2, "a long IN list is split: {queries} queries");
    let refused = p
        .find_by("Contact", "Email) OR (Id", &values[..1], &[])
        .await;
    assert!(refused.is_err(), "field names are checked");
    let none = p
        .find_by("Contact", "Email", &strings(&["nobody@none.io"]), &[])
        .await
        .expect("find_by");
    assert!(none.is_empty());
}

#[tokio::test]
async fn pipedrive_finds_persons_by_email_with_one_exact_search_per_value() {
    let sb = common::start().await;
    sb.seed("pipedrive", "persons", 300).await;
    let p = sb.provider(ProviderKind::Pipedrive).await;
    let ids = create(
        p.as_ref(),
        "persons",
        vec![
            json!({"name": "Ada Lovelace", "emails": [{"value": "Ada@Example.com", "primary": true, "label": "work"}]}),
            json!({"name": "Pat O'Neil", "emails": [{"value": "o'neil@example.com", "primary": true, "label": "work"}]}),
        ],
    )
    .await;
    assert!(p.can_search_by("persons", "emails[0].value"));
    assert!(!p.can_search_by("persons", "first_name"));
    let values = strings(&["ada@example.com", "O'Neil@example.com", "nobody@none.io"]);
    let found = p
        .find_by("persons", "emails[0].value", &values, &[])
        .await
        .expect("find_by");
    let mut want = ids.clone();
    want.sort();
    assert_eq!(sorted_ids(&found), want);
    assert_eq!(sb.request_count("pipedrive", "/persons/search").await, 3);
    // The hits' full records are read in one `ids=` list call, not by scanning.
    assert_eq!(
        sb.request_count("pipedrive", "GET /api/v2/persons").await,
        1
    );
}

#[tokio::test]
async fn jobber_finds_clients_by_email_through_search_term() {
    let sb = common::start().await;
    sb.seed("jobber", "clients", 200).await;
    let p = sb.provider(ProviderKind::Jobber).await;
    let ids = create(
        p.as_ref(),
        "clients",
        vec![
            json!({"firstName": "Ada", "lastName": "Lovelace", "emails": [{"address": "ada@example.com"}]}),
            json!({"firstName": "Ada", "lastName": "Longer", "emails": [{"address": "ada@example.com.au"}]}),
            json!({"firstName": "Pat", "lastName": "O'Neil", "emails": [{"address": "o'neil@example.com"}]}),
        ],
    )
    .await;
    assert!(p.can_search_by("clients", "emails[0].address"));
    assert!(!p.can_search_by("jobs", "title"));
    let values = strings(&["ADA@example.com", "o'neil@example.com", "nobody@none.io"]);
    let found = p
        .find_by("clients", "emails[0].address", &values, &[])
        .await
        .expect("find_by");
    // `searchTerm` also hits ada@example.com.au; only exact matches are kept.
    let mut want = vec![ids[0].clone(), ids[2].clone()];
    want.sort();
    assert_eq!(sorted_ids(&found), want);
}
