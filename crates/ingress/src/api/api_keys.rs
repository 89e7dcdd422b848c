//! `/v1/api-keys`: an Owner sees and manages every key of the org; anyone else only its own.
//! Secrets are shown once, at creation; a revoked key is refused at its next request.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use fluxcascade_core::limits::{check_text, MAX_NAME_CHARS};
use fluxcascade_store::api_keys::ApiKeyRow;
use fluxcascade_store::orgs::Role;
use fluxcascade_store::StoreError;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::api::members::{PageQuery, RoleName};
use crate::api::PathId;
use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::json::ApiJson;
use crate::paging::{Page, Params};
use crate::AppState;

/// A key as lists show it: never its secret.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiKeyView {
    pub id: Uuid,
    pub name: String,
    pub member_id: Uuid,
    pub member_email: String,
    /// The member's role now: the key's rights.
    pub role: RoleName,
    /// The key's first characters (`fc_` + 8), to recognise it.
    pub prefix: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
}

impl From<ApiKeyRow> for ApiKeyView {
    fn from(r: ApiKeyRow) -> ApiKeyView {
        ApiKeyView {
            id: r.id,
            name: r.name,
            member_id: r.member_id,
            member_email: r.member_email,
            role: r.role.into(),
            prefix: r.prefix,
            created_at: r.created_at,
            last_used_at: r.last_used_at,
        }
    }
}

/// A key just created, with its secret (shown this once, stored only as a hash).
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiKeyCreated {
    pub id: Uuid,
    pub name: String,
    pub member_id: Uuid,
    pub member_email: String,
    pub role: RoleName,
    pub prefix: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    /// `fc_…`: use it as `Authorization: Bearer <secret>`.
    pub secret: String,
}

/// A page of keys.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiKeyPage {
    pub data: Vec<ApiKeyView>,
    pub next_cursor: Option<String>,
}

/// `POST /v1/api-keys` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiKeyRequest {
    pub name: String,
    /// The member the key acts for (default: the caller's). Only an Owner may name another.
    pub member_id: Option<Uuid>,
}

/// Whose keys the caller may see and revoke: every key (Owner) or only its own.
fn own_only(caller: &Caller) -> Option<Uuid> {
    (caller.0.role != Role::Owner).then_some(caller.member_id())
}

/// The keys of the org (Owner) or the caller's own (others); revoked keys are not listed.
#[utoipa::path(get, path = "/v1/api-keys", tag = "api-keys", params(PageQuery),
    responses(
        (status = 200, body = ApiKeyPage),
        (status = 401, body = ErrorBody), (status = 422, body = ErrorBody),
    ),
    extensions(("x-min-role" = json!("member"))))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    params: Params,
) -> Result<Json<Page<ApiKeyView>>, ApiError> {
    let limit = params.limit()?;
    let rows = state
        .store
        .list_api_keys(
            caller.org_id(),
            own_only(&caller),
            limit + 1,
            params.uuid_cursor()?,
        )
        .await?;
    Ok(Json(Page::from_rows(
        rows,
        limit,
        |r| r.id,
        ApiKeyView::from,
    )))
}

/// Creates a key for the caller, or (Owner) for any member; the secret is shown once.
#[utoipa::path(post, path = "/v1/api-keys", tag = "api-keys",
    request_body = ApiKeyRequest,
    responses(
        (status = 201, body = ApiKeyCreated),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 422, body = ErrorBody),
    ),
    extensions(("x-min-role" = json!("member"))))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<ApiKeyRequest>,
) -> Result<(StatusCode, Json<ApiKeyCreated>), ApiError> {
    let name = body.name.trim();
    if name.is_empty() {
        return Err(ApiError::invalid_field("name", "must not be empty"));
    }
    check_text(name, MAX_NAME_CHARS).map_err(|e| ApiError::invalid_field("name", e.to_string()))?;
    let member_id = body.member_id.unwrap_or(caller.member_id());
    if member_id != caller.member_id() && caller.0.role != Role::Owner {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "only an owner may create keys for another member",
        ));
    }
    let (row, secret) = state
        .store
        .create_member_api_key(&caller.0, member_id, name)
        .await
        .map_err(|e| match e {
            StoreError::NotFound => ApiError::invalid_field("memberId", "no such member"),
            e => e.into(),
        })?;
    tracing::info!(org_id = %caller.org_id(), key_id = %row.id, member_id = %member_id, "API key created");
    let view = ApiKeyView::from(row);
    Ok((
        StatusCode::CREATED,
        Json(ApiKeyCreated {
            id: view.id,
            name: view.name,
            member_id: view.member_id,
            member_email: view.member_email,
            role: view.role,
            prefix: view.prefix,
            created_at: view.created_at,
            last_used_at: view.last_used_at,
            secret,
        }),
    ))
}

/// Revokes a key (Owner: any of the org; others: their own). It is refused from its next request.
#[utoipa::path(delete, path = "/v1/api-keys/{id}", tag = "api-keys",
    params(("id" = Uuid, Path, description = "The key's id")),
    responses(
        (status = 204),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
    ),
    extensions(("x-min-role" = json!("member"))))]
pub async fn revoke(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
) -> Result<StatusCode, ApiError> {
    if state
        .store
        .revoke_api_key(&caller.0, id, own_only(&caller))
        .await?
    {
        tracing::info!(org_id = %caller.org_id(), key_id = %id, "API key revoked");
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found())
    }
}
