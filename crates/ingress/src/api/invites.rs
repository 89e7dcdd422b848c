//! `/v1/invites`: Admins and Owners invite people by email (an Admin only Admins and Members);
//! the invitee accepts with the token alone (no API key) and gets its first key.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use fluxcascade_core::limits::{check_text, MAX_NAME_CHARS};
use fluxcascade_store::invites::{InviteError, InviteRow};
use fluxcascade_store::orgs::Role;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::api::api_keys::ApiKeyCreated;
use crate::api::members::{parse_role, MemberView, PageQuery, RoleName};
use crate::api::PathId;
use crate::auth::{Caller, Manager};
use crate::error::{ApiError, ErrorBody, ErrorDetail};
use crate::json::ApiJson;
use crate::paging::{Page, Params};
use crate::AppState;

/// Longest email accepted (RFC 5321's path limit).
pub const MAX_EMAIL_CHARS: usize = 254;

/// The name of the key an accepted invite creates when `keyName` is not given.
pub const DEFAULT_KEY_NAME: &str = "default";

/// A pending invite (its token is shown only in the creation answer).
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InviteView {
    pub id: Uuid,
    pub email: String,
    pub role: RoleName,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

impl From<InviteRow> for InviteView {
    fn from(r: InviteRow) -> InviteView {
        InviteView {
            id: r.id,
            email: r.email,
            role: r.role.into(),
            created_at: r.created_at,
            expires_at: r.expires_at,
        }
    }
}

/// `201` answer of `POST /v1/invites`: the invite and its single-use token, shown this once.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InviteCreated {
    #[serde(flatten)]
    pub invite: InviteView,
    /// `fci_…`: give it to the invitee; it is stored only as a hash.
    pub token: String,
}

/// A page of pending invites.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InvitePage {
    pub data: Vec<InviteView>,
    pub next_cursor: Option<String>,
}

/// `POST /v1/invites` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct InviteRequest {
    pub email: String,
    #[schema(value_type = RoleName)]
    pub role: serde_json::Value,
}

/// `POST /v1/invites/accept` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AcceptRequest {
    pub token: String,
    /// The first key's name (default `default`).
    pub key_name: Option<String>,
}

/// `201` answer of an accepted invite: the new member and its first key (secret shown once).
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AcceptedView {
    pub member: MemberView,
    pub api_key: ApiKeyCreated,
}

/// A plausible email address: one `@`, a local part, a dotted domain, no spaces or control
/// characters, at most [`MAX_EMAIL_CHARS`].
pub fn check_email(email: &str) -> Result<(), &'static str> {
    if email.chars().count() > MAX_EMAIL_CHARS {
        return Err("must be at most 254 characters");
    }
    if email.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err("must not contain spaces or control characters");
    }
    let Some((local, domain)) = email.split_once('@') else {
        return Err("must be an email address (name@domain)");
    };
    let domain_ok = !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..");
    if local.is_empty() || local.chars().count() > 64 || !domain_ok {
        return Err("must be an email address (name@domain)");
    }
    Ok(())
}

fn invalid_invite() -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "invalid_invite",
        "the invite is unknown, used, expired or revoked",
    )
}

impl From<InviteError> for ApiError {
    fn from(e: InviteError) -> ApiError {
        match e {
            InviteError::Invalid => invalid_invite(),
            InviteError::AlreadyMember => {
                ApiError::new(StatusCode::CONFLICT, "already_member", e.to_string())
            }
            InviteError::Store(e) => e.into(),
        }
    }
}

/// Invites someone (Admin, Owner; only an Owner may invite an Owner).
#[utoipa::path(post, path = "/v1/invites", tag = "invites",
    request_body = InviteRequest,
    responses(
        (status = 201, body = InviteCreated),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody),
    ),
    extensions(("x-min-role" = json!("admin"))))]
