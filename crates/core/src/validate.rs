//! Validation of a submitted mapping: every problem reported with the JSON field it is about.

use crate::domain::{MappingSpec, ProviderKind};
use crate::engine::CompiledMapping;
use crate::limits;
use crate::path::FieldPath;
use crate::schedule;
use serde::Serialize;

/// One problem with a mapping. `field` is a camelCase JSON path into the
/// submitted mapping: `name`, `fieldPairs[2].transformOptions.region`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ValidationIssue {
    pub field: String,
    pub message: String,
}

impl ValidationIssue {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> ValidationIssue {
        ValidationIssue {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// All problems with `spec` for the given providers; empty means valid.
pub fn validate_mapping(
    spec: &MappingSpec,
    source: ProviderKind,
    target: ProviderKind,
) -> Vec<ValidationIssue> {
    let mut issues = Vec::new();
    if spec.name.trim().is_empty() {
        issues.push(ValidationIssue::new("name", "must not be empty"));
    }
    text(&mut issues, "name", &spec.name, limits::MAX_NAME_CHARS);
    for (side, endpoint, provider) in [
        ("source", &spec.source, source),
        ("target", &spec.target, target),
    ] {
        let before = issues.len();
        text(
            &mut issues,
            &format!("{side}.connectionId"),
            &endpoint.connection_id,
            limits::MAX_IDENT_CHARS,
        );
        text(
            &mut issues,
            &format!("{side}.object"),
            &endpoint.object,
            limits::MAX_IDENT_CHARS,
        );
        if issues.len() > before {
            continue;
        }
        if endpoint.connection_id.trim().is_empty() {
            issues.push(ValidationIssue::new(
                format!("{side}.connectionId"),
                "must not be empty",
            ));
        }
        if !provider.objects().contains(&endpoint.object.as_str()) {
            issues.push(ValidationIssue::new(
                format!("{side}.object"),
                format!(
                    "'{}' is not a {provider} object; expected one of {}",
                    endpoint.object,
                    provider.objects().join(", ")
                ),
            ));
        }
    }
    if spec.field_pairs.is_empty() {
        issues.push(ValidationIssue::new(
            "fieldPairs",
            "must have at least one field pair",
        ));
    } else if spec.field_pairs.len() > limits::MAX_FIELD_PAIRS {
        issues.push(ValidationIssue::new(
            "fieldPairs",
            format!(
                "at most {} field pairs per mapping; got {}",
                limits::MAX_FIELD_PAIRS,
                spec.field_pairs.len()
            ),
        ));
    } else if let Err(mut pair_issues) = CompiledMapping::compile(&spec.field_pairs) {
        issues.append(&mut pair_issues);
    }
    if let Some(m) = &spec.match_rule {
        for (f, s) in [
            ("match.sourceField", &m.source_field),
            ("match.targetField", &m.target_field),
        ] {
            if let Err(e) = FieldPath::parse(s) {
                issues.push(ValidationIssue::new(
                    f,
                    format!("'{s}' is not a valid path: {e}"),
                ));
            }
        }
    }
    if spec.associations.len() > limits::MAX_ASSOCIATIONS {
        issues.push(ValidationIssue::new(
            "associations",
            format!(
                "at most {} associations per mapping; got {}",
                limits::MAX_ASSOCIATIONS,
                spec.associations.len()
            ),
        ));
    }
    for (i, a) in spec
        .associations
        .iter()
        .enumerate()
        .take(limits::MAX_ASSOCIATIONS)
    {
        let before = issues.len();
        for (f, v) in [("source", &a.source), ("mappingId", &a.mapping_id)] {
            text(
                &mut issues,
                &format!("associations[{i}].{f}"),
                v,
                limits::MAX_IDENT_CHARS,
            );
        }
        if issues.len() > before {
            continue;
        }
        if a.source.trim().is_empty() || a.source.contains(['.', '[']) {
            issues.push(ValidationIssue::new(
                format!("associations[{i}].source"),
                "must name an association of the source object, e.g. \"contacts\"",
            ));
        }
        if a.mapping_id.trim().is_empty() {
            issues.push(ValidationIssue::new(
                format!("associations[{i}].mappingId"),
                "must name a mapping",
            ));
        }
        if let Err(e) = FieldPath::parse(&a.target_field) {
            issues.push(ValidationIssue::new(
                format!("associations[{i}].targetField"),
                format!("'{}' is not a valid path: {e}", a.target_field),
            ));
        }
    }
    if let Some(s) = &spec.schedule {
        let before = issues.len();
        text(
            &mut issues,
            "schedule.cron",
            &s.cron,
            limits::MAX_IDENT_CHARS,
        );
        text(
            &mut issues,
            "schedule.timezone",
            &s.timezone,
            limits::MAX_IDENT_CHARS,
        );
        if issues.len() > before {
            return issues;
        }
        let cron = schedule::parse_cron(&s.cron);
        if let Err(e) = &cron {
            issues.push(ValidationIssue::new("schedule.cron", e.to_string()));
        }
        let zone = schedule::parse_timezone(&s.timezone);
        if let Err(e) = &zone {
            issues.push(ValidationIssue::new("schedule.timezone", e.to_string()));
        }
        if cron.is_ok() && zone.is_ok() {
            if let Err(e) =
                schedule::first_fire_within_horizon(&s.cron, &s.timezone, chrono::Utc::now())
            {
                issues.push(ValidationIssue::new("schedule.cron", e.to_string()));
            }
        }
    }
    issues
}

/// Records an issue when `value` is too long or holds control characters.
fn text(issues: &mut Vec<ValidationIssue>, field: &str, value: &str, max: usize) {
    if let Err(e) = limits::check_text(value, max) {
        issues.push(ValidationIssue::new(field, e.to_string()));
    }
}

#[cfg(test)]
#[path = "validate_tests.rs"]
mod tests;
