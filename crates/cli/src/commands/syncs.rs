//! `fluxcascade syncs run --mapping ID [--full] [--follow]`, `syncs get|list|errors`. A followed
//! run exits 0 completed, 2 partial, 1 failed (130 when Ctrl-C stops following; the run goes on).

use std::process::ExitCode;

use clap::{Args, Subcommand};
use fluxcascade_core::SyncStatus;
use serde_json::{json, Value};

use super::follow::{self, Followed, RunView};
use super::output::{self, cell, OutputFormat, Table};
use super::{id_segment, ApiArgs, PageArgs};

/// The exit code of Ctrl-C while following (128 + SIGINT).
pub const INTERRUPTED: u8 = 130;

/// `fluxcascade syncs`.
#[derive(Args, Debug)]
pub struct SyncsArgs {
    #[command(flatten)]
    api: ApiArgs,
    #[command(subcommand)]
    command: SyncsCommand,
}

#[derive(Subcommand, Debug)]
enum SyncsCommand {
    /// Start a run of a mapping now.
    Run {
        /// The mapping's id.
        #[arg(long)]
        mapping: String,
        /// Read everything, not only what changed since the last run.
        #[arg(long)]
        full: bool,
        /// Wait for the run to end, with a progress bar; exit 0 completed, 2 partial, 1 failed.
        #[arg(long)]
        follow: bool,
    },
    /// Show a run (`--follow`: until it ends, exiting as `run --follow` does).
    Get {
        id: String,
        #[arg(long)]
        follow: bool,
    },
    /// List runs, newest first.
    List {
        /// Only the runs of this mapping.
        #[arg(long)]
        mapping: Option<String>,
        /// pending, running, completed, partial or failed.
        #[arg(long)]
        status: Option<String>,
        #[command(flatten)]
        page: PageArgs,
    },
    /// A run's per-record errors, in the order they happened.
    Errors {
        id: String,
        #[command(flatten)]
        page: PageArgs,
    },
}

/// The exit code of a finished run: 0 completed, 2 partial, 1 failed (or not finished).
pub fn exit_code(status: SyncStatus) -> u8 {
    match status {
        SyncStatus::Completed => 0,
        SyncStatus::Partial => 2,
        SyncStatus::Failed | SyncStatus::Pending | SyncStatus::Running => 1,
    }
}

/// A run for people: status, counts, and where its record errors are.
pub fn summary(raw: &Value, view: &RunView) -> String {
    let c = &view.counts;
    let mut items = vec![
        ("sync", cell(&raw["id"])),
        ("mapping", cell(&raw["mappingId"])),
        ("status", view.status.as_str().to_string()),
        ("read", c.read.to_string()),
        ("created", c.created.to_string()),
        ("updated", c.updated.to_string()),
        ("skipped", c.skipped.to_string()),
        ("failed", c.failed.to_string()),
        ("deleted", c.deleted.to_string()),
    ];
    if let Some(e) = &view.error {
        items.push(("error", output::clean(e)));
    }
    let mut text = output::pairs(&items);
    if c.failed > 0 {
        text.push_str(&format!(
            "\nrecord errors: fluxcascade syncs errors {}",
            cell(&raw["id"])
        ));
    }
    text
}

fn print_run(raw: &Value, out: OutputFormat) -> anyhow::Result<RunView> {
    let view: RunView = serde_json::from_value(raw.clone())
        .map_err(|e| anyhow::anyhow!("the API's answer is not a run: {e}"))?;
    match out {
        OutputFormat::Json => output::print_json(raw),
        OutputFormat::Table => println!("{}", summary(raw, &view)),
    }
    Ok(view)
}

/// Follows run `id` and prints how it ended; the exit code says the same.
async fn follow_and_print(
    client: &crate::client::ApiClient,
    id: &str,
    out: OutputFormat,
) -> anyhow::Result<ExitCode> {
    match follow::follow(client, id).await? {
        Followed::Finished(raw, status) => {
            print_run(&raw, out)?;
            Ok(ExitCode::from(exit_code(status)))
        }
        Followed::Interrupted => {
            eprintln!("stopped following; the run goes on: fluxcascade syncs get {id} --follow");
            Ok(ExitCode::from(INTERRUPTED))
        }
    }
}

