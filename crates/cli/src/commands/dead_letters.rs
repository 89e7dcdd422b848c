//! `fluxcascade dead-letters list|replay|delete`: an organization's dead letters through the REST API
//! (`fluxcascade admin dead-letters` reads the database instead: `crate::dead_letters`).

use clap::{Args, Subcommand};
use serde_json::{json, Value};
use uuid::Uuid;

use super::output::{self, OutputFormat};
use super::ApiArgs;
use crate::dead_letters::ListArgs;

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

pub async fn run(args: DeadLettersArgs, out: OutputFormat) -> anyhow::Result<()> {
    let client = args.api.client()?;
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
            let page = client.get("/v1/dead-letters", &query).await?;
            if out == OutputFormat::Json {
                output::print_json(&page);
                return Ok(());
            }
            for item in page["data"].as_array().into_iter().flatten() {
                println!("{}", line(item));
            }
            output::print_next(&page);
        }
        DeadLettersCommand::Replay { id } => {
            let answer = client
                .post(&format!("/v1/dead-letters/{id}/replay"), None)
                .await?;
            match out {
                OutputFormat::Json => output::print_json(&answer),
                OutputFormat::Table => println!(
                    "replayed as job {}",
                    output::clean(answer["replayJobId"].as_str().unwrap_or_default())
                ),
            }
        }
        DeadLettersCommand::Delete { id } => {
            client.delete(&format!("/v1/dead-letters/{id}")).await?;
            match out {
                OutputFormat::Json => output::print_json(&json!({"deleted": id})),
                OutputFormat::Table => println!("deleted {id}"),
            }
        }
    }
    Ok(())
}

/// One dead letter of the API on one line.
fn line(item: &Value) -> String {
    let text = |name: &str| output::cell(&item[name]);
    let replayed = match item["replayJobId"].as_str() {
        Some(job) => format!("replayed as {}", output::clean(job)),
        None => "not replayed".into(),
    };
    format!(
        "{}  {}  job {}  attempts {}  last failed {}  {}  {}",
        text("id"),
        text("kind"),
        text("jobId"),
        text("attempts"),
        text("lastFailedAt"),
        replayed,
        text("reason")
    )
}
