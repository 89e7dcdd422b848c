//! The `Provider` trait every adapter implements, its error classification, and adapter construction.

pub mod error;
pub mod token;
pub mod types;

pub use error::ProviderError;
pub use token::{StaticToken, TokenSet, TokenSource};
pub use types::*;
