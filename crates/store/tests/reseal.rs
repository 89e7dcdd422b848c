//! Master-key rotation against a real Postgres: rows written before V14 stay readable, `reseal`
//! moves every token and webhook secret to the current key (idempotently), and its
//! compare-and-swap never overwrites a token refresh that happened meanwhile.

use fluxcascade_store::connections::NewConnection;
use fluxcascade_store::{MasterKey, SealedToken, Store, StoreError};
use uuid::Uuid;

const PG_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

struct Db {
    store: Store,
    sql: tokio_postgres::Client,
    name: String,
    org_id: Uuid,
}

impl Db {
    /// A fresh database migrated up to `version` (all migrations: `None`).
    async fn new(version: Option<u32>) -> Db {
        let short = Uuid::new_v4().simple().to_string();
        let name = format!("fc_reseal_{}", &short[..12]);
        let url = format!("postgres://postgres@127.0.0.1:5432/{name}");
        fluxcascade_store::ensure_database(&url).await.expect("db");
        let store = Store::connect(&url, 4).expect("store");
        match version {
            Some(v) => store.migrate_to(v).await.expect("migrate_to"),
            None => store.migrate().await.expect("migrate"),
        }
        let (sql, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
            .await
            .expect("sql");
        tokio::spawn(conn);
        let org_id = Uuid::now_v7();
        sql.execute(
            "INSERT INTO organizations (id, name) VALUES ($1, 'reseal')",
            &[&org_id],
        )
        .await
        .expect("org");
        Db {
            store,
            sql,
            name,
            org_id,
        }
    }

    async fn connection(&self, key: &MasterKey, refresh: Option<&str>) -> Uuid {
        self.store
            .create_connection(
                self.org_id,
                key,
                NewConnection {
                    provider: "jobber".into(),
                    account_name: "acme".into(),
                    external_account_id: Uuid::new_v4().to_string(),
                    access_token: "access-1".into(),
                    refresh_token: refresh.map(str::to_owned),
                    expires_at: None,
                    instance_url: None,
                },
            )
            .await
            .expect("connection")
            .id
    }

    /// The key ids inside a connection's stored access and refresh token.
    async fn key_ids(&self, id: Uuid) -> (String, Option<String>) {
        let row = self
            .sql
            .query_one(
                "SELECT access_token, refresh_token FROM connections WHERE id = $1",
                &[&id],
            )
            .await
            .expect("row");
        let access: Vec<u8> = row.get(0);
        let refresh: Option<Vec<u8>> = row.get(1);
        (
            SealedToken::key_id_of(&access).expect("access key id"),
            refresh.map(|r| SealedToken::key_id_of(&r).expect("refresh key id")),
        )
    }

    /// Runs reseal to the end in batches of `batch`; (connections, webhooks) re-sealed.
    async fn reseal_all(&self, key: &MasterKey, batch: i64) -> (u64, u64) {
        let (mut conns, mut hooks) = (0, 0);
        let mut after = None;
        loop {
            let b = self
                .store
                .reseal_connections_batch(key, after, batch)
                .await
                .expect("reseal connections");
            assert!(b.failed.is_empty(), "{:?}", b.failed);
            conns += b.resealed;
            match b.last_id {
                Some(id) => after = Some(id),
                None => break,
            }
        }
        let mut after = None;
        loop {
            let b = self
                .store
                .reseal_webhooks_batch(key, after, batch)
                .await
                .expect("reseal webhooks");
            assert!(b.failed.is_empty(), "{:?}", b.failed);
            hooks += b.resealed;
            match b.last_id {
                Some(id) => after = Some(id),
                None => break,
            }
        }
        (conns, hooks)
    }

    async fn drop_all(self) {
        drop(self.store);
        if let Ok((c, conn)) = tokio_postgres::connect(PG_ADMIN_URL, tokio_postgres::NoTls).await {
            tokio::spawn(conn);
            let _ = c
                .batch_execute(&format!(
                    "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
                    self.name
                ))
                .await;
        }
    }
}

fn keys() -> (String, String) {
    (MasterKey::generate_base64(), MasterKey::generate_base64())
}

#[tokio::test]
async fn reseal_moves_every_secret_to_the_current_key_and_a_second_run_does_nothing() {
    let db = Db::new(None).await;
    let (a, b) = keys();
    let key_a = MasterKey::from_base64(&a).unwrap();
    let with_refresh = db.connection(&key_a, Some("refresh-1")).await;
    let without_refresh = db.connection(&key_a, None).await;
    let third = db.connection(&key_a, Some("refresh-3")).await;
    let (_, secret) = db
        .store
        .create_webhook(
            db.org_id,
            &key_a,
            "https://example.com/h",
            &["sync.completed".into()],
        )
        .await
        .expect("webhook");
    let rotated = MasterKey::from_config(&b, Some(&a)).unwrap();
    assert_eq!(db.store.count_not_current(&rotated).await.unwrap(), (3, 1));

    // Killed after its first batch: that batch is committed, and a rerun does the rest.
    let first = db
        .store
        .reseal_connections_batch(&rotated, None, 1)
        .await
        .expect("first batch");
    assert_eq!(first.resealed, 1);
    assert_eq!(db.store.count_not_current(&rotated).await.unwrap(), (2, 1));
    // Batches of two: the rest takes one batch of connections, and nothing is visited twice.
    assert_eq!(db.reseal_all(&rotated, 2).await, (2, 1));
    assert_eq!(db.store.count_not_current(&rotated).await.unwrap(), (0, 0));
    for id in [with_refresh, without_refresh, third] {
        let (access, refresh) = db.key_ids(id).await;
        assert_eq!(access, rotated.key_id());
        if let Some(r) = refresh {
            assert_eq!(r, rotated.key_id());
        }
    }

    // Key B alone now opens everything, with the same plaintexts.
    let only_b = MasterKey::from_base64(&b).unwrap();
    let creds = db
        .store
        .load_credentials(db.org_id, with_refresh, &only_b)
        .await
        .expect("credentials under B");
    assert_eq!(creds.access_token, "access-1");
    assert_eq!(creds.refresh_token.as_deref(), Some("refresh-1"));
    let hooks = db.sql.query("SELECT id FROM webhooks", &[]).await.unwrap();
    let hook_id: Uuid = hooks[0].get(0);
    let delivery_secret: Vec<u8> = db
        .sql
        .query_one("SELECT secret FROM webhooks WHERE id = $1", &[&hook_id])
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        only_b
            .open_stored(&format!("{hook_id}:webhook"), &delivery_secret)
            .unwrap(),
        secret
    );
    // Key A alone cannot, and says which key it lacks.
    match db
        .store
        .load_credentials(db.org_id, with_refresh, &key_a)
        .await
    {
        Err(StoreError::UnknownKey(id)) => assert_eq!(id, rotated.key_id()),
        other => panic!("expected an unknown key error, got {other:?}"),
    }

