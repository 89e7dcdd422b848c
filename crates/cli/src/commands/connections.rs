//! `fluxcascade connections list|get`: the organization's provider connections (never their tokens).

use clap::{Args, Subcommand};
use serde_json::Value;

use super::output::{self, cell, OutputFormat, Table};
use super::{id_segment, ApiArgs, PageArgs};

/// `fluxcascade connections`.
#[derive(Args, Debug)]
pub struct ConnectionsArgs {
    #[command(flatten)]
    api: ApiArgs,
    #[command(subcommand)]
    command: ConnectionsCommand,
}

#[derive(Subcommand, Debug)]
enum ConnectionsCommand {
    /// List connections, newest first.
    List(PageArgs),
    /// Show one connection.
    Get { id: String },
}

fn table(items: &[Value]) -> Table {
    let mut t = Table::new(&["ID", "PROVIDER", "STATUS", "ACCOUNT", "CREATED"]);
    for c in items {
        t.push(vec![
            cell(&c["id"]),
            cell(&c["provider"]),
            cell(&c["status"]),
            cell(&c["accountName"]),
            cell(&c["createdAt"]),
        ]);
    }
    t
}

pub async fn run(args: ConnectionsArgs, out: OutputFormat) -> anyhow::Result<()> {
    let client = args.api.client()?;
    match args.command {
        ConnectionsCommand::List(page) => {
            let answer = client.get("/v1/connections", &page.query()).await?;
            match out {
                OutputFormat::Json => output::print_json(&answer),
                OutputFormat::Table => {
                    let items = answer["data"].as_array().cloned().unwrap_or_default();
                    table(&items).print();
                    output::print_next(&answer);
                }
            }
        }
        ConnectionsCommand::Get { id } => {
            let id = id_segment("connection", &id)?;
            let answer = client.get(&format!("/v1/connections/{id}"), &[]).await?;
            match out {
                OutputFormat::Json => output::print_json(&answer),
                OutputFormat::Table => {
                    table(std::slice::from_ref(&answer)).print();
                    if let Some(message) = answer["statusMessage"].as_str() {
                        println!("status message: {}", output::clean(message));
                    }
                }
            }
        }
    }
    Ok(())
}
