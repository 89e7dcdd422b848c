//! The console's pages, one file each.

pub mod connections;
pub mod home;
pub mod login;
pub mod mappings;
pub mod syncs;
