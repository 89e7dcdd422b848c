//! `PUT /v1/connections/{id}/tokens`: reconnecting a connection (a revoked grant, an expired
//! refresh token) with new tokens for the same provider account; the id, its mappings, links and
//! webhooks stay.

use axum::extract::State;
use axum::Json;
use chrono::{DateTime, Utc};
use fluxcascade_core::{limits, ProviderKind};
use fluxcascade_providers::egress;
use fluxcascade_store::connections_reconnect::ReconnectTokens;
use serde::Deserialize;

use crate::api::connections::{learn_account_named, same_account, ConnectionView, MAX_TOKEN_CHARS};
use crate::api::PathId;
use crate::auth::Manager;
use crate::error::{ApiError, ErrorBody, ErrorDetail};
use crate::json::ApiJson;
use crate::AppState;

/// `PUT /v1/connections/{id}/tokens` body: the token fields of a `POST /v1/connections` import.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReconnectBody {
    pub access_token: String,
    #[serde(default)]
    pub refresh_token: Option<String>,
    #[serde(default)]
    pub expires_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub instance_url: Option<String>,
}

impl std::fmt::Debug for ReconnectBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReconnectBody")
            .field("access_token", &"[redacted]")
            .field(
                "refresh_token",
                &self.refresh_token.as_ref().map(|_| "[redacted]"),
            )
            .field("expires_at", &self.expires_at)
            .field("instance_url", &self.instance_url)
            .finish()
    }
}

/// Every problem with the body, each naming its field (the bounds of an import).
fn validate(
    body: &ReconnectBody,
    kind: ProviderKind,
    mode: egress::ProviderMode,
) -> Result<(), ApiError> {
    let mut details = Vec::new();
    for (field, value) in [
        ("accessToken", Some(body.access_token.as_str())),
        ("refreshToken", body.refresh_token.as_deref()),
    ] {
        if let Some(Err(e)) = value.map(|v| limits::check_text(v, MAX_TOKEN_CHARS)) {
            details.push(ErrorDetail::new(field, e.to_string()));
        }
    }
    if body.access_token.trim().is_empty() {
        details.push(ErrorDetail::new("accessToken", "must not be empty"));
    }
    if let Some(url) = &body.instance_url {
        if let Err(e) = egress::check_instance_url(kind, url, mode) {
            details.push(ErrorDetail::new("instanceUrl", e.to_string()));
        }
    }
    if details.is_empty() {
        Ok(())
    } else {
        Err(ApiError::invalid(details))
    }
}

/// `PUT /v1/connections/{id}/tokens` (admin or owner): the provider is asked which account the new
/// token belongs to; it must be the connection's (`422` naming `accessToken` otherwise). The tokens
/// are sealed again under the current master key (no refresh token given clears the stored one),
/// and the connection is `active` again without a status message. Workers use the new tokens
/// from their next job on.
#[utoipa::path(put, path = "/v1/connections/{id}/tokens", tag = "connections",
    params(("id" = uuid::Uuid, Path, description = "The connection's id")),
    request_body = ReconnectBody,
    responses(
        (status = 200, body = ConnectionView),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 502, body = ErrorBody), (status = 503, body = ErrorBody),
    ),
    extensions(("x-min-role" = json!("admin"))))]
pub async fn reconnect(
    State(state): State<AppState>,
    Manager(caller): Manager,
    PathId(id): PathId,
    ApiJson(body): ApiJson<ReconnectBody>,
) -> Result<Json<ConnectionView>, ApiError> {
    let org_id = caller.org_id();
    let current = state
        .store
        .get_connection(org_id, id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let kind = ProviderKind::parse(&current.provider).ok_or_else(ApiError::internal)?;
    validate(&body, kind, state.providers.mode())?;
    // Identity is asked at the API host the connection will use: the new one, or the stored one.
    let instance_url = match &body.instance_url {
        Some(url) => Some(url.clone()),
        None => state.store.connection_instance_url(org_id, id).await?,
    };
    let account = learn_account_named(
        &state,
        kind,
        &body.access_token,
        instance_url.as_deref(),
        "accessToken",
    )
    .await?;
    if !same_account(kind, &current.external_account_id, &account) {
        tracing::warn!(%org_id, connection_id = %id, provider = %kind, "reconnect token belongs to another account");
        return Err(account_mismatch());
    }
    let tokens = ReconnectTokens {
        access_token: body.access_token,
        refresh_token: body.refresh_token.filter(|t| !t.is_empty()),
        expires_at: body.expires_at,
        instance_url: body.instance_url,
    };
    let row = state
        .store
        .reconnect_connection(
            org_id,
            id,
            &current.external_account_id,
            &state.master_key,
            tokens,
        )
        .await?
        // Deleted meanwhile (the account never changes, so nothing else makes it miss).
        .ok_or_else(ApiError::not_found)?;
    tracing::info!(%org_id, connection_id = %id, provider = %kind, "connection reconnected");
    crate::api::audit::record(&state, &caller, "connection.reconnected", "connection", id).await;
    Ok(Json(row.into()))
}

fn account_mismatch() -> ApiError {
    ApiError::invalid_field(
        "accessToken",
        "belongs to another account than this connection's externalAccountId; a reconnect never \
         moves a connection to another account (create a new connection for it)",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use egress::ProviderMode::*;

    fn fields(json: &str, kind: ProviderKind) -> Vec<String> {
        let b: ReconnectBody = serde_json::from_str(json).unwrap();
        match validate(&b, kind, Production) {
            Ok(()) => Vec::new(),
            Err(e) => e.details.into_iter().map(|d| d.field).collect(),
        }
    }

    #[test]
    fn tokens_are_bounded_like_an_import() {
        let long = "x".repeat(MAX_TOKEN_CHARS + 1);
        assert!(fields(r#"{"accessToken":"t"}"#, ProviderKind::Jobber).is_empty());
        assert_eq!(
            fields(r#"{"accessToken":" "}"#, ProviderKind::Jobber),
            ["accessToken"]
        );
        assert_eq!(
            fields(
                &format!(r#"{{"accessToken":"t","refreshToken":"{long}"}}"#),
                ProviderKind::Jobber
            ),
            ["refreshToken"]
        );
        assert_eq!(
            fields(r#"{"accessToken":"a\u0001b"}"#, ProviderKind::Jobber),
            ["accessToken"]
        );
        assert_eq!(
            fields(
                r#"{"accessToken":"t","instanceUrl":"http://127.0.0.1:5432/"}"#,
                ProviderKind::Salesforce
            ),
            ["instanceUrl"]
        );
    }

    #[test]
    fn tokens_are_redacted_in_debug() {
        let b: ReconnectBody =
            serde_json::from_str(r#"{"accessToken":"tok-1","refreshToken":"ref-2"}"#).unwrap();
        let shown = format!("{b:?}");
        assert!(
            !shown.contains("tok-1") && !shown.contains("ref-2"),
            "{shown}"
        );
    }
}
