//! The editor's small htmx fragments: a new field-pair row, the object select of the connection
//! just picked, the next fire times of the schedule as typed, and the empty answer a removed row
//! is swapped with. All are reads (GET) and need a session, nothing more.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::html;

use super::editor::{object_select, objects_of, pair_row};
use super::errors::FieldErrors;
use super::form::PairRow;
use super::schedule::next_runs_markup;
use crate::console::layout::html_response;
use crate::console::user::ConsoleUser;
use crate::error::ApiError;
use crate::AppState;

/// `GET /mappings/editor/row`: a blank field-pair row with a fresh key.
pub async fn row(_user: ConsoleUser) -> Response {
    let key = uuid::Uuid::new_v4().simple().to_string();
    html_response(
        StatusCode::OK,
        pair_row(
            &key[..10],
            None,
            &PairRow::default(),
            &FieldErrors::default(),
        ),
    )
}

/// `GET /mappings/editor/nothing`: what a removed row is replaced with.
pub async fn nothing(_user: ConsoleUser) -> Response {
    html_response(StatusCode::OK, html! {})
}

/// `GET /mappings/editor/objects/{side}?{side}_connection=…`: the object select for that
/// connection's provider.
pub async fn objects(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path(side): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let side = match side.as_str() {
        "source" => "source",
        "target" => "target",
        _ => return html_response(StatusCode::NOT_FOUND, html! { "no such side" }),
    };
    let connections = match state
        .store
        .list_connections(user.session.principal.org_id, super::PAGE_LIMIT, None)
        .await
    {
        Ok(c) => c,
        Err(e) => {
            let e = ApiError::from(e);
            return html_response(e.status, html! { p.error { (e.message) } });
        }
    };
    let id = query
        .get(&format!("{side}_connection"))
        .map_or("", String::as_str);
    let objects = objects_of(&connections, id);
    html_response(
        StatusCode::OK,
        object_select(side, objects, objects.first().copied().unwrap_or_default()),
    )
}

#[derive(Debug, serde::Deserialize)]
pub struct ScheduleQuery {
    #[serde(default)]
    cron: String,
    #[serde(default)]
    timezone: String,
}

/// `GET /mappings/editor/next-runs?cron=…&timezone=…`: the next five fire times, or the error.
pub async fn next_runs(_user: ConsoleUser, Query(q): Query<ScheduleQuery>) -> Response {
    html_response(StatusCode::OK, next_runs_markup(&q.cron, &q.timezone))
}