    // Idempotent: a second run finds nothing.
    assert_eq!(db.reseal_all(&rotated, 2).await, (0, 0));
    db.drop_all().await;
}

#[tokio::test]
async fn reseal_never_overwrites_a_refresh_that_commits_while_it_swaps() {
    let db = Db::new(None).await;
    let (a, b) = keys();
    let key_a = MasterKey::from_base64(&a).unwrap();
    let id = db.connection(&key_a, Some("refresh-old")).await;
    let rotated = MasterKey::from_config(&b, Some(&a)).unwrap();

    // A worker is refreshing: it holds the row lock.
    let locked = db
        .store
        .lock_credentials(db.org_id, id, &rotated)
        .await
        .expect("lock");
    assert_eq!(
        locked.credentials.refresh_token.as_deref(),
        Some("refresh-old")
    );
    let store = db.store.clone();
    let key = MasterKey::from_config(&b, Some(&a)).unwrap();
    let reseal = tokio::spawn(async move { store.reseal_connections_batch(&key, None, 10).await });
    // Wait until reseal's swap waits on the refresh's row lock.
    loop {
        let waiting: i64 = db
            .sql
            .query_one(
                "SELECT count(*)::bigint FROM pg_stat_activity
                  WHERE datname = current_database() AND wait_event_type = 'Lock'",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        if waiting > 0 {
            break;
        }
        tokio::task::yield_now().await;
    }
    // The refresh stores a new access token and keeps the refresh token (no rotation).
    locked
        .lock
        .store_tokens(&rotated, "access-refreshed", None, None, None)
        .await
        .expect("store tokens");
    let batch = reseal.await.unwrap().expect("reseal");
    assert!(batch.failed.is_empty(), "{:?}", batch.failed);
    assert_eq!(batch.resealed, 1, "the kept refresh token was re-sealed");

    let only_b = MasterKey::from_base64(&b).unwrap();
    let creds = db
        .store
        .load_credentials(db.org_id, id, &only_b)
        .await
        .expect("everything under B");
    assert_eq!(
        creds.access_token, "access-refreshed",
        "the refresh's token survived the reseal"
    );
    assert_eq!(creds.refresh_token.as_deref(), Some("refresh-old"));
    db.drop_all().await;
}

#[tokio::test]
async fn rows_sealed_before_v14_stay_readable() {
    let db = Db::new(Some(13)).await;
    let a = MasterKey::generate_base64();
    let key = MasterKey::from_base64(&a).unwrap();
    let id = Uuid::now_v7();
    // As the release before V14 stored them: raw bytes and a key_id column.
    let access = key.seal(&id.to_string(), "old-access").unwrap();
    let refresh = key.seal(&format!("{id}:refresh"), "old-refresh").unwrap();
    db.sql
        .execute(
            "INSERT INTO connections (id, org_id, provider, account_name, external_account_id,
                key_id, access_token, refresh_token)
             VALUES ($1, $2, 'jobber', 'acme', 'ext-1', $3, $4, $5)",
            &[
                &id,
                &db.org_id,
                &access.key_id,
                &access.bytes,
                &refresh.bytes,
            ],
        )
        .await
        .expect("old row");
    let hook = Uuid::now_v7();
    let secret = key.seal(&format!("{hook}:webhook"), "whsec_old").unwrap();
    db.sql
        .execute(
            "INSERT INTO webhooks (id, org_id, url, events, key_id, secret)
             VALUES ($1, $2, 'https://example.com/h', '{sync.completed}', $3, $4)",
            &[&hook, &db.org_id, &secret.key_id, &secret.bytes],
        )
        .await
        .expect("old webhook");

    db.store.migrate().await.expect("migrate to the latest");
    let creds = db
        .store
        .load_credentials(db.org_id, id, &key)
        .await
        .expect("readable");
    assert_eq!(creds.access_token, "old-access");
    assert_eq!(creds.refresh_token.as_deref(), Some("old-refresh"));
    let stored: Vec<u8> = db
        .sql
        .query_one("SELECT secret FROM webhooks WHERE id = $1", &[&hook])
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        key.open_stored(&format!("{hook}:webhook"), &stored)
            .unwrap(),
        "whsec_old"
    );
    db.drop_all().await;
}
