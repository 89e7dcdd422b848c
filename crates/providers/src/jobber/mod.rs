//! Jobber GraphQL adapter: client (the `Provider`), OAuth, documents and wire-format mapping.

mod archive;
pub mod auth;
mod client;
mod find;
pub mod jobs;
pub mod properties;
pub mod queries;
pub mod records;
#[cfg(test)]
mod tests;

pub use auth::JobberAuth;
pub use client::{
    graphql_errors, throttle_wait, JobberClient, GRAPHQL_VERSION, LOOK_BACK, MAX_BATCH,
};
