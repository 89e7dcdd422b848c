//! Test support: a fresh database (migrated) with one org and one connection.

use fluxcascade_store::connections::NewConnection;
use fluxcascade_store::{MasterKey, Store};
use uuid::Uuid;

pub(crate) struct TestDb {
    pub store: Store,
    pub org_id: Uuid,
    pub connection_id: Uuid,
}

impl TestDb {
    pub async fn new() -> TestDb {
        let short = Uuid::new_v4().simple().to_string();
        let url = format!(
            "postgres://postgres@127.0.0.1:5432/fluxcascade_worker_test_{}",
            &short[..12]
        );
        fluxcascade_store::ensure_database(&url)
            .await
            .expect("create database");
        let store = Store::connect(&url, 8).expect("store");
        store.migrate().await.expect("migrate");
        let (org_id, _) = store
            .create_org("worker test", "owner@test")
            .await
            .expect("org");
        let key = MasterKey::from_base64(&MasterKey::generate_base64()).expect("key");
        let connection_id = TestDb::connection(&store, org_id, &key).await;
        TestDb {
            store,
            org_id,
            connection_id,
        }
    }

    pub async fn connection(store: &Store, org_id: Uuid, key: &MasterKey) -> Uuid {
        store
            .create_connection(
                org_id,
                key,
                NewConnection {
                    provider: "jobber".into(),
                    account_name: "test".into(),
                    external_account_id: Uuid::new_v4().to_string(),
                    access_token: "token".into(),
                    refresh_token: None,
                    expires_at: None,
                    instance_url: None,
                },
            )
            .await
            .expect("connection")
            .id
    }
}
