//! The members section of the Members page: each member with their role and since when; an
//! Owner changes a role (`PATCH /v1/members/{id}`) and removes a member with their keys
//! (`DELETE /v1/members/{id}`). The API keeps the last Owner (409, shown above the list).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use fluxcascade_store::orgs::Role;
use maud::{html, Markup};
use serde::Deserialize;
use serde_json::Value;

use super::{render, role_label, Outcome};
use crate::api::members::{self as api, MemberPatch, MemberView, RoleName};
use crate::api::PathId;
use crate::auth::OrgOwner;
use crate::console::forms::{api_error_page, list_params};
use crate::console::layout::{csrf_field, error_page};
use crate::console::user::ConsoleUser;
use crate::error::ApiError;
use crate::json::ApiJson;
use crate::AppState;

/// The roles, most rights first.
pub const ROLES: [Role; 3] = [Role::Owner, Role::Admin, Role::Member];

/// An action on a member the API refused (e.g. the last Owner).
#[derive(Debug, Default)]
pub struct RosterState {
    pub error: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct RoleForm {
    csrf: Option<String>,
    role: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct CsrfForm {
    csrf: Option<String>,
}

/// The section's markup, or the error page when the list cannot be read.
pub async fn section(
    state: &AppState,
    user: &ConsoleUser,
    roster: &RosterState,
) -> Result<Markup, Response> {
    let members = api::list(State(state.clone()), user.caller(), list_params())
        .await
        .map_err(|e| api_error_page(&e))?
        .0
        .data;
    let is_owner = user.role() == Role::Owner;
    Ok(html! {
        section.admin-section #members aria-labelledby="members-title" {
            h2 #members-title { "Members" }
            @if let Some(error) = &roster.error {
                p.error role="alert" { (error) }
            }
            table.list.members {
                thead { tr { th { "Email" } th { "Role" } th { "Since" } @if is_owner { th { span.sr { "Actions" } } } } }
                tbody {
                    @for m in &members {
                        (member_row(user, m, is_owner))
                    }
                }
            }
            @if !is_owner {
                p.meta { "Only an owner changes roles and removes members." }
            }
        }
    })
}

fn member_row(user: &ConsoleUser, m: &MemberView, is_owner: bool) -> Markup {
    let me = m.id == user.session.principal.member_id;
    html! {
        tr data-member=(m.id) {
            td data-label="Email" { (m.email) @if me { " " span.meta { "(you)" } } }
            td data-label="Role" { span.badge.role-badge { (role_label(m.role)) } }
            td data-label="Since" { (m.created_at.format("%Y-%m-%d")) }
            @if is_owner {
                td data-label="" {
                    div.row-actions {
                        form.inline method="post" action=(format!("/members/{}/role", m.id)) {
                            (csrf_field(user))
                            label.sr for=(format!("role-{}", m.id)) { "Role of " (m.email) }
                            select id=(format!("role-{}", m.id)) name="role" {
                                @for role in ROLES {
                                    option value=(role.as_str()) selected[RoleName::from(role) == m.role] { (role.as_str()) }
                                }
                            }
                            button type="submit" { "Change role" }
                        }
                        @if !me {
                            form.inline method="post" action=(format!("/members/{}/remove", m.id)) {
                                (csrf_field(user))
                                button.danger type="submit" { "Remove" }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn no_such_member() -> Response {
    error_page(StatusCode::NOT_FOUND, "No such member.")
}

/// A refused action: the page again with the API's message above the list.
async fn refused(state: &AppState, user: &ConsoleUser, e: ApiError) -> Response {
    if e.status == StatusCode::NOT_FOUND {
        return no_such_member();
    }
    if e.status.is_server_error() {
        return api_error_page(&e);
    }
    let outcome = Outcome {
        roster: RosterState {
            error: Some(e.message.clone()),
        },
        ..Outcome::default()
    };
    render(state, user, e.status, outcome).await
}

/// `POST /members/{id}/role` (Owner; CSRF): `role`.
pub async fn change_role(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path(id): Path<String>,
    Form(form): Form<RoleForm>,
) -> Response {
    if let Some(resp) = user.refuse_manage_post(form.csrf.as_deref()) {
        return resp;
    }
    let caller = user.caller();
    if let Err(e) = caller.require_owner() {
        return error_page(e.status, &e.message);
    }
    let Ok(id) = uuid::Uuid::parse_str(&id) else {
        return no_such_member();
    };
    let body = MemberPatch {
        role: form.role.map_or(Value::Null, Value::String),
    };
    match api::patch(
        State(state.clone()),
        OrgOwner(caller),
        PathId(id),
        ApiJson(body),
    )
    .await
    {
        Ok(_) => Redirect::to("/members?done=role_changed").into_response(),
        Err(e) => refused(&state, &user, e).await,
    }
}

/// `POST /members/{id}/remove` (Owner; CSRF).
pub async fn remove(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path(id): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Response {
    if let Some(resp) = user.refuse_manage_post(form.csrf.as_deref()) {
        return resp;
    }
    let Ok(id) = uuid::Uuid::parse_str(&id) else {
        return no_such_member();
    };
    match api::delete(State(state.clone()), user.caller(), PathId(id)).await {
        Ok(_) => Redirect::to("/members?done=member_removed").into_response(),
        Err(e) => refused(&state, &user, e).await,
    }
}
