//! Jobber `properties` through the adapter against the sandbox over HTTP: paged full reads,
//! incremental reads (full reads stamped inside the cursor's window), batched reads by id,
//! create on a client and address edits, and a create without `clientId`.

mod common;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use fluxcascade_core::{Cursor, ProviderKind, Record};
use fluxcascade_providers::{ListQuery, WriteOp, WriteResult};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The engine's cursor after a run over `records`: the largest `(updated_at, id)`.
fn max_cursor(records: &[Record]) -> Cursor {
    let r = records
        .iter()
        .max_by(|a, b| (a.updated_at, &a.id).cmp(&(b.updated_at, &b.id)))
        .expect("records");
    Cursor {
        updated_at: r.updated_at,
        id: r.id.clone(),
    }
}

fn ok(result: &WriteResult) -> Record {
    match result {
        WriteResult::Ok(r) => r.clone(),
        WriteResult::Failed { code, message } => panic!("write failed: {code}: {message}"),
    }
}

async fn first_client_id(sb: &common::TestSandbox) -> String {
    sb.stored("jobber", "clients").await[0]["id"]
        .as_str()
        .expect("client id")
        .to_owned()
}

#[tokio::test]
async fn list_pages_through_every_property_once() {
    let sb = common::start().await;
    sb.seed("jobber", "clients", 4).await;
    sb.seed("jobber", "properties", 45).await;
    let clients: HashSet<String> = sb
        .stored("jobber", "clients")
        .await
        .iter()
        .map(|c| c["id"].as_str().unwrap_or_default().to_owned())
        .collect();
    let p = sb.provider(ProviderKind::Jobber).await;
    let (records, pages) = common::read_all(
        p.as_ref(),
        "properties",
        ListQuery {
            page_size: 20,
            ..Default::default()
        },
    )
    .await;
    assert_eq!(pages, 3);
    assert_eq!(records.len(), 45);
    let ids: HashSet<_> = records.iter().map(|r| r.id.clone()).collect();
    assert_eq!(ids.len(), 45, "a property was read twice");
    let owners: HashSet<String> = records
        .iter()
        .map(|r| r.fields["clientId"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(owners, clients, "properties are spread over every client");
    for r in &records {
        assert!(!r.fields["address"]["street1"]
            .as_str()
            .unwrap_or("")
            .is_empty());
        assert_eq!(r.fields["address"]["country"], "United States");
        assert_eq!(r.updated_at, chrono::DateTime::UNIX_EPOCH);
    }
}

#[tokio::test]
async fn an_incremental_read_after_a_patch_returns_the_changed_property() {
    let sb = common::start().await;
    sb.seed("jobber", "properties", 30).await;
    let p = sb.provider(ProviderKind::Jobber).await;
    let (full, _) = common::read_all(p.as_ref(), "properties", ListQuery::default()).await;
    let cursor = max_cursor(&full);
    let changed = full[7].id.clone();
    sb.patch(
        "jobber",
        "properties",
        &changed,
        json!({"address": {"city": "Bergen", "street2": "Unit 4"}}),
    )
    .await;
    let run_started = chrono::Utc::now();
    let (since, _) = common::read_all(
        p.as_ref(),
        "properties",
        ListQuery {
            since: Some(cursor.clone()),
            page_size: 7,
            ..Default::default()
        },
    )
    .await;
    // Every record is inside the engine's window (cursor, run start): none is skipped.
    for r in &since {
        assert!((r.updated_at, r.id.as_str()) > (cursor.updated_at, cursor.id.as_str()));
        assert!(r.updated_at < run_started);
    }
    let rec = since
        .iter()
        .find(|r| r.id == changed)
        .expect("the changed property is read");
    assert_eq!(rec.fields["address"]["city"], "Bergen");
    assert_eq!(rec.fields["address"]["street2"], "Unit 4");
    assert_eq!(since.len(), 30);
    // The next run's cursor moves forward, so a later run reads again.
    assert!(max_cursor(&since).updated_at > cursor.updated_at);
}

#[tokio::test]
async fn create_on_a_client_then_update_round_trips() {
    let sb = common::start().await;
    sb.seed("jobber", "clients", 2).await;
    let client_id = first_client_id(&sb).await;
    let p = sb.provider(ProviderKind::Jobber).await;
    let create = WriteOp::Create {
        fields: json!({"clientId": client_id, "address": {"street1": "12 Harbour Rd",
            "city": "Halifax", "province": "NS", "postalCode": "B3H 1A1", "country": "Canada"}}),
    };
    let created = ok(&p.write("properties", &[create]).await.expect("create")[0]);
    assert_eq!(created.fields["clientId"], client_id);
    assert_eq!(created.fields["address"]["city"], "Halifax");
    let stored = sb.stored("jobber", "properties").await;
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0]["id"], created.id);
    assert_eq!(stored[0]["address"]["postalCode"], "B3H 1A1");

    let edit = WriteOp::Update {
        id: created.id.clone(),
        fields: json!({"address": {"city": "Dartmouth", "province": null}}),
    };
    let edited = ok(&p.write("properties", &[edit]).await.expect("edit")[0]);
    assert_eq!(edited.id, created.id);
    assert_eq!(edited.fields["address"]["city"], "Dartmouth");
    assert_eq!(edited.fields["address"]["province"], "");
    assert_eq!(edited.fields["address"]["street1"], "12 Harbour Rd");

    let read = p
        .get_many("properties", std::slice::from_ref(&created.id), &[])
        .await
        .expect("get_many");
    assert_eq!(read.len(), 1);
    assert_eq!(read[0].fields, edited.fields);
}

