//! `fluxcascade dead-letters …` (an organization's, through the REST API) and
//! `fluxcascade admin dead-letters …` (every organization's and those of none, straight from the database).

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use fluxcascade_ingress::api::dead_letters::{replay_dead_letter, ReplayScope};
use fluxcascade_store::dead_letters::{DeadLetterFilter, DeadLetterKind, DeadLetterRow};
use fluxcascade_store::Store;
use serde_json::Value;
use uuid::Uuid;

use crate::config::Settings;

/// Where the API is and the key to call it with.
#[derive(Args, Debug)]
pub struct ApiArgs {
    /// The ingress's base URL.
    #[arg(
        long,
        global = true,
        env = "FLUXCASCADE_API_URL",
        default_value = "http://127.0.0.1:8080"
    )]
    api_url: String,
    /// An API key of the organization (replay and delete need an admin or owner key).
    #[arg(
        long,
        global = true,
        env = "FLUXCASCADE_API_KEY",
        hide_env_values = true
    )]
    api_key: Option<String>,
}

/// `fluxcascade dead-letters`.
#[derive(Args, Debug)]
pub struct DeadLettersArgs {
    #[command(flatten)]
    api: ApiArgs,
    #[command(subcommand)]
    command: DeadLettersCommand,
}

#[derive(Subcommand, Debug)]
enum DeadLettersCommand {
    /// List dead letters, newest first.
    List(ListArgs),
    /// Replay one: its job again as a new first attempt (reopens the failed run it names).
    Replay { id: Uuid },
    /// Delete one.
    Delete { id: Uuid },
}

/// `fluxcascade admin dead-letters`.
#[derive(Subcommand, Debug)]
pub enum AdminDeadLettersCommand {
    /// List every organization's dead letters (and those of no organization), newest first.
    List(ListArgs),
    /// Replay one (needs AMQP_URL and FLUXCASCADE_QUEUE_PREFIX besides DATABASE_URL).
    Replay { id: Uuid },
    /// Delete one.
    Delete { id: Uuid },
}

#[derive(Args, Debug)]
pub struct ListArgs {
    /// sync, batch, webhook, delivery or unknown.
    #[arg(long)]
    kind: Option<String>,
    #[arg(long)]
    mapping_id: Option<Uuid>,
    #[arg(long)]
    sync_id: Option<Uuid>,
    /// 1 to 100.
    #[arg(long, default_value_t = 50)]
    limit: i64,
    /// The `next` cursor a previous page printed.
    #[arg(long)]
    cursor: Option<String>,
}

/// Runs `fluxcascade dead-letters …` against the REST API.
pub async fn run(args: DeadLettersArgs) -> anyhow::Result<()> {
    let Some(key) = args.api.api_key.as_deref() else {
        bail!("an API key is needed: set FLUXCASCADE_API_KEY or pass --api-key");
    };
    let base = args.api.api_url.trim_end_matches('/');
    let http = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(60))
        .build()?;
    match args.command {
        DeadLettersCommand::List(list) => {
            let mut query = vec![("limit", list.limit.to_string())];
            let optional = [
                ("kind", list.kind),
                ("mappingId", list.mapping_id.map(|v| v.to_string())),
                ("syncId", list.sync_id.map(|v| v.to_string())),
                ("cursor", list.cursor),
            ];
            query.extend(optional.into_iter().filter_map(|(k, v)| Some((k, v?))));
            let request = http.get(format!("{base}/v1/dead-letters")).query(&query);
            let page = call(request, key).await?;
            for item in page["data"].as_array().into_iter().flatten() {
                println!("{}", api_line(item));
            }
            if let Some(next) = page["nextCursor"].as_str() {
                println!("next: --cursor {next}");
            }
        }
        DeadLettersCommand::Replay { id } => {
            let request = http.post(format!("{base}/v1/dead-letters/{id}/replay"));
            let answer = call(request, key).await?;
            println!(
                "replayed as job {}",
                answer["replayJobId"].as_str().unwrap_or_default()
            );
        }
        DeadLettersCommand::Delete { id } => {
            call(http.delete(format!("{base}/v1/dead-letters/{id}")), key).await?;
            println!("deleted {id}");
        }
    }
    Ok(())
}

