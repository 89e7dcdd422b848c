//! `fluxcascade admin dead-letters …`: every organization's dead letters and those of none, straight
//! from the database (an organization's own, through the API: `commands::dead_letters`).

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use fluxcascade_ingress::api::dead_letters::{replay_dead_letter, ReplayScope};
use fluxcascade_store::dead_letters::{DeadLetterFilter, DeadLetterKind, DeadLetterRow};
use fluxcascade_store::Store;
use uuid::Uuid;

use crate::config::Settings;

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
    pub kind: Option<String>,
    #[arg(long)]
    pub mapping_id: Option<Uuid>,
    #[arg(long)]
    pub sync_id: Option<Uuid>,
    /// 1 to 100.
    #[arg(long, default_value_t = 50)]
    pub limit: i64,
    /// The `next` cursor a previous page printed.
    #[arg(long)]
    pub cursor: Option<String>,
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
