//! The mapping editor's form as the user typed it, and its translation to and from a
//! [`MappingSpec`]: a pure module (no I/O) so the translation is unit tested.
//!
//! Field-pair rows are posted as `pair.<key>.<field>` (and associations as `assoc.<key>.<field>`),
//! `<key>` being any token that groups one row's inputs: rows added by "Add field" get a random
//! one. Rows keep the order they had on the page; a row left entirely blank is dropped, so the
//! i-th kept row is `fieldPairs[i]` and an API error about `fieldPairs[i]` lands on it.

use fluxcascade_core::{
    AssociationRule, ConflictResolution, Direction, Endpoint, FieldPair, MappingSpec, MatchRule,
    OnDelete, Schedule,
};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::error::ErrorDetail;

/// The transforms the picker offers, with the option each one takes (if any).
pub const TRANSFORMS: [(&str, &str); 6] = [
    ("uppercase", "Uppercase"),
    ("lowercase", "Lowercase"),
    ("phone_e164", "Phone (E.164)"),
    ("date_iso", "Date (ISO 8601)"),
    ("split_name", "Split name"),
    ("concatenate", "Concatenate"),
];

/// The directions the editor offers.
pub const DIRECTIONS: [(Direction, &str); 3] = [
    (Direction::SourceToTarget, "Source → target"),
    (Direction::TargetToSource, "Target → source"),
    (Direction::Bidirectional, "Both ways"),
];

/// The conflict policies the editor offers.
pub const CONFLICTS: [(ConflictResolution, &str); 3] = [
    (ConflictResolution::NewestWins, "Newest change wins"),
    (ConflictResolution::SourceWins, "Source wins"),
    (ConflictResolution::TargetWins, "Target wins"),
];

/// What a deletion does, as the editor offers it.
pub const ON_DELETES: [(OnDelete, &str); 3] = [
    (OnDelete::Ignore, "Ignore (keep the twin, stay linked)"),
    (OnDelete::Archive, "Archive the twin"),
    (OnDelete::Unlink, "Unlink (keep the twin)"),
];

/// An enum's wire name (`source_to_target`), as the API spells it.
pub fn wire<T: Serialize>(value: T) -> String {
    match serde_json::to_value(value) {
        Ok(Value::String(s)) => s,
        _ => String::new(),
    }
}

fn from_wire<T: DeserializeOwned>(raw: &str) -> Option<T> {
    serde_json::from_value(Value::String(raw.to_owned())).ok()
}

/// One field-pair row.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PairRow {
    /// The source path, or for `concatenate` the paths separated by commas.
    pub source: String,
    pub target: String,
    /// A name of [`TRANSFORMS`], or empty for none.
    pub transform: String,
    /// `phone_e164`'s `region`.
    pub region: String,
    /// `date_iso`'s `timezone`.
    pub timezone: String,
    /// `split_name`'s `part` (`first` / `last`).
    pub part: String,
    /// `concatenate`'s `separator`.
    pub separator: String,
    pub required: bool,
}

impl PairRow {
    fn is_blank(&self) -> bool {
        self.source.trim().is_empty() && self.target.trim().is_empty() && self.transform.is_empty()
    }

    fn to_pair(&self) -> FieldPair {
        let transform = (!self.transform.is_empty()).then(|| self.transform.clone());
        let mut options = Map::new();
        let mut option = |key: &str, value: &str| {
            if !value.trim().is_empty() {
                options.insert(key.to_owned(), Value::String(value.trim().to_owned()));
            }
        };
        match self.transform.as_str() {
            "phone_e164" => option("region", &self.region),
            "date_iso" => option("timezone", &self.timezone),
            "split_name" => option("part", &self.part),
            "concatenate" if !self.separator.is_empty() => {
                options.insert("separator".into(), Value::String(self.separator.clone()));
            }
            _ => {}
        }
        let (source_field, source_fields) = if self.transform == "concatenate" {
            let list = self
                .source
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect();
            (None, Some(list))
        } else {
            let s = self.source.trim();
            ((!s.is_empty()).then(|| s.to_owned()), None)
        };
        FieldPair {
            source_field,
            source_fields,
            target_field: self.target.trim().to_owned(),
            transform,
            transform_options: (!options.is_empty()).then_some(Value::Object(options)),
            required: self.required,
        }
    }

