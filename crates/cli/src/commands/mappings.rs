//! `fluxcascade mappings list|get|create -f FILE|preview -f FILE (--sample N | --records FILE)`.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use serde_json::{json, Value};

use super::output::{self, cell, OutputFormat, Table};
use super::{id_segment, read_json_file, ApiArgs, PageArgs};

/// `fluxcascade mappings`.
#[derive(Args, Debug)]
pub struct MappingsArgs {
    #[command(flatten)]
    api: ApiArgs,
    #[command(subcommand)]
    command: MappingsCommand,
}

#[derive(Subcommand, Debug)]
enum MappingsCommand {
    /// List mappings.
    List(PageArgs),
    /// Show one mapping with its field pairs.
    Get { id: String },
    /// Create a mapping from a JSON file (the body of `POST /v1/mappings`; `-` reads stdin).
    Create {
        #[arg(short = 'f', long = "file")]
        file: PathBuf,
    },
    /// Dry-run a mapping file: what it would write for sample records. Writes nothing.
    #[command(group = clap::ArgGroup::new("records_from").required(true))]
    Preview {
        /// The mapping (the body of `POST /v1/mappings`).
        #[arg(short = 'f', long = "file")]
        file: PathBuf,
        /// Read this many records (1 to 20) from the source connection.
        #[arg(long, group = "records_from")]
        sample: Option<u32>,
        /// A JSON file with an array of sample records instead.
        #[arg(long, group = "records_from")]
        records: Option<PathBuf>,
    },
}

/// `contacts → clients`.
fn objects(m: &Value) -> String {
    format!(
        "{} → {}",
        cell(&m["source"]["object"]),
        cell(&m["target"]["object"])
    )
}

fn list_table(items: &[Value]) -> Table {
    let mut t = Table::new(&["ID", "NAME", "OBJECTS", "DIRECTION", "ENABLED", "SCHEDULE"]);
    for m in items {
        t.push(vec![
            cell(&m["id"]),
            cell(&m["name"]),
            objects(m),
            cell(&m["direction"]),
            cell(&m["enabled"]),
            cell(&m["schedule"]["cron"]),
        ]);
    }
    t
}

/// One mapping for people: its settings, then its field pairs.
fn details(m: &Value) -> String {
    let endpoint = |e: &Value| {
        format!(
            "{} (connection {})",
            cell(&e["object"]),
            cell(&e["connectionId"])
        )
    };
    let head = output::pairs(&[
        ("id", cell(&m["id"])),
        ("name", cell(&m["name"])),
        ("source", endpoint(&m["source"])),
        ("target", endpoint(&m["target"])),
        ("direction", cell(&m["direction"])),
        ("enabled", cell(&m["enabled"])),
        ("schedule", cell(&m["schedule"]["cron"])),
        ("onDelete", cell(&m["onDelete"])),
    ]);
    let mut pairs = Table::new(&["SOURCE FIELD", "TARGET FIELD", "TRANSFORM", "REQUIRED"]);
    for p in m["fieldPairs"].as_array().into_iter().flatten() {
        let source = match (&p["sourceField"], p["sourceFields"].as_array()) {
            (Value::String(s), _) => output::clean(s),
            (_, Some(many)) => output::clean(&many.iter().map(cell).collect::<Vec<_>>().join("+")),
            _ => "-".into(),
        };
        pairs.push(vec![
            source,
            cell(&p["targetField"]),
            cell(&p["transform"]),
            cell(&p["required"]),
        ]);
    }
    format!("{head}\n\n{}", pairs.render())
}

/// A preview's items: each record's payload, or why it fails.
fn preview_table(answer: &Value) -> Table {
    let mut t = Table::new(&["RECORD", "RESULT"]);
    for item in answer["data"].as_array().into_iter().flatten() {
        let errors: Vec<String> = item["errors"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|e| {
                format!(
                    "{} {}: {}",
                    cell(&e["code"]),
                    cell(&e["field"]),
                    cell(&e["message"])
                )
            })
            .collect();
        let result = if errors.is_empty() {
            output::clean(&item["payload"].to_string())
        } else {
            output::clean(&format!("error: {}", errors.join("; ")))
        };
        t.push(vec![cell(&item["recordId"]), result]);
    }
    t
}

