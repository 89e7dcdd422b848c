//! Deletions through the adapters against the sandbox: `archive` per provider where the API can,
//! and incremental reads that return tombstones (`Record { deleted: true }`).

mod common;

use std::collections::HashSet;

use fluxcascade_core::{Cursor, ProviderKind, Record};
use fluxcascade_providers::{ListQuery, Provider, WriteResult};

/// A cursor at "now", after the seeded records' look-back window.
async fn cursor_after_seed() -> Cursor {
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    let since = Cursor {
        updated_at: chrono::Utc::now(),
        id: String::new(),
    };
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    since
}

/// Every page of `list_with_tombstones` from `query` on.
async fn read_all_with_tombstones(
    p: &dyn Provider,
    object: &str,
    mut query: ListQuery,
) -> Vec<Record> {
    let mut out = Vec::new();
    for _ in 0..1000 {
        let page = p
            .list_with_tombstones(object, &query)
            .await
            .expect("list page");
        out.extend(page.records);
        match page.next_page {
            Some(next) => query.page = Some(next),
            None => return out,
        }
    }
    panic!("paging did not end");
}

async fn control_delete(sb: &common::TestSandbox, path: &str) {
    let r = reqwest::Client::new()
        .delete(sb.url(&format!("/_sandbox/{path}")))
        .send()
        .await
        .expect("delete");
    assert_eq!(r.status(), 204, "delete {path}");
}

#[tokio::test]
async fn hubspot_archive_and_deletions_come_back_as_tombstones_after_the_cursor() {
    let sb = common::start().await;
    sb.seed("hubspot", "contacts", 5).await;
    let p = sb.provider(ProviderKind::Hubspot).await;
    assert!(p.can_archive("contacts") && p.can_archive("deals"));
    let all = common::read_all(p.as_ref(), "contacts", ListQuery::default())
        .await
        .0;
    let ids: Vec<String> = all.iter().map(|r| r.id.clone()).collect();
    // Archived before the cursor: never a tombstone of this read.
    let old = p.archive("contacts", &ids[..1]).await.expect("archive");
    assert!(matches!(&old[0], WriteResult::Ok(r) if r.deleted && r.id == ids[0]));
    let since = cursor_after_seed().await;

    let results = p.archive("contacts", &ids[1..3]).await.expect("archive");
    assert_eq!(results.len(), 2);
    for (r, id) in results.iter().zip(&ids[1..3]) {
        assert!(
            matches!(r, WriteResult::Ok(rec) if rec.deleted && &rec.id == id),
            "{r:?}"
        );
    }
    control_delete(&sb, &format!("hubspot/contacts/{}", ids[3])).await;
    sb.patch(
        "hubspot",
        "contacts",
        &ids[4],
        serde_json::json!({"properties": {"firstname": "Live"}}),
    )
    .await;

    let query = ListQuery {
        since: Some(since),
        page_size: 1,
        ..Default::default()
    };
    // `list` alone never returns tombstones (a mapping that ignores deletions reads as before).
    let plain = common::read_all(p.as_ref(), "contacts", query.clone())
        .await
        .0;
    assert!(plain.iter().all(|r| !r.deleted));
    assert_eq!(plain.len(), 1);
    let changed = read_all_with_tombstones(p.as_ref(), "contacts", query).await;
    let tombstones: HashSet<&str> = changed
        .iter()
        .filter(|r| r.deleted)
        .map(|r| r.id.as_str())
        .collect();
    let live: HashSet<&str> = changed
        .iter()
        .filter(|r| !r.deleted)
        .map(|r| r.id.as_str())
        .collect();
    let want: HashSet<&str> = ids[1..4].iter().map(String::as_str).collect();
    assert_eq!(tombstones, want, "archived and deleted since the cursor");
    assert_eq!(live, HashSet::from([ids[4].as_str()]));
    // A full read has no tombstones and no archived objects.
    let full = common::read_all(p.as_ref(), "contacts", ListQuery::default())
        .await
        .0;
    assert_eq!(full.len(), 1);
    assert!(full.iter().all(|r| !r.deleted));
}

