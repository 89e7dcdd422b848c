//! A run's page `/syncs/{id}`: its mapping, trigger and times, the live part (status, progress
//! bar, counts, rate-limit wait, record errors; polled every second until the run is over, see
//! [`super::view::live`]) and "Run again" (Admin, Owner; CSRF) with the same mapping and mode.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use chrono::Utc;
use fluxcascade_core::RecordError;
use fluxcascade_store::syncs::SyncRow;
use maud::html;
use serde::Deserialize;
use uuid::Uuid;

use super::view;
use crate::api::syncs::INLINE_ERRORS;
use crate::console::layout::{csrf_field, error_page, html_response, page, Nav};
use crate::console::user::ConsoleUser;
use crate::error::ApiError;
use crate::AppState;

#[derive(Debug, Deserialize)]
pub struct AgainForm {
    csrf: Option<String>,
}

/// The org's run `id` with its first record errors (as `GET /v1/syncs/{id}` has them).
async fn load(
    state: &AppState,
    user: &ConsoleUser,
    id: &str,
) -> Result<(SyncRow, Vec<RecordError>), ApiError> {
    let org = user.session.principal.org_id;
    let id = Uuid::parse_str(id).map_err(|_| ApiError::not_found())?;
    let run = state
        .store
        .get_sync(org, id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let errors = if run.counts.failed > 0 {
        state
            .store
            .list_sync_errors(org, run.id, INLINE_ERRORS, None)
            .await?
            .into_iter()
            .map(|(_, e)| e)
            .collect()
    } else {
        Vec::new()
    };
    Ok((run, errors))
}

fn not_found_or(e: &ApiError) -> Response {
    if e.status == StatusCode::NOT_FOUND {
        error_page(StatusCode::NOT_FOUND, "No such sync run.")
    } else {
        error_page(e.status, &e.message)
    }
}

/// `GET /syncs/{id}`.
pub async fn show(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path(id): Path<String>,
) -> Response {
    render(&state, &user, &id, StatusCode::OK, None).await
}

async fn render(
    state: &AppState,
    user: &ConsoleUser,
    id: &str,
    status: StatusCode,
    error: Option<&str>,
) -> Response {
    let (run, errors) = match load(state, user, id).await {
        Ok(v) => v,
        Err(e) => return not_found_or(&e),
    };
    let mapping = match state.store.get_mapping(run.org_id, run.mapping_id).await {
        Ok(m) => m,
        Err(e) => {
            let e = ApiError::from(e);
            return error_page(e.status, &e.message);
        }
    };
    let mapping_name = mapping
        .as_ref()
        .map_or("(deleted mapping)", |m| m.spec.name.as_str());
    let mut resp = page(
        user,
        Nav::Syncs,
        html! {
            p.back { a href="/syncs" { "← All syncs" } }
            div.run-head {
                h2 { "Run of " span.mapping-name { (mapping_name) } }
                @if user.may_manage() && mapping.is_some() {
                    form.run-again method="post" action=(format!("/syncs/{}/again", run.id)) {
                        (csrf_field(user))
                        button.primary type="submit" { "Run again" }
                    }
                }
            }
            @if let Some(msg) = error {
                p.error role="alert" { (msg) }
            }
            @if let Some(m) = &mapping {
                p.meta {
                    (m.spec.source.object) " → " (m.spec.target.object)
                    " · " (run.trigger) " · " (run.mode)
                    " · created " (run.created_at.format("%Y-%m-%d %H:%M:%S UTC"))
                    @if let Some(s) = run.started_at { " · started " (s.format("%H:%M:%S")) }
                    @if let Some(f) = run.finished_at { " · finished " (f.format("%H:%M:%S")) }
                }
            }
            (view::live(&run, &errors, Utc::now()))
        },
    );
    *resp.status_mut() = status;
    resp
}

/// `GET /syncs/{id}/live`: the live part alone, for htmx to swap in.
pub async fn live(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path(id): Path<String>,
) -> Response {
    match load(&state, &user, &id).await {
        Ok((run, errors)) => html_response(StatusCode::OK, view::live(&run, &errors, Utc::now())),
        Err(e) => not_found_or(&e),
    }
}

/// `POST /syncs/{id}/again` (Admin, Owner; CSRF): a new run of the same mapping and mode, then
/// 303 to its page; a refusal is shown on this run's page.
pub async fn again(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path(id): Path<String>,
    Form(form): Form<AgainForm>,
) -> Response {
    if let Some(refused) = user.refuse_manage_post(form.csrf.as_deref()) {
        return refused;
    }
    let caller = user.caller();
    let (run, _) = match load(&state, &user, &id).await {
        Ok(v) => v,
        Err(e) => return not_found_or(&e),
    };
    let mode = match super::parse_mode(Some(&run.mode)) {
        Ok(m) => m,
        Err(e) => return error_page(e.status, &e.message),
    };
    match crate::api::syncs::trigger_run(&state, &caller, run.mapping_id, mode).await {
        Ok(new) => {
            tracing::info!(org_id = %caller.org_id(), sync_id = %new.id, previous = %run.id, "sync run again from the console");
            Redirect::to(&format!("/syncs/{}", new.id)).into_response()
        }
        Err(e) if e.status.is_server_error() => error_page(e.status, &e.message),
        Err(e) => {
            let msg = e
                .details
                .first()
                .map_or(e.message.clone(), |d| d.message.clone());
            render(&state, &user, &id, e.status, Some(&msg)).await
        }
    }
}
