//! The worker's metrics against a real Postgres: a committed batch counts its records by
//! outcome once, however often its job is delivered.

use fluxcascade_core::{Counts, MappingSpec, SyncMode, SyncTrigger};
use fluxcascade_store::links::BatchCommit;
use fluxcascade_store::MasterKey;
use fluxcascade_telemetry::metrics;
use serde_json::json;

use crate::batch::commit_counted;
use crate::testdb::TestDb;

fn synced(outcome: &str) -> u64 {
    metrics().records_synced.with_label_values(&[outcome]).get()
}

#[tokio::test]
async fn a_batch_commit_counts_its_records_by_outcome_once() {
    let db = TestDb::new().await;
    let key = MasterKey::from_base64(&MasterKey::generate_base64()).unwrap();
    let target = TestDb::connection(&db.store, db.org_id, &key).await;
    let spec: MappingSpec = serde_json::from_value(json!({
        "name": "metrics",
        "source": {"connectionId": db.connection_id.to_string(), "object": "contacts"},
        "target": {"connectionId": target.to_string(), "object": "clients"},
        "fieldPairs": [{"sourceField": "email", "targetField": "emails[0].address"}]
    }))
    .expect("spec");
    let mapping = db
        .store
        .create_mapping(db.org_id, &spec)
        .await
        .expect("mapping");
    let run = db
        .store
        .create_sync(db.org_id, mapping.id, SyncTrigger::Manual, SyncMode::Full)
        .await
        .expect("run");
    let commit = BatchCommit {
        org_id: db.org_id,
        sync_id: run.id,
        mapping_id: mapping.id,
        batch_no: 0,
        side: "source",
        worker: "test".into(),
        counts: Counts {
            read: 10,
            created: 4,
            updated: 3,
            skipped: 2,
            failed: 1,
            deleted: 0,
        },
        max_cursor: None,
        links: Vec::new(),
        dropped_intents: Vec::new(),
        errors: Vec::new(),
    };
    let outcomes = ["created", "updated", "skipped", "failed"];
    let before: Vec<u64> = outcomes.iter().map(|o| synced(o)).collect();

    assert!(commit_counted(&db.store, &commit).await.expect("commit"));
    // The same batch again (a redelivered job): already committed, counted once.
    assert!(!commit_counted(&db.store, &commit).await.expect("commit"));

    let after: Vec<u64> = outcomes.iter().map(|o| synced(o)).collect();
    let moved: Vec<u64> = after.iter().zip(&before).map(|(a, b)| a - b).collect();
    assert_eq!(moved, vec![4, 3, 2, 1]);
    let text = metrics().render();
    assert!(
        text.contains("# TYPE fluxcascade_records_synced_total counter"),
        "{text}"
    );
}
