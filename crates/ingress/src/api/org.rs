//! `/v1/org`: the caller's organization (any role reads it; an Owner renames it).

use axum::extract::State;
use axum::Json;
use chrono::{DateTime, Utc};
use fluxcascade_core::limits::{check_text, MAX_NAME_CHARS};
use fluxcascade_store::members::OrgRow;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::auth::{Caller, OrgOwner};
use crate::error::{ApiError, ErrorBody};
use crate::json::ApiJson;
use crate::AppState;

/// An organization.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrgView {
    pub id: Uuid,
    pub name: String,
    pub created_at: DateTime<Utc>,
}

impl From<OrgRow> for OrgView {
    fn from(r: OrgRow) -> OrgView {
        OrgView {
            id: r.id,
            name: r.name,
            created_at: r.created_at,
        }
    }
}

/// `PATCH /v1/org` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrgPatch {
    pub name: String,
}

/// The caller's organization.
#[utoipa::path(get, path = "/v1/org", tag = "organization",
    responses((status = 200, body = OrgView), (status = 401, body = ErrorBody)),
    extensions(("x-min-role" = json!("member"))))]
pub async fn get_org(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<OrgView>, ApiError> {
    let org = state
        .store
        .get_org(caller.org_id())
        .await?
        .ok_or_else(ApiError::not_found)?;
    Ok(Json(org.into()))
}

/// Renames the caller's organization (Owner).
#[utoipa::path(patch, path = "/v1/org", tag = "organization",
    request_body = OrgPatch,
    responses(
        (status = 200, body = OrgView),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 422, body = ErrorBody),
    ),
    extensions(("x-min-role" = json!("owner"))))]
pub async fn patch_org(
    State(state): State<AppState>,
    OrgOwner(caller): OrgOwner,
    ApiJson(body): ApiJson<OrgPatch>,
) -> Result<Json<OrgView>, ApiError> {
    let name = body.name.trim();
    if name.is_empty() {
        return Err(ApiError::invalid_field("name", "must not be empty"));
    }
    check_text(name, MAX_NAME_CHARS).map_err(|e| ApiError::invalid_field("name", e.to_string()))?;
    let org = state.store.rename_org(&caller.0, name).await?;
    tracing::info!(org_id = %caller.org_id(), "organization renamed");
    Ok(Json(org.into()))
}
