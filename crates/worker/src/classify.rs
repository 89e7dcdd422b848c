//! Maps provider and store failures onto the queue's failure classes — provider-transient,
//! rate-limited (deferred), infrastructure, permanent — and bounds the failure texts a run stores
//! (a provider may answer with an error of any size). Record-level failures never get here: they
//! are recorded on the run and the job succeeds.

use fluxcascade_providers::ProviderError;
use fluxcascade_queue::{truncate_text, JobError};
use fluxcascade_store::StoreError;

use crate::adapters::AdapterError;

pub fn provider(e: &ProviderError) -> JobError {
    match e {
        // Wait out the provider's window off the worker, consuming no attempt.
        ProviderError::RateLimited { retry_after } => JobError::Deferred {
            message: e.to_string(),
            wait: *retry_after,
        },
        ProviderError::Transient(_) => JobError::Transient {
            message: e.to_string(),
            retry_after: None,
        },
        ProviderError::Auth(_) | ProviderError::Permanent(_) => JobError::Permanent {
            message: e.to_string(),
        },
    }
}

pub fn store(e: &StoreError) -> JobError {
    if let StoreError::UnknownKey(_) = e {
        // This process lacks the master key the credentials are sealed under: retrying here
        // cannot help. The message names the key id (never key material).
        return JobError::Permanent {
            message: e.to_string(),
        };
    }
    if e.is_transient() {
        // The database is unreachable or its pool exhausted: retried for as long as it takes.
        JobError::Infrastructure {
            message: e.to_string(),
        }
    } else {
        // Constraint violations and the like: retry a few times, they may be races.
        JobError::Transient {
            message: e.to_string(),
            retry_after: None,
        }
    }
}

/// A publish the broker did not confirm: infrastructure.
pub fn publish(what: &str, e: &fluxcascade_queue::QueueError) -> JobError {
    JobError::Infrastructure {
        message: format!("{what}: {e}"),
    }
}

pub fn adapter(e: &AdapterError) -> JobError {
    match e {
        AdapterError::Store(s) => store(s),
        AdapterError::Provider(p) => provider(p),
        AdapterError::Gone(_) => JobError::Permanent {
            message: e.to_string(),
        },
    }
}

/// The most bytes of a failure text stored on a run or a record error (4 KiB).
pub const MAX_STORED_ERROR_BYTES: usize = 4 * 1024;

/// `text` bounded to [`MAX_STORED_ERROR_BYTES`] (cut on a char boundary, with a marker).
pub fn bounded(text: &str) -> String {
    truncate_text(text, MAX_STORED_ERROR_BYTES).into_owned()
}

/// A user-facing reason for a run or batch that cannot proceed, at most
/// [`MAX_STORED_ERROR_BYTES`] long.
pub fn reason(e: &JobError) -> String {
    match e {
        JobError::Transient { message, .. } | JobError::Infrastructure { message } => {
            bounded(&format!("gave up after retries: {message}"))
        }
        JobError::Deferred { message, .. } | JobError::Permanent { message } => bounded(message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_reasons_are_bounded() {
        let page = "<html>".repeat(40_000);
        for e in [
            JobError::transient(page.clone()),
            JobError::permanent(page.clone()),
        ] {
            let r = reason(&e);
            assert!(r.len() <= MAX_STORED_ERROR_BYTES, "{}", r.len());
            assert!(r.ends_with("bytes)"), "{}", &r[r.len() - 40..]);
        }
        assert_eq!(
            reason(&JobError::transient("503")),
            "gave up after retries: 503"
        );
        assert_eq!(reason(&JobError::permanent("gone")), "gone");
    }
}
