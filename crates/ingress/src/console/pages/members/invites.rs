//! The invites section of the Members page (Admin, Owner; the API lists invites to them only):
//! invite an email with a role (only an Owner may invite an Owner, as `POST /v1/invites` rules)
//! and see the invite's token this once; the pending invites with Revoke.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use fluxcascade_store::orgs::Role;
use maud::{html, Markup};
use serde::Deserialize;
use serde_json::Value;

use super::roster::ROLES;
use super::{render, role_label, Outcome};
use crate::api::invites::{self as api, InviteCreated, InviteRequest};
use crate::api::PathId;
use crate::auth::Manager;
use crate::console::forms::{api_error_page, list_params, FormErrors};
use crate::console::layout::{csrf_field, error_page};
use crate::console::user::ConsoleUser;
use crate::json::ApiJson;
use crate::AppState;

/// The invite form as posted (kept when refused) and the invite just created.
#[derive(Debug, Default)]
pub struct InviteFormState {
    pub email: String,
    pub role: Option<String>,
    pub errors: FormErrors,
    pub created: Option<InviteCreated>,
}

#[derive(Debug, Deserialize)]
pub struct InviteForm {
    csrf: Option<String>,
    email: Option<String>,
    role: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct CsrfForm {
    csrf: Option<String>,
}

/// The section's markup (nothing but a line for a Member, who may not list invites).
pub async fn section(
    state: &AppState,
    user: &ConsoleUser,
    form: &InviteFormState,
) -> Result<Markup, Response> {
    if !user.may_manage() {
        return Ok(html! {
            section.admin-section #invites aria-labelledby="invites-title" {
                h2 #invites-title { "Invites" }
                p.meta { "Admins and owners invite people and see the pending invites." }
            }
        });
    }
    let pending = api::list(State(state.clone()), user.caller(), list_params())
        .await
        .map_err(|e| api_error_page(&e))?
        .0
        .data;
    let may_invite_owner = user.role() == Role::Owner;
    let chosen = form.role.as_deref().unwrap_or("member");
    Ok(html! {
        section.admin-section #invites aria-labelledby="invites-title" {
            h2 #invites-title { "Invites" }
            @if let Some(created) = &form.created {
                div.notice.secret-once role="status" {
                    p { "Invite for " strong { (created.invite.email) } " (" (role_label(created.invite.role)) ") created. Give them this token, shown only this once; it works until " (created.invite.expires_at.format("%Y-%m-%d %H:%M UTC")) ":" }
                    p { code #invite-token.secret { (created.token) } }
                    p.meta { "They accept with " code { "POST /v1/invites/accept" } " and " code { "{\"token\": \"…\"}" } ", which gives them their first API key to log in with." }
                }
            }
            form.panel.invite-create method="post" action="/members/invites" {
                (csrf_field(user))
                (form.errors.show_general())
                div.form-row {
                    div.field {
                        label for="invite-email" { "Email" }
                        input #invite-email type="text" name="email" value=(form.email) inputmode="email" autocomplete="off"
                            aria-invalid=[(!form.errors.at("email").is_empty()).then_some("true")]
                            aria-describedby="invite-email-error";
                        (form.errors.show("email", "invite-email-error"))
                    }
                    div.field {
                        label for="invite-role" { "Role" }
                        select #invite-role name="role" {
                            @for role in ROLES {
                                @if role != Role::Owner || may_invite_owner {
                                    option value=(role.as_str()) selected[role.as_str() == chosen] { (role.as_str()) }
                                }
                            }
                        }
                        (form.errors.show("role", "invite-role-error"))
                    }
                    div.field.submit { button.primary type="submit" { "Invite" } }
                }
            }
            @if pending.is_empty() {
                div.empty {
                    p { strong { "No pending invites." } }
                    p { "Invite someone by email above: they get a token to accept, which makes them a member with the role you chose." }
                }
            } @else {
                table.list.invites {
                    thead { tr { th { "Email" } th { "Role" } th { "Invited" } th { "Expires" } th { span.sr { "Actions" } } } }
                    tbody {
                        @for i in &pending {
                            tr data-invite=(i.id) {
                                td data-label="Email" { (i.email) }
                                td data-label="Role" { (role_label(i.role)) }
                                td data-label="Invited" { (i.created_at.format("%Y-%m-%d")) }
                                td data-label="Expires" { (i.expires_at.format("%Y-%m-%d %H:%M UTC")) }
                                td data-label="" {
                                    form.inline method="post" action=(format!("/members/invites/{}/revoke", i.id)) {
                                        (csrf_field(user))
                                        button.danger type="submit" { "Revoke" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    })
}

/// `POST /members/invites` (Admin, Owner; CSRF): `email`, `role`.
pub async fn create(
    State(state): State<AppState>,
    user: ConsoleUser,
    Form(form): Form<InviteForm>,
) -> Response {
    if let Some(resp) = user.refuse_manage_post(form.csrf.as_deref()) {
        return resp;
    }
    let email = form.email.unwrap_or_default();
    let body = InviteRequest {
        email: email.clone(),
        role: form.role.clone().map_or(Value::Null, Value::String),
    };
    let mut state_of_form = InviteFormState {
        email,
        role: form.role,
        ..InviteFormState::default()
    };
    let status = match api::create(State(state.clone()), Manager(user.caller()), ApiJson(body))
        .await
    {
        Ok((status, axum::Json(created))) => {
            state_of_form = InviteFormState {
                created: Some(created),
                ..InviteFormState::default()
            };
            status
        }
        Err(e) if e.status.is_server_error() => return api_error_page(&e),
        Err(e) => {
            tracing::info!(org_id = %user.session.principal.org_id, code = e.code, "console invite refused");
            state_of_form.errors = FormErrors::from_api(&e);
            e.status
        }
    };
    let outcome = Outcome {
        invite: state_of_form,
        ..Outcome::default()
    };
    render(&state, &user, status, outcome).await
}

/// `POST /members/invites/{id}/revoke` (Admin, Owner; CSRF).
pub async fn revoke(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path(id): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Response {
    if let Some(resp) = user.refuse_manage_post(form.csrf.as_deref()) {
        return resp;
    }
    let not_found = || error_page(StatusCode::NOT_FOUND, "No such pending invite.");
    let Ok(id) = uuid::Uuid::parse_str(&id) else {
        return not_found();
    };
    match api::revoke(State(state), user.caller(), PathId(id)).await {
        Ok(_) => Redirect::to("/members?done=invite_revoked").into_response(),
        Err(e) if e.status == StatusCode::NOT_FOUND => not_found(),
        Err(e) => api_error_page(&e),
    }
}
