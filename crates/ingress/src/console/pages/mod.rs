//! The console's pages, one module each; each exposes its `routes()`.

pub mod connections;
pub mod dead_letters;
pub mod home;
pub mod login;
pub mod mappings;
pub mod members;
pub mod syncs;
pub mod usage;
pub mod webhooks;
