//! The Dead letters page: the jobs the queue gave up on after every attempt (what failed, why,
//! when, how many attempts), with Replay and Delete for Admins and Owners (CSRF), through the
//! same logic as `POST /v1/dead-letters/{id}/replay` and `DELETE /v1/dead-letters/{id}`. A
//! replayed one stays listed with when and as which job. Payloads are never shown.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use fluxcascade_store::dead_letters::{DeadLetterFilter, DeadLetterKind, DeadLetterRow};
use maud::{html, Markup};
use serde::Deserialize;
use uuid::Uuid;

use crate::console::layout::{csrf_field, error_page, page, Nav};
use crate::console::user::ConsoleUser;
use crate::error::ApiError;
use crate::AppState;

const PAGE_LIMIT: i64 = 200;

/// What the page says on arrival, after an action (`?done=…`).
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Done {
    Replayed,
    Deleted,
}

#[derive(Debug, Deserialize)]
pub struct Notice {
    done: Option<Done>,
    job: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct ActionForm {
    csrf: Option<String>,
}

/// The page's routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/dead-letters", get(show))
        .route("/dead-letters/{id}/replay", post(replay))
        .route("/dead-letters/{id}/delete", post(delete))
}

/// What a kind of dead letter was, in words.
pub fn kind_label(kind: DeadLetterKind) -> &'static str {
    match kind {
        DeadLetterKind::Sync => "Sync run (coordinator)",
        DeadLetterKind::Batch => "Sync batch",
        DeadLetterKind::Webhook => "Incoming webhook",
        DeadLetterKind::Delivery => "Webhook delivery",
        DeadLetterKind::Unknown => "Unknown job",
    }
}

/// The notice after an action.
fn notice_text(notice: &Notice) -> Option<String> {
    Some(match notice.done? {
        Done::Replayed => match &notice.job {
            Some(job) => format!("Dead letter replayed: its job was queued again as {job}."),
            None => "Dead letter replayed: its job was queued again.".to_owned(),
        },
        Done::Deleted => "Dead letter deleted.".to_owned(),
    })
}

/// `GET /dead-letters`.
pub async fn show(
    State(state): State<AppState>,
    user: ConsoleUser,
    Query(notice): Query<Notice>,
) -> Response {
    render(&state, &user, StatusCode::OK, notice_text(&notice), None).await
}

async fn render(
    state: &AppState,
    user: &ConsoleUser,
    status: StatusCode,
    notice: Option<String>,
    error: Option<String>,
) -> Response {
    let rows = match state
        .store
        .list_dead_letters(
            user.session.principal.org_id,
            &DeadLetterFilter::default(),
            PAGE_LIMIT,
            None,
        )
        .await
    {
        Ok(rows) => rows,
        Err(e) => {
            let e = ApiError::from(e);
            return error_page(e.status, &e.message);
        }
    };
    let mut resp = page(
        user,
        Nav::DeadLetters,
        html! {
            @if let Some(text) = notice {
                p.notice role="status" { (text) }
            }
            @if let Some(text) = error {
                p.error.banner role="alert" { (text) }
            }
            p.hint {
                "A dead letter is a job that failed every retry: a sync batch, a run, an incoming webhook or a webhook delivery. "
                "Fix the cause (often: reconnect the connection), then replay it."
            }
            @if rows.is_empty() {
                div.empty {
                    p { strong { "No dead letters." } }
                    p { "Every job so far either succeeded or is still being retried. When one fails every attempt, it appears here with why, and can be replayed once the cause is fixed." }
                }
            } @else {
                table.list.dead-letters {
                    thead { tr {
                        th { "Failed" } th { "What" } th { "Why" } th.num { "Attempts" } th { "State" }
                        @if user.may_manage() { th { span.sr-only { "Actions" } } }
                    } }
                    tbody {
                        @for row in &rows { (letter_row(user, row)) }
                    }
                }
            }
        },
    );
    *resp.status_mut() = status;
    resp
}

