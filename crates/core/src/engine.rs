//! The mapping engine: field pairs compiled once (paths parsed, transforms resolved), then applied to each record.

use crate::domain::FieldPair;
use crate::limits;
use crate::path::FieldPath;
use crate::transform::Transform;
use crate::validate::ValidationIssue;
use serde_json::Value;

/// One compiled field pair.
#[derive(Debug, Clone, PartialEq)]
pub struct CompiledPair {
    /// One path for single-source pairs, all `sourceFields` for `concatenate`.
    pub sources: Vec<FieldPath>,
    pub target: FieldPath,
    pub transform: Option<Transform>,
    pub required: bool,
}

/// A mapping's field pairs, ready to apply to records.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CompiledMapping {
    pairs: Vec<CompiledPair>,
}

/// Why one record could not be mapped. `field` is the target path; `code` is
/// the transform's code (`invalid_phone`, ...) or `required_field_missing`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, serde::Serialize)]
#[error("{field}: {message}")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MappingError {
    pub code: String,
    pub message: String,
    pub field: String,
}

impl CompiledMapping {
    /// Compiles field pairs. Every problem is reported, each with its
    /// `fieldPairs[i]...` field, so a user can fix them all at once.
    pub fn compile(pairs: &[FieldPair]) -> Result<CompiledMapping, Vec<ValidationIssue>> {
        let mut issues = Vec::new();
        let mut compiled = Vec::with_capacity(pairs.len());
        for (i, pair) in pairs.iter().enumerate() {
            match compile_pair(i, pair) {
                Ok(c) => compiled.push((i, c)),
                Err(mut e) => issues.append(&mut e),
            }
        }
        // One pass with a map of the first writer of each target: O(n), whatever the count.
        let mut first_writer: std::collections::HashMap<&FieldPath, usize> =
            std::collections::HashMap::with_capacity(compiled.len());
        for (i, c) in &compiled {
            if let Some(j) = first_writer.get(&c.target) {
                issues.push(ValidationIssue::new(
                    format!("fieldPairs[{i}].targetField"),
                    format!("'{}' is already written by fieldPairs[{j}]", c.target),
                ));
            } else {
                first_writer.insert(&c.target, *i);
            }
        }
        if issues.is_empty() {
            Ok(CompiledMapping {
                pairs: compiled.into_iter().map(|(_, c)| c).collect(),
            })
        } else {
            Err(issues)
        }
    }

    pub fn pairs(&self) -> &[CompiledPair] {
        &self.pairs
    }

    /// Maps a record's source fields to a target fields object holding only
    /// the target paths. A pair whose source paths are all absent from the
    /// record writes nothing (an absent field is not a cleared one); an
    /// explicit `null` is written as `null`. The first failing pair is the
    /// record's error: a transform error keeps its code; a `required` pair
    /// whose value is missing, null or blank after transforming fails with
    /// `required_field_missing`.
    pub fn apply(&self, source_fields: &Value) -> Result<Value, MappingError> {
        let mut out = Value::Object(serde_json::Map::new());
        for pair in &self.pairs {
            let inputs: Vec<Option<&Value>> =
                pair.sources.iter().map(|p| p.get(source_fields)).collect();
            let all_absent = inputs.iter().all(Option::is_none);
            let value = if all_absent {
                None
            } else {
                match &pair.transform {
                    None => inputs.first().copied().flatten().cloned(),
                    Some(t) => Some(t.apply(&inputs).map_err(|e| MappingError {
                        code: e.code,
                        message: format!(
                            "{} (from {}): {}",
                            pair.target,
                            sources_label(pair),
                            e.message
                        ),
                        field: pair.target.to_string(),
                    })?),
                }
            };
            if pair.required && value.as_ref().is_none_or(is_empty) {
                return Err(MappingError {
                    code: "required_field_missing".into(),
                    message: format!(
                        "required field '{}' is missing or empty (from {})",
                        pair.target,
                        sources_label(pair)
                    ),
                    field: pair.target.to_string(),
                });
            }
            if let Some(v) = value {
                pair.target.set(&mut out, v);
            }
        }
        Ok(out)
    }

    /// The mapping for the target→source direction of a bidirectional sync.
    ///
    /// Each single-source pair is swapped (target path read, source path
    /// written) and keeps its `required` flag. Case and format transforms
    /// (`uppercase`, `lowercase`, `phone_e164`, `date_iso`) are re-applied as
    /// they are: they normalise whatever the other side holds. `split_name`
    /// and `concatenate` pairs are **dropped**: they combine or split values
    /// and cannot be inverted without guessing (`"Mary Ann Smith"` back into
    /// first and last name is ambiguous), so those fields flow one way only.
    /// When two forward pairs read the same source path, the later one wins.
    pub fn reversed(&self) -> CompiledMapping {
        let mut pairs: Vec<CompiledPair> = Vec::new();
        for p in &self.pairs {
            let invertible = match &p.transform {
                None => true,
                Some(t) => matches!(
                    t,
                    Transform::Uppercase
                        | Transform::Lowercase
                        | Transform::PhoneE164 { .. }
                        | Transform::DateIso { .. }
                ),
            };
            let [source] = p.sources.as_slice() else {
                continue;
            };
            if !invertible {
                continue;
            }
            pairs.retain(|existing| existing.target != *source);
            pairs.push(CompiledPair {
                sources: vec![p.target.clone()],
                target: source.clone(),
                transform: p.transform.clone(),
                required: p.required,
            });
        }
        CompiledMapping { pairs }
    }

