//! HubSpot CRM v3 adapter: client (the `Provider`), OAuth, wire-format mapping and batch writes.

pub mod archive;
pub mod assoc;
pub mod auth;
pub(crate) mod batch;
mod client;
mod find;
pub mod records;
#[cfg(test)]
mod tests;

pub use auth::HubspotAuth;
pub use client::{HubspotClient, LOOK_BACK};
pub use records::{HubspotObject, SearchToken};
