//! The Mappings page: the organization's mappings (what they read and write), "New mapping",
//! per row "Edit" and "Delete" for Admins and Owners, and the editor ([`save`], [`editor`]) with
//! its live schedule and preview pane ([`fragments`], [`preview`]). Members see the list only.

pub mod editor;
pub mod errors;
pub mod form;
pub mod fragments;
pub mod preview;
pub mod save;
pub mod schedule;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use maud::html;
use serde::Deserialize;

use crate::api::PathId;
use crate::auth::Manager;
use crate::console::layout::{csrf_field, error_page, page, Nav};
use crate::console::user::ConsoleUser;
use crate::error::ApiError;
use crate::AppState;

/// How many mappings (and connections) the page lists.
pub const PAGE_LIMIT: i64 = 200;

/// What the page says on arrival, after an action (`?done=…`).
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Done {
    Created,
    Updated,
    Deleted,
}

#[derive(Debug, Deserialize)]
pub struct Notice {
    done: Option<Done>,
}

#[derive(Debug, Deserialize)]
pub struct DeleteForm {
    csrf: Option<String>,
}

/// The page's routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/mappings", get(show))
        .route("/mappings/new", get(save::new_page).post(save::save_new))
        .route(
            "/mappings/{id}/edit",
            get(save::edit_page).post(save::save_edit),
        )
        .route("/mappings/{id}/delete", post(delete))
        .route("/mappings/editor/row", get(fragments::row))
        .route("/mappings/editor/nothing", get(fragments::nothing))
        .route("/mappings/editor/objects/{side}", get(fragments::objects))
        .route("/mappings/editor/next-runs", get(fragments::next_runs))
        .route("/mappings/editor/preview/{source}", post(preview::preview))
}

/// `GET /mappings`.
pub async fn show(
    State(state): State<AppState>,
    user: ConsoleUser,
    Query(notice): Query<Notice>,
) -> Response {
    let text = notice.done.map(|d| match d {
        Done::Created => "Mapping created.",
        Done::Updated => "Mapping saved.",
        Done::Deleted => "Mapping deleted.",
    });
    list(&state, &user, text, None).await
}

async fn list(
    state: &AppState,
    user: &ConsoleUser,
    notice: Option<&str>,
    failure: Option<&ApiError>,
) -> Response {
    let org = user.session.principal.org_id;
    let (mappings, connections) = match tokio::try_join!(
        state.store.list_mappings(org, PAGE_LIMIT, None),
        state.store.list_connections(org, PAGE_LIMIT, None),
    ) {
        Ok(both) => both,
        Err(e) => {
            let e = ApiError::from(e);
            return error_page(e.status, &e.message);
        }
    };
    let name_of = |id: &str| {
        connections
            .iter()
            .find(|c| c.id.to_string() == id)
            .map_or_else(
                || "a deleted connection".to_owned(),
                |c| c.account_name.clone(),
            )
    };
    let manage = user.may_manage();
    let mut resp = page(
        user,
        Nav::Mappings,
        html! {
            @if let Some(text) = notice {
                p.notice role="status" { (text) }
            }
            @if let Some(e) = failure {
                p.error role="alert" { (e.message) }
            }
            @if manage && connections.len() >= 2 {
                p.page-actions { a.button.primary href="/mappings/new" { "New mapping" } }
            }
            @if mappings.is_empty() {
                div.empty {
                    p { strong { "No mappings yet." } }
                    @if connections.len() < 2 {
                        p { "A mapping copies records from one connection to another: first connect two accounts on the " a href="/connections" { "Connections" } " page." }
                    } @else if manage {
                        p { "Create one with " strong { "New mapping" } ": pick what to read and where to write it, pair the fields, and preview what would be written before you save." }
                    } @else {
                        p { "Ask an admin or owner of your organization to create one." }
                    }
                }
            } @else {
                table.list.mappings {
                    thead { tr {
                        th { "Name" } th { "From" } th { "To" } th { "Fields" } th { "Schedule" }
                        @if manage { th { span.visually-hidden { "Actions" } } }
                    } }
                    tbody {
                        @for m in &mappings {
                            tr data-mapping=(m.id) {
                                td data-label="Name" {
                                    @if manage { a href=(format!("/mappings/{}/edit", m.id)) { (m.spec.name) } }
                                    @else { (m.spec.name) }
                                }
                                td data-label="From" { (name_of(&m.spec.source.connection_id)) " · " (m.spec.source.object) }
                                td data-label="To" { (name_of(&m.spec.target.connection_id)) " · " (m.spec.target.object) }
                                td data-label="Fields" { (m.spec.field_pairs.len()) }
                                td data-label="Schedule" {
                                    @match &m.spec.schedule {
                                        Some(s) => { code { (s.cron) } " " (s.timezone) },
                                        None => "manual",
                                    }
                                }
                                @if manage {
                                    td.row-actions data-label="" {
                                        a.button href=(format!("/mappings/{}/edit", m.id)) { "Edit" }
                                        form method="post" action=(format!("/mappings/{}/delete", m.id)) {
                                            (csrf_field(user))
                                            button.danger type="submit" { "Delete" }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        },
    );
    if let Some(e) = failure {
        *resp.status_mut() = e.status;
    }
    resp
}

/// `POST /mappings/{id}/delete` (Admin, Owner; CSRF), through the API's delete (409 while a run
/// of the mapping is under way, shown on the list).
pub async fn delete(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path(id): Path<String>,
    Form(form): Form<DeleteForm>,
) -> Response {
    if let Some(refused) = user.refuse_manage_post(form.csrf.as_deref()) {
        return refused;
    }
    let caller = user.caller();
    let Ok(id) = uuid::Uuid::parse_str(&id) else {
        return error_page(StatusCode::NOT_FOUND, "No such mapping.");
    };
    match crate::api::mappings::delete(State(state.clone()), Manager(caller), PathId(id)).await {
        Ok(_) => Redirect::to("/mappings?done=deleted").into_response(),
        Err(e) if e.status == StatusCode::NOT_FOUND => {
            error_page(StatusCode::NOT_FOUND, "No such mapping.")
        }
        Err(e) => list(&state, &user, None, Some(&e)).await,
    }
}