#[tokio::test]
async fn a_create_without_client_id_fails_only_that_record() {
    let sb = common::start().await;
    sb.seed("jobber", "clients", 1).await;
    let client_id = first_client_id(&sb).await;
    let unknown = base64::engine::general_purpose::STANDARD.encode("gid://Jobber/Client/42");
    let p = sb.provider(ProviderKind::Jobber).await;
    let ops = [
        WriteOp::Create {
            fields: json!({"address": {"street1": "1 Nowhere"}}),
        },
        WriteOp::Create {
            fields: json!({"clientId": client_id, "address": {"street1": "2 Somewhere"}}),
        },
        WriteOp::Create {
            fields: json!({"clientId": unknown, "address": {"street1": "3 Elsewhere"}}),
        },
        WriteOp::Update {
            id: base64::engine::general_purpose::STANDARD.encode("gid://Jobber/Property/7"),
            fields: json!({"address": {"city": "Gone"}}),
        },
    ];
    let results = p.write("properties", &ops).await.expect("write");
    assert!(
        matches!(&results[0], WriteResult::Failed { code, message }
            if code == "invalid_field" && message.contains("clientId")),
        "{:?}",
        results[0]
    );
    assert_eq!(ok(&results[1]).fields["address"]["street1"], "2 Somewhere");
    assert!(
        matches!(&results[2], WriteResult::Failed { code, message }
            if code == "provider_rejected" && message.contains("clientId")),
        "{:?}",
        results[2]
    );
    assert!(
        matches!(&results[3], WriteResult::Failed { code, .. } if code == "provider_rejected"),
        "{:?}",
        results[3]
    );
    assert_eq!(sb.stored("jobber", "properties").await.len(), 1);
}

