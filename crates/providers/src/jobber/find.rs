//! Jobber search by field for `Provider::find_by`, clients only. Jobber's `clients` query has
//! no filter by email or name (`ClientFilterAttributes` is isCompany, isLead, isArchived,
//! updatedAt, createdAt), only a free-text `searchTerm`, so the adapter runs one `searchTerm`
//! query per value and keeps the clients whose field equals it (trimmed, case-insensitively).
//! Jobs and properties have no search by field: `find_by` scans them.

use fluxcascade_core::path::FieldPath;
use fluxcascade_core::Record;

/// Values per `find_by` call (each one query).
pub const MAX_FIND: usize = 50;
/// Pages of one `searchTerm` query followed (a term names few clients).
pub const MAX_SEARCH_PAGES: usize = 5;

/// Whether a client field path can be searched with `searchTerm`: emails (`emails`,
/// `emails[i].address`) and names (`firstName`, `lastName`, `companyName`).
pub fn searchable(path: &str) -> bool {
    if matches!(path, "firstName" | "lastName" | "companyName" | "emails") {
        return true;
    }
    path.strip_prefix("emails[")
        .and_then(|r| r.split_once(']'))
        .is_some_and(|(i, rest)| i.parse::<usize>().is_ok() && rest == ".address")
}

fn fold(s: &str) -> String {
    s.trim().to_lowercase()
}

/// Whether the record's `path` (or, for `emails`, any address) equals `value`.
pub fn equals(rec: &Record, path: &str, value: &str) -> bool {
    let want = fold(value);
    if path == "emails" {
        return rec.fields["emails"].as_array().is_some_and(|a| {
            a.iter()
                .any(|e| e["address"].as_str().is_some_and(|s| fold(s) == want))
        });
    }
    let Ok(p) = FieldPath::parse(path) else {
        return false;
    };
    p.get(&rec.fields)
        .and_then(|v| v.as_str())
        .is_some_and(|s| fold(s) == want)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn searchable_paths_and_exact_equality() {
        assert!(searchable("emails[0].address"));
        assert!(searchable("firstName"));
        assert!(!searchable("emails[0].description"));
        assert!(!searchable("billingAddress.city"));
        let rec = Record {
            id: "1".into(),
            updated_at: chrono::Utc::now(),
            fields: serde_json::json!({"emails": [{"address": "Ann@X.org"}], "firstName": "Ann"}),
            deleted: false,
        };
        assert!(equals(&rec, "emails[0].address", " ann@x.org"));
        assert!(equals(&rec, "emails", "ANN@x.org"));
        assert!(!equals(&rec, "emails[0].address", "ann@x.org.uk"));
        assert!(equals(&rec, "firstName", "ann"));
    }
}
