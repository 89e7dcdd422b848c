//! The console's static files, embedded in the binary and served with long cache headers (their
//! URLs carry the build's version, so a new release is fetched anew).

use axum::extract::Path;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

/// htmx (Zero-Clause BSD, `assets/htmx.LICENSE`), from the npm package `htmx.org`.
const HTMX: &str = include_str!("../../assets/htmx.min.js");
/// The stylesheet: the frame's, then one file per area of pages (so each area's rules live beside
/// each other), served as one file.
const CSS: &str = concat!(
    include_str!("../../assets/css/base.css"),
    include_str!("../../assets/css/mappings.css"),
    include_str!("../../assets/css/syncs.css"),
    include_str!("../../assets/css/ops.css"),
    include_str!("../../assets/css/admin.css"),
);

/// `?v=` of every asset URL.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The URL of an asset, versioned.
pub fn url(name: &str) -> String {
    format!("/assets/{name}?v={VERSION}")
}

/// `GET /assets/{name}`.
pub async fn serve(Path(name): Path<String>) -> Response {
    let (body, kind) = match name.as_str() {
        "htmx.min.js" => (HTMX, "text/javascript; charset=utf-8"),
        "console.css" => (CSS, "text/css; charset=utf-8"),
        _ => {
            return super::layout::error_page(StatusCode::NOT_FOUND, "No such file.")
                .into_response()
        }
    };
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(kind)),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=31536000, immutable"),
            ),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
        ],
        body,
    )
        .into_response()
}
