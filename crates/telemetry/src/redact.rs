//! A last line of defence for logs: every formatted line passes through [`redact`] before it is
//! written, scrubbing what looks like a credential (bearer tokens, `token=`/`secret=` pairs,
//! HubSpot's token-info path, URL passwords, our API keys and webhook secrets).
//!
//! The first defence is not logging secrets at all (`Secret` types, `reqwest::Error::without_url`);
//! this catches what slips through, e.g. a provider echoing a token in an error body.

use std::borrow::Cow;
use std::io::Write;
use std::sync::OnceLock;

use regex::{Regex, RegexSet};
use tracing_subscriber::fmt::MakeWriter;

fn patterns() -> &'static [(Regex, &'static str)] {
    static PATTERNS: OnceLock<Vec<(Regex, &'static str)>> = OnceLock::new();
    PATTERNS.get_or_init(|| {
        [
            // Authorization: Bearer <token>
            (r"(?i)(bearer\s+)[A-Za-z0-9\-._~+/]+=*", "${1}[redacted]"),
            // key=value and "key": "value" for credential-ish keys (JSON, query strings, forms).
            (
                r#"(?i)((?:access|refresh|id)_?token|client_?secret|password|passwd|api_?key|secret)(\\?"?\s*[:=]\s*\\?"?)[^"\\\s&,;}]+"#,
                "${1}${2}[redacted]",
            ),
            // HubSpot token info: GET /oauth/v1/access-tokens/{token}
            (r"(/access-tokens/)[^/\s?#\x22]+", "${1}[redacted]"),
            // Query parameters that carry secrets: ?s= (Salesforce hook URL), code, state.
            (r"([?&](?:s|code|state)=)[^&\s#\x22]+", "${1}[redacted]"),
            // scheme://user:password@host
            (r"(://[^/\s:@]+:)[^@\s/]+@", "${1}[redacted]@"),
            // Our API keys and webhook signing secrets.
            (r"\bfc_[A-Za-z0-9_\-]{16,}", "fc_[redacted]"),
            (r"\bwhsec_[A-Za-z0-9_\-]{8,}", "whsec_[redacted]"),
        ]
        .into_iter()
        .filter_map(|(p, r)| Regex::new(p).ok().map(|re| (re, r)))
        .collect()
    })
}

/// All patterns at once: one scan tells whether any applies (most lines and span attributes
/// have nothing to scrub).
fn any_pattern() -> Option<&'static RegexSet> {
    static SET: OnceLock<Option<RegexSet>> = OnceLock::new();
    SET.get_or_init(|| RegexSet::new(patterns().iter().map(|(re, _)| re.as_str())).ok())
        .as_ref()
}

/// `line` with every credential-looking substring replaced by `[redacted]`.
pub fn redact(line: &str) -> Cow<'_, str> {
    if any_pattern().is_some_and(|set| !set.is_match(line)) {
        return Cow::Borrowed(line);
    }
    let mut out = Cow::Borrowed(line);
    for (re, replacement) in patterns() {
        if re.is_match(&out) {
            out = Cow::Owned(re.replace_all(&out, *replacement).into_owned());
        }
    }
    out
}

/// A `MakeWriter` for stderr whose writes are redacted (the fmt layer writes one event per call).
#[derive(Debug, Clone, Copy, Default)]
pub struct RedactingStderr;

/// One event's writer: buffers, then writes the redacted text to stderr on flush or drop.
#[derive(Debug, Default)]
pub struct RedactingWriter {
    buf: Vec<u8>,
}

impl Write for RedactingWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let text = String::from_utf8_lossy(&self.buf);
        let clean = redact(&text);
        let mut err = std::io::stderr().lock();
        err.write_all(clean.as_bytes())?;
        self.buf.clear();
        err.flush()
    }
}

impl Drop for RedactingWriter {
    fn drop(&mut self) {
        let _ = self.flush();
    }
}

impl<'a> MakeWriter<'a> for RedactingStderr {
    type Writer = RedactingWriter;

    fn make_writer(&'a self) -> Self::Writer {
        RedactingWriter::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_scrubbed_and_the_rest_kept() {
        let cases = [
            (
                "request failed: Authorization: Bearer eyJhbGci.eyJzdWIi.sig== (401)",
                "request failed: Authorization: Bearer [redacted] (401)",
            ),
            (
                "GET http://127.0.0.1:9100/hubspot/oauth/v1/access-tokens/tok-123?x=1 failed",
                "GET http://127.0.0.1:9100/hubspot/oauth/v1/access-tokens/[redacted]?x=1 failed",
            ),
            (
                r#"body {"access_token":"abc.def","refresh_token": "r1","expires_in":1800}"#,
                r#"body {"access_token":"[redacted]","refresh_token": "[redacted]","expires_in":1800}"#,
            ),
            (
                "grant_type=refresh_token&refresh_token=rt-9&client_secret=shh",
                "grant_type=refresh_token&refresh_token=[redacted]&client_secret=[redacted]",
            ),
            (
                "hook https://api.example/hooks/salesforce/123?s=abcdef&x=1",
                "hook https://api.example/hooks/salesforce/123?s=[redacted]&x=1",
            ),
            (
                "connecting to amqp://guest:guest@127.0.0.1:5672/%2f",
                "connecting to amqp://guest:[redacted]@127.0.0.1:5672/%2f",
            ),
            (
                "key fc_AbCdEfGhIjKlMnOpQrStUvWx used",
                "key fc_[redacted] used",
            ),
            ("secret whsec_0123456789abcdef", "secret whsec_[redacted]"),
            (
                "sync completed read=20 created=20 mapping_id=01a2",
                "sync completed read=20 created=20 mapping_id=01a2",
            ),
        ];
        for (input, want) in cases {
            assert_eq!(redact(input), want, "{input}");
        }
    }

    #[test]
    fn a_line_without_credentials_is_not_copied() {
        assert!(matches!(
            redact("worker started concurrency=8"),
            Cow::Borrowed(_)
        ));
    }
}
