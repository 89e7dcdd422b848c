//! One webhook subscription's delivery log (`/webhooks/{id}`): each event delivered or being
//! delivered, newest first, with its status, the receiver's last status code, the attempts (each
//! one's time, code, error and duration) and the last error. While a delivery is still pending the
//! log refreshes itself (htmx polling that stops once none is pending).

use std::collections::HashMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::{html, Markup};
use uuid::Uuid;

use crate::api::webhooks::{self as api, DeliveryView};
use crate::api::PathId;
use crate::console::forms::{api_error_page, list_params};
use crate::console::layout::{error_page, page, Nav};
use crate::console::user::ConsoleUser;
use crate::paging::Params;
use crate::AppState;

/// A delivery's status, as the API names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryStatus {
    Pending,
    Delivered,
    Failed,
}

impl DeliveryStatus {
    /// The API's name; anything unknown reads as failed (it is not delivered).
    pub fn parse(s: &str) -> DeliveryStatus {
        match s {
            "pending" => DeliveryStatus::Pending,
            "delivered" => DeliveryStatus::Delivered,
            _ => DeliveryStatus::Failed,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Failed => "failed",
        }
    }

    pub fn badge_class(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "badge warn",
            DeliveryStatus::Delivered => "badge ok",
            DeliveryStatus::Failed => "badge bad",
        }
    }
}

/// The status of a subscription's newest delivery (`None`: nothing delivered yet, or the log
/// could not be read: the list still shows).
pub async fn last_delivery(
    state: &AppState,
    user: &ConsoleUser,
    id: Uuid,
) -> Option<DeliveryStatus> {
    let params = Params(HashMap::from([("limit".to_owned(), "1".to_owned())]));
    match api::deliveries(State(state.clone()), user.caller(), PathId(id), params).await {
        Ok(axum::Json(page)) => page.data.first().map(|d| DeliveryStatus::parse(&d.status)),
        Err(e) => {
            tracing::warn!(webhook_id = %id, code = e.code, "delivery log unreadable for the webhooks list");
            None
        }
    }
}

/// `GET /webhooks/{id}`.
pub async fn show(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path(id): Path<String>,
) -> Response {
    let not_found = || error_page(StatusCode::NOT_FOUND, "No such webhook subscription.");
    let Ok(id) = Uuid::parse_str(&id) else {
        return not_found();
    };
    let hook = match api::get_one(State(state.clone()), user.caller(), PathId(id)).await {
        Ok(axum::Json(hook)) => hook,
        Err(e) if e.status == StatusCode::NOT_FOUND => return not_found(),
        Err(e) => return api_error_page(&e),
    };
    let deliveries = match api::deliveries(
        State(state.clone()),
        user.caller(),
        PathId(id),
        list_params(),
    )
    .await
    {
        Ok(axum::Json(page)) => page.data,
        Err(e) => return api_error_page(&e),
    };
    let pending = deliveries
        .iter()
        .any(|d| DeliveryStatus::parse(&d.status) == DeliveryStatus::Pending);
    let here = format!("/webhooks/{id}");
    page(
        &user,
        Nav::Webhooks,
        html! {
            p { a href="/webhooks" { "← All subscriptions" } }
            h2 { "Delivery log of " code { (hook.url) } }
            p.meta { "Events: " (hook.events.join(", ")) " · since " (hook.created_at.format("%Y-%m-%d")) }
            section #delivery-log
                hx-get=[pending.then_some(here.as_str())]
                hx-trigger=[pending.then_some("every 2s")]
                hx-select=[pending.then_some("#delivery-log")]
                hx-swap=[pending.then_some("outerHTML")]
            {
                @if deliveries.is_empty() {
                    div.empty {
                        p { strong { "No deliveries yet." } }
                        p { "An event is delivered here when it happens: a sync that completes, ends partial or fails, or a connection that expires (of the events above). Run a sync from the Syncs page to see one." }
                    }
                } @else {
                    table.list.deliveries {
                        thead { tr { th { "Event" } th { "Status" } th { "Code" } th { "Attempts" } th { "When" } th { "Error" } } }
                        tbody {
                            @for d in &deliveries { (delivery_row(d)) }
                        }
                    }
                }
            }
        },
    )
}

fn delivery_row(d: &DeliveryView) -> Markup {
    let status = DeliveryStatus::parse(&d.status);
    let last = d.attempts.last();
    let code = last.and_then(|a| a.response_status);
    let error = last.and_then(|a| a.error.as_deref());
    html! {
        tr data-delivery=(d.id) {
            td data-label="Event" { (d.event_type) }
            td data-label="Status" { span class=(status.badge_class()) { (status.as_str()) } }
            td.num data-label="Code" {
                @match code { Some(c) => (c), None => span.meta { "—" } }
            }
            td data-label="Attempts" {
                @if d.attempts.is_empty() {
                    span.meta { "0" }
                } @else {
                    details.attempts {
                        summary { (d.attempts.len()) }
                        ol {
                            @for a in &d.attempts {
                                li {
                                    (a.at.format("%H:%M:%S")) " · "
                                    @match a.response_status { Some(c) => (c), None => "no answer" }
                                    @if let Some(e) = &a.error { " · " (e) }
                                    " · " (a.duration_ms) " ms"
                                }
                            }
                        }
                    }
                }
            }
            td data-label="When" { (d.created_at.format("%Y-%m-%d %H:%M:%S UTC")) }
            td data-label="Error" {
                @match error { Some(e) => span.error { (e) }, None => span.meta { "—" } }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_round_trip_and_unknown_is_not_delivered() {
        for s in [
            DeliveryStatus::Pending,
            DeliveryStatus::Delivered,
            DeliveryStatus::Failed,
        ] {
            assert_eq!(DeliveryStatus::parse(s.as_str()), s);
        }
        assert_eq!(DeliveryStatus::parse("weird"), DeliveryStatus::Failed);
    }
}
