//! The API keys section of the Members page: the keys the API lists to this caller (an Owner every
//! key of the org, anyone else their own) with name, member, role and last use; creating one for
//! oneself (the secret shown this once) and revoking one (refused from its next request). The key
//! this console session was made from is marked and has no Revoke button (log out instead).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use maud::{html, Markup};
use serde::Deserialize;

use super::{render, role_label, Outcome};
use crate::api::api_keys::{self as api, ApiKeyCreated, ApiKeyRequest, ApiKeyView};
use crate::api::PathId;
use crate::console::forms::{api_error_page, list_params, FormErrors};
use crate::console::layout::{csrf_field, error_page};
use crate::console::user::ConsoleUser;
use crate::json::ApiJson;
use crate::AppState;

/// The key form as posted (kept when refused) and the key just created.
#[derive(Debug, Default)]
pub struct KeyFormState {
    pub name: String,
    pub errors: FormErrors,
    pub created: Option<ApiKeyCreated>,
}

#[derive(Debug, Deserialize)]
pub struct KeyForm {
    csrf: Option<String>,
    name: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct CsrfForm {
    csrf: Option<String>,
}

/// The section's markup, or the error page when the list cannot be read.
pub async fn section(
    state: &AppState,
    user: &ConsoleUser,
    form: &KeyFormState,
) -> Result<Markup, Response> {
    let keys = api::list(State(state.clone()), user.caller(), list_params())
        .await
        .map_err(|e| api_error_page(&e))?
        .0
        .data;
    Ok(html! {
        section.admin-section #api-keys aria-labelledby="keys-title" {
            h2 #keys-title { "API keys" }
            @if let Some(created) = &form.created {
                div.notice.secret-once role="status" {
                    p { "Key " strong { (created.name) } " created. Its secret, shown only this once (use it as " code { "Authorization: Bearer …" } " or to log in here):" }
                    p { code #api-key-secret.secret { (created.secret) } }
                }
            }
            @if user.may_manage() {
                form.panel.key-create method="post" action="/members/api-keys" {
                    (csrf_field(user))
                    (form.errors.show_general())
                    div.form-row {
                        div.field {
                            label for="key-name" { "Key name" }
                            input #key-name type="text" name="name" value=(form.name) placeholder="e.g. ci, reporting" autocomplete="off"
                                aria-invalid=[(!form.errors.at("name").is_empty()).then_some("true")]
                                aria-describedby="key-name-error";
                            (form.errors.show("name", "key-name-error"))
                        }
                        div.field.submit { button.primary type="submit" { "Create key" } }
                    }
                    p.hint { "The key acts for you, with your role." }
                }
            }
            @if keys.is_empty() {
                div.empty {
                    p { strong { "No API keys." } }
                    @if user.may_manage() {
                        p { "Create one above to call the API or log in to this console." }
                    } @else {
                        p { "Ask an admin or owner of your organization for a key." }
                    }
                }
            } @else {
                table.list.api-keys {
                    thead { tr { th { "Name" } th { "Member" } th { "Role" } th { "Key" } th { "Created" } th { "Last used" } @if user.may_manage() { th { span.sr { "Actions" } } } } }
                    tbody {
                        @for k in &keys { (key_row(user, k)) }
                    }
                }
            }
        }
    })
}

fn key_row(user: &ConsoleUser, k: &ApiKeyView) -> Markup {
    let this_session = k.id == user.session.principal.key_id;
    html! {
        tr data-key=(k.id) {
            td data-label="Name" { (k.name) @if this_session { " " span.meta { "(this session)" } } }
            td data-label="Member" { (k.member_email) }
            td data-label="Role" { (role_label(k.role)) }
            td data-label="Key" { code { (k.prefix) "…" } }
            td data-label="Created" { (k.created_at.format("%Y-%m-%d")) }
            td data-label="Last used" {
                @match k.last_used_at {
                    Some(at) => (at.format("%Y-%m-%d %H:%M UTC")),
                    None => span.meta { "never" },
                }
            }
            @if user.may_manage() {
                td data-label="" {
                    @if !this_session {
                        form.inline method="post" action=(format!("/members/api-keys/{}/revoke", k.id)) {
                            (csrf_field(user))
                            button.danger type="submit" { "Revoke" }
                        }
                    }
                }
            }
        }
    }
}

/// `POST /members/api-keys` (Admin, Owner; CSRF): `name`. The key is the caller's own.
pub async fn create(
    State(state): State<AppState>,
    user: ConsoleUser,
    Form(form): Form<KeyForm>,
) -> Response {
    if let Some(resp) = user.refuse_manage_post(form.csrf.as_deref()) {
        return resp;
    }
    let name = form.name.unwrap_or_default();
    let body = ApiKeyRequest {
        name: name.clone(),
        member_id: None,
    };
    let mut key = KeyFormState {
        name,
        ..KeyFormState::default()
    };
    let status = match api::create(State(state.clone()), user.caller(), ApiJson(body)).await {
        Ok((status, axum::Json(created))) => {
            key = KeyFormState {
                created: Some(created),
                ..KeyFormState::default()
            };
            status
        }
        Err(e) if e.status.is_server_error() => return api_error_page(&e),
        Err(e) => {
            tracing::info!(org_id = %user.session.principal.org_id, code = e.code, "console API key creation refused");
            key.errors = FormErrors::from_api(&e);
            e.status
        }
    };
    let outcome = Outcome {
        key,
        ..Outcome::default()
    };
    render(&state, &user, status, outcome).await
}

/// `POST /members/api-keys/{id}/revoke` (Admin, Owner; CSRF; an Owner any key, others their own).
pub async fn revoke(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path(id): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Response {
    if let Some(resp) = user.refuse_manage_post(form.csrf.as_deref()) {
        return resp;
    }
    let not_found = || error_page(StatusCode::NOT_FOUND, "No such API key.");
    let Ok(id) = uuid::Uuid::parse_str(&id) else {
        return not_found();
    };
    match api::revoke(State(state), user.caller(), PathId(id)).await {
        Ok(_) => Redirect::to("/members?done=key_revoked").into_response(),
        Err(e) if e.status == StatusCode::NOT_FOUND => not_found(),
        Err(e) => api_error_page(&e),
    }
}
