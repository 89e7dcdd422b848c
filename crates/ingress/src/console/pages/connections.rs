//! The Connections page: each connection with its status (and why, when not active), "Connect"
//! buttons that run the provider's OAuth flow in this browser and come back, "Reconnect" for
//! expired or failing ones, and Delete. Connecting and deleting need Admin or Owner (as the API's
//! `x-min-role: admin`); a Member sees the list only.

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Form;
use axum::Router;
use fluxcascade_core::ProviderKind;
use fluxcascade_store::connections::ConnectionRow;
use maud::{html, Markup};
use serde::Deserialize;

use crate::api::oauth::{self, StartOptions};
use crate::console::layout::{bare, csrf_field, error_page, page, Nav};
use crate::console::session;
use crate::console::user::ConsoleUser;
use crate::error::ApiError;
use crate::AppState;

/// How many connections the page lists.
const PAGE_LIMIT: i64 = 200;

/// What the page says on arrival, after an action (`?done=…`).
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Done {
    Connected,
    Deleted,
}

#[derive(Debug, Deserialize)]
pub struct Notice {
    done: Option<Done>,
    provider: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct ConnectForm {
    csrf: Option<String>,
    /// Reconnect this connection instead of creating one.
    connection_id: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct DeleteForm {
    csrf: Option<String>,
}

/// A provider's name as people write it.
pub fn provider_label(kind: ProviderKind) -> &'static str {
    match kind {
        ProviderKind::Hubspot => "HubSpot",
        ProviderKind::Jobber => "Jobber",
        ProviderKind::Pipedrive => "Pipedrive",
        ProviderKind::Salesforce => "Salesforce",
    }
}

fn label_of(raw: &str) -> &str {
    match ProviderKind::parse(raw) {
        Some(kind) => provider_label(kind),
        None => raw,
    }
}

/// The page's routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/connections", get(show))
        .route("/connections/connect/{provider}", post(connect))
        .route("/connections/{id}/delete", post(delete))
}

/// `GET /connections`.
pub async fn show(
    State(state): State<AppState>,
    user: ConsoleUser,
    Query(notice): Query<Notice>,
) -> Response {
    let rows = match state
        .store
        .list_connections(user.session.principal.org_id, PAGE_LIMIT, None)
        .await
    {
        Ok(rows) => rows,
        Err(e) => {
            let e = ApiError::from(e);
            return error_page(e.status, &e.message);
        }
    };
    let notice_text = notice.done.map(|done| {
        let provider = notice
            .provider
            .as_deref()
            .and_then(ProviderKind::parse)
            .map_or("The", provider_label);
        match done {
            Done::Connected => format!("{provider} account connected."),
            Done::Deleted => "Connection deleted.".to_owned(),
        }
    });
    page(
        &user,
        Nav::Connections,
        html! {
            @if let Some(text) = notice_text {
                p.notice role="status" { (text) }
            }
            @if user.may_manage() {
                section.connect aria-label="Connect an account" {
                    @for kind in ProviderKind::ALL {
                        form method="post" action=(format!("/connections/connect/{}", kind.as_str())) {
                            (csrf_field(&user))
                            button.primary type="submit" { "Connect " (provider_label(kind)) }
                        }
                    }
                }
            }
            @if rows.is_empty() {
                div.empty {
                    p { strong { "No connections yet." } }
                    @if user.may_manage() {
                        p { "Connect a CRM account with one of the buttons above: you sign in at the provider, then come back here. Then create a mapping between two connections." }
                    } @else {
                        p { "Ask an admin or owner of your organization to connect a CRM account." }
                    }
                }
            } @else {
                ul.cards {
                    @for row in &rows {
                        (connection_card(&user, row))
                    }
                }
            }
        },
    )
}

