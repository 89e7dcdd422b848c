//! Maps provider and store failures onto the queue's retry classes (transient, permanent).

use std::time::Duration;

use fluxcascade_providers::ProviderError;
use fluxcascade_queue::JobError;
use fluxcascade_store::StoreError;

use crate::adapters::AdapterError;

pub fn provider(e: &ProviderError) -> JobError {
    match e {
        ProviderError::RateLimited { retry_after } => JobError::Transient {
            message: e.to_string(),
            retry_after: Some(*retry_after),
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
    if e.is_transient() {
        JobError::Transient {
            message: e.to_string(),
            retry_after: Some(Duration::from_secs(1)),
        }
    } else {
        // Constraint violations and the like: retry a few times, they may be races.
        JobError::Transient {
            message: e.to_string(),
            retry_after: None,
        }
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

/// A user-facing reason for a run or batch that cannot proceed.
pub fn reason(e: &JobError) -> String {
    match e {
        JobError::Transient { message, .. } => format!("gave up after retries: {message}"),
        JobError::Permanent { message } => message.clone(),
    }
}
