//! `/v1/members`: the organization's members (any role lists them; an Owner changes roles and
//! removes members; a member may remove itself). The last Owner stays: 409 `last_owner`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use fluxcascade_store::members::{MemberError, MemberRow};
use fluxcascade_store::orgs::Role;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::api::PathId;
use crate::auth::{Caller, OrgOwner};
use crate::error::{ApiError, ErrorBody};
use crate::json::ApiJson;
use crate::paging::{Page, Params};
use crate::AppState;

/// `limit` and `cursor` of a paged list (documentation of what [`Params`] parses).
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct PageQuery {
    /// 1 to 100, default 50.
    limit: Option<i64>,
    /// The `nextCursor` of the previous page.
    cursor: Option<String>,
}

/// A role's wire name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum RoleName {
    Owner,
    Admin,
    Member,
}

impl From<Role> for RoleName {
    fn from(r: Role) -> RoleName {
        match r {
            Role::Owner => RoleName::Owner,
            Role::Admin => RoleName::Admin,
            Role::Member => RoleName::Member,
        }
    }
}

/// A role named in a request body (`owner`, `admin`, `member`), or 422 naming `role`.
pub fn parse_role(value: &serde_json::Value) -> Result<Role, ApiError> {
    value
        .as_str()
        .and_then(Role::parse)
        .ok_or_else(|| ApiError::invalid_field("role", "must be one of owner, admin, member"))
}

/// A member of the organization.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MemberView {
    pub id: Uuid,
    pub email: String,
    pub role: RoleName,
    pub created_at: DateTime<Utc>,
}

impl From<MemberRow> for MemberView {
    fn from(r: MemberRow) -> MemberView {
        MemberView {
            id: r.id,
            email: r.email,
            role: r.role.into(),
            created_at: r.created_at,
        }
    }
}

/// A page of members.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MemberPage {
    pub data: Vec<MemberView>,
    pub next_cursor: Option<String>,
}

/// `PATCH /v1/members/{id}` body: `{"role": "admin"}`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct MemberPatch {
    #[schema(value_type = RoleName)]
    pub role: serde_json::Value,
}

impl From<MemberError> for ApiError {
    fn from(e: MemberError) -> ApiError {
        match e {
            MemberError::NotFound => ApiError::not_found(),
            MemberError::LastOwner => {
                ApiError::new(StatusCode::CONFLICT, "last_owner", e.to_string())
            }
            MemberError::Forbidden => owner_only(),
            MemberError::Store(e) => e.into(),
        }
    }
}

/// 403 for what only an Owner may do.
pub fn owner_only() -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "forbidden",
        "only an owner of the organization may do this",
    )
}

/// The organization's members, oldest first.
#[utoipa::path(get, path = "/v1/members", tag = "members", params(PageQuery),
    responses(
        (status = 200, body = MemberPage),
        (status = 401, body = ErrorBody), (status = 422, body = ErrorBody),
    ),
    extensions(("x-min-role" = json!("member"))))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    params: Params,
) -> Result<Json<Page<MemberView>>, ApiError> {
    let limit = params.limit()?;
    let rows = state
        .store
        .list_members(caller.org_id(), limit + 1, params.uuid_cursor()?)
        .await?;
    Ok(Json(Page::from_rows(
        rows,
        limit,
        |r| r.id,
        MemberView::from,
    )))
}

/// Changes a member's role (Owner). Demoting the last Owner is 409 `last_owner`.
#[utoipa::path(patch, path = "/v1/members/{id}", tag = "members",
    params(("id" = Uuid, Path, description = "The member's id")),
    request_body = MemberPatch,
    responses(
        (status = 200, body = MemberView),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody),
    ),
    extensions(("x-min-role" = json!("owner"))))]
pub async fn patch(
    State(state): State<AppState>,
    OrgOwner(caller): OrgOwner,
    PathId(id): PathId,
    ApiJson(body): ApiJson<MemberPatch>,
) -> Result<Json<MemberView>, ApiError> {
    let role = parse_role(&body.role)?;
    let member = state.store.set_member_role(&caller.0, id, role).await?;
    tracing::info!(org_id = %caller.org_id(), member_id = %id, role = role.as_str(), "member role changed");
    Ok(Json(member.into()))
}

/// Removes a member and its API keys (Owner, or the member itself). Removing the last Owner is
/// 409 `last_owner`.
#[utoipa::path(delete, path = "/v1/members/{id}", tag = "members",
    params(("id" = Uuid, Path, description = "The member's id")),
    responses(
        (status = 204),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
    ),
    extensions(("x-min-role" = json!("owner"))))]
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
) -> Result<StatusCode, ApiError> {
    if id != caller.member_id() {
        caller.require_owner()?;
    }
    state.store.remove_member(&caller.0, id).await?;
    tracing::info!(org_id = %caller.org_id(), member_id = %id, "member removed");
    Ok(StatusCode::NO_CONTENT)
}
