//! The Webhooks page: the organization's outbound webhook subscriptions (URL, events, how the last
//! delivery went), creating one (Admin, Owner: the API's validation, its messages at the field;
//! the signing secret shown once, on the answer to the creation) and deleting one; each
//! subscription's delivery log is [`log`]. A Member sees the lists only.

pub mod log;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use fluxcascade_store::deliveries::EVENT_TYPES;
use maud::{html, Markup};
use serde::Deserialize;

use crate::api::webhooks::{self as api, CreateWebhookBody, CreatedWebhookView, WebhookView};
use crate::api::PathId;
use crate::auth::Manager;
use crate::console::forms::{api_error_page, list_params, value, FormErrors};
use crate::console::layout::{csrf_field, error_page, page, Nav};
use crate::console::user::ConsoleUser;
use crate::json::ApiJson;
use crate::AppState;
use log::{last_delivery, DeliveryStatus};

/// What the page says on arrival after an action (`?done=…`).
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Done {
    Deleted,
}

#[derive(Debug, Deserialize)]
pub struct Notice {
    done: Option<Done>,
}

#[derive(Debug, Deserialize)]
pub struct CsrfForm {
    csrf: Option<String>,
}

/// The create form as posted (kept when the API refuses it) and its outcome.
#[derive(Debug, Default)]
struct CreateForm {
    url: String,
    events: Vec<String>,
    errors: FormErrors,
    created: Option<CreatedWebhookView>,
}

/// The page's routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/webhooks", get(show).post(create))
        .route("/webhooks/{id}", get(log::show))
        .route("/webhooks/{id}/delete", post(delete))
}

/// `GET /webhooks`.
pub async fn show(
    State(state): State<AppState>,
    user: ConsoleUser,
    Query(notice): Query<Notice>,
) -> Response {
    let form = CreateForm {
        events: vec![EVENT_TYPES[0].to_owned()],
        ..CreateForm::default()
    };
    render(&state, &user, StatusCode::OK, notice.done, form).await
}

/// `POST /webhooks` (Admin, Owner; CSRF): `url`, `events` (repeated).
pub async fn create(
    State(state): State<AppState>,
    user: ConsoleUser,
    Form(posted): Form<Vec<(String, String)>>,
) -> Response {
    if let Some(refused) = user.refuse_manage_post(value(&posted, "csrf")) {
        return refused;
    }
    let body = CreateWebhookBody {
        url: value(&posted, "url").unwrap_or_default().to_owned(),
        events: posted
            .iter()
            .filter(|(k, _)| k == "events")
            .map(|(_, v)| v.clone())
            .collect(),
    };
    let mut form = CreateForm {
        url: body.url.clone(),
        events: body.events.clone(),
        ..CreateForm::default()
    };
    let result = api::create(State(state.clone()), Manager(user.caller()), ApiJson(body)).await;
    let status = match result {
        Ok((status, axum::Json(created))) => {
            form = CreateForm {
                created: Some(created),
                ..CreateForm::default()
            };
            status
        }
        Err(e) => {
            tracing::info!(org_id = %user.session.principal.org_id, code = e.code, "console webhook creation refused");
            form.errors = FormErrors::from_api(&e);
            e.status
        }
    };
    render(&state, &user, status, None, form).await
}

