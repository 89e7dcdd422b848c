//! The repository stands alone: nothing it builds or tests names a path outside the clone (a
//! fresh clone with no sibling folders once failed on `../shared`). `.ci/run` also runs the
//! whole suite from such a clone.

use std::path::{Component, Path, PathBuf};
use std::process::Command;

/// Text that only a path outside this repository would contain.
const OUTSIDE: &[&str] = &["../shared", "/work/shared", "/work/main"];

/// File types the build or the tests read or run.
const SCANNED: &[&str] = &[
    "rs", "toml", "sh", "py", "yaml", "yml", "proto", "graphql", "json", "sql",
];

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ lives in the repository root")
        .to_path_buf()
}

fn tracked_files(root: &Path) -> Vec<PathBuf> {
    let out = Command::new("git")
        .args(["ls-files", "-z"])
        .current_dir(root)
        .output()
        .expect("git ls-files runs (the tests run from a git clone)");
    assert!(out.status.success(), "git ls-files failed");
    out.stdout
        .split(|b| *b == 0)
        .filter(|p| !p.is_empty())
        .map(|p| root.join(String::from_utf8_lossy(p).as_ref()))
        .collect()
}

/// `base` joined with `rel`, with `..` and `.` resolved lexically.
fn resolve(base: &Path, rel: &str) -> PathBuf {
    let mut out = PathBuf::new();
    // `concat!(env!("CARGO_MANIFEST_DIR"), "/../x")` appends: the literal is relative to `base`.
    for c in base.join(rel.trim_start_matches('/')).components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// The quoted string literals of a line that climb with `..`.
fn climbing_literals(line: &str) -> Vec<&str> {
    line.split('"')
        .skip(1)
        .step_by(2)
        .filter(|s| s.contains("../"))
        .collect()
}

/// The directory of the crate `file` belongs to (nearest `Cargo.toml` above it).
fn crate_dir(file: &Path, root: &Path) -> PathBuf {
    let mut dir = file.parent().unwrap_or(root).to_path_buf();
    while dir.starts_with(root) {
        if dir.join("Cargo.toml").exists() {
            return dir;
        }
        if !dir.pop() {
            break;
        }
    }
    root.to_path_buf()
}

/// Problems found in one file, as `path:line: what`.
fn problems_in(file: &Path, root: &Path) -> Vec<String> {
    match std::fs::read_to_string(file) {
        Ok(text) => problems_in_text(&text, file, root),
        Err(_) => Vec::new(), // binary
    }
}

/// Problems in `text`, read as the content of `file`.
fn problems_in_text(text: &str, file: &Path, root: &Path) -> Vec<String> {
    let shown = file
        .strip_prefix(root)
        .unwrap_or(file)
        .display()
        .to_string();
    let mut found = Vec::new();
    for (n, line) in text.lines().enumerate() {
        for outside in OUTSIDE {
            if line.contains(outside) {
                found.push(format!("{shown}:{}: names `{outside}`", n + 1));
            }
        }
        if file.extension().is_some_and(|e| e == "rs") {
            let base = if line.contains("include_str!") || line.contains("include_bytes!") {
                file.parent().map(Path::to_path_buf)
            } else if line.contains("CARGO_MANIFEST_DIR") {
                Some(crate_dir(file, root))
            } else {
                None
            };
            if let Some(base) = base {
                for lit in climbing_literals(line) {
                    if !resolve(&base, lit).starts_with(root) {
                        found.push(format!("{shown}:{}: `{lit}` leaves the clone", n + 1));
                    }
                }
            }
        }
    }
    found
}

#[test]
fn no_tracked_file_reads_outside_the_clone() {
    let root = repo_root();
    let this = Path::new(file!()).file_name().map(|f| f.to_owned());
    let files: Vec<PathBuf> = tracked_files(&root)
        .into_iter()
        .filter(|f| {
            f.extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| SCANNED.contains(&e))
                || f.file_name().is_some_and(|n| n == "Makefile" || n == "run")
        })
        .filter(|f| f.file_name().map(|n| n.to_owned()) != this)
        .collect();
    assert!(
        files.len() > 100,
        "the scan sees the repository ({} files)",
        files.len()
    );
    let problems: Vec<String> = files.iter().flat_map(|f| problems_in(f, &root)).collect();
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_scan_catches_a_path_that_leaves_the_clone() {
    let root = repo_root();
    let probe = root.join("crates/providers/tests/probe.rs");
    let leaving =
        "let s = read(concat!(env!(\"CARGO_MANIFEST_DIR\"), \"/../../../x/schema.graphql\"));";
    let naming = "let s = read(\"../shared/reference/jobber/schema.graphql\");";
    let inside = "let s = read(concat!(env!(\"CARGO_MANIFEST_DIR\"), \"/../../target\"));\n\
                  let t = include_str!(\"fixtures/jobber/schema.graphql\");";
    assert_eq!(problems_in_text(leaving, &probe, &root).len(), 1);
    assert_eq!(problems_in_text(naming, &probe, &root).len(), 1);
    assert_eq!(
        problems_in_text(inside, &probe, &root),
        Vec::<String>::new()
    );
}
