//! Child processes of the tests: the `fluxcascade` binary per role, logs to files, stopped by pid.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{bail, Context};

/// The `fluxcascade` binary next to the test executable (`make test` builds it first);
/// `FLUXCASCADE_BIN` overrides.
pub fn bin_path() -> PathBuf {
    if let Ok(p) = std::env::var("FLUXCASCADE_BIN") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().expect("test executable path");
    // target/<profile>/deps/<test> (tests) or target/<profile>/<bin> (benchmarks) → target/<profile>/fluxcascade
    let mut dir = exe.parent().expect("executable dir");
    if dir.file_name().is_some_and(|n| n == "deps") {
        dir = dir.parent().expect("target profile dir");
    }
    dir.join("fluxcascade")
}

/// Writes a benchmark's figures to `target/bench/<name>.json` beside the binary and says so.
pub fn write_bench_json(name: &str, figures: &serde_json::Value) -> anyhow::Result<()> {
    let dir = bin_path()
        .parent()
        .and_then(Path::parent)
        .map(|t| t.join("bench"))
        .context("no target dir above the binary")?;
    std::fs::create_dir_all(&dir)?;
    let path = dir.join(format!("{name}.json"));
    std::fs::write(&path, serde_json::to_string_pretty(figures)?)?;
    println!("wrote {}", path.display());
    Ok(())
}

/// `target/e2e-logs/<test>/` beside the binary.
pub fn log_dir(test: &str) -> PathBuf {
    let dir = bin_path()
        .parent()
        .and_then(Path::parent)
        .map(|t| {
            t.join("e2e-logs")
                .join(format!("{test}-{}", std::process::id()))
        })
        .unwrap_or_else(|| std::env::temp_dir().join("fluxcascade-e2e"));
    let _ = std::fs::create_dir_all(&dir);
    dir
}

pub struct Proc {
    pub name: String,
    child: Option<Child>,
}

impl Proc {
    /// Spawns `fluxcascade <args>`, waits for the line "... http://ADDR" it prints when listening,
    /// and returns the process and that URL. Stdout and stderr go to `<log_dir>/<name>.log`.
    pub async fn spawn_listening(
        name: &str,
        log_dir: &Path,
        args: &[&str],
        configure: impl FnOnce(&mut Command),
    ) -> anyhow::Result<(Proc, String)> {
        let log_path = log_dir.join(format!("{name}.log"));
        let log = std::fs::File::create(&log_path)?;
        let mut cmd = Command::new(bin_path());
        cmd.args(args)
            .stdout(Stdio::piped())
            .stderr(log.try_clone()?)
            .stdin(Stdio::null());
        cmd.env(
            "RUST_LOG",
            std::env::var("E2E_RUST_LOG").unwrap_or_else(|_| "info".into()),
        );
        configure(&mut cmd);
        let mut child = cmd
            .spawn()
            .with_context(|| format!("spawning {} {args:?}", bin_path().display()))?;
        let stdout = child.stdout.take().context("no stdout")?;
        let (tx, rx) = std::sync::mpsc::channel::<String>();
        std::thread::spawn(move || {
            let mut log = log;
            let mut sent = false;
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = writeln!(log, "{line}");
                if !sent {
                    if let Some(i) = line.find("http://") {
                        let _ = tx.send(line[i..].trim().to_string());
                        sent = true;
                    }
                }
            }
        });
        let proc = Proc {
            name: name.to_string(),
            child: Some(child),
        };
        let url = tokio::task::spawn_blocking(move || rx.recv_timeout(Duration::from_secs(60)))
            .await?
            .map_err(|_| {
                anyhow::anyhow!(
                    "{name} did not report its address; see {}",
                    log_path.display()
                )
            });
        match url {
            Ok(u) => Ok((proc, u)),
            Err(e) => bail!(e),
        }
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    pub fn is_running(&mut self) -> bool {
        matches!(self.child.as_mut().map(|c| c.try_wait()), Some(Ok(None)))
    }

    /// Sends a signal to this process only (by pid).
    pub fn signal(&self, sig: i32) {
        if let Some(pid) = self.pid() {
            // SAFETY-free: libc::kill is a plain syscall wrapper; the pid is our own child.
            #[allow(unsafe_code)]
            unsafe {
                libc::kill(pid as i32, sig);
            }
        }
    }

    /// SIGKILL and reap.
    pub fn kill9(&mut self) {
        self.signal(libc::SIGKILL);
        if let Some(mut c) = self.child.take() {
            let _ = c.wait();
        }
    }

    /// SIGTERM, wait up to 20 s for a clean exit, then SIGKILL. Returns the exit status if clean.
    pub fn stop(&mut self) -> Option<std::process::ExitStatus> {
        let mut child = self.child.take()?;
        if let Ok(Some(st)) = child.try_wait() {
            return Some(st);
        }
        self.child = Some(child);
        self.signal(libc::SIGTERM);
        let mut child = self.child.take()?;
        for _ in 0..200 {
            if let Ok(Some(st)) = child.try_wait() {
                return Some(st);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = child.kill();
        let _ = child.wait();
        None
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.stop();
    }
}
