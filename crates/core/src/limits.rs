//! Input bounds for everything a tenant sends us, in one place (README "Limits", DESIGN §9).
//!
//! Every limit here is checked before the input is used, and a breach is a validation issue
//! naming the field (the API answers 422), never a panic or a slow path.

/// Segments in one field path (`a.b[0].c` has four).
pub const MAX_PATH_SEGMENTS: usize = 16;
/// Characters in one field path.
pub const MAX_PATH_CHARS: usize = 256;
/// Field pairs in one mapping.
pub const MAX_FIELD_PAIRS: usize = 200;
/// Source fields of one `concatenate` pair.
pub const MAX_SOURCE_FIELDS: usize = 20;
/// Association rules in one mapping.
pub const MAX_ASSOCIATIONS: usize = 20;
/// Characters in a name (mapping, connection account name, API key name, ...).
pub const MAX_NAME_CHARS: usize = 200;
/// Characters in a URL (webhook URL, instance URL).
pub const MAX_URL_CHARS: usize = 2_048;
/// Bytes of one field pair's `transformOptions`, as compact JSON.
pub const MAX_TRANSFORM_OPTIONS_BYTES: usize = 4 * 1024;
/// Characters of a short identifier: object names, connection ids, transform names, cron,
/// timezone, record ids in previews.
pub const MAX_IDENT_CHARS: usize = 200;
/// Nesting depth of a JSON request body (objects and arrays), checked before parsing.
pub const MAX_JSON_DEPTH: usize = 32;

/// Why a string is refused: too long or carrying control characters.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    #[error("must be at most {max} characters (got {got})")]
    TooLong { max: usize, got: usize },
    #[error("must not contain NUL or other control characters")]
    ControlChar,
}

/// Checks a single-line text field: at most `max` characters, no control characters
/// (NUL, newlines, escapes: nothing a name, id or URL needs).
pub fn check_text(s: &str, max: usize) -> Result<(), TextError> {
    // Count lazily: stop as soon as the limit is passed, so a 1 MB string costs `max` steps.
    let got = s.chars().take(max + 1).count();
    if got > max {
        return Err(TextError::TooLong {
            max,
            got: s.chars().count(),
        });
    }
    if s.chars().any(char::is_control) {
        return Err(TextError::ControlChar);
    }
    Ok(())
}

/// The nesting depth of a JSON text (objects and arrays), computed without recursion and
/// without parsing: brackets inside strings do not count. Stops early once `limit` is passed,
/// returning a value greater than `limit`. Malformed JSON gets some depth; the parser judges it.
pub fn json_depth(bytes: &[u8], limit: usize) -> usize {
    let mut depth = 0usize;
    let mut max = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for &b in bytes {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' | b'[' => {
                depth += 1;
                if depth > max {
                    max = depth;
                    if max > limit {
                        return max;
                    }
                }
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    max
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_limits() {
        let cases: &[(&str, usize, Option<TextError>)] = &[
            ("Acme", 200, None),
            ("", 200, None),
            ("ünïcödé 名前", 10, None),
            (
                "ünïcödé 名前",
                9,
                Some(TextError::TooLong { max: 9, got: 10 }),
            ),
            ("a\u{0}b", 200, Some(TextError::ControlChar)),
            ("line\nbreak", 200, Some(TextError::ControlChar)),
            ("tab\there", 200, Some(TextError::ControlChar)),
            ("esc\u{1b}[31m", 200, Some(TextError::ControlChar)),
            ("del\u{7f}", 200, Some(TextError::ControlChar)),
            ("c1\u{85}", 200, Some(TextError::ControlChar)),
        ];
        for (input, max, want) in cases {
            assert_eq!(check_text(input, *max).err(), *want, "{input:?}");
        }
    }

    #[test]
    fn depth_ignores_brackets_in_strings_and_escapes() {
        let cases: &[(&str, usize)] = &[
            ("1", 0),
            ("{}", 1),
            ("[[[]]]", 3),
            (r#"{"a":[{"b":{}}]}"#, 4),
            (r#"{"a":"[[[[{{{{"}"#, 1),
            (r#"{"a":"\"[[[["}"#, 1),
            (r#"["\\",[["#, 3),
            ("]]]]{", 1),
        ];
        for (input, want) in cases {
            assert_eq!(json_depth(input.as_bytes(), 100), *want, "{input}");
        }
    }

    #[test]
    fn depth_stops_early_past_the_limit() {
        let deep = "[".repeat(1_000_000);
        assert_eq!(
            json_depth(deep.as_bytes(), MAX_JSON_DEPTH),
            MAX_JSON_DEPTH + 1
        );
    }

    proptest::proptest! {
        #[test]
        fn depth_matches_serde_for_valid_json(depth in 0usize..40, wrap_obj in proptest::bool::ANY) {
            let mut s = String::from("1");
            for _ in 0..depth {
                s = if wrap_obj { format!("{{\"k[\":{s}}}") } else { format!("[\"]\",{s}]") };
            }
            proptest::prop_assert_eq!(json_depth(s.as_bytes(), 100), depth);
        }
    }
}
