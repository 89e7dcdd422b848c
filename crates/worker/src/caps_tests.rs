//! The fleet-wide batch caps against a real Postgres: slots are shared by every holder of the
//! same org (or written connection), released with the batch, and never shared across orgs.

use fluxcascade_core::MappingSpec;
use fluxcascade_store::links::BatchLock;
use fluxcascade_store::{BatchCaps, MasterKey, Store};
use serde_json::json;
use uuid::Uuid;

use crate::testdb::TestDb;

async fn mapping(store: &Store, org_id: Uuid, source: Uuid, target: Uuid) -> Uuid {
    let spec: MappingSpec = serde_json::from_value(json!({
        "name": "caps",
        "source": {"connectionId": source.to_string(), "object": "contacts"},
        "target": {"connectionId": target.to_string(), "object": "clients"},
        "fieldPairs": [{"sourceField": "email", "targetField": "emails[0].address"}]
    }))
    .expect("spec");
    store
        .create_mapping(org_id, &spec)
        .await
        .expect("mapping")
        .id
}

/// Takes a batch lock (a distinct batch each time) and then the capped slots.
async fn take(
    store: &Store,
    org_id: Uuid,
    mapping_id: Uuid,
    reverse: bool,
    caps: BatchCaps,
) -> Option<BatchLock> {
    let lock = store
        .try_lock_batch(Uuid::new_v4(), 0)
        .await
        .expect("lock")
        .expect("a fresh batch is free");
    lock.take_batch_slots(org_id, mapping_id, reverse, caps)
        .await
        .expect("slots")
}

#[tokio::test]
async fn an_org_holds_at_most_its_cap_of_batches_and_a_released_slot_is_reused() {
    let db = TestDb::new().await;
    let key = MasterKey::from_base64(&MasterKey::generate_base64()).unwrap();
    let other = TestDb::connection(&db.store, db.org_id, &key).await;
    let m1 = mapping(&db.store, db.org_id, db.connection_id, other).await;
    let m2 = mapping(&db.store, db.org_id, other, db.connection_id).await;
    let caps = BatchCaps {
        per_org: 3,
        per_connection: 0,
    };
    let mut held = Vec::new();
    for m in [m1, m2, m1] {
        held.push(
            take(&db.store, db.org_id, m, false, caps)
                .await
                .expect("within the cap"),
        );
    }
    assert!(
        take(&db.store, db.org_id, m2, false, caps).await.is_none(),
        "a fourth batch of the org waits"
    );
    // Another org is not held back by this one.
    let (org_b, _) = db.store.create_org("b", "b@test").await.unwrap();
    let b_source = TestDb::connection(&db.store, org_b, &key).await;
    let b_target = TestDb::connection(&db.store, org_b, &key).await;
    let mb = mapping(&db.store, org_b, b_source, b_target).await;
    let b = take(&db.store, org_b, mb, false, caps).await;
    assert!(b.is_some(), "org B has its own slots");
    held.pop().unwrap().release().await;
    assert!(
        take(&db.store, db.org_id, m2, false, caps).await.is_some(),
        "a released slot is taken again"
    );
}

#[tokio::test]
async fn a_connection_holds_at_most_its_cap_whichever_side_writes_it() {
    let db = TestDb::new().await;
    let key = MasterKey::from_base64(&MasterKey::generate_base64()).unwrap();
    let (a, b, c) = (
        db.connection_id,
        TestDb::connection(&db.store, db.org_id, &key).await,
        TestDb::connection(&db.store, db.org_id, &key).await,
    );
    let a_to_b = mapping(&db.store, db.org_id, a, b).await;
    let b_to_c = mapping(&db.store, db.org_id, b, c).await;
    let caps = BatchCaps {
        per_org: 8,
        per_connection: 2,
    };
    // Both write b: the forward leg of a→b and the reverse leg of b→c.
    let first = take(&db.store, db.org_id, a_to_b, false, caps).await;
    let second = take(&db.store, db.org_id, b_to_c, true, caps).await;
    assert!(first.is_some() && second.is_some());
    assert!(
        take(&db.store, db.org_id, a_to_b, false, caps)
            .await
            .is_none(),
        "a third writer of b waits"
    );
    assert!(
        take(&db.store, db.org_id, b_to_c, false, caps)
            .await
            .is_some(),
        "c has slots of its own"
    );
    // A deleted mapping takes no connection slot (its batch fails by itself).
    assert!(take(&db.store, db.org_id, Uuid::new_v4(), false, caps)
        .await
        .is_some());
    assert!(
        take(&db.store, db.org_id, a_to_b, false, BatchCaps::OFF)
            .await
            .is_some(),
        "uncapped work (a webhook run's own batch) is never held back"
    );
}