fn letter_row(user: &ConsoleUser, row: &DeadLetterRow) -> Markup {
    html! {
        tr data-dead-letter=(row.id) {
            td data-label="Failed" {
                (row.last_failed_at.format("%Y-%m-%d %H:%M:%S"))
                @if let Some(first) = row.first_failed_at {
                    @if first != row.last_failed_at {
                        p.meta { "first " (first.format("%Y-%m-%d %H:%M:%S")) }
                    }
                }
            }
            td data-label="What" {
                (kind_label(row.kind))
                p.meta { "job " code { (row.job_id) } }
                @if let Some(sync) = row.sync_id {
                    p.meta { a href=(format!("/syncs/{sync}")) { "its run" } }
                }
            }
            td.reason data-label="Why" { (row.reason) }
            td.num data-label="Attempts" { (row.attempts) }
            td data-label="State" {
                @if let Some(at) = row.replayed_at {
                    span.badge.ok { "replayed" }
                    p.meta {
                        (at.format("%Y-%m-%d %H:%M:%S"))
                        @if let Some(job) = &row.replay_job_id { " as " code { (job) } }
                    }
                } @else if !row.message_stored {
                    span.badge.bad { "not replayable" }
                    p.meta { "the job was too large to be kept" }
                } @else {
                    span.badge.warn { "failed" }
                }
            }
            @if user.may_manage() {
                td.actions-cell data-label="Actions" {
                    div.actions {
                        @if row.replayed_at.is_none() && row.message_stored {
                            form method="post" action=(format!("/dead-letters/{}/replay", row.id)) {
                                (csrf_field(user))
                                button.primary type="submit" { "Replay" }
                            }
                        }
                        form method="post" action=(format!("/dead-letters/{}/delete", row.id)) {
                            (csrf_field(user))
                            button.danger type="submit" { "Delete" }
                        }
                    }
                }
            }
        }
    }
}

/// The checks every action takes: CSRF (403 `csrf_failed`), the role (403 page), the id.
fn admit(user: &ConsoleUser, form: &ActionForm, id: &str) -> Result<Uuid, Box<Response>> {
    if let Some(refused) = user.refuse_manage_post(form.csrf.as_deref()) {
        return Err(Box::new(refused));
    }
    Uuid::parse_str(id)
        .map_err(|_| Box::new(error_page(StatusCode::NOT_FOUND, "No such dead letter.")))
}

/// `POST /dead-letters/{id}/replay` (Admin, Owner; CSRF).
pub async fn replay(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path(id): Path<String>,
    Form(form): Form<ActionForm>,
) -> Response {
    let id = match admit(&user, &form, &id) {
        Ok(id) => id,
        Err(resp) => return *resp,
    };
    let caller = user.caller();
    match crate::api::dead_letters::replay_for(&state, &caller, id).await {
        Ok(job) => {
            tracing::info!(org_id = %caller.org_id(), dead_letter = %id, replay_job_id = %job, "dead letter replayed from the console");
            let job: String = url::form_urlencoded::byte_serialize(job.as_bytes()).collect();
            Redirect::to(&format!("/dead-letters?done=replayed&job={job}")).into_response()
        }
        Err(e) => refused(&state, &user, &e).await,
    }
}

/// `POST /dead-letters/{id}/delete` (Admin, Owner; CSRF).
pub async fn delete(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path(id): Path<String>,
    Form(form): Form<ActionForm>,
) -> Response {
    let id = match admit(&user, &form, &id) {
        Ok(id) => id,
        Err(resp) => return *resp,
    };
    let caller = user.caller();
    match crate::api::dead_letters::delete_for(&state, &caller, id).await {
        Ok(()) => {
            tracing::info!(org_id = %caller.org_id(), dead_letter = %id, "dead letter deleted from the console");
            Redirect::to("/dead-letters?done=deleted").into_response()
        }
        Err(e) => refused(&state, &user, &e).await,
    }
}

/// A refused action: the list again, with the API's message (a 404 says the letter is gone).
async fn refused(state: &AppState, user: &ConsoleUser, e: &ApiError) -> Response {
    let message = if e.status == StatusCode::NOT_FOUND {
        "No such dead letter (it may have been deleted).".to_owned()
    } else {
        e.message.clone()
    };
    render(state, user, e.status, None, Some(message)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_notice_says_what_was_done() {
        let n = |done, job: Option<&str>| Notice {
            done,
            job: job.map(str::to_owned),
        };
        assert_eq!(notice_text(&n(None, None)), None);
        assert_eq!(
            notice_text(&n(Some(Done::Replayed), Some("j1"))).as_deref(),
            Some("Dead letter replayed: its job was queued again as j1.")
        );
        assert_eq!(
            notice_text(&n(Some(Done::Deleted), None)).as_deref(),
            Some("Dead letter deleted.")
        );
    }
}