pub async fn run(args: MappingsArgs, out: OutputFormat) -> anyhow::Result<()> {
    let client = args.api.client()?;
    match args.command {
        MappingsCommand::List(page) => {
            let answer = client.get("/v1/mappings", &page.query()).await?;
            if out == OutputFormat::Json {
                output::print_json(&answer);
            } else {
                let items = answer["data"].as_array().cloned().unwrap_or_default();
                list_table(&items).print();
                output::print_next(&answer);
            }
        }
        MappingsCommand::Get { id } => {
            let id = id_segment("mapping", &id)?;
            let answer = client.get(&format!("/v1/mappings/{id}"), &[]).await?;
            match out {
                OutputFormat::Json => output::print_json(&answer),
                OutputFormat::Table => println!("{}", details(&answer)),
            }
        }
        MappingsCommand::Create { file } => {
            let spec = read_json_file(&file)?;
            let answer = client.post("/v1/mappings", Some(&spec)).await?;
            match out {
                OutputFormat::Json => output::print_json(&answer),
                OutputFormat::Table => println!(
                    "created mapping {} ({})",
                    cell(&answer["id"]),
                    cell(&answer["name"])
                ),
            }
        }
        MappingsCommand::Preview {
            file,
            sample,
            records,
        } => {
            let mapping = read_json_file(&file)?;
            let body = match (sample, records) {
                (Some(count), _) => json!({"mapping": mapping, "sample": {"count": count}}),
                (None, Some(path)) => {
                    json!({"mapping": mapping, "records": read_json_file(&path)?})
                }
                (None, None) => anyhow::bail!("give --sample N or --records FILE"),
            };
            let answer = client.post("/v1/mappings/preview", Some(&body)).await?;
            match out {
                OutputFormat::Json => output::print_json(&answer),
                OutputFormat::Table => {
                    println!(
                        "would write {} {}",
                        cell(&answer["target"]["provider"]),
                        cell(&answer["target"]["object"])
                    );
                    preview_table(&answer).print();
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mapping_shows_its_pairs() {
        let m = json!({"id": "m1", "name": "contacts to clients",
        "source": {"connectionId": "c1", "object": "contacts"},
        "target": {"connectionId": "c2", "object": "clients"},
        "direction": "source_to_target", "enabled": true, "schedule": null,
        "fieldPairs": [
            {"sourceField": "email", "targetField": "emails[0].address", "transform": "lowercase"},
            {"sourceFields": ["firstname", "lastname"], "targetField": "name", "transform": "concat", "required": true}
        ]});
        let text = details(&m);
        assert!(
            text.contains("source     contacts (connection c1)"),
            "{text}"
        );
        assert!(
            text.contains("email               emails[0].address  lowercase  -"),
            "{text}"
        );
        assert!(text.contains("firstname+lastname  "), "{text}");
        assert_eq!(
            list_table(&[m])
                .render()
                .lines()
                .nth(1)
                .map(|l| l.contains("contacts → clients")),
            Some(true)
        );
    }

    #[test]
    fn a_preview_shows_payloads_and_errors() {
        let answer = json!({"data": [
            {"recordId": "101", "payload": {"firstName": "Ada"}, "errors": []},
            {"recordId": "102", "payload": null, "errors": [
                {"code": "required_field_missing", "field": "lastName", "message": "missing"}]}
        ]});
        let text = preview_table(&answer).render();
        assert!(text.contains(r#"101     {"firstName":"Ada"}"#), "{text}");
        assert!(
            text.contains("102     error: required_field_missing lastName: missing"),
            "{text}"
        );
    }
}
