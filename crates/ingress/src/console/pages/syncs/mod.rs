//! The Syncs page: recent runs with their mapping, trigger, status and counts, each linking to
//! its run page ([`run`]), and "Run now" (Admin, Owner; CSRF): a mapping and a mode, started
//! through the same logic as `POST /v1/syncs`, then on to the new run's page.

pub mod run;
pub mod view;

use std::collections::HashMap;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use fluxcascade_core::{SyncMode, SyncStatus};
use fluxcascade_store::mappings::MappingRow;
use fluxcascade_store::syncs::{SyncFilter, SyncRow};
use maud::{html, Markup};
use serde::Deserialize;
use uuid::Uuid;

use crate::console::layout::{csrf_field, error_page, page, Nav};
use crate::console::user::ConsoleUser;
use crate::error::ApiError;
use crate::AppState;

const PAGE_LIMIT: i64 = 100;
/// How many mappings the Run now form offers.
const MAPPING_LIMIT: i64 = 500;

/// The page's routes (the run pages' too).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/syncs", get(show).post(run_now))
        .route("/syncs/{id}", get(run::show))
        .route("/syncs/{id}/live", get(run::live))
        .route("/syncs/{id}/again", post(run::again))
}

/// The Run now form as posted.
#[derive(Debug, Deserialize)]
pub struct RunNowForm {
    csrf: Option<String>,
    mapping_id: Option<String>,
    mode: Option<String>,
}

/// A run mode from a form field (`incremental` or `full`; none: incremental).
pub fn parse_mode(raw: Option<&str>) -> Result<SyncMode, ApiError> {
    match raw.unwrap_or("incremental") {
        "incremental" => Ok(SyncMode::Incremental),
        "full" => Ok(SyncMode::Full),
        _ => Err(ApiError::invalid_field(
            "mode",
            "must be incremental or full",
        )),
    }
}

/// The mode's form value.
pub fn mode_str(mode: SyncMode) -> &'static str {
    match mode {
        SyncMode::Incremental => "incremental",
        SyncMode::Full => "full",
    }
}

/// What the form shows after a refused Run now: the message, at the field it names.
#[derive(Debug, Default)]
struct FormError {
    field: Option<String>,
    message: String,
}

impl From<&ApiError> for FormError {
    fn from(e: &ApiError) -> FormError {
        match e.details.first() {
            Some(d) => FormError {
                field: Some(d.field.clone()),
                message: d.message.clone(),
            },
            None => FormError {
                field: None,
                message: e.message.clone(),
            },
        }
    }
}

/// `GET /syncs`.
pub async fn show(State(state): State<AppState>, user: ConsoleUser) -> Response {
    render(&state, &user, StatusCode::OK, None, None).await
}

async fn render(
    state: &AppState,
    user: &ConsoleUser,
    status: StatusCode,
    error: Option<FormError>,
    picked: Option<(&str, &str)>,
) -> Response {
    let org = user.session.principal.org_id;
    let loaded = async {
        let syncs = state
            .store
            .list_syncs(org, &SyncFilter::default(), PAGE_LIMIT, None)
            .await?;
        let mappings = state.store.list_mappings(org, MAPPING_LIMIT, None).await?;
        Ok::<_, ApiError>((syncs, mappings))
    };
    let (syncs, mappings) = match loaded.await {
        Ok(v) => v,
        Err(e) => return error_page(e.status, &e.message),
    };
    let names: HashMap<Uuid, &str> = mappings
        .iter()
        .map(|m| (m.id, m.spec.name.as_str()))
        .collect();
    let mut resp = page(
        user,
        Nav::Syncs,
        html! {
            @if user.may_manage() {
                (run_now_form(user, &mappings, error.as_ref(), picked))
            }
            @if syncs.is_empty() {
                div.empty {
                    p { strong { "No syncs have run yet." } }
                    @if mappings.is_empty() {
                        p { "Create a mapping on the " a href="/mappings" { "Mappings" } " page first; then start a run here." }
                    } @else if user.may_manage() {
                        p { "Pick a mapping above and press Run now, or wait for its schedule or a webhook to start one." }
                    } @else {
                        p { "Runs appear here when a mapping's schedule fires, a webhook arrives, or an admin starts one." }
                    }
                }
            } @else {
                (sync_table(&syncs, &names))
            }
        },
    );
    *resp.status_mut() = status;
    resp
}

