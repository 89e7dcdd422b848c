//! The editor's pages: `GET /mappings/new`, `GET /mappings/{id}/edit`, and their saves (Admin,
//! Owner; CSRF). A save goes through the API's own handlers (`POST /v1/mappings`, and for an edit
//! `PATCH /v1/mappings/{id}` with every field), so it is validated, audited and logged exactly as
//! an API call; a 422 re-shows the form as typed with each message at its field.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use fluxcascade_store::connections::ConnectionRow;
use fluxcascade_store::mappings::MappingRow;

use super::editor::{editor, objects_of, Editor, Mode};
use super::errors::FieldErrors;
use super::form::{full_patch, EditorForm};
use crate::api::PathId;
use crate::auth::Manager;
use crate::console::layout::{error_page, page, Nav};
use crate::console::user::ConsoleUser;
use crate::error::ApiError;
use crate::json::ApiJson;
use crate::AppState;

/// The org's connections and mappings, which the editor's selects offer.
async fn choices(
    state: &AppState,
    user: &ConsoleUser,
) -> Result<(Vec<ConnectionRow>, Vec<MappingRow>), ApiError> {
    let org = user.session.principal.org_id;
    Ok(tokio::try_join!(
        state.store.list_connections(org, super::PAGE_LIMIT, None),
        state.store.list_mappings(org, super::PAGE_LIMIT, None),
    )?)
}

/// A blank form, its endpoints preset to the first two connections and their first objects.
fn blank_form(connections: &[ConnectionRow]) -> EditorForm {
    let mut form = EditorForm::default();
    let pick = |i: usize| connections.get(i).or(connections.first());
    if let Some(c) = pick(0) {
        form.source_connection = c.id.to_string();
    }
    if let Some(c) = pick(1) {
        form.target_connection = c.id.to_string();
    }
    let first = |id: &str| objects_of(connections, id).first().copied().unwrap_or("");
    form.source_object = first(&form.source_connection).to_owned();
    form.target_object = first(&form.target_connection).to_owned();
    form
}

fn render(
    user: &ConsoleUser,
    mode: Mode,
    (connections, mappings): &(Vec<ConnectionRow>, Vec<MappingRow>),
    form: &EditorForm,
    failure: Option<&ApiError>,
) -> Response {
    let errors = failure.map_or_else(FieldErrors::default, |e| {
        FieldErrors::from_details(&e.details)
    });
    let others: Vec<MappingRow> = mappings
        .iter()
        .filter(|m| Mode::Edit(m.id) != mode)
        .cloned()
        .collect();
    let mut resp = page(
        user,
        Nav::Mappings,
        editor(&Editor {
            user,
            mode,
            connections,
            mappings: &others,
            form,
            errors: &errors,
            failure: failure.map(|e| e.message.as_str()),
        }),
    );
    if let Some(e) = failure {
        *resp.status_mut() = e.status;
    }
    resp
}

/// The 403 page for a Member opening or saving the editor (Admins and Owners pass: `None`).
fn refused(user: &ConsoleUser) -> Option<Response> {
    user.caller().require_manage().err().map(|_| {
        error_page(
            StatusCode::FORBIDDEN,
            "Only admins and owners may create or change mappings; members can read them.",
        )
    })
}

/// `GET /mappings/new`.
pub async fn new_page(State(state): State<AppState>, user: ConsoleUser) -> Response {
    if let Some(r) = refused(&user) {
        return r;
    }
    match choices(&state, &user).await {
        Ok(ch) => render(&user, Mode::New, &ch, &blank_form(&ch.0), None),
        Err(e) => error_page(e.status, &e.message),
    }
}

/// `GET /mappings/{id}/edit`.
pub async fn edit_page(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path(id): Path<String>,
) -> Response {
    if let Some(r) = refused(&user) {
        return r;
    }
    let Ok(id) = uuid::Uuid::parse_str(&id) else {
        return error_page(StatusCode::NOT_FOUND, "No such mapping.");
    };
    let org = user.session.principal.org_id;
    let loaded = async {
        let row = state.store.get_mapping(org, id).await?;
        Ok::<_, ApiError>((row, choices(&state, &user).await?))
    };
    match loaded.await {
        Ok((Some(row), ch)) => render(
            &user,
            Mode::Edit(id),
            &ch,
            &EditorForm::from_spec(&row.spec),
            None,
        ),
        Ok((None, _)) => error_page(StatusCode::NOT_FOUND, "No such mapping."),
        Err(e) => error_page(e.status, &e.message),
    }
}

/// `POST /mappings/new`.
pub async fn save_new(
    State(state): State<AppState>,
    user: ConsoleUser,
    Form(raw): Form<Vec<(String, String)>>,
) -> Response {
    save(state, user, Mode::New, raw).await
}

/// `POST /mappings/{id}/edit`.
pub async fn save_edit(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path(id): Path<String>,
    Form(raw): Form<Vec<(String, String)>>,
) -> Response {
    let Ok(id) = uuid::Uuid::parse_str(&id) else {
        return error_page(StatusCode::NOT_FOUND, "No such mapping.");
    };
    save(state, user, Mode::Edit(id), raw).await
}

async fn save(
    state: AppState,
    user: ConsoleUser,
    mode: Mode,
    raw: Vec<(String, String)>,
) -> Response {
    let form = EditorForm::parse(&raw);
    if let Err(e) = crate::console::csrf::check_field(&user.session, form.csrf.as_deref()) {
        return e.into_response();
    }
    if let Some(r) = refused(&user) {
        return r;
    }
    let caller = user.caller();
    let (spec, issues) = form.to_spec();
    let saved = if !issues.is_empty() {
        Err(ApiError::invalid(issues))
    } else {
        match mode {
            Mode::New => {
                crate::api::mappings::create(State(state.clone()), Manager(caller), ApiJson(spec))
                    .await
                    .map(|_| "created")
            }
            Mode::Edit(id) => crate::api::mappings::patch(
                State(state.clone()),
                Manager(caller),
                PathId(id),
                ApiJson(full_patch(&spec)),
            )
            .await
            .map(|_| "updated"),
        }
    };
    match saved {
        Ok(done) => Redirect::to(&format!("/mappings?done={done}")).into_response(),
        Err(e) if e.status == StatusCode::NOT_FOUND => {
            error_page(StatusCode::NOT_FOUND, "No such mapping.")
        }
        Err(e) => {
            tracing::info!(org_id = %user.session.principal.org_id, code = e.code, status = %e.status,
                "mapping not saved from the console");
            match choices(&state, &user).await {
                Ok(ch) => render(&user, mode, &ch, &form, Some(&e)),
                Err(load) => error_page(load.status, &load.message),
            }
        }
    }
}
