//! The Mappings page: the organization's mappings, what they read and write. (The editor with its
//! live preview comes later.)

use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use maud::html;

use crate::console::layout::{error_page, page, Nav};
use crate::console::user::ConsoleUser;
use crate::error::ApiError;
use crate::AppState;

const PAGE_LIMIT: i64 = 200;

/// The page's routes.
pub fn routes() -> Router<AppState> {
    Router::new().route("/mappings", get(show))
}

/// `GET /mappings`.
pub async fn show(State(state): State<AppState>, user: ConsoleUser) -> Response {
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
    page(
        &user,
        Nav::Mappings,
        html! {
            @if mappings.is_empty() {
                div.empty {
                    p { strong { "No mappings yet." } }
                    @if connections.len() < 2 {
                        p { "A mapping copies records from one connection to another: first connect two accounts on the " a href="/connections" { "Connections" } " page." }
                    } @else {
                        p { "Create one with " code { "POST /v1/mappings" } " (the editor comes to this page soon)." }
                    }
                }
            } @else {
                table.list {
                    thead { tr { th { "Name" } th { "From" } th { "To" } th { "Fields" } th { "Schedule" } } }
                    tbody {
                        @for m in &mappings {
                            tr {
                                td data-label="Name" { (m.spec.name) }
                                td data-label="From" { (name_of(&m.spec.source.connection_id)) " · " (m.spec.source.object) }
                                td data-label="To" { (name_of(&m.spec.target.connection_id)) " · " (m.spec.target.object) }
                                td data-label="Fields" { (m.spec.field_pairs.len()) }
                                td data-label="Schedule" {
                                    @match &m.spec.schedule {
                                        Some(_) => "scheduled",
                                        None => "manual",
                                    }
                                }
                            }
                        }
                    }
                }
            }
        },
    )
}