fn run_now_form(
    user: &ConsoleUser,
    mappings: &[MappingRow],
    error: Option<&FormError>,
    picked: Option<(&str, &str)>,
) -> Markup {
    let field_error = |name: &str| {
        error
            .filter(|e| e.field.as_deref() == Some(name))
            .map(|e| e.message.as_str())
    };
    let general = error.filter(|e| !matches!(e.field.as_deref(), Some("mappingId" | "mode")));
    let (picked_mapping, picked_mode) = picked.unwrap_or(("", "incremental"));
    html! {
        @if mappings.is_empty() {
            p.hint { "To run a sync, first create a mapping on the " a href="/mappings" { "Mappings" } " page." }
        } @else {
            form.run-now method="post" action="/syncs" {
                (csrf_field(user))
                div.field {
                    label for="mapping_id" { "Mapping" }
                    select #mapping_id name="mapping_id" {
                        @for m in mappings {
                            option value=(m.id) selected[picked_mapping == m.id.to_string()] {
                                (m.spec.name)
                                @if !m.spec.enabled { " (disabled)" }
                            }
                        }
                    }
                    @if let Some(msg) = field_error("mappingId") { p.error.field-error { (msg) } }
                }
                div.field {
                    label for="mode" { "Mode" }
                    select #mode name="mode" {
                        option value="incremental" selected[picked_mode == "incremental"] { "Incremental (changes since the last run)" }
                        option value="full" selected[picked_mode == "full"] { "Full (every record)" }
                    }
                    @if let Some(msg) = field_error("mode") { p.error.field-error { (msg) } }
                }
                button.primary type="submit" { "Run now" }
            }
            @if let Some(e) = general {
                p.error.run-now-error role="alert" { (e.message) }
            }
        }
    }
}

fn sync_table(syncs: &[SyncRow], names: &HashMap<Uuid, &str>) -> Markup {
    html! {
        table.list.syncs {
            thead { tr {
                th { "Started" } th { "Mapping" } th { "Trigger" } th { "Mode" } th { "Status" }
                @for (_, label) in view::COUNTS { th.num { (label) } }
                th { "Finished" }
            } }
            tbody {
                @for s in syncs {
                    @let status = SyncStatus::parse(&s.status);
                    tr data-sync=(s.id) {
                        td data-label="Started" {
                            a href=(format!("/syncs/{}", s.id)) {
                                (s.started_at.unwrap_or(s.created_at).format("%Y-%m-%d %H:%M:%S"))
                            }
                        }
                        td data-label="Mapping" { (names.get(&s.mapping_id).copied().unwrap_or("(deleted mapping)")) }
                        td data-label="Trigger" { (s.trigger) }
                        td data-label="Mode" { (s.mode) }
                        td data-label="Status" {
                            span class=(view::status_class(status)) { (s.status) }
                            @if let Some(e) = &s.error { p.error { (e) } }
                        }
                        @for (key, label) in view::COUNTS {
                            td.num data-label=(label) data-count=(key) { (view::thousands(view::count(&s.counts, key))) }
                        }
                        td data-label="Finished" {
                            @if let Some(f) = s.finished_at { (f.format("%Y-%m-%d %H:%M:%S")) } @else { "—" }
                        }
                    }
                }
            }
        }
    }
}

/// `POST /syncs` (Admin, Owner; CSRF): Run now, then 303 to the run's page. A refusal is shown
/// on the form, at the field it names.
pub async fn run_now(
    State(state): State<AppState>,
    user: ConsoleUser,
    Form(form): Form<RunNowForm>,
) -> Response {
    if let Some(refused) = user.refuse_manage_post(form.csrf.as_deref()) {
        return refused;
    }
    let caller = user.caller();
    let picked = (
        form.mapping_id.as_deref().unwrap_or_default(),
        form.mode.as_deref().unwrap_or("incremental"),
    );
    let started = async {
        let mode = parse_mode(form.mode.as_deref())?;
        let mapping_id = form
            .mapping_id
            .as_deref()
            .and_then(|v| Uuid::parse_str(v).ok())
            .ok_or_else(|| ApiError::invalid_field("mappingId", "pick a mapping"))?;
        crate::api::syncs::trigger_run(&state, &caller, mapping_id, mode).await
    };
    match started.await {
        Ok(run) => {
            tracing::info!(org_id = %caller.org_id(), sync_id = %run.id, "sync started from the console");
            Redirect::to(&format!("/syncs/{}", run.id)).into_response()
        }
        Err(e) if e.status.is_server_error() => error_page(e.status, &e.message),
        Err(e) => {
            render(
                &state,
                &user,
                e.status,
                Some(FormError::from(&e)),
                Some(picked),
            )
            .await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_parse_and_a_bad_one_names_the_field() {
        assert_eq!(parse_mode(None).unwrap(), SyncMode::Incremental);
        assert_eq!(parse_mode(Some("full")).unwrap(), SyncMode::Full);
        let e = parse_mode(Some("sideways")).unwrap_err();
        assert_eq!(
            (e.status.as_u16(), e.details[0].field.as_str()),
            (422, "mode")
        );
        assert_eq!(mode_str(SyncMode::Full), "full");
    }
}
