//! Pipedrive: persons, organizations and deals over API v2 (cursor paging, `updated_since`).

pub mod auth;

pub use auth::PipedriveAuth;
