//! `fluxcascade login` (checks a key with `GET /v1/org`, then stores it with the URL, owner-only)
//! and `fluxcascade logout`. The key is never printed.

use std::io::{BufRead, IsTerminal, Read};

use anyhow::{bail, Context};
use clap::Args;
use serde_json::json;

use super::output::{self, OutputFormat};
use super::DEFAULT_API_URL;
use crate::client::{ApiClient, ApiKey};
use crate::credentials::{self, Credentials};

/// The longest key line read from standard input.
const MAX_KEY_BYTES: u64 = 4096;

/// `fluxcascade login`.
#[derive(Args, Debug)]
pub struct LoginArgs {
    /// The ingress's base URL.
    #[arg(long, env = "FLUXCASCADE_API_URL", default_value = DEFAULT_API_URL)]
    api_url: String,
    /// Read the key from standard input (its first line) instead of prompting for it.
    #[arg(long)]
    api_key_stdin: bool,
}

/// The API URL, checked: http or https, with a host.
fn check_url(raw: &str) -> anyhow::Result<String> {
    let url = url::Url::parse(raw.trim())
        .with_context(|| format!("--api-url {:?} is not a URL", output::clean(raw)))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        bail!(
            "--api-url {:?} must be an http or https URL with a host",
            output::clean(raw)
        );
    }
    Ok(url.as_str().trim_end_matches('/').to_string())
}

/// The key from one line of `input` (at most [`MAX_KEY_BYTES`]).
fn key_from_line(input: impl Read) -> anyhow::Result<ApiKey> {
    let mut line = String::new();
    std::io::BufReader::new(input.take(MAX_KEY_BYTES))
        .read_line(&mut line)
        .context("reading the API key from standard input")?;
    let key = line.trim();
    if key.is_empty() {
        bail!("no API key on standard input");
    }
    Ok(ApiKey::new(key))
}

fn read_key(from_stdin: bool) -> anyhow::Result<ApiKey> {
    if from_stdin {
        return key_from_line(std::io::stdin());
    }
    if !std::io::stdin().is_terminal() {
        bail!("no terminal to ask for the API key on: pipe it in with --api-key-stdin");
    }
    let key = rpassword::prompt_password("FluxCascade API key: ")
        .context("reading the API key from the terminal")?;
    let key = key.trim();
    if key.is_empty() {
        bail!("no API key given");
    }
    Ok(ApiKey::new(key))
}

/// Checks the key against the API, then stores both.
pub async fn login(args: LoginArgs, out: OutputFormat) -> anyhow::Result<()> {
    let url = check_url(&args.api_url)?;
    let key = read_key(args.api_key_stdin)?;
    let client = ApiClient::new(&url, key.clone())?;
    let org = client
        .get("/v1/org", &[])
        .await
        .context("checking the API key (nothing was stored)")?;
    let path = credentials::path()?;
    credentials::save(&path, &Credentials::new(&url, &key))?;
    match out {
        OutputFormat::Json => output::print_json(&json!({
            "apiUrl": url,
            "org": org,
            "credentialsFile": path.display().to_string(),
        })),
        OutputFormat::Table => println!(
            "logged in to {url} as organization {} ({}); credentials stored in {}",
            output::cell(&org["name"]),
            output::cell(&org["id"]),
            path.display()
        ),
    }
    Ok(())
}

/// Removes the stored credentials.
pub fn logout(out: OutputFormat) -> anyhow::Result<()> {
    let path = credentials::path()?;
    let removed = credentials::remove(&path)?;
    match (out, removed) {
        (OutputFormat::Json, _) => output::print_json(&json!({
            "removed": removed,
            "credentialsFile": path.display().to_string(),
        })),
        (OutputFormat::Table, true) => println!("logged out: removed {}", path.display()),
        (OutputFormat::Table, false) => println!("not logged in (no {})", path.display()),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_url_must_be_http_with_a_host() {
        assert_eq!(
            check_url("http://127.0.0.1:8080/").unwrap(),
            "http://127.0.0.1:8080"
        );
        assert!(check_url("ftp://x").is_err());
        assert!(check_url("not a url").is_err());
    }

    #[test]
    fn the_key_is_the_first_line_trimmed() {
        let key = key_from_line(&b"fc_abc \nsecond"[..]).unwrap();
        assert_eq!(key.expose(), "fc_abc");
        assert!(key_from_line(&b"\n"[..]).is_err());
    }
}