fn connection_card(user: &ConsoleUser, row: &ConnectionRow) -> Markup {
    let status_class = match row.status.as_str() {
        "active" => "badge ok",
        "expired" => "badge warn",
        _ => "badge bad",
    };
    html! {
        li.card data-connection=(row.id) {
            div.card-head {
                span.provider { (label_of(&row.provider)) }
                span class=(status_class) { (row.status) }
            }
            p.name { (row.account_name) }
            p.meta { "Account " code { (row.external_account_id) } " · since " (row.created_at.format("%Y-%m-%d")) }
            @if let Some(message) = &row.status_message {
                p.error { (message) }
            }
            @if user.may_manage() {
                div.actions {
                    @if row.status != "active" {
                        form method="post" action=(format!("/connections/connect/{}", row.provider)) {
                            (csrf_field(user))
                            input type="hidden" name="connection_id" value=(row.id);
                            button.primary type="submit" { "Reconnect" }
                        }
                    }
                    form method="post" action=(format!("/connections/{}/delete", row.id)) {
                        (csrf_field(user))
                        button.danger type="submit" { "Delete" }
                    }
                }
            }
        }
    }
}

/// `POST /connections/connect/{provider}` (Admin, Owner; CSRF): starts the OAuth flow bound to
/// this browser and sends it to the provider's consent page.
pub async fn connect(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path(provider): Path<String>,
    Form(form): Form<ConnectForm>,
) -> Response {
    match start_connect(&state, &user, &provider, &form).await {
        Ok(resp) => resp,
        Err(e) if e.code == "csrf_failed" => e.into_response(),
        Err(e) => error_page(e.status, &e.message),
    }
}

async fn start_connect(
    state: &AppState,
    user: &ConsoleUser,
    provider: &str,
    form: &ConnectForm,
) -> Result<Response, ApiError> {
    crate::console::csrf::check_field(&user.session, form.csrf.as_deref())?;
    let caller = user.caller();
    caller.require_manage()?;
    let kind = oauth::provider_kind(provider)?;
    let binding = fluxcascade_store::sessions::random_token("fco_")?;
    let started = oauth::start(
        state,
        &caller,
        kind,
        StartOptions {
            connection_id: form.connection_id.as_deref(),
            session_binding: Some(&binding),
            ..StartOptions::default()
        },
    )
    .await?;
    Ok((
        StatusCode::SEE_OTHER,
        [
            (
                header::SET_COOKIE,
                session::binding_cookie(state, &binding, oauth::STATE_TTL_SECS),
            ),
            (
                header::LOCATION,
                header::HeaderValue::from_str(&started.authorize_url)
                    .map_err(|_| ApiError::internal())?,
            ),
        ],
    )
        .into_response())
}

/// `POST /connections/{id}/delete` (Admin, Owner; CSRF).
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
        return error_page(StatusCode::NOT_FOUND, "No such connection.");
    };
    match state.store.delete_connection(caller.org_id(), id).await {
        Ok(true) => {
            tracing::info!(org_id = %caller.org_id(), connection_id = %id, "connection deleted from the console");
            crate::api::audit::record(&state, &caller, "connection.deleted", "connection", id)
                .await;
            Redirect::to("/connections?done=deleted").into_response()
        }
        Ok(false) => error_page(StatusCode::NOT_FOUND, "No such connection."),
        Err(e) => {
            let e = ApiError::from(e);
            error_page(e.status, &e.message)
        }
    }
}

/// The OAuth callback's answer to a flow the console started: back to the Connections page.
/// A page that moves on by itself (not a redirect), so the browser's next request is same-site
/// and carries the `SameSite=Strict` session cookie even when the provider's redirect was
/// cross-site; it clears the binding cookie.
pub fn back_from_oauth(state: &AppState, kind: ProviderKind) -> Response {
    let target = format!("/connections?done=connected&provider={}", kind.as_str());
    let mut resp = bare(
        StatusCode::OK,
        "Connected",
        html! {
            meta http-equiv="refresh" content=(format!("0;url={target}"));
            h1 { (provider_label(kind)) " connected" }
            p { a #back href=(target) { "Back to Connections" } }
        },
    );
    resp.headers_mut()
        .insert(header::SET_COOKIE, session::clear_binding_cookie(state));
    if let Ok(refresh) = header::HeaderValue::from_str(&format!("0;url={target}")) {
        resp.headers_mut().insert("refresh", refresh);
    }
    resp
}
