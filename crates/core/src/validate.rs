//! Validation of a submitted mapping: every problem reported with the JSON field it is about.

use crate::domain::{MappingSpec, ProviderKind};
use crate::engine::CompiledMapping;
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
    for (side, endpoint, provider) in [
        ("source", &spec.source, source),
        ("target", &spec.target, target),
    ] {
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
    for (i, a) in spec.associations.iter().enumerate() {
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

#[cfg(test)]
#[path = "validate_tests.rs"]
mod tests;
