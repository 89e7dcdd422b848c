//! Jobber GraphQL emulation over HTTP: paging, filters, mutations, selections, cost.

mod common;

use std::collections::HashSet;

use common::{start, start_with};
use serde_json::{json, Value};

const PAGE: &str = r#"query Page($after: String, $since: ISO8601DateTime) {
  clients(first: 40, after: $after, filter: {updatedAt: {after: $since}}) {
    nodes { id updatedAt }
    pageInfo { endCursor hasNextPage }
    totalCount
  }
}"#;

#[tokio::test]
async fn clients_paging_with_updated_at_filter_sees_each_change_once() {
    let t = start().await;
    t.seed("jobber", "clients", 100).await;
    let tok = t.jobber_token().await;
    let mut ids = Vec::new();
    let mut after = Value::Null;
    loop {
        let (status, body) = t
            .gql(
                &tok,
                PAGE,
                json!({"after": after, "since": "2000-01-01T00:00:00Z"}),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        let conn = &body["data"]["clients"];
        assert_eq!(conn["totalCount"], 100);
        for n in conn["nodes"].as_array().unwrap() {
            ids.push(n["id"].as_str().unwrap().to_owned());
        }
        if conn["pageInfo"]["hasNextPage"] == false {
            break;
        }
        after = conn["pageInfo"]["endCursor"].clone();
    }
    assert_eq!(ids.len(), 100);
    assert_eq!(ids.iter().collect::<HashSet<_>>().len(), 100);

    // Change one client through the control plane; an updatedAt filter just
    // before "now" returns exactly that client.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let since = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let r = t
        .http
        .patch(t.url(&format!("/_sandbox/jobber/clients/{}", ids[10])))
        .json(&json!({"firstName": "Changed"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (_, body) = t.gql(&tok, PAGE, json!({"since": since})).await;
    let nodes = body["data"]["clients"]["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 1, "{body}");
    assert_eq!(nodes[0]["id"], ids[10].as_str());
}

#[tokio::test]
async fn client_create_and_edit_with_variables_return_only_selected_fields() {
    let t = start().await;
    let tok = t.jobber_token().await;
    let create = r#"mutation Create($input: ClientCreateInput!) {
      clientCreate(input: $input) {
        client { id name first: firstName emails { address primary } __typename }
        userErrors { message path }
      }
    }"#;
    let input = json!({
        "firstName": "Jane", "lastName": "Doe", "companyName": "Doe Co",
        "emails": [{"description": "MAIN", "primary": true, "address": "jane@doe.co"}],
        "phones": [{"description": "MOBILE", "primary": true, "number": "617-555-0101"}],
        "billingAddress": {"street1": "1 Main St", "city": "Boston", "province": "MA", "postalCode": "02101", "country": "US"}
    });
    let (status, body) = t.gql(&tok, create, json!({"input": input})).await;
    assert_eq!(status, 200, "{body}");
    let payload = &body["data"]["clientCreate"];
    assert_eq!(payload["userErrors"], json!([]));
    let client = payload["client"].as_object().unwrap();
    let keys: HashSet<&str> = client.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        HashSet::from(["id", "name", "first", "emails", "__typename"])
    );
    assert_eq!(client["first"], "Jane");
    assert_eq!(client["__typename"], "Client");
    assert_eq!(
        client["emails"],
        json!([{"address": "jane@doe.co", "primary": true}])
    );
    let id = client["id"].as_str().unwrap().to_owned();
    let cost = &body["extensions"]["cost"];
    assert_eq!(cost["throttleStatus"]["maximumAvailable"], 10000);
    assert_eq!(cost["throttleStatus"]["restoreRate"], 500);

    let edit = r#"mutation Edit($id: EncodedId!, $input: ClientEditInput!) {
      clientEdit(clientId: $id, input: $input) {
        client { lastName emails { address } billingAddress { city street1 } }
        userErrors { message }
      }
    }"#;
    let (status, body) = t
        .gql(
            &tok,
            edit,
            json!({"id": id, "input": {
                "lastName": "Roe",
                "emailsToAdd": [{"address": "jr@doe.co", "description": "WORK"}],
                "billingAddress": {"city": "Cambridge"}
            }}),
        )
        .await;
    assert_eq!(status, 200);
    let c = &body["data"]["clientEdit"]["client"];
    assert_eq!(c["lastName"], "Roe");
    assert_eq!(c["emails"].as_array().unwrap().len(), 2);
    assert_eq!(
        c["billingAddress"],
        json!({"city": "Cambridge", "street1": "1 Main St"})
    );

    // Inline literal arguments work too.
    let (_, body) = t
        .gql(
            &tok,
            &format!(r#"{{ client(id: "{id}") {{ lastName phones {{ number description }} }} }}"#),
            json!({}),
        )
        .await;
    assert_eq!(body["data"]["client"]["phones"][0]["description"], "MOBILE");
}

#[tokio::test]
async fn client_create_without_any_name_is_a_user_error() {
    let t = start().await;
    let tok = t.jobber_token().await;
    let (status, body) = t
        .gql(&tok, r#"mutation { clientCreate(input: {emails: [{address: "x@y.z"}]}) { client { id } userErrors { message path } } }"#, json!({}))
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["data"]["clientCreate"]["client"], Value::Null);
    assert!(!body["data"]["clientCreate"]["userErrors"]
        .as_array()
        .unwrap()
        .is_empty());
    let r = t
        .http
        .get(t.url("/_sandbox/jobber/clients"))
        .send()
        .await
        .unwrap();
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["total"], 0);
}

#[tokio::test]
async fn unknown_fields_and_syntax_errors_are_graphql_errors() {
    let t = start().await;
    let tok = t.jobber_token().await;
    let (status, body) = t.gql(&tok, "{ widgets { id } }", json!({})).await;
    assert_eq!(status, 200);
    assert_eq!(
        body["errors"][0]["message"],
        "Field 'widgets' doesn't exist on type 'Query'"
    );
    assert!(body.get("data").is_none());
    let (_, body) = t
        .gql(&tok, "{ clients { nodes { id shoeSize } } }", json!({}))
        .await;
    assert!(body["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("shoeSize"));
    let (_, body) = t.gql(&tok, "{ clients { nodes { id } ", json!({})).await;
    assert!(body["errors"].as_array().is_some_and(|e| !e.is_empty()));
    // A mutation with a bad selection writes nothing.
    let (_, body) = t
        .gql(
            &tok,
            r#"mutation { clientCreate(input: {firstName: "A"}) { client { bogus } } }"#,
            json!({}),
        )
        .await;
    assert!(body["errors"].is_array());
    let v: Value = t
        .http
        .get(t.url("/_sandbox/jobber/clients"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["total"], 0);
}

#[tokio::test]
async fn missing_version_header_is_rejected() {
    let t = start().await;
    let tok = t.jobber_token().await;
    let r = t
        .http
        .post(t.url("/jobber/api/graphql"))
        .bearer_auth(&tok)
        .json(&json!({"query": "{ clients { totalCount } }"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
}

#[tokio::test]
async fn query_cost_bucket_throttles() {
    let t = start_with(true).await;
    t.config(json!({"rateLimits": {"jobber": {"maximumAvailable": 500, "restoreRate": 1}}}))
        .await;
    t.seed("jobber", "clients", 5).await;
    let tok = t.jobber_token().await;
    let q = "{ clients(first: 100) { nodes { id firstName lastName } } }";
    let (status, first) = t.gql(&tok, q, json!({})).await;
    assert_eq!(status, 200);
    assert!(first["data"]["clients"]["nodes"].is_array(), "{first}");
    let requested = first["extensions"]["cost"]["requestedQueryCost"]
        .as_u64()
        .unwrap();
    assert!(
        requested >= 300,
        "connection cost scales with first: {requested}"
    );
    let (status, second) = t.gql(&tok, q, json!({})).await;
    assert_eq!(status, 200);
    assert_eq!(second["errors"][0]["extensions"]["code"], "THROTTLED");
    assert!(
        second["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"]
            .as_u64()
            .unwrap()
            < requested
    );
}

#[tokio::test]
async fn request_cap_answers_429() {
    let t = start_with(true).await;
    t.config(json!({"rateLimits": {"jobber": {"requestsPerFiveMinutes": 2}}}))
        .await;
    let tok = t.jobber_token().await;
    for _ in 0..2 {
        assert_eq!(
            t.gql(&tok, "{ clients { totalCount } }", json!({})).await.0,
            200
        );
    }
    assert_eq!(
        t.gql(&tok, "{ clients { totalCount } }", json!({})).await.0,
        429
    );
}
