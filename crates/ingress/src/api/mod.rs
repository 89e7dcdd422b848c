//! The API's route handlers, one module per resource, and the shared path-id extractor.

pub mod api_keys;
pub mod audit;
pub mod connection_tokens;
pub mod connections;
pub mod dead_letters;
pub mod health;
pub mod invites;
pub mod mappings;
pub mod members;
pub mod oauth;
pub mod org;
pub mod preview;
pub mod preview_native;
pub mod preview_sample;
pub mod syncs;
pub mod usage;
pub mod webhooks;

use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use uuid::Uuid;

use crate::error::ApiError;

/// The `{id}` of a path; anything that is not a UUID is 404, like an id that does not exist.
#[derive(Debug, Clone, Copy)]
pub struct PathId(pub Uuid);

impl<S: Send + Sync> FromRequestParts<S> for PathId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Path(raw) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::not_found())?;
        Uuid::parse_str(&raw)
            .map(PathId)
            .map_err(|_| ApiError::not_found())
    }
}
