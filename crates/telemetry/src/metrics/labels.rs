//! The bounded label values of the metric families: status classes and job outcomes.
//!
//! Every label value comes from a closed set defined here or from a fixed name in code (a
//! provider's or job kind's name, a route template): never an id, a URL or user input.

/// Maps an HTTP status code to the `status` label of the provider families: `2xx`, `429`,
/// `4xx`, `5xx`; any other code (1xx, 3xx, or out of range) is `other`. Requests that got no
/// response are labelled [`NO_RESPONSE`].
pub fn status_class(status: u16) -> &'static str {
    match status {
        429 => "429",
        200..=299 => "2xx",
        400..=499 => "4xx",
        500..=599 => "5xx",
        _ => "other",
    }
}

/// The `status` label of a provider request that got no HTTP response (connect error, timeout).
pub const NO_RESPONSE: &str = "error";

/// Maps an HTTP status code to the `status` label of `fluxcascade_http_request_duration_seconds`:
/// `1xx` .. `5xx`, anything else `other`.
pub fn http_status_class(status: u16) -> &'static str {
    match status {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        500..=599 => "5xx",
        _ => "other",
    }
}

/// The `method` label of the HTTP server histogram: the standard methods by name, anything
/// else `other` (a client may send any token as a method).
pub fn http_method(method: &str) -> &'static str {
    const KNOWN: [&str; 9] = [
        "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE",
    ];
    KNOWN.into_iter().find(|m| *m == method).unwrap_or("other")
}

/// How the queue settled a job: the `outcome` label of the job families.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobOutcome {
    /// The handler succeeded; the job was acked.
    Ok,
    /// The handler failed; the job went to a retry tier.
    Retry,
    /// The job waits (rate limit, cap) and went back to a retry tier without counting as a failure.
    Deferred,
    /// The job failed for good (or was not a job) and went to the dead-letter queue.
    Dead,
}

impl JobOutcome {
    pub const ALL: [JobOutcome; 4] = [
        JobOutcome::Ok,
        JobOutcome::Retry,
        JobOutcome::Deferred,
        JobOutcome::Dead,
    ];

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            JobOutcome::Ok => "ok",
            JobOutcome::Retry => "retry",
            JobOutcome::Deferred => "deferred",
            JobOutcome::Dead => "dead",
        }
    }
}

/// What the reaper did with a run whose lease expired: the `action` label of
/// `fluxcascade_runs_reaped_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReapAction {
    /// A new coordinator epoch was published.
    Resumed,
    /// The run made no progress for the retry window and was failed.
    Failed,
}

impl ReapAction {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            ReapAction::Resumed => "resumed",
            ReapAction::Failed => "failed",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_codes_map_to_classes() {
        assert_eq!(status_class(200), "2xx");
        assert_eq!(status_class(204), "2xx");
        assert_eq!(status_class(404), "4xx");
        assert_eq!(status_class(429), "429");
        assert_eq!(status_class(503), "5xx");
        assert_eq!(status_class(302), "other");
        assert_eq!(status_class(0), "other");
        assert_eq!(http_status_class(101), "1xx");
        assert_eq!(http_status_class(201), "2xx");
        assert_eq!(http_status_class(303), "3xx");
        assert_eq!(http_status_class(429), "4xx");
        assert_eq!(http_status_class(599), "5xx");
        assert_eq!(http_status_class(600), "other");
    }

    #[test]
    fn unknown_methods_collapse_to_other() {
        assert_eq!(http_method("GET"), "GET");
        assert_eq!(http_method("DELETE"), "DELETE");
        assert_eq!(http_method("get"), "other");
        assert_eq!(http_method("BREW"), "other");
    }
}
