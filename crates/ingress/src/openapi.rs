//! `GET /openapi.json`: the OpenAPI 3.1 description of the API, generated from the handlers'
//! `#[utoipa::path]` attributes and their types as the router is built (`utoipa-axum`), so a
//! route that is served is a route that is described.
//!
//! Architecture invariant: every `/v1` route is registered with `OpenApiRouter::routes(routes!(…))`,
//! never with a bare `.route(…)`; the isolation sweep (`tests/tests/isolation_sweep.rs`) calls
//! every operation of this document, so an undocumented route would escape it.

use std::sync::Arc;

use axum::Json;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::OpenApi as OpenApiDoc;
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

/// The handler of `GET /openapi.json` over the document the router was built with.
pub fn serve(doc: OpenApiDoc) -> axum::routing::MethodRouter<crate::AppState> {
    let doc = Arc::new(doc);
    axum::routing::get(move || {
        let doc = doc.clone();
        async move { Json(doc.as_ref().clone()) }
    })
}
