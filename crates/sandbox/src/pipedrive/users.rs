//! `GET /api/v1/users/me`: the token's user and its company (what a client asks to learn the
//! company a token belongs to).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::AccountExt;

/// `GET /api/v1/users/me` → `{success, data: {id, name, email, company_id, company_name,
/// company_domain, is_you, ...}}`, Pipedrive's v1 shape.
pub async fn me(axum::Extension(account): AccountExt) -> Response {
    let company = account.company_id;
    (
        StatusCode::OK,
        axum::Json(json!({
            "success": true,
            "data": {
                "id": company * 10 + 1,
                "name": format!("Sandbox User {company}"),
                "email": format!("user{company}@sandbox.invalid"),
                "lang": 1,
                "locale": "en_US",
                "timezone_name": "UTC",
                "timezone_offset": "+00:00",
                "default_currency": "USD",
                "active_flag": true,
                "is_admin": 1,
                "role_id": 1,
                "is_you": true,
                "company_id": company,
                "company_name": format!("Sandbox Company {company}"),
                "company_domain": format!("sandbox{company}"),
                "company_country": "US",
            }
        })),
    )
        .into_response()
}
