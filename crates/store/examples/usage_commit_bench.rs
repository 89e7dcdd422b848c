//! Batch commits per second against the local Postgres, 16 concurrent committers of 100-record
//! batches: all on one mapping (sharing its day's usage rows) vs one mapping each — the cost of
//! counting usage in the commit (`cargo run -p fluxcascade-store --example usage_commit_bench`).

use std::time::Instant;

use fluxcascade_core::{Counts, MappingSpec, SyncMode, SyncTrigger};
use fluxcascade_store::connections::NewConnection;
use fluxcascade_store::links::{BatchCommit, LinkWrite};
use fluxcascade_store::{MasterKey, Store};
use uuid::Uuid;

const TASKS: usize = 16;
const PER_TASK: i32 = 150;
const RECORDS: usize = 100;

#[tokio::main]
async fn main() {
    let short = Uuid::new_v4().simple().to_string();
    let name = format!("fc_usage_bench_{}", &short[..12]);
    let url = format!("postgres://postgres@127.0.0.1:5432/{name}");
    fluxcascade_store::ensure_database(&url).await.unwrap();
    let store = Store::connect(&url, 24).unwrap();
    store.migrate().await.unwrap();
    let (org, _) = store.create_org("b", "o@b").await.unwrap();
    let key = MasterKey::from_base64(&MasterKey::generate_base64()).unwrap();
    let mut ids = Vec::new();
    for p in ["hubspot", "jobber"] {
        ids.push(
            store
                .create_connection(
                    org,
                    &key,
                    NewConnection {
                        provider: p.into(),
                        account_name: p.into(),
                        external_account_id: Uuid::new_v4().to_string(),
                        access_token: "t".into(),
                        refresh_token: None,
                        expires_at: None,
                        instance_url: None,
                    },
                )
                .await
                .unwrap()
                .id,
        );
    }
    let mut mappings = Vec::new();
    for i in 0..TASKS {
        let spec: MappingSpec = serde_json::from_value(serde_json::json!({"name": format!("m{i}"),
            "source": {"connectionId": ids[0].to_string(), "object": "contacts"},
            "target": {"connectionId": ids[1].to_string(), "object": "clients"},
            "fieldPairs": [{"sourceField": "email", "targetField": "emails[0].address"}]}))
        .unwrap();
        let m = store.create_mapping(org, &spec).await.unwrap().id;
        let run = store
            .create_sync(org, m, SyncTrigger::Manual, SyncMode::Full)
            .await
            .unwrap()
            .id;
        mappings.push((m, run));
    }
    for round in 0..2 {
        for shared in [true, false] {
            let start = Instant::now();
            let tasks: Vec<_> = (0..TASKS)
                .map(|t| {
                    let store = store.clone();
                    let (m, run) = if shared { mappings[0] } else { mappings[t] };
                    let base = (round * 2 + shared as i32) * 1_000_000 + t as i32 * 10_000;
                    tokio::spawn(async move {
                        for n in 0..PER_TASK {
                            let batch_no = base + n;
                            let links = (0..RECORDS)
                                .map(|r| LinkWrite {
                                    source_id: format!("s{batch_no}-{r}"),
                                    target_id: format!("t{batch_no}-{r}"),
                                    source_updated_at: None,
                                    target_updated_at: None,
                                    hash: "h".into(),
                                })
                                .collect();
                            let c = BatchCommit {
                                org_id: org,
                                sync_id: run,
                                mapping_id: m,
                                batch_no,
                                side: "source",
                                worker: "bench".into(),
                                counts: Counts {
                                    read: RECORDS as u64,
                                    created: RECORDS as u64,
                                    ..Counts::default()
                                },
                                max_cursor: None,
                                links,
                                dropped_intents: vec![],
                                errors: vec![],
                            };
                            assert!(store.commit_batch(&c).await.unwrap());
                        }
                    })
                })
                .collect();
            for t in tasks {
                t.await.unwrap();
            }
            let secs = start.elapsed().as_secs_f64();
            let batches = (TASKS as i32 * PER_TASK) as f64;
            println!(
                "round {round} {}: {:.0} batches/s, {:.0} records/s ({:.1} s)",
                if shared {
                    "one mapping (its day's usage rows)"
                } else {
                    "16 mappings (own rows)"
                },
                batches / secs,
                batches * RECORDS as f64 / secs,
                secs
            );
        }
    }
    let r = store
        .usage(
            org,
            chrono::Utc::now().date_naive(),
            chrono::Utc::now().date_naive(),
        )
        .await
        .unwrap();
    println!(
        "usage total read {} (expected {})",
        r.total.records_read,
        4 * TASKS as i64 * PER_TASK as i64 * RECORDS as i64
    );
    drop(store);
    let (c, conn) = tokio_postgres::connect(
        "postgres://postgres@127.0.0.1:5432/postgres",
        tokio_postgres::NoTls,
    )
    .await
    .unwrap();
    tokio::spawn(conn);
    c.batch_execute(&format!("DROP DATABASE {name} WITH (FORCE)"))
        .await
        .unwrap();
}