#[tokio::test]
async fn get_many_reads_a_full_batch_in_one_request() {
    let sb = common::start().await;
    sb.seed("jobber", "properties", 60).await;
    let stored = sb.stored("jobber", "properties").await;
    let mut ids: Vec<String> = stored
        .iter()
        .take(55)
        .map(|p| p["id"].as_str().unwrap_or_default().to_owned())
        .collect();
    ids.push(base64::engine::general_purpose::STANDARD.encode("gid://Jobber/Property/1"));
    let p = sb.provider(ProviderKind::Jobber).await;
    let before = sb.request_count("jobber", "graphql").await;
    let read = p.get_many("properties", &ids, &[]).await.expect("get_many");
    let requests = sb.request_count("jobber", "graphql").await - before;
    assert_eq!(requests, 2, "56 ids are two batches of at most 50");
    assert_eq!(read.len(), 55, "the unknown id is absent");
    let got: HashSet<&str> = read.iter().map(|r| r.id.as_str()).collect();
    assert!(ids[..55].iter().all(|id| got.contains(id.as_str())));
    let by_id: std::collections::HashMap<&str, &Value> = stored
        .iter()
        .map(|s| (s["id"].as_str().unwrap_or_default(), &s["address"]))
        .collect();
    for r in &read {
        assert_eq!(r.fields["address"]["city"], by_id[r.id.as_str()]["city"]);
    }
}

type Bodies = Arc<Mutex<Vec<Value>>>;

/// A bare HTTP receiver for the sandbox's webhooks: keeps each JSON body, answers 200.
async fn hook_receiver() -> (String, Bodies) {
    let got: Bodies = Arc::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let sink = got.clone();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let sink = sink.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    let Ok(n) = sock.read(&mut chunk).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    let text = String::from_utf8_lossy(&buf).into_owned();
                    let Some((head, body)) = text.split_once("\r\n\r\n") else {
                        continue;
                    };
                    let len = head
                        .lines()
                        .find_map(|l| {
                            let (k, v) = l.split_once(':')?;
                            k.eq_ignore_ascii_case("content-length")
                                .then(|| v.trim().parse::<usize>().ok())?
                        })
                        .unwrap_or(0);
                    if body.len() < len {
                        continue;
                    }
                    if let Ok(v) = serde_json::from_str(body) {
                        sink.lock().expect("lock").push(v);
                    }
                    let ok = "HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n";
                    let _ = sock.write_all(ok.as_bytes()).await;
                    return;
                }
            });
        }
    });
    (base, got)
}

/// `(topic, itemId)` of the Jobber webhooks received so far, once `n` have arrived.
async fn hooks(got: &Bodies, n: usize) -> Vec<(String, String)> {
    for _ in 0..250 {
        if got.lock().expect("lock").len() >= n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let bodies = got.lock().expect("lock").clone();
    bodies
        .iter()
        .map(|b| {
            let e = &b["data"]["webHookEvent"];
            let s = |k: &str| e[k].as_str().unwrap_or_default().to_owned();
            (s("topic"), s("itemId"))
        })
        .collect()
}

#[tokio::test]
async fn property_writes_send_property_webhooks_naming_the_record_id() {
    let sb = common::start().await;
    sb.seed("jobber", "clients", 1).await;
    let client_id = first_client_id(&sb).await;
    let (base, got) = hook_receiver().await;
    sb.configure(json!({"webhookUrl": base})).await;
    let p = sb.provider(ProviderKind::Jobber).await;
    let create = WriteOp::Create {
        fields: json!({"clientId": client_id, "address": {"street1": "5 Pier St"}}),
    };
    let created = ok(&p.write("properties", &[create]).await.expect("create")[0]);
    let edit = WriteOp::Update {
        id: created.id.clone(),
        fields: json!({"address": {"city": "Sydney"}}),
    };
    ok(&p.write("properties", &[edit]).await.expect("edit")[0]);
    sb.patch(
        "jobber",
        "properties",
        &created.id,
        json!({"address": {"city": "Perth"}}),
    )
    .await;
    let mut events = hooks(&got, 3).await;
    events.sort();
    let id = created.id.clone();
    assert_eq!(
        events,
        vec![
            ("PROPERTY_CREATE".to_owned(), id.clone()),
            ("PROPERTY_UPDATE".to_owned(), id.clone()),
            ("PROPERTY_UPDATE".to_owned(), id),
        ]
    );
}
