//! The credentials `fluxcascade login` stores: `<config dir>/fluxcascade/credentials.toml`
//! (`$XDG_CONFIG_HOME`, else `$HOME/.config`), written owner-only (file 0600, directory 0700).

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};

use crate::client::ApiKey;

/// The largest credentials file read (a URL and a key are a few hundred bytes).
const MAX_FILE_BYTES: u64 = 64 * 1024;

/// What the file holds.
#[derive(Clone, Serialize, Deserialize)]
pub struct Credentials {
    pub api_url: String,
    api_key: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("api_url", &self.api_url)
            .field("api_key", &"[redacted]")
            .finish()
    }
}

impl Credentials {
    pub fn new(api_url: &str, key: &ApiKey) -> Credentials {
        Credentials {
            api_url: api_url.to_string(),
            api_key: key.expose().to_string(),
        }
    }

    pub fn key(&self) -> ApiKey {
        ApiKey::new(self.api_key.clone())
    }
}

/// `<config dir>/fluxcascade/credentials.toml`, from the given environment lookup.
pub fn path_from(var: impl Fn(&str) -> Option<String>) -> anyhow::Result<PathBuf> {
    let absolute = |v: Option<String>| v.filter(|p| Path::new(p).is_absolute());
    let config = match (absolute(var("XDG_CONFIG_HOME")), absolute(var("HOME"))) {
        (Some(xdg), _) => PathBuf::from(xdg),
        (None, Some(home)) => Path::new(&home).join(".config"),
        (None, None) => bail!("neither XDG_CONFIG_HOME nor HOME is set: no place for credentials"),
    };
    Ok(config.join("fluxcascade").join("credentials.toml"))
}

/// The credentials file of this process's environment.
pub fn path() -> anyhow::Result<PathBuf> {
    path_from(|name| std::env::var(name).ok())
}

/// The stored credentials, if any.
pub fn load(path: &Path) -> anyhow::Result<Option<Credentials>> {
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    if meta.len() > MAX_FILE_BYTES {
        bail!(
            "{} is over {MAX_FILE_BYTES} bytes; run `fluxcascade login` again",
            path.display()
        );
    }
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    // toml's error quotes the offending line, which may hold the key: say only where.
    let creds: Credentials = toml::from_str(&text).map_err(|e| {
        let at = e
            .span()
            .map(|s| format!(" at byte {}", s.start))
            .unwrap_or_default();
        anyhow::anyhow!(
            "{} is not a valid credentials file{at}; run `fluxcascade login` again",
            path.display()
        )
    })?;
    Ok(Some(creds))
}

/// Writes the file owner-only: a fresh file created 0600 next to it, then renamed over it, so
/// neither an older file's mode nor a crash halfway leaves the key readable by others.
pub fn save(path: &Path, creds: &Credentials) -> anyhow::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    let dir = path
        .parent()
        .context("the credentials path has no directory")?;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("creating {}", dir.display()))?;
    let text = toml::to_string(creds).context("encoding the credentials")?;
    let tmp = dir.join(format!(".credentials.{}.tmp", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .with_context(|| format!("creating {}", tmp.display()))?;
    let written = file
        .write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .and_then(|()| std::fs::rename(&tmp, path));
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(e).with_context(|| format!("writing {}", path.display()));
    }
    Ok(())
}

/// Removes the file; false when there was none.
pub fn remove(path: &Path) -> anyhow::Result<bool> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e).with_context(|| format!("removing {}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "fc-cli-creds-{}-{name}-{}",
            std::process::id(),
            uuid::Uuid::new_v4().simple()
        ));
        dir.join("fluxcascade").join("credentials.toml")
    }

    #[test]
    fn the_path_prefers_xdg_config_home_then_home() {
        let vars = |xdg: Option<&str>, home: Option<&str>| {
            let (xdg, home) = (xdg.map(String::from), home.map(String::from));
            move |name: &str| match name {
                "XDG_CONFIG_HOME" => xdg.clone(),
                "HOME" => home.clone(),
                _ => None,
            }
        };
        assert_eq!(
            path_from(vars(Some("/x"), Some("/h"))).unwrap(),
            PathBuf::from("/x/fluxcascade/credentials.toml")
        );
        assert_eq!(
            path_from(vars(Some("relative"), Some("/h"))).unwrap(),
            PathBuf::from("/h/.config/fluxcascade/credentials.toml")
        );
        assert!(path_from(vars(None, None)).is_err());
    }

    #[test]
    fn saved_credentials_are_owner_only_and_read_back() {
        let path = scratch("save");
        let creds = Credentials::new("http://api.test", &ApiKey::new("fc_k1"));
        save(&path, &creds).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let dir_mode = std::fs::metadata(path.parent().unwrap())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(dir_mode & 0o777, 0o700);
        // An older file readable by others is replaced by an owner-only one.
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        save(
            &path,
            &Credentials::new("http://b.test", &ApiKey::new("fc_k2")),
        )
        .unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let back = load(&path).unwrap().unwrap();
        assert_eq!(
            (back.api_url.as_str(), back.key().expose()),
            ("http://b.test", "fc_k2")
        );
        assert!(!format!("{back:?}").contains("fc_k2"));
        assert!(remove(&path).unwrap());
        assert!(!remove(&path).unwrap());
        assert!(load(&path).unwrap().is_none());
        let _ = std::fs::remove_dir_all(path.parent().unwrap().parent().unwrap());
    }

    #[test]
    fn a_broken_file_is_refused_without_quoting_it() {
        let path = scratch("broken");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, "api_key = \"fc_leak\"\nnot toml at all").unwrap();
        let e = load(&path).unwrap_err().to_string();
        assert!(e.contains("not a valid credentials file"), "{e}");
        assert!(!e.contains("fc_leak"), "{e}");
        let _ = std::fs::remove_dir_all(path.parent().unwrap().parent().unwrap());
    }
}
