//! The "Deals to Jobs" path against the sandbox over HTTP: HubSpot deals carry their contact
//! ids as `associations.contacts` (full, incremental and by-id reads), and Jobber jobs are
//! created for a client (on a property of it) and edited.

mod common;

use std::collections::HashMap;

use fluxcascade_core::{Cursor, ProviderKind, Record};
use fluxcascade_providers::{ListQuery, Provider, WriteOp, WriteResult};
use serde_json::{json, Value};

fn contacts_of(r: &Record) -> Vec<String> {
    let list = r
        .fields
        .pointer("/associations/contacts")
        .and_then(Value::as_array)
        .unwrap_or_else(|| panic!("deal {} has no associations.contacts: {}", r.id, r.fields));
    list.iter()
        .map(|v| v.as_str().expect("contact id is a string").to_owned())
        .collect()
}

fn sorted_ids(records: &[Value]) -> Vec<String> {
    let mut ids: Vec<u64> = records
        .iter()
        .map(|r| r["id"].as_str().expect("id").parse().expect("numeric id"))
        .collect();
    ids.sort_unstable();
    ids.into_iter().map(|i| i.to_string()).collect()
}

/// Seeds 3 contacts and 5 deals; the sandbox links deal i (in id order) to contact i % 3.
async fn seed_deals(sb: &common::TestSandbox) -> HashMap<String, Vec<String>> {
    sb.seed("hubspot", "contacts", 3).await;
    sb.seed("hubspot", "deals", 5).await;
    let contacts = sorted_ids(&sb.stored("hubspot", "contacts").await);
    let deals = sorted_ids(&sb.stored("hubspot", "deals").await);
    assert_eq!((contacts.len(), deals.len()), (3, 5));
    deals
        .into_iter()
        .enumerate()
        .map(|(i, d)| (d, vec![contacts[i % 3].clone()]))
        .collect()
}

fn assert_associations(records: &[Record], expected: &HashMap<String, Vec<String>>) {
    assert_eq!(records.len(), expected.len(), "records: {records:?}");
    for r in records {
        let want = expected
            .get(&r.id)
            .unwrap_or_else(|| panic!("unexpected deal {}", r.id));
        assert_eq!(&contacts_of(r), want, "deal {}", r.id);
        assert!(r.fields.get("dealname").is_some(), "{}", r.fields);
    }
}

#[tokio::test]
async fn deals_carry_their_contact_ids_in_full_incremental_and_by_id_reads() {
    let sb = common::start().await;
    let expected = seed_deals(&sb).await;
    let p = sb.provider(ProviderKind::Hubspot).await;

    let full = common::read_all(
        p.as_ref(),
        "deals",
        ListQuery {
            page_size: 2,
            ..Default::default()
        },
    )
    .await
    .0;
    assert_associations(&full, &expected);

    let since = Cursor {
        updated_at: chrono::Utc::now() - chrono::Duration::hours(1),
        id: String::new(),
    };
    let changed = common::read_all(
        p.as_ref(),
        "deals",
        ListQuery {
            since: Some(since),
            page_size: 2,
            ..Default::default()
        },
    )
    .await
    .0;
    assert_associations(&changed, &expected);

    let ids: Vec<String> = expected.keys().cloned().collect();
    let by_id = p.get_many("deals", &ids, &[]).await.expect("get_many");
    assert_associations(&by_id, &expected);

    // Contacts are read as before: no associations block.
    let contacts = common::read_all(p.as_ref(), "contacts", ListQuery::default())
        .await
        .0;
    assert!(contacts
        .iter()
        .all(|c| c.fields.get("associations").is_none()));
}

