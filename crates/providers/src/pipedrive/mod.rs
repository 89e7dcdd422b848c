//! Pipedrive: persons, organizations and deals over API v2 (cursor paging, `updated_since`).

mod archive;
pub mod auth;
mod client;
mod find;
mod hooks;
pub mod records;
#[cfg(test)]
mod tests;

pub use auth::PipedriveAuth;
pub use client::{PipedriveClient, MAX_BATCH, WRITE_CONCURRENCY};
pub use records::PipedriveObject;
