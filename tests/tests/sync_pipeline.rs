//! End to end: a HubSpot contacts → Jobber clients sync through real processes, RabbitMQ, Postgres and the sandbox.

use std::collections::HashMap;
use std::time::Duration;

use anyhow::Context;

use fluxcascade_tests::{fields, TestEnv};
use reqwest::Method;
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(180);

fn email_of_client(c: &Value) -> Option<String> {
    fields(c)["emails"][0]["address"]
        .as_str()
        .map(str::to_owned)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_creates_once_reruns_create_nothing_and_incremental_reads_only_changes(
) -> anyhow::Result<()> {
    let env = TestEnv::start("pipeline", 2).await?;
    env.seed("hubspot", "contacts", 1000).await?;
    let hubspot = env.connect("hubspot").await?;
    let jobber = env.connect("jobber").await?;
    let mapping = env.contacts_to_clients(&hubspot, &jobber).await?;

    // 1. The first sync creates every client, with the mapped fields.
    let first = env
        .wait_sync(&env.trigger_sync(&mapping, "incremental").await?, WAIT)
        .await?;
    assert_eq!(first["status"], "completed", "{first}");
    assert_eq!(first["counts"]["read"], 1000, "{first}");
    assert_eq!(first["counts"]["created"], 1000, "{first}");
    assert_eq!(first["counts"]["failed"], 0, "{first}");

    let contacts = env.sandbox_records("hubspot", "contacts").await?;
    let clients = env.sandbox_records("jobber", "clients").await?;
    assert_eq!(clients.len(), 1000);
    let by_email: HashMap<String, &Value> = clients
        .iter()
        .filter_map(|c| Some((email_of_client(c)?, c)))
        .collect();
    assert_eq!(by_email.len(), 1000, "every client has its own email");
    for contact in &contacts {
        let p = &fields(contact);
        let email = p["email"]
            .as_str()
            .expect("seeded contacts have emails")
            .to_lowercase();
        let client = by_email
            .get(&email)
            .unwrap_or_else(|| panic!("no client for {email}"));
        assert_eq!(
            fields(client)["firstName"],
            p["firstname"],
            "firstName of {email}"
        );
        assert_eq!(
            fields(client)["lastName"],
            p["lastname"],
            "lastName of {email}"
        );
    }

    // 2. Running it again creates nothing: incremental reads nothing new, full re-reads and skips.
    let again = env
        .wait_sync(&env.trigger_sync(&mapping, "incremental").await?, WAIT)
        .await?;
    assert_eq!(again["status"], "completed", "{again}");
    assert_eq!(again["counts"]["created"], 0, "{again}");
    let full = env
        .wait_sync(&env.trigger_sync(&mapping, "full").await?, WAIT)
        .await?;
    assert_eq!(full["status"], "completed", "{full}");
    assert_eq!(full["counts"]["read"], 1000, "{full}");
    assert_eq!(full["counts"]["created"], 0, "{full}");
    assert_eq!(full["counts"]["skipped"], 1000, "{full}");
    assert_eq!(
        env.sandbox_records("jobber", "clients").await?.len(),
        1000,
        "no duplicate client"
    );

    // 3. Ten contacts change: an incremental sync reads those ten and updates their clients.
    let mut changed = Vec::new();
    for (i, c) in contacts.iter().take(10).enumerate() {
        let id = c["id"].as_str().expect("id");
        let name = format!("Changed{i}");
        env.http
            .patch(format!(
                "{}/_sandbox/hubspot/contacts/{id}",
                env.sandbox_url
            ))
            .json(&json!({"firstname": name}))
            .send()
            .await?
            .error_for_status()?;
        changed.push((
            fields(c)["email"].as_str().expect("email").to_lowercase(),
            name,
        ));
    }
    let inc = env
        .wait_sync(&env.trigger_sync(&mapping, "incremental").await?, WAIT)
        .await?;
    assert_eq!(inc["status"], "completed", "{inc}");
    assert_eq!(inc["counts"]["read"], 10, "{inc}");
    assert_eq!(inc["counts"]["updated"], 10, "{inc}");
    assert_eq!(inc["counts"]["created"], 0, "{inc}");
    let clients = env.sandbox_records("jobber", "clients").await?;
    assert_eq!(clients.len(), 1000);
    for (email, name) in changed {
        let c = clients
            .iter()
            .find(|c| email_of_client(c).as_deref() == Some(email.as_str()))
            .expect("client");
        assert_eq!(fields(c)["firstName"], name.as_str());
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_of_one_sync_are_written_by_both_workers() -> anyhow::Result<()> {
    let env = TestEnv::start("two-workers", 2).await?;
    env.seed("hubspot", "contacts", 3000).await?;
    let hubspot = env.connect("hubspot").await?;
    let jobber = env.connect("jobber").await?;
    let mapping = env.contacts_to_clients(&hubspot, &jobber).await?;
    let sync_id = env.trigger_sync(&mapping, "full").await?;
    let done = env.wait_sync(&sync_id, WAIT).await?;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["counts"]["created"], 3000, "{done}");

    let db = env.db().await?;
    let rows = db
        .query(
            "SELECT worker, count(*)::bigint, sum(created_count)::bigint FROM sync_batches
             WHERE sync_id = $1::text::uuid GROUP BY worker",
            &[&sync_id],
        )
        .await?;
    let per_worker: Vec<(String, i64, i64)> = rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    println!("batches per worker: {per_worker:?}");
    assert_eq!(
        per_worker.len(),
        2,
        "both workers wrote batches: {per_worker:?}"
    );
    assert_eq!(per_worker.iter().map(|w| w.2).sum::<i64>(), 3000);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_table_holds_no_plaintext_token() -> anyhow::Result<()> {
    let env = TestEnv::start("sealed-tokens", 0).await?;
    // Real tokens (the provider is asked whom a token belongs to before it is stored): one
    // connection made through OAuth, whose tokens are then imported as a second connection.
    let first = env.connect_account("hubspot", None).await?;
    let store = fluxcascade_store::Store::connect(&env.db_url, 1)?;
    let key = fluxcascade_store::MasterKey::from_base64(&env.master_key)?;
    let org = store
        .authenticate(&env.api_key)
        .await?
        .context("key")?
        .org_id;
    let creds = store
        .load_credentials(org, first["id"].as_str().context("id")?.parse()?, &key)
        .await?;
    let access = creds.access_token.as_str();
    let refresh = creds.refresh_token.as_deref().context("refresh token")?;
    let conn = env
        .api_ok(
            Method::POST,
            "/v1/connections",
            Some(json!({"provider": "hubspot", "credentials": {"accessToken": access, "refreshToken": refresh}})),
        )
        .await?;
    let listed = env.api_ok(Method::GET, "/v1/connections", None).await?;
    for body in [first.to_string(), conn.to_string(), listed.to_string()] {
        assert!(
            !body.contains(access) && !body.contains(refresh),
            "the API must never return tokens: {body}"
        );
    }
    let db = env.db().await?;
    let rows = db.query("SELECT * FROM connections", &[]).await?;
    assert_eq!(rows.len(), 2);
    for row in &rows {
        let mut stored = Vec::new();
        for (i, col) in row.columns().iter().enumerate() {
            match col.type_().name() {
                "bytea" => stored.extend(row.get::<_, Option<Vec<u8>>>(i).unwrap_or_default()),
                "text" => stored.extend(
                    row.get::<_, Option<String>>(i)
                        .unwrap_or_default()
                        .into_bytes(),
                ),
                _ => {}
            }
        }
        for secret in [access, refresh] {
            assert!(
                !stored.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "{secret} stored in plaintext"
            );
        }
        let access_col: Vec<u8> = row.get("access_token");
        assert!(
            access_col.len() >= access.len() + 12 + 16,
            "nonce + ciphertext + tag"
        );
    }
    Ok(())
}
