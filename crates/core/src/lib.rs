//! FluxCascade's domain: records, mappings, transforms and sync decisions, as plain functions with no I/O.

pub mod domain;
pub mod record;

pub use domain::*;
pub use record::{Cursor, Record};
