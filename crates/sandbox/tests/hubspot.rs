//! HubSpot CRM v3 emulation over HTTP: paging, properties, batch, search, rate limits.

mod common;

use std::collections::HashSet;

use common::{start, start_with};
use serde_json::{json, Value};

#[tokio::test]
async fn list_paging_returns_every_record_once_in_id_order() {
    let t = start().await;
    t.seed("hubspot", "contacts", 250).await;
    let tok = t.hubspot_token().await;
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    let mut pages = 0;
    loop {
        let path = match &after {
            Some(a) => format!("/crm/v3/objects/contacts?limit=100&after={a}"),
            None => "/crm/v3/objects/contacts?limit=100".to_owned(),
        };
        let (status, body) = t.hs(&tok, "GET", &path, None).await;
        assert_eq!(status, 200, "{body}");
        pages += 1;
        for r in body["results"].as_array().unwrap() {
            seen.push(r["id"].as_str().unwrap().parse::<u64>().unwrap());
            assert_eq!(r["archived"], false);
        }
        match body["paging"]["next"]["after"].as_str() {
            Some(a) => {
                assert!(body["paging"]["next"]["link"]
                    .as_str()
                    .unwrap()
                    .contains("after="));
                after = Some(a.to_owned());
            }
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen.len(), 250);
    let unique: HashSet<_> = seen.iter().collect();
    assert_eq!(unique.len(), 250);
    assert!(seen.windows(2).all(|w| w[0] < w[1]));
}

#[tokio::test]
async fn properties_are_strings_and_only_requested_ones_are_returned() {
    let t = start().await;
    t.seed("hubspot", "contacts", 1).await;
    let tok = t.hubspot_token().await;
    let (_, body) = t.hs(&tok, "GET", "/crm/v3/objects/contacts", None).await;
    let props = body["results"][0]["properties"].as_object().unwrap();
    let keys: HashSet<&str> = props.keys().map(String::as_str).collect();
    let defaults: HashSet<&str> = [
        "createdate",
        "email",
        "firstname",
        "hs_object_id",
        "lastmodifieddate",
        "lastname",
    ]
    .into();
    assert_eq!(keys, defaults);
    assert!(props.values().all(Value::is_string));
    let (_, body) = t
        .hs(
            &tok,
            "GET",
            "/crm/v3/objects/contacts?properties=phone,city",
            None,
        )
        .await;
    let props = body["results"][0]["properties"].as_object().unwrap();
    assert!(props["phone"].as_str().unwrap().contains("555"));
    assert!(props.contains_key("city"));
    assert!(!props.contains_key("email"));
    let lm = props["lastmodifieddate"].as_str().unwrap();
    assert_eq!(lm.len(), "2024-01-01T00:00:00.000Z".len(), "{lm}");
    assert!(lm.ends_with('Z'));
}

#[tokio::test]
async fn create_get_patch_bump_modified_date() {
    let t = start().await;
    let tok = t.hubspot_token().await;
    let (status, created) = t
        .hs(
            &tok,
            "POST",
            "/crm/v3/objects/contacts",
            Some(json!({"properties": {"email": "a@b.io", "firstname": "Ann", "age": 41}})),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(created["properties"]["age"], "41");
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let (status, patched) = t
        .hs(
            &tok,
            "PATCH",
            &format!("/crm/v3/objects/contacts/{id}"),
            Some(json!({"properties": {"firstname": "Anna"}})),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(patched["properties"]["firstname"], "Anna");
    assert!(patched["updatedAt"].as_str().unwrap() > created["updatedAt"].as_str().unwrap());
    let (status, got) = t
        .hs(
            &tok,
            "GET",
            &format!("/crm/v3/objects/contacts/{id}?properties=firstname,email"),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(got["properties"]["firstname"], "Anna");
    assert_eq!(got["properties"]["email"], "a@b.io");
    let (status, body) = t
        .hs(&tok, "GET", "/crm/v3/objects/contacts/999999999", None)
        .await;
    assert_eq!(status, 404);
    assert_eq!(body["category"], "OBJECT_NOT_FOUND");
}

#[tokio::test]
async fn batch_create_update_read_and_limits() {
    let t = start().await;
    let tok = t.hubspot_token().await;
    let inputs: Vec<Value> = (0..100)
        .map(|i| json!({"properties": {"email": format!("u{i}@x.io"), "firstname": format!("U{i}")}}))
        .collect();
    let (status, body) = t
        .hs(
            &tok,
            "POST",
            "/crm/v3/objects/contacts/batch/create",
            Some(json!({"inputs": inputs})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["status"], "COMPLETE");
    let ids: Vec<String> = body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 100);

    let too_many: Vec<Value> = (0..101).map(|_| json!({"properties": {}})).collect();
    let (status, body) = t
        .hs(
            &tok,
            "POST",
            "/crm/v3/objects/contacts/batch/create",
            Some(json!({"inputs": too_many})),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(body["status"], "error");
    assert_eq!(body["category"], "VALIDATION_ERROR");

    let updates = json!({"inputs": [
        {"id": ids[0], "properties": {"lastname": "Zed"}},
        {"id": "424242", "properties": {"lastname": "Nope"}},
    ]});
    let (status, body) = t
        .hs(
            &tok,
            "POST",
            "/crm/v3/objects/contacts/batch/update",
            Some(updates),
        )
        .await;
    assert_eq!(status, 207, "{body}");
    assert_eq!(body["numErrors"], 1);
    assert_eq!(body["errors"][0]["context"]["ids"][0], "424242");
    assert_eq!(body["results"][0]["properties"]["lastname"], "Zed");

    let (status, body) = t
        .hs(&tok, "POST", "/crm/v3/objects/contacts/batch/read",
            Some(json!({"inputs": [{"id": ids[0]}, {"id": ids[1]}], "properties": ["lastname", "email"]})))
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["results"].as_array().unwrap().len(), 2);

    let (_, stats) = get_json(&t, "/_sandbox/stats").await;
    let writes = stats["writes"].as_array().unwrap();
    let contacts = writes.iter().find(|w| w["object"] == "contacts").unwrap();
    assert_eq!(contacts["count"], 101);
    let endpoint = stats["requests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| {
            r["endpoint"] == "POST /crm/v3/objects/contacts/batch/create" && r["status"] == 201
        })
        .unwrap_or_else(|| panic!("batch create not counted: {stats}"));
    assert_eq!(endpoint["count"], 1);
}

async fn get_json(t: &common::TestSandbox, path: &str) -> (u16, Value) {
    let r = t.http.get(t.url(path)).send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

async fn search(t: &common::TestSandbox, tok: &str, body: Value) -> (u16, Value) {
    t.hs(tok, "POST", "/crm/v3/objects/contacts/search", Some(body))
        .await
}

#[tokio::test]
async fn search_filters_sorts_and_caps_at_ten_thousand() {
    let t = start().await;
    t.seed("hubspot", "contacts", 10_050).await;
    let tok = t.hubspot_token().await;
    // Seeded records are spaced 1 ms apart; anchor on the 10,000th from the end.
    let (_, all) = search(
        &t,
        &tok,
        json!({
            "sorts": [{"propertyName": "lastmodifieddate", "direction": "DESCENDING"}],
            "limit": 1, "properties": ["email"],
        }),
    )
    .await;
    assert_eq!(all["total"], 10_050);
    let newest = all["results"][0]["properties"]["lastmodifieddate"]
        .as_str()
        .unwrap()
        .to_owned();
    let newest_ms = chrono::DateTime::parse_from_rfc3339(&newest)
        .unwrap()
        .timestamp_millis();
    let anchor = (newest_ms - 100).to_string();
    let (status, body) = search(&t, &tok, json!({
        "filterGroups": [{"filters": [{"propertyName": "lastmodifieddate", "operator": "GT", "value": anchor}]}],
        "sorts": [{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}],
        "limit": 60,
    }))
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["total"], 100);
    let dates: Vec<&str> = body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["properties"]["lastmodifieddate"].as_str().unwrap())
        .collect();
    assert_eq!(dates.len(), 60);
    assert!(dates.windows(2).all(|w| w[0] <= w[1]));
    assert_eq!(body["paging"]["next"]["after"], "60");
    let (_, rest) = search(&t, &tok, json!({
        "filterGroups": [{"filters": [{"propertyName": "lastmodifieddate", "operator": "GT", "value": anchor}]}],
        "sorts": [{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}],
        "limit": 60, "after": "60",
    }))
    .await;
    assert_eq!(rest["results"].as_array().unwrap().len(), 40);
    assert!(rest.get("paging").is_none());

    let (status, body) = search(&t, &tok, json!({"limit": 100, "after": "10000"})).await;
    assert_eq!(status, 400);
    assert_eq!(body["status"], "error");
    let (status, _) = search(&t, &tok, json!({"limit": 201})).await;
    assert_eq!(status, 400);

    let email = all["results"][0]["properties"]["email"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, one) = search(&t, &tok, json!({
        "filterGroups": [
            {"filters": [{"propertyName": "email", "operator": "EQ", "value": email}]},
            {"filters": [{"propertyName": "email", "operator": "IN", "values": ["nobody@none.io"]}]},
        ],
    }))
    .await;
    assert_eq!(one["total"], 1);
    let (_, has) = search(&t, &tok, json!({
        "filterGroups": [{"filters": [{"propertyName": "nonexistent", "operator": "HAS_PROPERTY"}]}],
    }))
    .await;
    assert_eq!(has["total"], 0);
}

#[tokio::test]
async fn ten_secondly_limit_answers_429_with_hubspot_body_and_headers() {
    let t = start_with(true).await;
    t.config(json!({"rateLimits": {"hubspot": {"tenSecondly": 3}}}))
        .await;
    let tok = t.hubspot_token().await;
    for i in 0..3 {
        let r = t
            .http
            .get(t.url("/hubspot/crm/v3/objects/contacts"))
            .bearer_auth(&tok)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["x-hubspot-ratelimit-max"], "3");
        assert_eq!(
            r.headers()["x-hubspot-ratelimit-daily-remaining"],
            (250_000 - 1 - i).to_string().as_str()
        );
        assert_eq!(
            r.headers()["x-hubspot-ratelimit-remaining"],
            (2 - i).to_string().as_str()
        );
    }
    let (status, body) = t.hs(&tok, "GET", "/crm/v3/objects/contacts", None).await;
    assert_eq!(status, 429);
    assert_eq!(body["policyName"], "TEN_SECONDLY_ROLLING");
    assert_eq!(body["errorType"], "RATE_LIMIT");
    assert_eq!(
        body["message"],
        "You have reached your ten_secondly_rolling limit."
    );
}

#[tokio::test]
async fn search_secondly_limit() {
    let t = start_with(true).await;
    t.config(json!({"rateLimits": {"hubspot": {"searchPerSecond": 2}}}))
        .await;
    let tok = t.hubspot_token().await;
    let mut statuses = Vec::new();
    for _ in 0..3 {
        statuses.push(search(&t, &tok, json!({})).await);
    }
    assert_eq!(statuses[0].0, 200);
    assert_eq!(statuses[1].0, 200);
    assert_eq!(statuses[2].0, 429);
    assert_eq!(statuses[2].1["policyName"], "SECONDLY");
}

#[tokio::test]
async fn deals_associate_with_contacts_v3_and_v4() {
    let t = start().await;
    t.seed("hubspot", "contacts", 2).await;
    t.seed("hubspot", "deals", 4).await;
    let tok = t.hubspot_token().await;
    let (_, deals) = t
        .hs(
            &tok,
            "GET",
            "/crm/v3/objects/deals?associations=contacts",
            None,
        )
        .await;
    let first = &deals["results"][0];
    assert_eq!(
        first["associations"]["contacts"]["results"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        first["associations"]["contacts"]["results"][0]["type"],
        "deal_to_contact"
    );
    let (_, contacts) = t
        .hs(&tok, "GET", "/crm/v3/objects/contacts?limit=1", None)
        .await;
    let contact_id = contacts["results"][0]["id"].as_str().unwrap().to_owned();

    let (status, created) = t
        .hs(&tok, "POST", "/crm/v3/objects/deals", Some(json!({
            "properties": {"dealname": "New"},
            "associations": [{"to": {"id": contact_id}, "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 3}]}]
        })))
        .await;
    assert_eq!(status, 201, "{created}");
    let deal_id = created["id"].as_str().unwrap();
    let (status, v4) = t
        .hs(
            &tok,
            "GET",
            &format!("/crm/v4/objects/deals/{deal_id}/associations/contacts"),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(v4["results"][0]["toObjectId"].to_string(), contact_id);
    assert_eq!(v4["results"][0]["associationTypes"][0]["typeId"], 3);

    let (_, company) = t
        .hs(
            &tok,
            "POST",
            "/crm/v3/objects/companies",
            Some(json!({"properties": {"name": "Co"}})),
        )
        .await;
    let company_id = company["id"].as_str().unwrap();
    let (status, _) = t
        .hs(
            &tok,
            "PUT",
            &format!(
                "/crm/v4/objects/contacts/{contact_id}/associations/default/companies/{company_id}"
            ),
            None,
        )
        .await;
    assert_eq!(status, 200);
    let (_, got) = t
        .hs(
            &tok,
            "GET",
            &format!("/crm/v3/objects/companies/{company_id}?associations=contacts"),
            None,
        )
        .await;
    assert_eq!(
        got["associations"]["contacts"]["results"][0]["id"],
        contact_id.as_str()
    );
    let (status, _) = t
        .hs(&tok, "POST", "/crm/v3/objects/deals", Some(json!({
            "properties": {"dealname": "Bad"},
            "associations": [{"to": {"id": "1"}, "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 3}]}]
        })))
        .await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn batch_upsert_by_email_and_archive() {
    let t = start().await;
    let tok = t.hubspot_token().await;
    let (_, first) = t
        .hs(
            &tok,
            "POST",
            "/crm/v3/objects/contacts/batch/upsert",
            Some(json!({"inputs": [
                {"id": "up@x.io", "idProperty": "email", "properties": {"firstname": "Up"}}
            ]})),
        )
        .await;
    assert_eq!(first["results"][0]["new"], true);
    let id = first["results"][0]["id"].as_str().unwrap().to_owned();
    let (_, second) = t
        .hs(
            &tok,
            "POST",
            "/crm/v3/objects/contacts/batch/upsert",
            Some(json!({"inputs": [
                {"id": "UP@x.io", "idProperty": "email", "properties": {"firstname": "Upper"}}
            ]})),
        )
        .await;
    assert_eq!(second["results"][0]["new"], false);
    assert_eq!(second["results"][0]["id"], id.as_str());
    assert_eq!(second["results"][0]["properties"]["firstname"], "Upper");
    let (_, found) = search(&t, &tok, json!({"query": "UPPER"})).await;
    assert_eq!(found["total"], 1);
    let (_, none) = search(&t, &tok, json!({"query": "nobody-by-that-name"})).await;
    assert_eq!(none["total"], 0);
    let (status, _) = t
        .hs(
            &tok,
            "POST",
            "/crm/v3/objects/contacts/batch/archive",
            Some(json!({"inputs": [{"id": id}]})),
        )
        .await;
    assert_eq!(status, 204);
    let (status, _) = t
        .hs(&tok, "GET", &format!("/crm/v3/objects/contacts/{id}"), None)
        .await;
    assert_eq!(status, 404);
    let (_, archived) = t
        .hs(&tok, "GET", "/crm/v3/objects/contacts?archived=true", None)
        .await;
    assert_eq!(archived["results"][0]["id"], id.as_str());
    assert_eq!(archived["results"][0]["archived"], true);
}
