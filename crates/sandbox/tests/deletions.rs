//! Deletions as each provider does them: HubSpot archives (204, listable with `archived=true`,
//! a `{object}.deletion` webhook), Jobber `clientArchive` and a deleted client's
//! `CLIENT_DESTROY`, Pipedrive `is_deleted`, Salesforce's recycle bin; and the control plane's
//! `DELETE /_sandbox/{provider}/{object}/{id}`.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::routing::post;
use axum::Router;
use common::{salesforce_tokens, start, TestSandbox};
use serde_json::{json, Value};

type Received = Arc<Mutex<Vec<(String, String)>>>;

/// A receiver for HubSpot and Jobber webhooks: (path, body) per POST.
async fn receiver() -> (String, Received) {
    let got: Received = Arc::default();
    async fn hook(State(got): State<Received>, uri: axum::http::Uri, body: Bytes) -> &'static str {
        got.lock().unwrap().push((
            uri.path().to_owned(),
            String::from_utf8_lossy(&body).into_owned(),
        ));
        "ok"
    }
    let app = Router::new()
        .route("/hooks/hubspot", post(hook))
        .route("/hooks/jobber", post(hook))
        .with_state(got.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (base, got)
}

/// Waits (bounded) until `n` deliveries arrived; returns what arrived.
async fn wait_for(got: &Received, n: usize) -> Vec<(String, String)> {
    for _ in 0..150 {
        if got.lock().unwrap().len() >= n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    got.lock().unwrap().clone()
}

async fn control_delete(t: &TestSandbox, path: &str) -> u16 {
    t.http
        .delete(t.url(&format!("/_sandbox/{path}")))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn hubspot_delete_archives_lists_with_archived_true_and_sends_deletion() {
    let (hook_base, got) = receiver().await;
    let t = start().await;
    t.seed("hubspot", "contacts", 3).await;
    t.config(json!({"webhookUrl": hook_base})).await;
    let tok = t.hubspot_token().await;
    let (_, page) = t.hs(&tok, "GET", "/crm/v3/objects/contacts", None).await;
    let ids: Vec<String> = page["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 3);

    // The API's DELETE: 204, then the object is gone from reads and lists...
    let (status, _) = t
        .hs(
            &tok,
            "DELETE",
            &format!("/crm/v3/objects/contacts/{}", ids[0]),
            None,
        )
        .await;
    assert_eq!(status, 204);
    let (status, _) = t
        .hs(
            &tok,
            "GET",
            &format!("/crm/v3/objects/contacts/{}", ids[0]),
            None,
        )
        .await;
    assert_eq!(status, 404);
    let (_, live) = t.hs(&tok, "GET", "/crm/v3/objects/contacts", None).await;
    assert_eq!(live["results"].as_array().unwrap().len(), 2);
    // ...and listed with archived=true, with its archive time.
    let (_, archived) = t
        .hs(&tok, "GET", "/crm/v3/objects/contacts?archived=true", None)
        .await;
    let archived = archived["results"].as_array().unwrap().clone();
    assert_eq!(archived.len(), 1);
    assert_eq!(archived[0]["id"], ids[0].as_str());
    assert_eq!(archived[0]["archived"], true);
    assert!(archived[0]["archivedAt"].as_str().is_some(), "{archived:?}");
    // An unknown id is still 204, as HubSpot answers.
    let (status, _) = t
        .hs(&tok, "DELETE", "/crm/v3/objects/contacts/999999999", None)
        .await;
    assert_eq!(status, 204);

    // A person deletes another in HubSpot: archived the same way.
    assert_eq!(
        control_delete(&t, &format!("hubspot/contacts/{}", ids[1])).await,
        204
    );
    assert_eq!(
        control_delete(&t, &format!("hubspot/contacts/{}", ids[1])).await,
        404,
        "an archived object cannot be deleted again"
    );

    let hits = wait_for(&got, 2).await;
    let events: Vec<Value> = hits
        .iter()
        .flat_map(|(_, b)| serde_json::from_str::<Vec<Value>>(b).unwrap())
        .collect();
    let deletions: Vec<(String, String)> = events
        .iter()
        .map(|e| {
            assert_eq!(e["subscriptionType"], "contact.deletion", "{e}");
            (
                e["objectId"].to_string(),
                e["changeSource"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        deletions,
        [
            (ids[0].clone(), "INTEGRATION".to_owned()),
            (ids[1].clone(), "CRM_UI".to_owned())
        ]
    );
}

#[tokio::test]
async fn hubspot_batch_archive_sends_one_deletion_per_archived_object() {
    let (hook_base, got) = receiver().await;
    let t = start().await;
    t.seed("hubspot", "deals", 2).await;
    t.config(json!({"webhookUrl": hook_base})).await;
    let tok = t.hubspot_token().await;
    let (_, page) = t.hs(&tok, "GET", "/crm/v3/objects/deals", None).await;
    let id = page["results"][0]["id"].as_str().unwrap().to_owned();
    let (status, _) = t
        .hs(
            &tok,
            "POST",
            "/crm/v3/objects/deals/batch/archive",
            Some(json!({"inputs": [{"id": id}, {"id": "424242"}]})),
        )
        .await;
    assert_eq!(status, 204);
    let hits = wait_for(&got, 1).await;
    let events: Vec<Value> = serde_json::from_str(&hits[0].1).unwrap();
    assert_eq!(events.len(), 1, "only the object that existed: {events:?}");
    assert_eq!(events[0]["subscriptionType"], "deal.deletion");
    assert_eq!(events[0]["objectId"].to_string(), id);
}

#[tokio::test]
async fn jobber_client_archive_and_control_delete_sends_client_destroy() {
    let (hook_base, got) = receiver().await;
    let t = start().await;
    t.seed("jobber", "clients", 2).await;
    let tok = t.jobber_token().await;
    let (_, body) = t
        .gql(
            &tok,
            "{ clients(first: 10) { nodes { id isArchived } } }",
            json!({}),
        )
        .await;
    let nodes = body["data"]["clients"]["nodes"].as_array().unwrap().clone();
    let (a, b) = (
        nodes[0]["id"].as_str().unwrap().to_owned(),
        nodes[1]["id"].as_str().unwrap().to_owned(),
    );

    let (_, body) = t
        .gql(
            &tok,
            "mutation A($id: EncodedId!) { clientArchive(clientId: $id) { client { id isArchived } userErrors { message path } } }",
            json!({"id": a}),
        )
        .await;
    let payload = &body["data"]["clientArchive"];
    assert_eq!(payload["client"]["isArchived"], true, "{body}");
    assert_eq!(payload["userErrors"], json!([]));
    let (_, body) = t
        .gql(
            &tok,
            "{ clients(first: 10, filter: {isArchived: true}) { nodes { id } } }",
            json!({}),
        )
        .await;
    assert_eq!(body["data"]["clients"]["nodes"], json!([{"id": a}]));
    let (_, body) = t
        .gql(
            &tok,
            r#"mutation { clientArchive(clientId: "Z2lkOi8vSm9iYmVyL0NsaWVudC8x") { client { id } userErrors { message path } } }"#,
            json!({}),
        )
        .await;
    assert_eq!(body["data"]["clientArchive"]["client"], Value::Null);
    assert_eq!(
        body["data"]["clientArchive"]["userErrors"][0]["path"],
        json!(["clientId"])
    );

    // A person deletes the other client in Jobber: gone, and CLIENT_DESTROY goes out.
    t.config(json!({"webhookUrl": hook_base})).await;
    assert_eq!(
        control_delete(&t, &format!("jobber/clients/{b}")).await,
        204
    );
    assert_eq!(
        control_delete(&t, &format!("jobber/clients/{b}")).await,
        404
    );
    let r = t
        .http
        .get(t.url(&format!("/_sandbox/jobber/clients/{b}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let hits = wait_for(&got, 1).await;
    assert_eq!(hits.len(), 1);
    let v: Value = serde_json::from_str(&hits[0].1).unwrap();
    assert_eq!(v["data"]["webHookEvent"]["topic"], "CLIENT_DESTROY");
    assert_eq!(v["data"]["webHookEvent"]["itemId"], b.as_str());
}

#[tokio::test]
async fn pipedrive_control_delete_marks_the_record_deleted() {
    let t = start().await;
    t.seed("pipedrive", "persons", 2).await;
    assert_eq!(control_delete(&t, "pipedrive/persons/1").await, 204);
    assert_eq!(control_delete(&t, "pipedrive/persons/1").await, 404);
    let r = t
        .http
        .get(t.url("/_sandbox/pipedrive/persons"))
        .send()
        .await
        .unwrap();
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["total"], 1);
    assert_eq!(body["data"][0]["id"], 2);
}

#[tokio::test]
async fn salesforce_control_delete_sends_the_record_to_the_recycle_bin() {
    let t = start().await;
    t.seed("salesforce", "Contact", 1).await;
    let tokens = salesforce_tokens(&t).await;
    let tok = tokens["access_token"].as_str().unwrap();
    let r = t
        .http
        .get(t.url("/_sandbox/salesforce/Contact"))
        .send()
        .await
        .unwrap();
    let body: Value = r.json().await.unwrap();
    let id = body["data"][0]["Id"].as_str().unwrap().to_owned();
    assert_eq!(
        control_delete(&t, &format!("salesforce/Contact/{id}")).await,
        204
    );
    assert_eq!(
        control_delete(&t, &format!("salesforce/Contact/{id}")).await,
        404
    );
    let url = t.url(&format!(
        "/salesforce/services/data/v60.0/sobjects/Contact/{id}"
    ));
    let r = t.http.get(&url).bearer_auth(tok).send().await.unwrap();
    assert_eq!(r.status(), 404);
    // The API knows it was deleted (it is in the recycle bin, not unknown).
    let r = t.http.delete(&url).bearer_auth(tok).send().await.unwrap();
    assert_eq!(r.status(), 404);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body[0]["errorCode"], "ENTITY_IS_DELETED", "{body}");
}

/// `queryAll` returns the recycle bin's records with `IsDeleted = true` and a `SystemModstamp`
/// of the deletion, so an incremental read sees deletions; `query` does not.
#[tokio::test]
async fn salesforce_query_all_returns_deleted_records_with_is_deleted() {
    let t = start().await;
    t.seed("salesforce", "Contact", 3).await;
    let tokens = salesforce_tokens(&t).await;
    let tok = tokens["access_token"].as_str().unwrap();
    let body: Value = t
        .http
        .get(t.url("/_sandbox/salesforce/Contact"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = body["data"][1]["Id"].as_str().unwrap().to_owned();
    let before = body["data"][1]["SystemModstamp"]
        .as_str()
        .unwrap()
        .to_owned();
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(
        control_delete(&t, &format!("salesforce/Contact/{id}")).await,
        204
    );
    let run = |resource: &'static str, q: &'static str| {
        let url = t.url(&format!("/salesforce/services/data/v60.0/{resource}"));
        let req = t.http.get(url).query(&[("q", q)]).bearer_auth(tok);
        async move {
            let r = req.send().await.unwrap();
            assert_eq!(r.status(), 200, "{resource}");
            r.json::<Value>().await.unwrap()
        }
    };
    let q = "SELECT Id, IsDeleted, SystemModstamp FROM Contact ORDER BY SystemModstamp, Id";
    let live = run("query", q).await;
    assert_eq!(live["totalSize"], 2, "{live}");
    assert!(live["records"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["Id"] != id.as_str() && r["IsDeleted"] == false));
    let all = run("queryAll", q).await;
    assert_eq!(all["totalSize"], 3, "{all}");
    let gone = all["records"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["Id"] == id.as_str())
        .expect("the deleted contact");
    assert_eq!(gone["IsDeleted"], true);
    assert!(gone["SystemModstamp"].as_str().unwrap() > before.as_str());
    let only_deleted = run("queryAll/", "SELECT Id FROM Contact WHERE IsDeleted = true").await;
    assert_eq!(only_deleted["totalSize"], 1, "{only_deleted}");
}