/// Sends an API request; an error answer becomes an error naming its status, code and message.
async fn call(request: reqwest::RequestBuilder, key: &str) -> anyhow::Result<Value> {
    let response = request
        .bearer_auth(key)
        .send()
        .await
        .context("calling the FluxCascade API")?;
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    if !status.is_success() {
        let code = body["error"]["code"].as_str().unwrap_or("error");
        let message = body["error"]["message"].as_str().unwrap_or(&text);
        bail!("{status} {code}: {message}");
    }
    Ok(body)
}

/// One dead letter of the API on one line.
fn api_line(item: &Value) -> String {
    let text = |name: &str| item[name].as_str().unwrap_or("-").to_string();
    let replayed = match item["replayJobId"].as_str() {
        Some(job) => format!("replayed as {job}"),
        None => "not replayed".into(),
    };
    format!(
        "{}  {}  job {}  attempts {}  last failed {}  {}  {}",
        text("id"),
        text("kind"),
        text("jobId"),
        item["attempts"],
        text("lastFailedAt"),
        replayed,
        text("reason")
    )
}

/// Runs `fluxcascade admin dead-letters …` on the database (and the broker, to replay).
pub async fn run_admin(command: AdminDeadLettersCommand, store: &Store) -> anyhow::Result<()> {
    match command {
        AdminDeadLettersCommand::List(list) => {
            let kind = list
                .kind
                .as_deref()
                .map(|k| {
                    DeadLetterKind::parse(k).with_context(|| {
                        format!("--kind {k:?}: one of sync, batch, webhook, delivery, unknown")
                    })
                })
                .transpose()?;
            if !(1..=100).contains(&list.limit) {
                bail!("--limit must be from 1 to 100");
            }
            let after = list
                .cursor
                .as_deref()
                .map(|c| Uuid::parse_str(c).context("--cursor is the id a previous page printed"))
                .transpose()?;
            let filter = DeadLetterFilter {
                kind,
                mapping_id: list.mapping_id,
                sync_id: list.sync_id,
            };
            let mut rows = store
                .admin_list_dead_letters(&filter, list.limit + 1, after)
                .await?;
            let more = rows.len() as i64 > list.limit;
            rows.truncate(usize::try_from(list.limit).unwrap_or(0));
            for row in &rows {
                println!("{}", admin_line(row));
            }
            if let (true, Some(last)) = (more, rows.last()) {
                println!("next: --cursor {}", last.id);
            }
        }
        AdminDeadLettersCommand::Replay { id } => {
            let settings = Settings::from_env()?;
            let publisher = fluxcascade_queue::Publisher::connect(&settings.queue())
                .await
                .context("connecting to RabbitMQ")?;
            let job = replay_dead_letter(store, &publisher, ReplayScope::Admin, id).await?;
            println!("replayed as job {job}");
        }
        AdminDeadLettersCommand::Delete { id } => {
            if !store.admin_delete_dead_letter(id).await? {
                bail!("no dead letter {id}");
            }
            println!("deleted {id}");
        }
    }
    Ok(())
}

/// One dead letter of the table on one line (`org -` for a job of no organization).
fn admin_line(row: &DeadLetterRow) -> String {
    let org = row
        .org_id
        .map_or_else(|| "-".to_string(), |o| o.to_string());
    let replayed = match &row.replay_job_id {
        Some(job) => format!("replayed as {job}"),
        None => "not replayed".into(),
    };
    format!(
        "{}  org {}  {}  job {}  attempts {}  last failed {}  {}  {}",
        row.id,
        org,
        row.kind.as_str(),
        row.job_id,
        row.attempts,
        row.last_failed_at.to_rfc3339(),
        replayed,
        row.reason
    )
}
