//! Projection of a record's fields onto a mapping's target paths, and the hash used for links and reconciling.

use fluxcascade_core::path::FieldPath;

/// The parsed target paths of a mapping.
pub struct Projection {
    paths: Vec<FieldPath>,
}

impl Projection {
    pub fn new(target_paths: &[String]) -> Projection {
        Projection {
            paths: target_paths
                .iter()
                .filter_map(|p| FieldPath::parse(p).ok())
                .collect(),
        }
    }

    /// Hash of the values at the target paths (absent and null are the same).
    pub fn hash(&self, fields: &serde_json::Value) -> String {
        let mut out = serde_json::Value::Object(Default::default());
        for p in &self.paths {
            if let Some(v) = p.get(fields) {
                if !v.is_null() {
                    p.set(&mut out, v.clone());
                }
            }
        }
        fluxcascade_core::hash::values_hash(&out)
    }
}
