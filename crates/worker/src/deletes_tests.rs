//! Tests for applying deletions: the pure split/settle, and `apply_deletes` against a fake
//! adapter and a real Postgres.

use std::sync::Mutex;

use chrono::Utc;
use fluxcascade_core::{Counts, DeleteAction, MappingSpec, Record};
use fluxcascade_providers::{ListQuery, Page, Provider, ProviderError, WriteOp, WriteResult};
use fluxcascade_store::links::{BatchCommit, LinkWrite};
use fluxcascade_store::unlink::LinkSide;
use fluxcascade_store::MasterKey;
use serde_json::json;

use super::*;
use crate::testdb::TestDb;

/// Archives every id except "refuse-*", recording the calls.
#[derive(Default)]
struct FakeTwin {
    calls: Mutex<Vec<Vec<String>>>,
}

#[async_trait::async_trait]
impl Provider for FakeTwin {
    async fn list(&self, _object: &str, _query: &ListQuery) -> Result<Page, ProviderError> {
        Ok(Page {
            records: Vec::new(),
            next_page: None,
        })
    }
    async fn get_many(
        &self,
        _object: &str,
        _ids: &[String],
        _fields: &[String],
    ) -> Result<Vec<Record>, ProviderError> {
        Ok(Vec::new())
    }
    async fn write(
        &self,
        _object: &str,
        _ops: &[WriteOp],
    ) -> Result<Vec<WriteResult>, ProviderError> {
        Ok(Vec::new())
    }
    fn max_batch(&self, _object: &str) -> usize {
        2
    }
    fn can_archive(&self, _object: &str) -> bool {
        true
    }
    async fn archive(
        &self,
        _object: &str,
        ids: &[String],
    ) -> Result<Vec<WriteResult>, ProviderError> {
        self.calls.lock().unwrap().push(ids.to_vec());
        Ok(ids
            .iter()
            .map(|id| {
                if id.starts_with("refuse") {
                    WriteResult::Failed {
                        code: "provider_rejected".into(),
                        message: "not archivable".into(),
                    }
                } else {
                    WriteResult::Ok(Record {
                        id: id.clone(),
                        updated_at: Utc::now(),
                        fields: json!({}),
                        deleted: true,
                    })
                }
            })
            .collect())
    }
}

fn archive(t: &str) -> DeleteAction {
    DeleteAction::Archive {
        target_id: t.into(),
    }
}

#[test]
fn split_and_settle_sort_tombstones_by_what_happens() {
    let tombstones = vec![
        ("s1".to_owned(), archive("t1")),
        ("s2".to_owned(), DeleteAction::Unlink),
        ("s3".to_owned(), DeleteAction::Ignore),
        ("s4".to_owned(), archive("t4")),
    ];
    let (to_archive, mut unlink, ignored) = split(&tombstones);
    assert_eq!(to_archive, [("s1", "t1"), ("s4", "t4")]);
    assert_eq!(unlink, ["s2"]);
    assert_eq!(ignored, ["s3"]);
    let mut errors = Vec::new();
    let failed = WriteResult::Failed {
        code: "provider_rejected".into(),
        message: "no".into(),
    };
    settle(&to_archive, vec![failed], &mut unlink, &mut errors);
    assert_eq!(unlink, ["s2"], "neither twin was archived");
    let codes: Vec<(&str, &str)> = errors
        .iter()
        .map(|e| (e.record_id.as_str(), e.code.as_str()))
        .collect();
    assert_eq!(codes, [("s1", "provider_rejected"), ("s4", "no_result")]);
}

#[tokio::test]
async fn apply_deletes_archives_twins_in_chunks_and_removes_only_applied_links() {
    let db = TestDb::new().await;
    let key = MasterKey::from_base64(&MasterKey::generate_base64()).unwrap();
    let target = TestDb::connection(&db.store, db.org_id, &key).await;
    let spec: MappingSpec = serde_json::from_value(json!({
        "name": "deletes",
        "source": {"connectionId": db.connection_id.to_string(), "object": "contacts"},
        "target": {"connectionId": target.to_string(), "object": "clients"},
        "fieldPairs": [{"sourceField": "email", "targetField": "emails[0].address"}],
        "onDelete": "archive"
    }))
    .unwrap();
    let mapping = db.store.create_mapping(db.org_id, &spec).await.unwrap();
    let run = db
        .store
        .create_sync(
            db.org_id,
            mapping.id,
            fluxcascade_core::SyncTrigger::Manual,
            fluxcascade_core::SyncMode::Full,
        )
        .await
        .unwrap();
    let pairs = [("s1", "t1"), ("s2", "t2"), ("s3", "refuse-3"), ("s4", "t4")];
    let links = pairs
        .iter()
        .map(|(s, t)| LinkWrite {
            source_id: (*s).into(),
            target_id: (*t).into(),
            source_updated_at: None,
            target_updated_at: None,
            hash: "h".into(),
        })
        .collect();
    let commit = BatchCommit {
        org_id: db.org_id,
        sync_id: run.id,
        mapping_id: mapping.id,
        batch_no: 0,
        side: "source",
        worker: "test".into(),
        counts: Counts::default(),
        max_cursor: None,
        links,
        dropped_intents: Vec::new(),
        errors: Vec::new(),
    };
    assert!(db.store.commit_batch(&commit).await.unwrap());

    let twin = FakeTwin::default();
    let tombstones = vec![
        ("s1".to_owned(), archive("t1")),
        ("s2".to_owned(), DeleteAction::Unlink),
        ("s3".to_owned(), archive("refuse-3")),
        ("s4".to_owned(), archive("t4")),
        ("s5".to_owned(), DeleteAction::Ignore),
    ];
    let out = apply_deletes(
        &db.store,
        &twin,
        (db.org_id, mapping.id),
        LinkSide::Source,
        "clients",
        &tombstones,
    )
    .await
    .unwrap();
    assert_eq!(out.ignored, ["s5"]);
    let mut applied = out.applied.clone();
    applied.sort();
    assert_eq!(applied, ["s1", "s2", "s4"]);
    assert_eq!(out.errors.len(), 1);
    assert_eq!(out.errors[0].record_id, "s3");
    assert_eq!(
        *twin.calls.lock().unwrap(),
        [
            vec!["t1".to_owned(), "refuse-3".to_owned()],
            vec!["t4".to_owned()]
        ],
        "chunks of max_batch"
    );
    let ids: Vec<String> = pairs.iter().map(|(s, _)| (*s).to_owned()).collect();
    let left = db
        .store
        .load_links(db.org_id, mapping.id, &ids)
        .await
        .unwrap();
    let mut left: Vec<&str> = left.keys().map(String::as_str).collect();
    left.sort();
    assert_eq!(
        left,
        ["s3"],
        "only the twin that could not be archived stays linked"
    );

    // A redelivered batch: the links are gone, removing them again is fine.
    let again = db
        .store
        .remove_links(db.org_id, mapping.id, LinkSide::Target, &["t1".to_owned()])
        .await
        .unwrap();
    assert_eq!(again, 0);
}