#[tokio::test]
async fn a_deal_created_for_a_contact_reads_back_with_that_contact_and_writes_strip_associations() {
    let sb = common::start().await;
    sb.seed("hubspot", "contacts", 2).await;
    let contacts = sorted_ids(&sb.stored("hubspot", "contacts").await);
    let token = sb.connect_oauth(ProviderKind::Hubspot).await.access_token;
    let http = reqwest::Client::new();
    let mut created = Vec::new();
    for assoc in [Some(&contacts[1]), None] {
        let mut body = json!({"properties": {"dealname": "Roof repair", "amount": "1200"}});
        if let Some(c) = assoc {
            body["associations"] = json!([{
                "to": {"id": c},
                "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 3}],
            }]);
        }
        let r = http
            .post(sb.url("/hubspot/crm/v3/objects/deals"))
            .bearer_auth(&token)
            .json(&body)
            .send()
            .await
            .expect("create deal");
        assert_eq!(r.status(), 201);
        let v: Value = r.json().await.expect("deal json");
        created.push(v["id"].as_str().expect("deal id").to_owned());
    }
    let p = sb.provider(ProviderKind::Hubspot).await;
    let since = Cursor {
        updated_at: chrono::Utc::now() - chrono::Duration::minutes(5),
        id: String::new(),
    };
    let changed = common::read_all(
        p.as_ref(),
        "deals",
        ListQuery {
            since: Some(since),
            ..Default::default()
        },
    )
    .await
    .0;
    let expected: HashMap<String, Vec<String>> = [
        (created[0].clone(), vec![contacts[1].clone()]),
        (created[1].clone(), Vec::new()),
    ]
    .into();
    assert_associations(&changed, &expected);

    // A record read back with its associations writes without them.
    let mut fields = changed[0].fields.clone();
    fields["dealname"] = json!("Roof repair (2)");
    let fields = json!({"dealname": fields["dealname"], "associations": fields["associations"]});
    let out = p
        .write(
            "deals",
            &[WriteOp::Update {
                id: changed[0].id.clone(),
                fields,
            }],
        )
        .await
        .expect("write");
    match &out[0] {
        WriteResult::Ok(r) => assert_eq!(r.fields["dealname"], "Roof repair (2)"),
        other => panic!("update failed: {other:?}"),
    }
    let stored = sb.stored("hubspot", "deals").await;
    assert!(stored
        .iter()
        .all(|d| d["properties"].get("associations").is_none()));
}

async fn create_client(p: &dyn Provider) -> String {
    let out = p
        .write(
            "clients",
            &[WriteOp::Create {
                fields: json!({"firstName": "Ada", "lastName": "Lovelace",
                    "billingAddress": {"street1": "1 Main St", "city": "Springfield"}}),
            }],
        )
        .await
        .expect("client write");
    match &out[0] {
        WriteResult::Ok(r) => r.id.clone(),
        other => panic!("client create failed: {other:?}"),
    }
}

#[tokio::test]
async fn a_job_is_created_on_a_property_of_its_client() {
    let sb = common::start().await;
    let p = sb.provider(ProviderKind::Jobber).await;
    let client_id = create_client(p.as_ref()).await;
    let ops: Vec<WriteOp> = ["Roof repair", "Gutter cleaning"]
        .iter()
        .map(|t| WriteOp::Create {
            fields: json!({"clientId": client_id, "title": t, "instructions": "Ring twice"}),
        })
        .collect();
    let out = p.write("jobs", &ops).await.expect("job write");
    let mut ids = Vec::new();
    for (r, title) in out.iter().zip(["Roof repair", "Gutter cleaning"]) {
        match r {
            WriteResult::Ok(rec) => {
                assert_eq!(rec.fields["title"], title);
                assert_eq!(rec.fields["clientId"], json!(client_id));
                assert!(rec.fields["propertyId"].is_string(), "{}", rec.fields);
                assert!(rec.fields.get("client").is_none());
                ids.push(rec.id.clone());
            }
            other => panic!("job create failed: {other:?}"),
        }
    }
    let stored = sb.stored("jobber", "jobs").await;
    assert_eq!(stored.len(), 2);
    for j in &stored {
        assert_eq!(j["clientId"], json!(client_id));
        assert_eq!(j["instructions"], "Ring twice");
    }
    assert_eq!(
        stored[0]["propertyId"], stored[1]["propertyId"],
        "jobs for one client in one write share its property"
    );

    // Reads return clientId too.
    let listed = common::read_all(p.as_ref(), "jobs", ListQuery::default())
        .await
        .0;
    assert_eq!(listed.len(), 2);
    assert!(listed
        .iter()
        .all(|j| j.fields["clientId"] == json!(client_id)));
    let got = p.get_many("jobs", &ids, &[]).await.expect("get_many");
    assert_eq!(got.len(), 2);
    assert!(got.iter().all(|j| j.fields["clientId"] == json!(client_id)));
}