/// `POST /webhooks/{id}/delete` (Admin, Owner; CSRF).
pub async fn delete(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path(id): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Response {
    if let Some(refused) = user.refuse_manage_post(form.csrf.as_deref()) {
        return refused;
    }
    let Ok(id) = uuid::Uuid::parse_str(&id) else {
        return error_page(StatusCode::NOT_FOUND, "No such webhook subscription.");
    };
    match api::delete(State(state), Manager(user.caller()), PathId(id)).await {
        Ok(_) => Redirect::to("/webhooks?done=deleted").into_response(),
        Err(e) if e.status == StatusCode::NOT_FOUND => {
            error_page(StatusCode::NOT_FOUND, "No such webhook subscription.")
        }
        Err(e) => api_error_page(&e),
    }
}

async fn render(
    state: &AppState,
    user: &ConsoleUser,
    status: StatusCode,
    done: Option<Done>,
    form: CreateForm,
) -> Response {
    let hooks = match api::list(State(state.clone()), user.caller(), list_params()).await {
        Ok(axum::Json(page)) => page.data,
        Err(e) => return api_error_page(&e),
    };
    let mut rows = Vec::with_capacity(hooks.len());
    for hook in hooks {
        let last = last_delivery(state, user, hook.id).await;
        rows.push((hook, last));
    }
    let body = html! {
        @if let Some(Done::Deleted) = done {
            p.notice role="status" { "Webhook subscription deleted." }
        }
        @if let Some(created) = &form.created {
            div.notice.secret-once role="status" {
                p { "Subscription to " code { (created.webhook.url) } " created. Its signing secret, shown only this once (deliveries carry " code { "FluxCascade-Signature" } ", an HMAC-SHA256 with it):" }
                p { code #webhook-secret.secret { (created.secret) } }
            }
        }
        @if user.may_manage() {
            (create_form(user, &form))
        }
        @if rows.is_empty() {
            div.empty {
                p { strong { "No webhook subscriptions yet." } }
                @if user.may_manage() {
                    p { "Add an HTTPS URL above and pick the events it should receive: FluxCascade posts each event there, signed, and keeps a delivery log." }
                } @else {
                    p { "Ask an admin or owner of your organization to subscribe a URL to sync and connection events." }
                }
            }
        } @else {
            table.list.webhooks {
                thead { tr { th { "URL" } th { "Events" } th { "Last delivery" } th { "Created" } th { span.sr { "Actions" } } } }
                tbody {
                    @for (hook, last) in &rows {
                        (webhook_row(user, hook, *last))
                    }
                }
            }
        }
    };
    let mut resp = page(user, Nav::Webhooks, body);
    *resp.status_mut() = status;
    resp
}

fn create_form(user: &ConsoleUser, form: &CreateForm) -> Markup {
    html! {
        form.panel.webhook-create method="post" action="/webhooks" {
            h2 { "Subscribe a URL" }
            (csrf_field(user))
            (form.errors.show_general())
            label for="webhook-url" { "URL" }
            input #webhook-url type="text" name="url" value=(form.url)
                placeholder="https://example.com/fluxcascade" inputmode="url"
                aria-invalid=[(!form.errors.at("url").is_empty()).then_some("true")]
                aria-describedby="webhook-url-error";
            (form.errors.show("url", "webhook-url-error"))
            fieldset.events {
                legend { "Events" }
                @for event in EVENT_TYPES {
                    label.check {
                        input type="checkbox" name="events" value=(event) checked[form.events.iter().any(|e| e == event)];
                        " " (event)
                    }
                }
            }
            (form.errors.show("events", "webhook-events-error"))
            div { button.primary type="submit" { "Create subscription" } }
        }
    }
}

fn webhook_row(user: &ConsoleUser, hook: &WebhookView, last: Option<DeliveryStatus>) -> Markup {
    html! {
        tr data-webhook=(hook.id) {
            td data-label="URL" { a href=(format!("/webhooks/{}", hook.id)) { (hook.url) } }
            td data-label="Events" { (hook.events.join(", ")) }
            td data-label="Last delivery" {
                @match last {
                    Some(status) => span class=(status.badge_class()) { (status.as_str()) },
                    None => span.meta { "none yet" },
                }
            }
            td data-label="Created" { (hook.created_at.format("%Y-%m-%d %H:%M UTC")) }
            td data-label="" {
                div.row-actions {
                    a href=(format!("/webhooks/{}", hook.id)) { "Delivery log" }
                    @if user.may_manage() {
                        form method="post" action=(format!("/webhooks/{}/delete", hook.id)) {
                            (csrf_field(user))
                            button.danger type="submit" { "Delete" }
                        }
                    }
                }
            }
        }
    }
}
