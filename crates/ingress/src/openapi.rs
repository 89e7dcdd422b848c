//! `GET /openapi.json`: the OpenAPI 3.1 description of the API, generated from the handlers'
//! `#[utoipa::path]` attributes and their types as the router is built (`utoipa-axum`), so a
//! route that is served is a route that is described.
//!
//! Architecture invariant: every route (the `/v1` API, `/hooks/…`, `/healthz`, `/readyz`) is
//! registered with `OpenApiRouter::routes(routes!(…))`, never with a bare `.route(…)` (only
//! `/openapi.json` itself); the isolation sweep (`tests/tests/isolation_sweep.rs`) calls every
//! operation of this document, so an undocumented route would escape it
//! (`tests/api/openapi.rs` scans the sources for `.route(`).
//!
//! Each operation that needs a key declares the least role its handler enforces as the extension
//! `x-min-role` (`member`, `admin`, `owner`), next to the code that enforces it (`auth::Manager`
//! for `admin`); public operations declare `security(())` and no role.

use std::sync::Arc;

use axum::http::StatusCode;
use axum::Json;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{OpenApi as OpenApiDoc, RefOr};
use utoipa::{Modify, OpenApi};

/// The document's fixed parts: info, the bearer security scheme, shared schemas.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "FluxCascade API",
        description = "Keeps CRM records in sync between HubSpot, Jobber, Pipedrive and Salesforce.",
    ),
    modifiers(&BearerAuth),
    security(("apiKey" = [])),
    components(schemas(crate::error::ErrorBody, crate::error::ErrorDetail)),
)]
pub struct ApiDoc;

/// `Authorization: Bearer <api key>` as the `apiKey` security scheme.
struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut OpenApiDoc) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "apiKey",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("An organization's API key (`fc_…`)."))
                    .build(),
            ),
        );
    }
}

/// Completes the document the router was built with:
/// - an operation id used by several handlers (`list`, `get_one`, ...) is prefixed with the
///   operation's tag (`connections_list`), as OpenAPI wants them unique;
/// - a response documented by status alone (`(status = 401, body = ErrorBody)`) gets its
///   status's reason as its description, which OpenAPI requires of every response.
pub fn finish(doc: &mut OpenApiDoc) {
    let mut seen = std::collections::HashMap::<String, usize>::new();
    for item in doc.paths.paths.values() {
        for op in [&item.get, &item.put, &item.post, &item.delete, &item.patch]
            .into_iter()
            .flatten()
        {
            if let Some(id) = &op.operation_id {
                *seen.entry(id.clone()).or_default() += 1;
            }
        }
    }
    for item in doc.paths.paths.values_mut() {
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ];
        for op in operations.into_iter().flatten() {
            let tag = op.tags.as_ref().and_then(|t| t.first()).cloned();
            if let (Some(id), Some(tag)) = (&op.operation_id, tag) {
                if seen.get(id).is_some_and(|n| *n > 1) {
                    op.operation_id = Some(format!("{}_{id}", tag.replace('-', "_")));
                }
            }
            for (status, response) in op.responses.responses.iter_mut() {
                if let RefOr::T(response) = response {
                    if response.description.is_empty() {
                        response.description = status
                            .parse::<u16>()
                            .ok()
                            .and_then(|s| StatusCode::from_u16(s).ok())
                            .and_then(|s| s.canonical_reason())
                            .unwrap_or("Response")
                            .to_string();
                    }
                }
            }
        }
    }
}

/// The handler of `GET /openapi.json` over the document the router was built with.
pub fn serve(doc: OpenApiDoc) -> axum::routing::MethodRouter<crate::AppState> {
    let doc = Arc::new(doc);
    axum::routing::get(move || {
        let doc = doc.clone();
        async move { Json(doc.as_ref().clone()) }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The document as the router builds it (no state needed).
    fn document() -> OpenApiDoc {
        let (_, mut doc) = crate::api_routes().split_for_parts();
        finish(&mut doc);
        doc
    }

    #[test]
    fn operation_ids_are_unique_and_every_response_is_described() {
        let doc = document();
        let mut ids = std::collections::HashSet::new();
        for (path, item) in &doc.paths.paths {
            for op in [&item.get, &item.put, &item.post, &item.delete, &item.patch]
                .into_iter()
                .flatten()
            {
                let id = op.operation_id.clone().unwrap_or_default();
                assert!(ids.insert(id.clone()), "{path}: operation id {id} repeats");
                for (status, response) in &op.responses.responses {
                    if let RefOr::T(r) = response {
                        assert!(!r.description.is_empty(), "{path} {status}");
                    }
                }
            }
        }
        assert!(ids.contains("connections_list") && ids.contains("hubspot_hook"));
    }
}