#[tokio::test]
async fn job_creates_for_unknown_or_missing_clients_fail_per_record() {
    let sb = common::start().await;
    let p = sb.provider(ProviderKind::Jobber).await;
    let client_id = create_client(p.as_ref()).await;
    let ops = vec![
        WriteOp::Create {
            fields: json!({"clientId": "Z2lkOi8vSm9iYmVyL0NsaWVudC85OTk5OTk5", "title": "Ghost"}),
        },
        WriteOp::Create {
            fields: json!({"clientId": "not-an-id", "title": "Ghost"}),
        },
        WriteOp::Create {
            fields: json!({"title": "No client"}),
        },
        WriteOp::Create {
            fields: json!({"clientId": client_id, "title": 12}),
        },
        WriteOp::Create {
            fields: json!({"clientId": client_id, "title": ["nested"]}),
        },
    ];
    let out = p.write("jobs", &ops).await.expect("write");
    assert_eq!(out.len(), 5);
    for r in &out[..3] {
        assert!(matches!(r, WriteResult::Failed { .. }), "{r:?}");
    }
    assert!(
        matches!(&out[2], WriteResult::Failed { code, .. } if code == "invalid_field"),
        "{:?}",
        out[2]
    );
    assert!(matches!(&out[3], WriteResult::Ok(r) if r.fields["title"] == "12"));
    assert!(
        matches!(&out[4], WriteResult::Failed { code, .. } if code == "invalid_field"),
        "{:?}",
        out[4]
    );
    assert_eq!(sb.stored("jobber", "jobs").await.len(), 1);
}

#[tokio::test]
async fn a_jobs_title_is_edited() {
    let sb = common::start().await;
    let p = sb.provider(ProviderKind::Jobber).await;
    let client_id = create_client(p.as_ref()).await;
    let out = p
        .write(
            "jobs",
            &[WriteOp::Create {
                fields: json!({"clientId": client_id, "title": "Roof repair"}),
            }],
        )
        .await
        .expect("create");
    let WriteResult::Ok(job) = &out[0] else {
        panic!("create failed: {out:?}");
    };
    let out = p
        .write(
            "jobs",
            &[WriteOp::Update {
                id: job.id.clone(),
                fields: json!({"title": "Roof replacement"}),
            }],
        )
        .await
        .expect("edit");
    match &out[0] {
        WriteResult::Ok(r) => {
            assert_eq!(r.fields["title"], "Roof replacement");
            assert!(r.updated_at >= job.updated_at);
        }
        other => panic!("edit failed: {other:?}"),
    }
    let stored = sb.stored("jobber", "jobs").await;
    assert_eq!(stored[0]["title"], "Roof replacement");
}

#[tokio::test]
async fn job_edits_apply_per_record_and_an_unknown_job_fails_alone() {
    // One batch: an editable change, a change with nothing editable (the job comes back as
    // stored), and an unknown job (that record fails, never the call).
    let sb = common::start().await;
    let p = sb.provider(ProviderKind::Jobber).await;
    let client_id = create_client(p.as_ref()).await;
    let out = p
        .write(
            "jobs",
            &[WriteOp::Create {
                fields: json!({"clientId": client_id, "title": "Roof repair"}),
            }],
        )
        .await
        .expect("create");
    let WriteResult::Ok(job) = &out[0] else {
        panic!("create failed: {out:?}");
    };
    let out = p
        .write(
            "jobs",
            &[
                WriteOp::Update {
                    id: job.id.clone(),
                    fields: json!({"title": "Roof replacement"}),
                },
                WriteOp::Update {
                    id: job.id.clone(),
                    fields: json!({"jobStatus": "late"}),
                },
                WriteOp::Update {
                    id: "bm9wZQ".into(),
                    fields: json!({}),
                },
            ],
        )
        .await
        .expect("edit");
    match &out[0] {
        WriteResult::Ok(r) => assert_eq!(r.fields["title"], "Roof replacement"),
        other => panic!("the title edit failed: {other:?}"),
    }
    // Nothing editable: the job as stored.
    assert!(
        matches!(&out[1], WriteResult::Ok(r) if r.id == job.id),
        "{:?}",
        out[1]
    );
    assert!(matches!(&out[2], WriteResult::Failed { code, .. } if code == "not_found"));
}