    fn from_pair(p: &FieldPair) -> PairRow {
        let option = |key: &str| {
            p.transform_options
                .as_ref()
                .and_then(|o| o.get(key))
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        PairRow {
            source: match (&p.source_field, &p.source_fields) {
                (Some(s), _) => s.clone(),
                (None, Some(list)) => list.join(", "),
                (None, None) => String::new(),
            },
            target: p.target_field.clone(),
            transform: p.transform.clone().unwrap_or_default(),
            region: option("region"),
            timezone: option("timezone"),
            part: option("part"),
            separator: option("separator"),
            required: p.required,
        }
    }
}

/// One association row (a target field filled from another mapping's links).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AssocRow {
    pub source: String,
    pub mapping_id: String,
    pub target_field: String,
}

impl AssocRow {
    fn is_blank(&self) -> bool {
        self.source.trim().is_empty()
            && self.mapping_id.trim().is_empty()
            && self.target_field.trim().is_empty()
    }
}

/// Everything the editor's form holds, as typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EditorForm {
    pub csrf: Option<String>,
    pub name: String,
    pub source_connection: String,
    pub source_object: String,
    pub target_connection: String,
    pub target_object: String,
    pub direction: String,
    pub conflict: String,
    pub on_delete: String,
    pub enabled: bool,
    pub pairs: Vec<PairRow>,
    pub match_source: String,
    pub match_target: String,
    pub associations: Vec<AssocRow>,
    pub cron: String,
    pub timezone: String,
    /// The preview pane's pasted records (JSON).
    pub records: String,
    /// The preview pane's sample size.
    pub sample_count: String,
}

impl Default for EditorForm {
    fn default() -> Self {
        EditorForm {
            csrf: None,
            name: String::new(),
            source_connection: String::new(),
            source_object: String::new(),
            target_connection: String::new(),
            target_object: String::new(),
            direction: wire(Direction::default()),
            conflict: wire(ConflictResolution::default()),
            on_delete: OnDelete::default().as_str().to_owned(),
            enabled: true,
            pairs: vec![PairRow::default()],
            match_source: String::new(),
            match_target: String::new(),
            associations: Vec::new(),
            cron: String::new(),
            timezone: "UTC".into(),
            records: String::new(),
            sample_count: "5".into(),
        }
    }
}

/// The rows of one kind (`pair` or `assoc`) in page order, each as its `field → value`.
fn rows<'a>(raw: &'a [(String, String)], kind: &str) -> Vec<Vec<(&'a str, &'a str)>> {
    let mut keys: Vec<&str> = Vec::new();
    let mut out: Vec<Vec<(&str, &str)>> = Vec::new();
    for (k, v) in raw {
        let Some(rest) = k.strip_prefix(kind).and_then(|r| r.strip_prefix('.')) else {
            continue;
        };
        let Some((key, field)) = rest.split_once('.') else {
            continue;
        };
        let i = match keys.iter().position(|k| *k == key) {
            Some(i) => i,
            None => {
                keys.push(key);
                out.push(Vec::new());
                out.len() - 1
            }
        };
        out[i].push((field, v.as_str()));
    }
    out
}

/// A select's value: its default when empty, else one of its choices (or an issue naming it).
fn choice<T: Default>(
    issues: &mut Vec<ErrorDetail>,
    field: &str,
    raw: &str,
    parse: impl Fn(&str) -> Option<T>,
) -> T {
    if raw.is_empty() {
        return T::default();
    }
    parse(raw).unwrap_or_else(|| {
        issues.push(ErrorDetail::new(
            field,
            format!("'{raw}' is not one of the choices"),
        ));
        T::default()
    })
}

fn get<'a>(row: &[(&str, &'a str)], field: &str) -> &'a str {
    row.iter().find(|(f, _)| *f == field).map_or("", |(_, v)| v)
}