pub async fn create(
    State(state): State<AppState>,
    Manager(caller): Manager,
    ApiJson(body): ApiJson<InviteRequest>,
) -> Result<(StatusCode, Json<InviteCreated>), ApiError> {
    let mut details = Vec::new();
    let email = body.email.trim();
    if let Err(message) = check_email(email) {
        details.push(ErrorDetail::new("email", message));
    }
    let role = match parse_role(&body.role) {
        Ok(role) => Some(role),
        Err(e) => {
            details.extend(e.details);
            None
        }
    };
    let Some(role) = role.filter(|_| details.is_empty()) else {
        return Err(ApiError::invalid(details));
    };
    if role == Role::Owner && caller.0.role != Role::Owner {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "only an owner may invite an owner",
        ));
    }
    let created = state.store.create_invite(&caller.0, email, role).await?;
    tracing::info!(org_id = %caller.org_id(), invite_id = %created.invite.id, role = role.as_str(), "invite created");
    Ok((
        StatusCode::CREATED,
        Json(InviteCreated {
            invite: created.invite.into(),
            token: created.token,
        }),
    ))
}

/// The pending invites (Admin, Owner); never their tokens.
#[utoipa::path(get, path = "/v1/invites", tag = "invites", params(PageQuery),
    responses(
        (status = 200, body = InvitePage),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 422, body = ErrorBody),
    ),
    extensions(("x-min-role" = json!("admin"))))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    params: Params,
) -> Result<Json<Page<InviteView>>, ApiError> {
    caller.require_manage()?;
    let limit = params.limit()?;
    let rows = state
        .store
        .list_invites(caller.org_id(), limit + 1, params.uuid_cursor()?)
        .await?;
    Ok(Json(Page::from_rows(
        rows,
        limit,
        |r| r.id,
        InviteView::from,
    )))
}

/// Revokes a pending invite (Admin, Owner).
#[utoipa::path(delete, path = "/v1/invites/{id}", tag = "invites",
    params(("id" = Uuid, Path, description = "The invite's id")),
    responses(
        (status = 204),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
    ),
    extensions(("x-min-role" = json!("admin"))))]
pub async fn revoke(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
) -> Result<StatusCode, ApiError> {
    caller.require_manage()?;
    if state.store.revoke_invite(&caller.0, id).await? {
        tracing::info!(org_id = %caller.org_id(), invite_id = %id, "invite revoked");
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found())
    }
}

/// Accepts an invite with its token (no API key): makes the member and its first key.
#[utoipa::path(post, path = "/v1/invites/accept", tag = "invites",
    request_body = AcceptRequest,
    security(()),
    responses(
        (status = 201, body = AcceptedView),
        (status = 400, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody),
    ))]
pub async fn accept(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<AcceptRequest>,
) -> Result<(StatusCode, Json<AcceptedView>), ApiError> {
    let key_name = body
        .key_name
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .unwrap_or(DEFAULT_KEY_NAME)
        .to_string();
    check_text(&key_name, MAX_NAME_CHARS)
        .map_err(|e| ApiError::invalid_field("keyName", e.to_string()))?;
    // Anything that is not one of our tokens cannot be an invite: the same answer as a used one.
    if !body.token.starts_with("fci_") || body.token.len() > 100 {
        return Err(invalid_invite());
    }
    let accepted = state.store.accept_invite(&body.token, &key_name).await?;
    tracing::info!(org_id = %accepted.org_id, member_id = %accepted.member.id, "invite accepted");
    let member: MemberView = accepted.member.into();
    let api_key = ApiKeyCreated {
        id: accepted.key.id,
        name: accepted.key_name,
        member_id: member.id,
        member_email: member.email.clone(),
        role: member.role,
        prefix: accepted.key.prefix,
        created_at: member.created_at,
        last_used_at: None,
        secret: accepted.key.secret,
    };
    Ok((StatusCode::CREATED, Json(AcceptedView { member, api_key })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_checked_for_shape_and_length() {
        for ok in ["a@b.co", "first.last+tag@example.com"] {
            assert_eq!(check_email(ok), Ok(()), "{ok}");
        }
        let long = format!("{}@example.com", "a".repeat(250));
        for bad in [
            "",
            "no-at",
            "@example.com",
            "a@",
            "a@b",
            "a@@b.co",
            "a b@c.co",
            "a@.co",
            "a@b..co",
            "a\n@b.co",
            long.as_str(),
        ] {
            assert!(check_email(bad).is_err(), "{bad:?}");
        }
    }
}
