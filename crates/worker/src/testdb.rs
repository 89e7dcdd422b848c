//! Test support: a fresh database (migrated) with one org and one connection.

use fluxcascade_store::connections::NewConnection;
use fluxcascade_store::{MasterKey, Store};
use uuid::Uuid;

pub(crate) struct TestDb {
    pub store: Store,
    pub org_id: Uuid,
    pub connection_id: Uuid,
    /// Dropped with the test (a finished test leaves no database behind).
    name: String,
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let name = std::mem::take(&mut self.name);
        // Own runtime on a plain thread: Drop runs inside the test's runtime.
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async move {
                let admin = "postgres://postgres@127.0.0.1:5432/postgres";
                if let Ok((c, conn)) = tokio_postgres::connect(admin, tokio_postgres::NoTls).await {
                    tokio::spawn(conn);
                    let _ = c
                        .batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                        .await;
                }
            });
        })
        .join();
    }
}

impl TestDb {
    pub async fn new() -> TestDb {
        let short = Uuid::new_v4().simple().to_string();
        let name = format!("fluxcascade_worker_test_{}", &short[..12]);
        let url = format!("postgres://postgres@127.0.0.1:5432/{name}");
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
            name,
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
