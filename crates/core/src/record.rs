//! The provider-neutral record every crate outside `providers` sees, and the incremental cursor.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One record of a provider object, with the provider's native field names
/// (`firstname` for HubSpot, `firstName` for Jobber, ...).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub id: String,
    #[serde(rename = "updatedAt")]
    pub updated_at: DateTime<Utc>,
    pub fields: serde_json::Value,
    /// A tombstone: the record was deleted (or archived) at `updated_at`; `fields` may be empty.
    /// Read from provider delete hooks and from incremental reads that expose deletions.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deleted: bool,
}

impl Record {
    /// A tombstone: `id` was deleted (or archived) at `at`, with no fields.
    pub fn tombstone(id: String, at: DateTime<Utc>) -> Record {
        Record {
            id,
            updated_at: at,
            fields: serde_json::Value::Object(serde_json::Map::new()),
            deleted: true,
        }
    }
}

/// Compound incremental cursor: provider timestamps are not unique, so the id
/// breaks ties. Reads resume strictly after `(updated_at, id)` minus a small
/// look-back window applied by the adapter.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Cursor {
    #[serde(rename = "updatedAt")]
    pub updated_at: DateTime<Utc>,
    pub id: String,
}

impl Cursor {
    /// The later of two optional cursors.
    pub fn max(a: Option<Cursor>, b: Option<Cursor>) -> Option<Cursor> {
        match (a, b) {
            (Some(a), Some(b)) => Some(if a >= b { a } else { b }),
            (a, None) => a,
            (None, b) => b,
        }
    }

    /// The cursor a record stands at.
    pub fn of(record: &Record) -> Cursor {
        Cursor {
            updated_at: record.updated_at,
            id: record.id.clone(),
        }
    }
}
