//! Provider webhook receivers (DESIGN §6): verify the provider's signature or credentials, split
//! the delivery into events, and answer 2xx only once RabbitMQ confirmed one `webhook` job.
//!
//! - `POST /hooks/hubspot`: `X-HubSpot-Signature-v3` over method + public URL + body + timestamp,
//!   timestamp within 5 minutes; events from our own app's writes are dropped here.
//! - `POST /hooks/jobber`: `X-Jobber-Hmac-SHA256` over the raw body; answered within 1 s.
//! - `POST /hooks/pipedrive/{connectionId}`: HTTP Basic (`<connectionId>:<webhook secret>`).
//! - `POST /hooks/salesforce/{connectionId}?s=<webhook secret>`: SOAP outbound message whose
//!   OrganizationId must be the connection's; answered with the SOAP Ack.
//!
//! Bad signature or credentials: 401 and nothing enqueued; malformed: 400; over the body limit: 413;
//! broker unreachable: 503; a provider this deployment has no app credentials for: 404
//! `provider_not_configured`. The hot path writes nothing: a Pipedrive/Salesforce delivery costs
//! one primary-key read of its connection (never cached, so a deleted connection is refused at
//! once); HubSpot and Jobber cost none (the worker routes by account id).

pub mod coalesce;
pub mod hubspot;
pub mod jobber;
pub mod pipedrive;
pub mod salesforce;
pub mod secrets;
pub mod setup;
pub mod verify;

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiError;
use crate::AppState;

pub use setup::{on_connection_created, HookSetup};

/// One provider event as the worker reads it: the `HookEvent` message of `proto/` (one
/// definition for both sides), carried in `WebhookJob.events`.
pub use fluxcascade_proto::v1::{HookAction, HookEvent};

/// The webhook routes (merged into the documented API router, under its body limit).
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(hubspot::receive))
        .routes(routes!(jobber::receive))
        .routes(routes!(pipedrive::receive))
        .routes(routes!(salesforce::receive))
}

/// The raw body, or 413 over the limit.
pub(crate) async fn raw_body(req: Request, state: &AppState) -> Result<Bytes, ApiError> {
    Bytes::from_request(req, state).await.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::too_large()
        } else {
            ApiError::bad_request(rejection.body_text())
        }
    })
}

pub(crate) fn unauthorized(message: &str) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
}

/// Publishes one `webhook` job for the events (none: nothing to do) and waits for the confirm,
/// at most `deadline`. Not confirmed in time: 503 (the provider retries; the worker dedupes).
pub(crate) async fn enqueue(
    state: &AppState,
    provider: &str,
    org_id: Option<uuid::Uuid>,
    connection_id: Option<uuid::Uuid>,
    events: Vec<HookEvent>,
    deadline: Duration,
) -> Result<(), ApiError> {
    let received = |outcome: &str| {
        fluxcascade_telemetry::metrics()
            .webhooks_received
            .with_label_values(&[provider, outcome])
            .inc();
    };
    if events.is_empty() {
        received("empty");
        return Ok(());
    }
    let org = org_id.map(|o| o.to_string()).unwrap_or_default();
    let connection = connection_id.map(|c| c.to_string()).unwrap_or_default();
    // The batcher publishes in its own task: a provider hanging up must not cancel a
    // half-confirmed publish. Concurrent deliveries for the same key share one job.
    let count = events.len();
    let submitted = state.hooks.submit(provider, org, connection, events);
    let unavailable =
        || ApiError::unavailable("the job queue is unavailable; nothing was accepted, retry later");
    match tokio::time::timeout(deadline, submitted).await {
        Ok(Ok(job_id)) => {
            tracing::debug!(provider, job_id = %job_id, events = count, "webhook enqueued");
            received("accepted");
            Ok(())
        }
        Ok(Err(e)) => {
            tracing::warn!(error = %e, provider, "could not enqueue webhook job");
            received("unavailable");
            Err(unavailable())
        }
        Err(_) => {
            tracing::warn!(provider, ?deadline, "webhook job not confirmed in time");
            received("unavailable");
            Err(unavailable())
        }
    }
}

/// How long a HubSpot, Pipedrive or Salesforce delivery may wait for the broker's confirm.
pub(crate) const CONFIRM_DEADLINE: Duration = Duration::from_secs(4);
