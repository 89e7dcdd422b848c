//! Pipedrive search by field for `Provider::find_by`: `GET /api/v2/{object}/search?term=…
//! &fields=email&exact_match=true`. The v2 search takes ONE term per call (at least 1
//! character with `exact_match`), compares whole values case-insensitively and answers a
//! reduced item, so the adapter searches each value, then reads the hits' full records with
//! `ids=` (100 a call). Pipedrive v2 lists have no filter by email or name, so search is the
//! only way short of a scan; it costs 20 daily-budget tokens a call.

/// Values per `find_by` call (each one search request; the hits are read 100 ids a call).
pub const MAX_FIND: usize = 100;
/// Hits per search page (Pipedrive's maximum `limit`).
pub const SEARCH_LIMIT: &str = "500";
/// Search pages followed for one term (an exact value rarely has more than one page).
pub const MAX_SEARCH_PAGES: usize = 10;

/// The v2 search field (`fields=`) for a record field path, per object: persons `name`,
/// `emails`/`emails[i].value` → `email`, `phones`/`phones[i].value` → `phone`; organizations
/// `name`; deals `title`; `custom_fields.<key>` → `custom_fields` everywhere.
pub fn search_field(object: &str, path: &str) -> Option<&'static str> {
    let top = path.split(['.', '[']).next().unwrap_or_default();
    let rest = &path[top.len()..];
    let list_value = |rest: &str| {
        rest.is_empty() || {
            let r = rest.strip_prefix('[').and_then(|r| r.split_once(']'));
            matches!(r, Some((i, ".value")) if i.parse::<usize>().is_ok())
        }
    };
    match (object, top) {
        (_, "custom_fields") => rest
            .strip_prefix('.')
            .filter(|k| !k.is_empty() && !k.contains(['.', '[']))
            .map(|_| "custom_fields"),
        ("persons", "name") | ("organizations", "name") if rest.is_empty() => Some("name"),
        ("deals", "title") if rest.is_empty() => Some("title"),
        ("persons", "emails") if list_value(rest) => Some("email"),
        ("persons", "phones") if list_value(rest) => Some("phone"),
        _ => None,
    }
}

/// Trimmed, deduplicated, non-empty values.
pub fn normalize(values: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(values.len());
    for v in values {
        let v = v.trim();
        if !v.is_empty() && !out.iter().any(|o| o.eq_ignore_ascii_case(v)) {
            out.push(v.to_owned());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_paths_map_to_search_fields() {
        let cases = [
            ("persons", "emails[0].value", Some("email")),
            ("persons", "emails", Some("email")),
            ("persons", "phones[1].value", Some("phone")),
            ("persons", "name", Some("name")),
            ("persons", "emails[0].label", None),
            ("persons", "first_name", None),
            ("organizations", "name", Some("name")),
            ("deals", "title", Some("title")),
            ("deals", "custom_fields.abc123", Some("custom_fields")),
            ("deals", "custom_fields", None),
        ];
        for (object, path, want) in cases {
            assert_eq!(search_field(object, path), want, "{object} {path}");
        }
        assert_eq!(normalize(&[" A ".into(), "a".into()]), vec!["A".to_owned()]);
    }
}