#[tokio::test]
async fn jobber_clients_archive_and_archived_clients_are_tombstones() {
    let sb = common::start().await;
    sb.seed("jobber", "clients", 3).await;
    let p = sb.provider(ProviderKind::Jobber).await;
    assert!(p.can_archive("clients"));
    assert!(!p.can_archive("jobs"));
    let all = common::read_all(p.as_ref(), "clients", ListQuery::default())
        .await
        .0;
    let ids: Vec<String> = all.iter().map(|r| r.id.clone()).collect();
    let since = cursor_after_seed().await;

    let gone = "Z2lkOi8vSm9iYmVyL0NsaWVudC8x".to_owned(); // gid://Jobber/Client/1: no such client
    let results = p
        .archive("clients", &[ids[0].clone(), gone.clone()])
        .await
        .expect("archive");
    assert!(
        matches!(&results[0], WriteResult::Ok(r) if r.deleted && r.id == ids[0]),
        "{results:?}"
    );
    assert!(
        matches!(&results[1], WriteResult::Ok(r) if r.deleted && r.id == gone),
        "{results:?}"
    );
    let jobs = p
        .archive("jobs", &["x".into()])
        .await
        .expect("archive jobs");
    assert!(matches!(&jobs[0], WriteResult::Failed { code, .. } if code == "archive_unsupported"));

    let query = ListQuery {
        since: Some(since),
        ..Default::default()
    };
    let changed = read_all_with_tombstones(p.as_ref(), "clients", query.clone()).await;
    let tombstones: Vec<&str> = changed
        .iter()
        .filter(|r| r.deleted)
        .map(|r| r.id.as_str())
        .collect();
    assert_eq!(tombstones, [ids[0].as_str()]);
    let plain = common::read_all(p.as_ref(), "clients", query).await.0;
    assert!(
        plain.iter().all(|r| !r.deleted),
        "`list` marks no tombstones"
    );
}

#[tokio::test]
async fn pipedrive_archive_deletes_and_an_id_already_gone_is_a_tombstone() {
    let sb = common::start().await;
    sb.seed("pipedrive", "persons", 2).await;
    let p = sb.provider(ProviderKind::Pipedrive).await;
    assert!(p.can_archive("persons") && p.can_archive("deals"));
    let results = p
        .archive("persons", &["1".into(), "424242".into()])
        .await
        .expect("archive");
    for (r, id) in results.iter().zip(["1", "424242"]) {
        assert!(
            matches!(r, WriteResult::Ok(rec) if rec.deleted && rec.id == id),
            "{r:?}"
        );
    }
    let left: Vec<String> = sb
        .stored("pipedrive", "persons")
        .await
        .iter()
        .map(|r| r["id"].to_string())
        .collect();
    assert_eq!(left, ["2"], "person 1 is deleted");
}

#[tokio::test]
async fn salesforce_archive_deletes_and_an_id_already_gone_is_a_tombstone() {
    let sb = common::start().await;
    sb.seed("salesforce", "Contact", 2).await;
    let p = sb.provider(ProviderKind::Salesforce).await;
    assert!(p.can_archive("Contact") && p.can_archive("Opportunity"));
    let stored = sb.stored("salesforce", "Contact").await;
    let first = stored[0]["Id"].as_str().expect("Id").to_owned();
    let results = p
        .archive("Contact", &[first.clone(), first.clone()])
        .await
        .expect("archive");
    for r in &results {
        assert!(
            matches!(r, WriteResult::Ok(rec) if rec.deleted && rec.id == first),
            "{r:?}"
        );
    }
    assert_eq!(sb.stored("salesforce", "Contact").await.len(), 1);
}

#[tokio::test]
async fn salesforce_incremental_reads_with_tombstones_go_through_query_all() {
    let sb = common::start().await;
    sb.seed("salesforce", "Contact", 4).await;
    let p = sb.provider(ProviderKind::Salesforce).await;
    let stored = sb.stored("salesforce", "Contact").await;
    let ids: Vec<String> = stored
        .iter()
        .map(|r| r["Id"].as_str().expect("Id").to_owned())
        .collect();
    // Deleted before the cursor: never a tombstone of this read.
    control_delete(&sb, &format!("salesforce/Contact/{}", ids[0])).await;
    let since = cursor_after_seed().await;
    p.archive("Contact", &ids[1..2]).await.expect("archive");
    control_delete(&sb, &format!("salesforce/Contact/{}", ids[2])).await;
    sb.patch(
        "salesforce",
        "Contact",
        &ids[3],
        serde_json::json!({"FirstName": "Live"}),
    )
    .await;

    let query = ListQuery {
        since: Some(since),
        page_size: 200,
        ..Default::default()
    };
    let plain = common::read_all(p.as_ref(), "Contact", query.clone())
        .await
        .0;
    assert_eq!(
        plain
            .iter()
            .map(|r| (r.id.as_str(), r.deleted))
            .collect::<Vec<_>>(),
        [(ids[3].as_str(), false)],
        "`list` reads only live records"
    );
    let changed = read_all_with_tombstones(p.as_ref(), "Contact", query).await;
    let tombstones: HashSet<&str> = changed
        .iter()
        .filter(|r| r.deleted)
        .map(|r| r.id.as_str())
        .collect();
    assert_eq!(
        tombstones,
        HashSet::from([ids[1].as_str(), ids[2].as_str()]),
        "deleted since the cursor"
    );
    let live: Vec<&Record> = changed.iter().filter(|r| !r.deleted).collect();
    assert_eq!(live.len(), 1);
    assert_eq!(live[0].id, ids[3]);
    assert_eq!(live[0].fields["FirstName"], "Live");
    assert!(
        sb.request_count("salesforce", "/queryAll").await > 0,
        "read through queryAll"
    );
}
