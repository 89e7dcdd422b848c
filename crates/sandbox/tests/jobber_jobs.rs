//! Jobber properties and jobs over GraphQL and the control plane.

mod common;

use std::collections::HashSet;

use common::start;
use serde_json::{json, Value};

const LIST_JOBS: &str = "query ListJobs($first: Int!, $after: String) { \
  jobs(first: $first, after: $after, sort: [{ key: UPDATED_AT, direction: DESCENDING }]) { nodes { \
  id jobNumber title instructions jobStatus jobType startAt endAt completedAt total \
  createdAt updatedAt client { id } property { id } } pageInfo { endCursor hasNextPage } } }";

#[tokio::test]
async fn seeded_jobs_page_newest_first() {
    let t = start().await;
    t.seed("jobber", "clients", 3).await;
    t.seed("jobber", "jobs", 25).await;
    let tok = t.jobber_token().await;
    let mut seen = Vec::new();
    let mut after = Value::Null;
    loop {
        let (status, body) = t
            .gql(&tok, LIST_JOBS, json!({"first": 10, "after": after}))
            .await;
        assert_eq!(status, 200, "{body}");
        let conn = &body["data"]["jobs"];
        for n in conn["nodes"].as_array().unwrap() {
            assert!(n["client"]["id"].as_str().is_some());
            assert!(n["property"]["id"].as_str().is_some());
            seen.push((
                n["updatedAt"].as_str().unwrap().to_owned(),
                n["id"].as_str().unwrap().to_owned(),
            ));
        }
        if conn["pageInfo"]["hasNextPage"] == false {
            break;
        }
        after = conn["pageInfo"]["endCursor"].clone();
    }
    assert_eq!(seen.len(), 25);
    assert_eq!(
        seen.iter().map(|(_, id)| id).collect::<HashSet<_>>().len(),
        25
    );
    assert!(seen.windows(2).all(|w| w[0].0 >= w[1].0), "newest first");
}

#[tokio::test]
async fn property_create_then_job_create() {
    let t = start().await;
    let tok = t.jobber_token().await;
    let (_, body) = t
        .gql(
            &tok,
            r#"mutation { clientCreate(input: {companyName: "Pool Co"}) { client { id } } }"#,
            json!({}),
        )
        .await;
    let client_id = body["data"]["clientCreate"]["client"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, body) = t
        .gql(
            &tok,
            "mutation P($c: EncodedId!, $i: PropertyCreateInput!) { propertyCreate(clientId: $c, input: $i) { properties { id address { city } } userErrors { message } } }",
            json!({"c": client_id, "i": {"properties": [{"address": {"street1": "9 Elm", "city": "Salem"}}]}}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let prop = &body["data"]["propertyCreate"]["properties"][0];
    assert_eq!(prop["address"]["city"], "Salem");
    let property_id = prop["id"].as_str().unwrap().to_owned();
    let create = "mutation J($input: JobCreateAttributes!) { jobCreate(input: $input) { job { id title jobNumber client { id } } userErrors { message path } } }";
    let (_, body) = t
        .gql(
            &tok,
            create,
            json!({"input": {"propertyId": property_id, "title": "Open pool",
            "scheduling": {"createVisits": false, "notifyTeam": false},
            "invoicing": {"invoicingType": "FIXED_PRICE", "invoicingSchedule": "ON_COMPLETION"}}}),
        )
        .await;
    let job = &body["data"]["jobCreate"]["job"];
    assert_eq!(job["title"], "Open pool");
    assert_eq!(job["client"]["id"], client_id.as_str());
    assert_eq!(job["jobNumber"], 1);
    let (_, body) = t
        .gql(&tok, create, json!({"input": {"propertyId": "bogus"}}))
        .await;
    assert_eq!(body["data"]["jobCreate"]["job"], Value::Null);
    assert_eq!(
        body["data"]["jobCreate"]["userErrors"][0]["path"],
        json!(["input", "propertyId"])
    );

    let id = job["id"].as_str().unwrap();
    let r = t
        .http
        .patch(t.url(&format!("/_sandbox/jobber/jobs/{id}")))
        .json(&json!({"title": "Close pool"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (_, body) = t
        .gql(
            &tok,
            &format!(r#"{{ job(id: "{id}") {{ title }} }}"#),
            json!({}),
        )
        .await;
    assert_eq!(body["data"]["job"]["title"], "Close pool");
}
