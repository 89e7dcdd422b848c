//! Control plane for OAuth grants: `POST /_sandbox/oauth/{provider}/revoke` revokes an account's
//! tokens, as a user disconnecting the app in the provider's settings would.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::control::AccountQuery;
use crate::state::{Provider, SharedState};

/// Revokes every refresh and access token of `?account=` (default account when absent).
pub async fn revoke(
    State(state): State<SharedState>,
    Path(provider): Path<String>,
    Query(q): Query<AccountQuery>,
) -> Response {
    let Some(p) = Provider::parse(&provider) else {
        return (
            StatusCode::NOT_FOUND,
            Json(json!({"error": format!("unknown provider {provider}")})),
        )
            .into_response();
    };
    let revoked = state.tokens.revoke_account(p, q.account());
    Json(json!({"provider": p.as_str(), "account": q.account(), "revokedRefreshTokens": revoked}))
        .into_response()
}
