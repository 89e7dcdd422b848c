//! `split_name`: the first or last part of a full name, aware of middle names, particles and suffixes.
//!
//! Rules (whitespace is collapsed first):
//! - `Last, First Middle` (one comma) → last `Last`, first `First Middle`;
//! - a leading honorific (`Mr.`, `Mrs.`, `Ms.`, `Dr.`, ...) is dropped when more words follow;
//! - a trailing suffix (`Jr.`, `Sr.`, `II`, `III`, `IV`, `PhD`, ...) stays with the last name;
//! - the last name is the final word plus any particles right before it
//!   (`van der`, `de la`, `von`, `di`, `bin`, ...): `Ludwig van Beethoven` → `van Beethoven`;
//! - everything before the last name is the first name, middle names included
//!   (`Mary Ann Smith` → first `Mary Ann`), so no part of the name is lost;
//! - a single word is a first name; its last name is `""` (a `required` last name then fails the record).

use super::options::Options;
use super::{SpecError, TransformError};
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NamePart {
    First,
    Last,
}

const PARTICLES: [&str; 22] = [
    "van", "von", "der", "den", "de", "del", "della", "la", "le", "du", "da", "das", "dos", "di",
    "ten", "ter", "bin", "ibn", "al", "el", "st.", "zu",
];
const HONORIFICS: [&str; 10] = [
    "mr", "mr.", "mrs", "mrs.", "ms", "ms.", "dr", "dr.", "prof", "prof.",
];
const SUFFIXES: [&str; 12] = [
    "jr", "jr.", "sr", "sr.", "ii", "iii", "iv", "v", "phd", "ph.d.", "md", "m.d.",
];

pub(crate) fn part_option(opts: &Options<'_>) -> Result<NamePart, SpecError> {
    match opts.string("part")?.as_deref() {
        Some("first") => Ok(NamePart::First),
        Some("last") => Ok(NamePart::Last),
        Some(other) => Err(SpecError::option(
            "part",
            &format!("must be \"first\" or \"last\", got '{other}'"),
        )),
        None => Err(SpecError::option(
            "part",
            "is required for split_name: \"first\" or \"last\"",
        )),
    }
}

pub(crate) fn apply(v: &Value, part: NamePart) -> Result<Value, TransformError> {
    let Value::String(s) = v else {
        return Err(TransformError::invalid_type("split_name", "a string", v));
    };
    let (first, last) = split(s);
    Ok(Value::String(match part {
        NamePart::First => first,
        NamePart::Last => last,
    }))
}

/// Splits a full name into (first, last).
pub fn split(full: &str) -> (String, String) {
    if let Some((last, first)) = full.split_once(',') {
        if !first.contains(',')
            && !first.trim().is_empty()
            && !last.trim().is_empty()
            && !is_suffix(first.trim())
        {
            return (words(first).join(" "), words(last).join(" "));
        }
    }
    let mut w = words(full);
    if w.len() > 1 && HONORIFICS.contains(&w[0].to_lowercase().as_str()) {
        w.remove(0);
    }
    // Trailing commas before a suffix ("King, Jr.") are noise once split into words.
    for word in &mut w {
        if let Some(stripped) = word.strip_suffix(',') {
            *word = stripped.to_string();
        }
    }
    w.retain(|x| !x.is_empty());
    match w.len() {
        0 => return (String::new(), String::new()),
        1 => return (w[0].clone(), String::new()),
        _ => {}
    }
    // The surname's final word: before a suffix when there is room for a first name.
    let mut end = w.len() - 1;
    while end >= 2 && is_suffix(&w[end]) {
        end -= 1;
    }
    let mut start = end;
    while start > 1 && PARTICLES.contains(&w[start - 1].to_lowercase().as_str()) {
        start -= 1;
    }
    (w[..start].join(" "), w[start..].join(" "))
}

fn words(s: &str) -> Vec<String> {
    s.split_whitespace().map(str::to_string).collect()
}

fn is_suffix(word: &str) -> bool {
    SUFFIXES.contains(&word.to_lowercase().as_str())
}
