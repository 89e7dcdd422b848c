//! The user commands: an organization's connections, mappings, runs, webhooks and dead letters
//! through the REST API, with the URL and key from flags, `FLUXCASCADE_API_URL` /
//! `FLUXCASCADE_API_KEY`, or what `fluxcascade login` stored.

pub mod connections;
pub mod dead_letters;
pub mod follow;
pub mod login;
pub mod mappings;
pub mod output;
pub mod syncs;
pub mod webhooks;

use std::io::Read;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use serde_json::Value;

use crate::client::{ApiClient, ApiKey};
use crate::credentials;
use output::OutputFormat;

/// The API a command calls when neither a flag, the environment nor a login names one.
pub const DEFAULT_API_URL: &str = "http://127.0.0.1:8080";

/// The largest JSON file a command reads (the API takes request bodies up to 1 MiB).
pub const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// Where the API is and the key to call it with. A flag or the environment wins over what
/// `fluxcascade login` stored.
#[derive(Args, Debug)]
pub struct ApiArgs {
    /// The ingress's base URL (default: the one `login` stored, else http://127.0.0.1:8080).
    #[arg(long, global = true, env = "FLUXCASCADE_API_URL")]
    api_url: Option<String>,
    /// An API key of the organization (default: the one `login` stored).
    #[arg(
        long,
        global = true,
        env = "FLUXCASCADE_API_KEY",
        hide_env_values = true
    )]
    api_key: Option<String>,
}

impl ApiArgs {
    /// The client these arguments (or the stored login) name.
    pub fn client(&self) -> anyhow::Result<ApiClient> {
        let given = |v: &Option<String>| v.clone().filter(|s| !s.trim().is_empty());
        let url = given(&self.api_url);
        if let Some(key) = given(&self.api_key) {
            let url = url.unwrap_or_else(|| DEFAULT_API_URL.into());
            return ApiClient::new(&url, ApiKey::new(key.trim()));
        }
        let stored = match credentials::path() {
            Ok(path) => credentials::load(&path)?,
            Err(_) => None,
        };
        match stored {
            Some(c) => ApiClient::new(url.as_deref().unwrap_or(&c.api_url), c.key()),
            None => bail!(
                "an API key is needed: set FLUXCASCADE_API_KEY, pass --api-key, or run `fluxcascade login`"
            ),
        }
    }
}

/// The user commands (flattened into the binary's own).
#[derive(Subcommand, Debug)]
pub enum UserCommand {
    /// Check an API key and store it with the API's URL for the other commands.
    Login(login::LoginArgs),
    /// Forget what `login` stored.
    Logout,
    /// The organization's provider connections.
    Connections(connections::ConnectionsArgs),
    /// The organization's mappings: list, show, create, preview.
    Mappings(mappings::MappingsArgs),
    /// Start a run and follow it, list runs, show a run's record errors.
    Syncs(syncs::SyncsArgs),
    /// Outbound webhook subscriptions and their deliveries.
    Webhooks(webhooks::WebhooksArgs),
    /// An organization's dead letters, through the REST API.
    DeadLetters(dead_letters::DeadLettersArgs),
}

/// Runs a user command; its exit code (`syncs run --follow` tells how the run ended).
pub async fn run(command: UserCommand, out: OutputFormat) -> anyhow::Result<ExitCode> {
    match command {
        UserCommand::Login(args) => login::login(args, out).await?,
        UserCommand::Logout => login::logout(out)?,
        UserCommand::Connections(args) => connections::run(args, out).await?,
        UserCommand::Mappings(args) => mappings::run(args, out).await?,
        UserCommand::Syncs(args) => return syncs::run(args, out).await,
        UserCommand::Webhooks(args) => webhooks::run(args, out).await?,
        UserCommand::DeadLetters(args) => dead_letters::run(args, out).await?,
    }
    Ok(ExitCode::SUCCESS)
}

/// `--limit` and `--cursor` of a list.
#[derive(Args, Debug)]
pub struct PageArgs {
    /// 1 to 100.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub limit: u32,
    /// The `next` cursor a previous page printed.
    #[arg(long)]
    pub cursor: Option<String>,
}

impl PageArgs {
    pub fn query(&self) -> Vec<(&'static str, String)> {
        let mut q = vec![("limit", self.limit.to_string())];
        if let Some(c) = &self.cursor {
            q.push(("cursor", c.clone()));
        }
        q
    }
}

/// A JSON file (`-`: standard input), at most [`MAX_FILE_BYTES`]; a parse error names the file,
/// line and column.
pub fn read_json_file(path: &Path) -> anyhow::Result<Value> {
    let stdin = path == Path::new("-");
    let name = if stdin {
        "standard input".to_string()
    } else {
        path.display().to_string()
    };
    let mut bytes = Vec::new();
    if stdin {
        std::io::stdin()
            .take(MAX_FILE_BYTES + 1)
            .read_to_end(&mut bytes)
            .context("reading standard input")?;
    } else {
        std::fs::File::open(path)
            .with_context(|| format!("opening {name}"))?
            .take(MAX_FILE_BYTES + 1)
            .read_to_end(&mut bytes)
            .with_context(|| format!("reading {name}"))?;
    }
    if bytes.len() as u64 > MAX_FILE_BYTES {
        bail!("{name} is over {MAX_FILE_BYTES} bytes");
    }
    serde_json::from_slice(&bytes).map_err(|e| {
        anyhow::anyhow!(
            "{name} is not valid JSON: {} at line {}, column {}",
            e.classify_name(),
            e.line(),
            e.column()
        )
    })
}

/// The name serde_json gives a kind of parse error.
trait Classify {
    fn classify_name(&self) -> &'static str;
}

impl Classify for serde_json::Error {
    fn classify_name(&self) -> &'static str {
        match self.classify() {
            serde_json::error::Category::Io => "read error",
            serde_json::error::Category::Syntax => "syntax error",
            serde_json::error::Category::Data => "unexpected data",
            serde_json::error::Category::Eof => "unexpected end of file",
        }
    }
}

/// A path segment from the command line, checked to be an id (so it cannot reshape the URL).
pub fn id_segment(what: &str, raw: &str) -> anyhow::Result<String> {
    uuid::Uuid::parse_str(raw.trim())
        .map(|u| u.to_string())
        .map_err(|_| anyhow::anyhow!("{what} {:?} is not an id", output::clean(raw)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_json_file_is_named_with_its_line() {
        let path = std::env::temp_dir().join(format!("fc-cli-bad-{}.json", uuid::Uuid::new_v4()));
        std::fs::write(&path, "{\n  \"name\": \"x\",\n  oops\n}").unwrap();
        let e = read_json_file(&path).unwrap_err().to_string();
        assert!(
            e.contains("is not valid JSON") && e.contains("line 3"),
            "{e}"
        );
        std::fs::write(&path, vec![b' '; (MAX_FILE_BYTES + 1) as usize]).unwrap();
        let e = read_json_file(&path).unwrap_err().to_string();
        assert!(e.contains("over"), "{e}");
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn ids_on_the_command_line_must_be_ids() {
        let id = uuid::Uuid::new_v4();
        assert_eq!(
            id_segment("mapping", &id.to_string()).unwrap(),
            id.to_string()
        );
        let e = id_segment("mapping", "../org").unwrap_err().to_string();
        assert!(e.contains("mapping \"../org\" is not an id"), "{e}");
    }
}