pub async fn run(args: SyncsArgs, out: OutputFormat) -> anyhow::Result<ExitCode> {
    let client = args.api.client()?;
    match args.command {
        SyncsCommand::Run {
            mapping,
            full,
            follow,
        } => {
            let mapping = id_segment("mapping", &mapping)?;
            let mode = if full { "full" } else { "incremental" };
            let body = json!({"mappingId": mapping, "mode": mode});
            let started = client.post("/v1/syncs", Some(&body)).await?;
            let id = started["id"]
                .as_str()
                .and_then(|s| uuid::Uuid::parse_str(s).ok())
                .ok_or_else(|| anyhow::anyhow!("the API started a run without an id"))?
                .to_string();
            if follow {
                if out == OutputFormat::Table {
                    eprintln!("started sync {id}");
                }
                return follow_and_print(&client, &id, out).await;
            }
            match out {
                OutputFormat::Json => output::print_json(&started),
                OutputFormat::Table => {
                    println!("started sync {id} ({})", cell(&started["status"]));
                }
            }
        }
        SyncsCommand::Get { id, follow } => {
            let id = id_segment("sync", &id)?;
            if follow {
                return follow_and_print(&client, &id, out).await;
            }
            let raw = client.get(&format!("/v1/syncs/{id}"), &[]).await?;
            print_run(&raw, out)?;
        }
        SyncsCommand::List {
            mapping,
            status,
            page,
        } => {
            let mut query = page.query();
            if let Some(m) = mapping {
                query.push(("mappingId", id_segment("mapping", &m)?));
            }
            if let Some(s) = status {
                query.push(("status", s));
            }
            let answer = client.get("/v1/syncs", &query).await?;
            if out == OutputFormat::Json {
                output::print_json(&answer);
            } else {
                let mut t = Table::new(&[
                    "ID", "MAPPING", "STATUS", "TRIGGER", "READ", "CREATED", "UPDATED", "FAILED",
                    "STARTED",
                ]);
                for s in answer["data"].as_array().into_iter().flatten() {
                    let c = &s["counts"];
                    t.push(vec![
                        cell(&s["id"]),
                        cell(&s["mappingId"]),
                        cell(&s["status"]),
                        cell(&s["trigger"]),
                        cell(&c["read"]),
                        cell(&c["created"]),
                        cell(&c["updated"]),
                        cell(&c["failed"]),
                        cell(&s["createdAt"]),
                    ]);
                }
                t.print();
                output::print_next(&answer);
            }
        }
        SyncsCommand::Errors { id, page } => {
            let id = id_segment("sync", &id)?;
            let answer = client
                .get(&format!("/v1/syncs/{id}/errors"), &page.query())
                .await?;
            if out == OutputFormat::Json {
                output::print_json(&answer);
            } else {
                let mut t = Table::new(&["RECORD", "CODE", "MESSAGE"]);
                for e in answer["data"].as_array().into_iter().flatten() {
                    t.push(vec![
                        cell(&e["recordId"]),
                        cell(&e["code"]),
                        cell(&e["message"]),
                    ]);
                }
                t.print();
                output::print_next(&answer);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_finished_run_exits_by_its_status() {
        assert_eq!(exit_code(SyncStatus::Completed), 0);
        assert_eq!(exit_code(SyncStatus::Partial), 2);
        assert_eq!(exit_code(SyncStatus::Failed), 1);
        assert_eq!(exit_code(SyncStatus::Running), 1);
    }

    #[test]
    fn the_summary_has_the_final_counts() {
        let raw = json!({"id": "s1", "mappingId": "m1", "status": "partial",
            "counts": {"read": 5, "created": 3, "updated": 0, "skipped": 1, "failed": 1, "deleted": 0}});
        let view: RunView = serde_json::from_value(raw.clone()).unwrap();
        let text = summary(&raw, &view);
        assert!(text.contains("status   partial"), "{text}");
        assert!(text.contains("created  3"), "{text}");
        assert!(text.contains("failed   1"), "{text}");
        assert!(
            text.ends_with("record errors: fluxcascade syncs errors s1"),
            "{text}"
        );
    }
}