impl EditorForm {
    /// Reads a posted form (`application/x-www-form-urlencoded` pairs, in page order).
    pub fn parse(raw: &[(String, String)]) -> EditorForm {
        let one = |name: &str| {
            raw.iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        let pairs = rows(raw, "pair")
            .into_iter()
            .map(|r| PairRow {
                source: get(&r, "source").to_owned(),
                target: get(&r, "target").to_owned(),
                transform: get(&r, "transform").to_owned(),
                region: get(&r, "region").to_owned(),
                timezone: get(&r, "timezone").to_owned(),
                part: get(&r, "part").to_owned(),
                separator: get(&r, "separator").to_owned(),
                required: !get(&r, "required").is_empty(),
            })
            .filter(|p| !p.is_blank())
            .collect();
        let associations = rows(raw, "assoc")
            .into_iter()
            .map(|r| AssocRow {
                source: get(&r, "source").to_owned(),
                mapping_id: get(&r, "mapping_id").to_owned(),
                target_field: get(&r, "target_field").to_owned(),
            })
            .filter(|a| !a.is_blank())
            .collect();
        EditorForm {
            csrf: raw
                .iter()
                .find(|(k, _)| k == "csrf")
                .map(|(_, v)| v.clone()),
            name: one("name"),
            source_connection: one("source_connection"),
            source_object: one("source_object"),
            target_connection: one("target_connection"),
            target_object: one("target_object"),
            direction: one("direction"),
            conflict: one("conflict"),
            on_delete: one("on_delete"),
            enabled: !one("enabled").is_empty(),
            pairs,
            match_source: one("match_source"),
            match_target: one("match_target"),
            associations,
            cron: one("cron"),
            timezone: one("timezone"),
            records: one("records"),
            sample_count: one("sample_count"),
        }
    }

    /// The spec the form describes, with the problems only the form can have (a select holding
    /// a value that is not one of its options); everything else is for the API to judge.
    pub fn to_spec(&self) -> (MappingSpec, Vec<ErrorDetail>) {
        let mut issues = Vec::new();
        let direction = choice(&mut issues, "direction", &self.direction, from_wire);
        let conflict = choice(&mut issues, "conflictResolution", &self.conflict, from_wire);
        let on_delete = choice(&mut issues, "onDelete", &self.on_delete, OnDelete::parse);
        let match_rule = (!(self.match_source.trim().is_empty()
            && self.match_target.trim().is_empty()))
        .then(|| MatchRule {
            source_field: self.match_source.trim().to_owned(),
            target_field: self.match_target.trim().to_owned(),
        });
        let schedule = (!self.cron.trim().is_empty()).then(|| Schedule {
            cron: self.cron.trim().to_owned(),
            timezone: match self.timezone.trim() {
                "" => "UTC".to_owned(),
                tz => tz.to_owned(),
            },
        });
        let spec = MappingSpec {
            name: self.name.trim().to_owned(),
            source: Endpoint {
                connection_id: self.source_connection.clone(),
                object: self.source_object.clone(),
            },
            target: Endpoint {
                connection_id: self.target_connection.clone(),
                object: self.target_object.clone(),
            },
            direction,
            field_pairs: self.pairs.iter().map(PairRow::to_pair).collect(),
            match_rule,
            conflict_resolution: conflict,
            schedule,
            enabled: self.enabled,
            associations: self
                .associations
                .iter()
                .map(|a| AssociationRule {
                    source: a.source.trim().to_owned(),
                    mapping_id: a.mapping_id.trim().to_owned(),
                    target_field: a.target_field.trim().to_owned(),
                })
                .collect(),
            on_delete,
        };
        (spec, issues)
    }

    /// The form showing a stored spec.
    pub fn from_spec(spec: &MappingSpec) -> EditorForm {
        let mut pairs: Vec<PairRow> = spec.field_pairs.iter().map(PairRow::from_pair).collect();
        if pairs.is_empty() {
            pairs.push(PairRow::default());
        }
        EditorForm {
            name: spec.name.clone(),
            source_connection: spec.source.connection_id.clone(),
            source_object: spec.source.object.clone(),
            target_connection: spec.target.connection_id.clone(),
            target_object: spec.target.object.clone(),
            direction: wire(spec.direction),
            conflict: wire(spec.conflict_resolution),
            on_delete: spec.on_delete.as_str().to_owned(),
            enabled: spec.enabled,
            pairs,
            match_source: spec
                .match_rule
                .as_ref()
                .map(|m| m.source_field.clone())
                .unwrap_or_default(),
            match_target: spec
                .match_rule
                .as_ref()
                .map(|m| m.target_field.clone())
                .unwrap_or_default(),
            associations: spec
                .associations
                .iter()
                .map(|a| AssocRow {
                    source: a.source.clone(),
                    mapping_id: a.mapping_id.clone(),
                    target_field: a.target_field.clone(),
                })
                .collect(),
            cron: spec
                .schedule
                .as_ref()
                .map(|s| s.cron.clone())
                .unwrap_or_default(),
            timezone: spec
                .schedule
                .as_ref()
                .map_or_else(|| "UTC".to_owned(), |s| s.timezone.clone()),
            ..EditorForm::default()
        }
    }
}

/// A `PATCH /v1/mappings/{id}` body that replaces every field with `spec`'s (optional fields the
/// spec leaves out are sent as `null`, which removes them).
pub fn full_patch(spec: &MappingSpec) -> Value {
    let mut body = match serde_json::to_value(spec) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    };
    for key in ["match", "schedule", "associations"] {
        body.entry(key).or_insert(Value::Null);
    }
    Value::Object(body)
}

#[cfg(test)]
#[path = "form_tests.rs"]
mod tests;