    /// Distinct top-level source field names, in pair order: what to ask the source provider for.
    pub fn source_paths(&self) -> Vec<String> {
        distinct(self.pairs.iter().flat_map(|p| p.sources.iter()))
    }

    /// Distinct top-level target field names, in pair order.
    pub fn target_paths(&self) -> Vec<String> {
        distinct(self.pairs.iter().map(|p| &p.target))
    }

    /// The full source paths (`emails[0].address`), distinct, in pair order.
    pub fn source_field_paths(&self) -> Vec<String> {
        distinct_full(self.pairs.iter().flat_map(|p| p.sources.iter()))
    }

    /// The full target paths (`phones[0].number`), distinct, in pair order:
    /// exactly what [`apply`](Self::apply) may write, so hashing a target
    /// record over these paths compares like with like.
    pub fn target_field_paths(&self) -> Vec<String> {
        distinct_full(self.pairs.iter().map(|p| &p.target))
    }
}

fn distinct<'a>(paths: impl Iterator<Item = &'a FieldPath>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for p in paths {
        let top = p.top_level();
        if !out.iter().any(|o| o == top) {
            out.push(top.to_string());
        }
    }
    out
}

fn distinct_full<'a>(paths: impl Iterator<Item = &'a FieldPath>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for p in paths {
        let full = p.to_string();
        if !out.contains(&full) {
            out.push(full);
        }
    }
    out
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.trim().is_empty(),
        _ => false,
    }
}

fn sources_label(pair: &CompiledPair) -> String {
    pair.sources
        .iter()
        .map(|s| format!("'{s}'"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Compiles one pair, reporting every problem with its `fieldPairs[i]` field.
fn compile_pair(i: usize, pair: &FieldPair) -> Result<CompiledPair, Vec<ValidationIssue>> {
    let at = |f: &str| format!("fieldPairs[{i}].{f}");
    let mut issues = Vec::new();

    let options_too_large = pair.transform_options.as_ref().is_some_and(|o| {
        serde_json::to_vec(o).map_or(true, |b| b.len() > limits::MAX_TRANSFORM_OPTIONS_BYTES)
    });
    if options_too_large {
        issues.push(ValidationIssue::new(
            at("transformOptions"),
            format!(
                "must be at most {} bytes of JSON",
                limits::MAX_TRANSFORM_OPTIONS_BYTES
            ),
        ));
    }
    if let Some(name) = &pair.transform {
        if let Err(e) = limits::check_text(name, limits::MAX_IDENT_CHARS) {
            issues.push(ValidationIssue::new(at("transform"), e.to_string()));
            return Err(issues);
        }
    }
    if let Some(list) = &pair.source_fields {
        if list.len() > limits::MAX_SOURCE_FIELDS {
            issues.push(ValidationIssue::new(
                at("sourceFields"),
                format!("at most {} source fields", limits::MAX_SOURCE_FIELDS),
            ));
            return Err(issues);
        }
    }

    let transform = match pair.transform.as_deref() {
        _ if options_too_large => None,
        None => {
            if pair
                .transform_options
                .as_ref()
                .is_some_and(|o| !o.is_null())
            {
                issues.push(ValidationIssue::new(
                    at("transformOptions"),
                    "transformOptions given without a transform".to_string(),
                ));
            }
            None
        }
        Some(name) => match Transform::from_spec(name, pair.transform_options.as_ref()) {
            Ok(t) => Some(t),
            Err(e) => {
                issues.push(ValidationIssue::new(at(&e.field), e.message));
                None
            }
        },
    };
    let many = pair.transform.as_deref() == Some("concatenate");

    let mut sources = Vec::new();
    match (&pair.source_field, &pair.source_fields) {
        (Some(_), Some(_)) => issues.push(ValidationIssue::new(
            at("sourceFields"),
            "give either sourceField or sourceFields, not both",
        )),
        (None, None) => {
            let f = if many { "sourceFields" } else { "sourceField" };
            issues.push(ValidationIssue::new(at(f), "is required"));
        }
        (Some(_), None) if many => issues.push(ValidationIssue::new(
            at("sourceFields"),
            "concatenate needs sourceFields (a list), not sourceField",
        )),
        (None, Some(_)) if !many => issues.push(ValidationIssue::new(
            at("sourceField"),
            "only concatenate takes sourceFields; use sourceField",
        )),
        (Some(s), None) => match FieldPath::parse(s) {
            Ok(p) => sources.push(p),
            Err(e) => issues.push(ValidationIssue::new(
                at("sourceField"),
                format!("'{s}' is not a valid path: {e}"),
            )),
        },
        (None, Some(list)) => {
            if list.is_empty() {
                issues.push(ValidationIssue::new(
                    at("sourceFields"),
                    "must list at least one field",
                ));
            }
            for (k, s) in list.iter().enumerate() {
                match FieldPath::parse(s) {
                    Ok(p) => sources.push(p),
                    Err(e) => issues.push(ValidationIssue::new(
                        at(&format!("sourceFields[{k}]")),
                        format!("'{s}' is not a valid path: {e}"),
                    )),
                }
            }
        }
    }

    let target = match FieldPath::parse(&pair.target_field) {
        Ok(p) => Some(p),
        Err(e) => {
            issues.push(ValidationIssue::new(
                at("targetField"),
                format!("'{}' is not a valid path: {e}", pair.target_field),
            ));
            None
        }
    };

    match target {
        Some(target) if issues.is_empty() => Ok(CompiledPair {
            sources,
            target,
            transform,
            required: pair.required,
        }),
        _ => Err(issues),
    }
}

#[cfg(test)]
#[path = "engine_tests.rs"]
mod tests;
