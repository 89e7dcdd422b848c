//! `fluxcascade webhooks list|deliveries ID`: outbound webhook subscriptions and what was delivered.

use clap::{Args, Subcommand};
use serde_json::Value;

use super::output::{self, cell, OutputFormat, Table};
use super::{id_segment, ApiArgs, PageArgs};

/// `fluxcascade webhooks`.
#[derive(Args, Debug)]
pub struct WebhooksArgs {
    #[command(flatten)]
    api: ApiArgs,
    #[command(subcommand)]
    command: WebhooksCommand,
}

#[derive(Subcommand, Debug)]
enum WebhooksCommand {
    /// List subscriptions.
    List(PageArgs),
    /// A subscription's deliveries, newest first, with their last attempt.
    Deliveries {
        /// The subscription's id.
        id: String,
        #[command(flatten)]
        page: PageArgs,
    },
}

/// The last attempt of a delivery: `HTTP 200 in 12 ms`, or its error.
fn last_attempt(delivery: &Value) -> String {
    let Some(last) = delivery["attempts"].as_array().and_then(|a| a.last()) else {
        return "-".into();
    };
    let outcome = match (last["responseStatus"].as_i64(), last["error"].as_str()) {
        (Some(status), _) => format!("HTTP {status}"),
        (None, Some(error)) => output::clean(error),
        (None, None) => "-".into(),
    };
    format!("{outcome} in {} ms", cell(&last["durationMs"]))
}

fn deliveries_table(items: &[Value]) -> Table {
    let mut t = Table::new(&[
        "ID",
        "EVENT",
        "STATUS",
        "ATTEMPTS",
        "LAST ATTEMPT",
        "CREATED",
    ]);
    for d in items {
        let attempts = d["attempts"].as_array().map_or(0, Vec::len);
        t.push(vec![
            cell(&d["id"]),
            cell(&d["eventType"]),
            cell(&d["status"]),
            attempts.to_string(),
            last_attempt(d),
            cell(&d["createdAt"]),
        ]);
    }
    t
}

pub async fn run(args: WebhooksArgs, out: OutputFormat) -> anyhow::Result<()> {
    let client = args.api.client()?;
    let answer = match &args.command {
        WebhooksCommand::List(page) => client.get("/v1/webhooks", &page.query()).await?,
        WebhooksCommand::Deliveries { id, page } => {
            let id = id_segment("webhook", id)?;
            client
                .get(&format!("/v1/webhooks/{id}/deliveries"), &page.query())
                .await?
        }
    };
    if out == OutputFormat::Json {
        output::print_json(&answer);
        return Ok(());
    }
    let items = answer["data"].as_array().cloned().unwrap_or_default();
    let table = match args.command {
        WebhooksCommand::List(_) => {
            let mut t = Table::new(&["ID", "URL", "EVENTS", "CREATED"]);
            for w in &items {
                let events: Vec<String> = w["events"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(cell)
                    .collect();
                t.push(vec![
                    cell(&w["id"]),
                    cell(&w["url"]),
                    output::clean(&events.join(",")),
                    cell(&w["createdAt"]),
                ]);
            }
            t
        }
        WebhooksCommand::Deliveries { .. } => deliveries_table(&items),
    };
    table.print();
    output::print_next(&answer);
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_delivery_shows_its_last_attempt() {
        let d = json!({"id": "d1", "eventType": "sync.completed", "status": "failed",
        "createdAt": "2026-01-01T00:00:00Z",
        "attempts": [
            {"attempt": 1, "responseStatus": 500, "error": null, "durationMs": 12},
            {"attempt": 2, "responseStatus": null, "error": "timed out", "durationMs": 10000}
        ]});
        let text = deliveries_table(&[d]).render();
        let row = text.lines().nth(1).unwrap();
        assert!(row.contains("failed") && row.contains("2"), "{row}");
        assert!(row.contains("timed out in 10000 ms"), "{row}");
        assert_eq!(last_attempt(&json!({"attempts": []})), "-");
    }
}
