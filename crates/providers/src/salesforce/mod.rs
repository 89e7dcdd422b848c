//! Salesforce: Contact, Account and Opportunity over REST (SOQL reads, sObject Collections writes).
//!
//! Choices callers should know about:
//! - Object names are the API names in any case, or their plurals (`Contact`, `contacts`,
//!   `opportunities`); records carry Salesforce's field names, `fields` is the record minus
//!   `attributes` (so it includes `Id` and `SystemModstamp`).
//! - Reads: `SELECT <defaults + ListQuery.fields> … ORDER BY SystemModstamp, Id`, incremental
//!   ones `WHERE SystemModstamp > X OR (SystemModstamp = X AND Id > 'Y')` (exact compound
//!   cursor, no look-back). Page tokens are the `nextRecordsUrl` path plus the last record's
//!   cursor, used to restart the query when the locator has expired. `batchSize` is the page
//!   size clamped to 200..2000 (rounded down to a multiple of 100).
//! - `REQUEST_LIMIT_EXCEEDED` (403) is `RateLimited` at once (no in-adapter retry): 15 min for
//!   the daily total, 5 s for the concurrency limit, 60 s otherwise.
//! - Writes use sObject Collections (≤200, `allOrNone: false`) and read the written records
//!   back; a collection refused as a whole with a 4xx fails each of its records (`REJECTED`).
//! - `find_by` is SOQL `WHERE Field IN (…)` (200 values a call, split so the query URL stays
//!   under Salesforce's 16,384-byte URI limit); a field Salesforce will not compare with quoted
//!   text (numbers, dates) falls back to scanning the object.

mod archive;
pub mod auth;
mod client;
mod find;
mod read;
pub mod records;
#[cfg(test)]
mod tests;

pub use auth::SalesforceAuth;
pub use client::SalesforceClient;
