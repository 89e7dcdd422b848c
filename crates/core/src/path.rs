//! Field paths into a record's fields: dot and index syntax (`billingAddress.street1`, `emails[0].address`).

use crate::limits::{MAX_PATH_CHARS, MAX_PATH_SEGMENTS};
use serde_json::Value;
use std::fmt;

/// The largest array index a path may name. Writing `a[n]` pads the array up
/// to `n`, so an unbounded index would let one mapping allocate without limit.
pub const MAX_INDEX: usize = 999;

/// One step of a path: an object key or an array index.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Segment {
    Key(String),
    Index(usize),
}

/// A parsed field path. The first segment is always an object key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FieldPath {
    segments: Vec<Segment>,
}

/// Why a path string is not a valid field path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    #[error("path is empty")]
    Empty,
    #[error("empty segment at position {0} (leading, trailing or doubled '.')")]
    EmptySegment(usize),
    #[error("unclosed '[' at position {0}")]
    UnclosedBracket(usize),
    #[error("unexpected ']' at position {0}")]
    UnexpectedBracket(usize),
    #[error("index '{0}' is not a non-negative integer")]
    BadIndex(String),
    #[error("index {0} is larger than the maximum {MAX_INDEX}")]
    IndexTooLarge(usize),
    #[error("path must start with a field name, not an index")]
    LeadingIndex,
    #[error("unexpected character {0:?} at position {1}")]
    BadChar(char, usize),
    #[error("path is longer than {MAX_PATH_CHARS} characters")]
    TooLong,
    #[error("path has more than {MAX_PATH_SEGMENTS} segments")]
    TooManySegments,
}

impl FieldPath {
    /// Parses `a.b[0].c`. Keys may contain any character except `.`, `[`,
    /// `]`, whitespace and control characters. At most [`MAX_PATH_CHARS`] characters and
    /// [`MAX_PATH_SEGMENTS`] segments: paths shape the JSON we build and hash, so their depth
    /// is bounded here, where every mapping's paths are parsed (API, preview and worker alike).
    pub fn parse(s: &str) -> Result<FieldPath, PathError> {
        if s.is_empty() {
            return Err(PathError::Empty);
        }
        if s.chars().take(MAX_PATH_CHARS + 1).count() > MAX_PATH_CHARS {
            return Err(PathError::TooLong);
        }
        let mut segments = Vec::new();
        let mut key = String::new();
        // Whether the previous token was a closing bracket (then a key may only
        // follow after a '.').
        let mut after_index = false;
        let mut chars = s.char_indices().peekable();
        while let Some((pos, c)) = chars.next() {
            match c {
                '.' => {
                    if key.is_empty() && !after_index {
                        return Err(PathError::EmptySegment(pos));
                    }
                    if !key.is_empty() {
                        segments.push(Segment::Key(std::mem::take(&mut key)));
                    }
                    after_index = false;
                    if chars.peek().is_none() {
                        return Err(PathError::EmptySegment(pos + 1));
                    }
                }
                '[' => {
                    if !key.is_empty() {
                        segments.push(Segment::Key(std::mem::take(&mut key)));
                    } else if segments.is_empty() {
                        return Err(PathError::LeadingIndex);
                    } else if !after_index {
                        // `a.[0]`
                        return Err(PathError::EmptySegment(pos));
                    }
                    let mut digits = String::new();
                    let mut closed = false;
                    for (_, d) in chars.by_ref() {
                        if d == ']' {
                            closed = true;
                            break;
                        }
                        digits.push(d);
                    }
                    if !closed {
                        return Err(PathError::UnclosedBracket(pos));
                    }
                    if digits.is_empty() || !digits.chars().all(|d| d.is_ascii_digit()) {
                        return Err(PathError::BadIndex(digits));
                    }
                    let index: usize = digits
                        .parse()
                        .map_err(|_| PathError::BadIndex(digits.clone()))?;
                    if index > MAX_INDEX {
                        return Err(PathError::IndexTooLarge(index));
                    }
                    segments.push(Segment::Index(index));
                    after_index = true;
                }
                ']' => return Err(PathError::UnexpectedBracket(pos)),
                c if c.is_whitespace() || c.is_control() => return Err(PathError::BadChar(c, pos)),
                c => {
                    if after_index {
                        // `a[0]b`
                        return Err(PathError::BadChar(c, pos));
                    }
                    key.push(c);
                }
            }
        }
        if !key.is_empty() {
            segments.push(Segment::Key(key));
        }
        if segments.is_empty() {
            return Err(PathError::Empty);
        }
        if segments.len() > MAX_PATH_SEGMENTS {
            return Err(PathError::TooManySegments);
        }
        Ok(FieldPath { segments })
    }

    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    /// The top-level field name (the first segment), what a provider is asked for.
    pub fn top_level(&self) -> &str {
        match self.segments.first() {
            Some(Segment::Key(k)) => k,
            _ => "",
        }
    }

    /// The value at this path, or `None` when any step is missing or of the wrong kind.
    pub fn get<'a>(&self, v: &'a Value) -> Option<&'a Value> {
        let mut cur = v;
        for seg in &self.segments {
            cur = match (seg, cur) {
                (Segment::Key(k), Value::Object(map)) => map.get(k)?,
                (Segment::Index(i), Value::Array(items)) => items.get(*i)?,
                _ => return None,
            };
        }
        Some(cur)
    }

    /// Writes `value` at this path, creating missing objects and arrays. A step
    /// whose existing value has the wrong kind (a string where an object is
    /// needed) is replaced. Arrays are padded up to the index with `{}` when
    /// the path goes on with a key (siblings look like the element written),
    /// with `null` otherwise.
    pub fn set(&self, target: &mut Value, value: Value) {
        let mut cur = target;
        for (i, seg) in self.segments.iter().enumerate() {
            let next = self.segments.get(i + 1);
            match seg {
                Segment::Key(k) => {
                    if !cur.is_object() {
                        *cur = Value::Object(serde_json::Map::new());
                    }
                    let Value::Object(map) = cur else { return };
                    cur = map.entry(k.clone()).or_insert(Value::Null);
                }
                Segment::Index(idx) => {
                    if !cur.is_array() {
                        *cur = Value::Array(Vec::new());
                    }
                    let Value::Array(items) = cur else { return };
                    let filler = match next {
                        Some(Segment::Key(_)) => Value::Object(serde_json::Map::new()),
                        _ => Value::Null,
                    };
                    while items.len() <= *idx {
                        items.push(filler.clone());
                    }
                    let Some(slot) = items.get_mut(*idx) else {
                        return;
                    };
                    cur = slot;
                }
            }
        }
        *cur = value;
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, seg) in self.segments.iter().enumerate() {
            match seg {
                Segment::Key(k) if i == 0 => f.write_str(k)?,
                Segment::Key(k) => write!(f, ".{k}")?,
                Segment::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

impl std::str::FromStr for FieldPath {
    type Err = PathError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        FieldPath::parse(s)
    }
}

#[cfg(test)]
#[path = "path_tests.rs"]
mod tests;
