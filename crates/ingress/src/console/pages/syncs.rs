//! The Syncs page: recent runs with their trigger, status and counts. (Run now and live progress
//! come later.)

use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use fluxcascade_store::syncs::SyncFilter;
use maud::html;

use crate::console::layout::{error_page, page, Nav};
use crate::console::user::ConsoleUser;
use crate::error::ApiError;
use crate::AppState;

const PAGE_LIMIT: i64 = 100;

/// The page's routes.
pub fn routes() -> Router<AppState> {
    Router::new().route("/syncs", get(show))
}

/// `GET /syncs`.
pub async fn show(State(state): State<AppState>, user: ConsoleUser) -> Response {
    let org = user.session.principal.org_id;
    let syncs = match state
        .store
        .list_syncs(org, &SyncFilter::default(), PAGE_LIMIT, None)
        .await
    {
        Ok(rows) => rows,
        Err(e) => {
            let e = ApiError::from(e);
            return error_page(e.status, &e.message);
        }
    };
    page(
        &user,
        Nav::Syncs,
        html! {
            @if syncs.is_empty() {
                div.empty {
                    p { strong { "No syncs have run yet." } }
                    p { "Runs appear here when a mapping's schedule fires, a webhook arrives, or you start one with " code { "POST /v1/syncs" } "." }
                }
            } @else {
                table.list {
                    thead { tr { th { "Started" } th { "Trigger" } th { "Mode" } th { "Status" } th { "Read" } th { "Created" } th { "Updated" } th { "Failed" } } }
                    tbody {
                        @for s in &syncs {
                            tr data-sync=(s.id) {
                                td data-label="Started" { (s.created_at.format("%Y-%m-%d %H:%M:%S")) }
                                td data-label="Trigger" { (s.trigger) }
                                td data-label="Mode" { (s.mode) }
                                td data-label="Status" {
                                    span class=(status_class(&s.status)) { (s.status) }
                                    @if let Some(e) = &s.error { p.error { (e) } }
                                }
                                td.num data-label="Read" { (s.counts.read) }
                                td.num data-label="Created" { (s.counts.created) }
                                td.num data-label="Updated" { (s.counts.updated) }
                                td.num data-label="Failed" { (s.counts.failed) }
                            }
                        }
                    }
                }
            }
        },
    )
}

fn status_class(status: &str) -> &'static str {
    match status {
        "completed" => "badge ok",
        "partial" | "pending" | "running" => "badge warn",
        _ => "badge bad",
    }
}
