//! Failure reasons bounded in size: what goes into an AMQP header, a job envelope or a log line.
//!
//! A provider may answer with an error of any size; RabbitMQ closes the connection when a
//! message's headers do not fit in one frame (`frame_too_large`), and the job would then be
//! redelivered forever. Every reason the consumer republishes or logs is a [`Reason`].

use std::borrow::Cow;
use std::fmt;

/// The most bytes a reason takes in an AMQP header, an envelope or a log line (1 KiB).
pub const MAX_REASON_BYTES: usize = 1024;

/// `text` if it has at most `max` bytes; otherwise its start, cut on a char boundary, followed by
/// `… (truncated, N bytes)` (N: the original length), all within `max` bytes.
pub fn truncate_text(text: &str, max: usize) -> Cow<'_, str> {
    if text.len() <= max {
        return Cow::Borrowed(text);
    }
    let marker = format!("… (truncated, {} bytes)", text.len());
    if marker.len() > max {
        return Cow::Owned(text[..char_floor(text, max)].to_owned());
    }
    let keep = char_floor(text, max - marker.len());
    let mut out = String::with_capacity(keep + marker.len());
    out.push_str(&text[..keep]);
    out.push_str(&marker);
    Cow::Owned(out)
}

/// The largest char boundary of `text` at or below `index`.
fn char_floor(text: &str, index: usize) -> usize {
    let mut i = index.min(text.len());
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// A failure reason of at most [`MAX_REASON_BYTES`] bytes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Reason(String);

impl Reason {
    /// `text`, truncated to [`MAX_REASON_BYTES`] if longer.
    pub fn new(text: &str) -> Reason {
        Reason(truncate_text(text, MAX_REASON_BYTES).into_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl From<String> for Reason {
    fn from(text: String) -> Reason {
        if text.len() <= MAX_REASON_BYTES {
            Reason(text)
        } else {
            Reason::new(&text)
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_text_is_kept_as_is() {
        assert!(matches!(truncate_text("boom", 10), Cow::Borrowed("boom")));
        assert_eq!(Reason::new("").as_str(), "");
        let exact = "x".repeat(MAX_REASON_BYTES);
        assert_eq!(Reason::new(&exact).as_str(), exact);
    }

    #[test]
    fn long_text_is_cut_with_a_marker_naming_the_original_size() {
        let body = "e".repeat(200 * 1024);
        let reason = Reason::from(body.clone());
        assert_eq!(reason.as_str().len(), MAX_REASON_BYTES);
        assert!(reason.as_str().starts_with("eeee"));
        assert!(
            reason.as_str().ends_with("… (truncated, 204800 bytes)"),
            "{}",
            &reason.as_str()[1000..]
        );
    }

    #[test]
    fn cuts_fall_on_char_boundaries() {
        // 3-byte chars: no cut may split one, whatever the limit.
        let text = "€".repeat(2000);
        for max in 30..60 {
            let cut = truncate_text(&text, max);
            assert!(cut.len() <= max, "{max}: {}", cut.len());
            assert!(cut.ends_with(&format!("(truncated, {} bytes)", text.len())));
            assert!(cut.starts_with('€'));
        }
    }

    #[test]
    fn a_limit_smaller_than_the_marker_still_bounds_the_text() {
        let cut = truncate_text("ééééééééé", 5);
        assert_eq!(cut, "éé");
    }
}
