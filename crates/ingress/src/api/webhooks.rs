//! `/v1/webhooks`: outbound webhook subscriptions (the signing secret is shown once, at creation)
//! and each subscription's delivery log.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use fluxcascade_providers::egress::WebhookUrls;
use fluxcascade_store::deliveries::{AttemptRow, DeliveryRow, WebhookRow, EVENT_TYPES};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::api::PathId;
use crate::auth::{Caller, Manager};
use crate::error::{ApiError, ErrorBody, ErrorDetail};
use crate::json::ApiJson;
use crate::paging::{ListParams, Page, Params};
use crate::AppState;

/// `POST /v1/webhooks` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateWebhookBody {
    pub url: String,
    pub events: Vec<String>,
}

/// A subscription as the API shows it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookView {
    pub id: Uuid,
    pub url: String,
    pub events: Vec<String>,
    pub created_at: DateTime<Utc>,
}

impl From<WebhookRow> for WebhookView {
    fn from(r: WebhookRow) -> WebhookView {
        WebhookView {
            id: r.id,
            url: r.url,
            events: r.events,
            created_at: r.created_at,
        }
    }
}

/// The creation answer: the subscription plus its signing secret (never shown again).
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreatedWebhookView {
    #[serde(flatten)]
    pub webhook: WebhookView,
    /// The signing secret of the deliveries (`X-FluxCascade-Signature`), shown only here.
    pub secret: String,
}

/// One attempt in the delivery log.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AttemptView {
    pub attempt: i32,
    pub at: DateTime<Utc>,
    /// The receiver's HTTP status; null when it did not answer (see `error`).
    pub response_status: Option<i32>,
    /// The failure class: `status` (a non-2xx answer), `connect_refused`, `connect_failed`,
    /// `timeout`, `tls`, `dns`, `blocked_address`, `invalid_url` or `request_failed`.
    pub error: Option<String>,
    pub duration_ms: i32,
}

/// One event delivered (or being delivered) to one subscription.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryView {
    pub id: Uuid,
    pub event_id: Uuid,
    pub event_type: String,
    /// `pending`, `delivered` or `failed`.
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub attempts: Vec<AttemptView>,
}

impl From<AttemptRow> for AttemptView {
    fn from(a: AttemptRow) -> AttemptView {
        AttemptView {
            attempt: a.attempt,
            at: a.at,
            response_status: a.response_status,
            error: a.error,
            duration_ms: a.duration_ms,
        }
    }
}

impl From<DeliveryRow> for DeliveryView {
    fn from(d: DeliveryRow) -> DeliveryView {
        DeliveryView {
            id: d.id,
            event_id: d.event_id,
            event_type: d.event_type,
            status: d.status,
            created_at: d.created_at,
            attempts: d.attempts.into_iter().map(AttemptView::from).collect(),
        }
    }
}

/// Every problem with the body, each naming its field; the events without duplicates. The URL
/// must pass the deployment's egress policy (`https`, ≤ 2,048 characters, and the host resolves
/// to public addresses only, unless private URLs are allowed for local development).
async fn validate(body: &CreateWebhookBody, urls: &WebhookUrls) -> Result<Vec<String>, ApiError> {
    let mut details = Vec::new();
    if let Err(e) = urls.check(&body.url).await {
        details.push(ErrorDetail::new("url", e.to_string()));
    }
    if body.events.is_empty() {
        details.push(ErrorDetail::new(
            "events",
            format!("must name at least one of {}", EVENT_TYPES.join(", ")),
        ));
    }
    let mut events: Vec<String> = Vec::new();
    for (i, e) in body.events.iter().enumerate() {
        if !EVENT_TYPES.contains(&e.as_str()) {
            details.push(ErrorDetail::new(
                format!("events[{i}]"),
                format!("unknown event; expected one of {}", EVENT_TYPES.join(", ")),
            ));
        } else if !events.contains(e) {
            events.push(e.clone());
        }
    }
    if details.is_empty() {
        Ok(events)
    } else {
        Err(ApiError::invalid(details))
    }
}

/// Subscribes a URL to events (Admin, Owner); the answer carries the signing secret, once.
#[utoipa::path(post, path = "/v1/webhooks", tag = "webhooks",
    request_body = CreateWebhookBody,
    responses(
        (status = 201, body = CreatedWebhookView),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 503, body = ErrorBody),
    ),
    extensions(("x-min-role" = json!("admin"))))]
pub async fn create(
    State(state): State<AppState>,
    Manager(caller): Manager,
    ApiJson(body): ApiJson<CreateWebhookBody>,
) -> Result<(StatusCode, Json<CreatedWebhookView>), ApiError> {
    let events = validate(&body, &state.webhook_urls).await?;
    let (row, secret) = state
        .store
        .create_webhook(caller.org_id(), &state.master_key, body.url.trim(), &events)
        .await?;
    tracing::info!(org_id = %caller.org_id(), webhook_id = %row.id, events = ?row.events, "webhook created");
    crate::api::audit::record(&state, &caller, "webhook.created", "webhook", row.id).await;
    Ok((
        StatusCode::CREATED,
        Json(CreatedWebhookView {
            webhook: row.into(),
            secret,
        }),
    ))
}

/// The organization's webhook subscriptions (never their secrets).
#[utoipa::path(get, path = "/v1/webhooks", tag = "webhooks",
    params(ListParams),
    responses(
        (status = 200, body = Page<WebhookView>),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 503, body = ErrorBody),
    ),
    extensions(("x-min-role" = json!("member"))))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    params: Params,
) -> Result<Json<Page<WebhookView>>, ApiError> {
    let limit = params.limit()?;
    let rows = state
        .store
        .list_webhooks(caller.org_id(), limit + 1, params.uuid_cursor()?)
        .await?;
    Ok(Json(Page::from_rows(
        rows,
        limit,
        |r| r.id,
        WebhookView::from,
    )))
}

/// One webhook subscription of the caller's organization.
#[utoipa::path(get, path = "/v1/webhooks/{id}", tag = "webhooks",
    params(("id" = Uuid, Path, description = "The subscription's id")),
    responses(
        (status = 200, body = WebhookView),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 503, body = ErrorBody),
    ),
    extensions(("x-min-role" = json!("member"))))]
pub async fn get_one(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
) -> Result<Json<WebhookView>, ApiError> {
    let row = state
        .store
        .get_webhook(caller.org_id(), id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    Ok(Json(row.into()))
}

/// Deletes a webhook subscription (Admin, Owner).
#[utoipa::path(delete, path = "/v1/webhooks/{id}", tag = "webhooks",
    params(("id" = Uuid, Path, description = "The subscription's id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 503, body = ErrorBody),
    ),
    extensions(("x-min-role" = json!("admin"))))]
pub async fn delete(
    State(state): State<AppState>,
    Manager(caller): Manager,
    PathId(id): PathId,
) -> Result<StatusCode, ApiError> {
    if state.store.delete_webhook(caller.org_id(), id).await? {
        tracing::info!(org_id = %caller.org_id(), webhook_id = %id, "webhook deleted");
        crate::api::audit::record(&state, &caller, "webhook.deleted", "webhook", id).await;
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found())
    }
}

/// `GET /v1/webhooks/{id}/deliveries`: newest first, each with its attempts.
#[utoipa::path(get, path = "/v1/webhooks/{id}/deliveries", tag = "webhooks",
    params(("id" = Uuid, Path, description = "The subscription's id"), ListParams),
    responses(
        (status = 200, body = Page<DeliveryView>),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 503, body = ErrorBody),
    ),
    extensions(("x-min-role" = json!("member"))))]
pub async fn deliveries(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
    params: Params,
) -> Result<Json<Page<DeliveryView>>, ApiError> {
    let limit = params.limit()?;
    let before = params.uuid_cursor()?;
    state
        .store
        .get_webhook(caller.org_id(), id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let rows = state
        .store
        .list_deliveries(caller.org_id(), id, limit + 1, before)
        .await?;
    Ok(Json(Page::from_rows(
        rows,
        limit,
        |r| r.id,
        DeliveryView::from,
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use fluxcascade_providers::egress::{Resolver, StaticResolver};

    /// Production posture, with `hooks.example.com` and `x.test` resolving to a public address.
    fn production() -> WebhookUrls {
        let public = ["93.184.215.14".parse().unwrap()];
        WebhookUrls::public_only().with_resolver(Resolver::fixed(
            StaticResolver::default()
                .with("hooks.example.com", &public)
                .with("x.test", &public)
                .with("internal.example.com", &["10.1.2.3".parse().unwrap()]),
        ))
    }

    async fn fields_with(urls: &WebhookUrls, url: &str, events: &[&str]) -> Vec<String> {
        let body = CreateWebhookBody {
            url: url.into(),
            events: events.iter().map(|e| e.to_string()).collect(),
        };
        match validate(&body, urls).await {
            Ok(_) => Vec::new(),
            Err(e) => e.details.into_iter().map(|d| d.field).collect(),
        }
    }

    async fn fields(url: &str, events: &[&str]) -> Vec<String> {
        fields_with(&production(), url, events).await
    }

    #[tokio::test]
    async fn urls_must_be_absolute_https_to_public_addresses() {
        assert!(fields("https://hooks.example.com/fc", &["sync.completed"])
            .await
            .is_empty());
        for bad in [
            "/relative",
            "ftp://example.com/x",
            "not a url",
            "",
            "mailto:a@b.c",
            "http://hooks.example.com/fc",
            "https://127.0.0.1:5432/",
            "https://[::1]/",
            "https://2130706433/",
            "https://169.254.169.254/latest/meta-data/",
            "https://internal.example.com/",
            "https://does-not-resolve.example.com/",
        ] {
            assert_eq!(fields(bad, &["sync.completed"]).await, ["url"], "{bad}");
        }
        let long = format!("https://hooks.example.com/{}", "a".repeat(2048));
        assert_eq!(fields(&long, &["sync.completed"]).await, ["url"]);
    }

    #[tokio::test]
    async fn local_development_may_use_loopback_receivers() {
        let dev = WebhookUrls::allow_private();
        assert!(
            fields_with(&dev, "http://127.0.0.1:9000/x", &["sync.failed"])
                .await
                .is_empty()
        );
        assert_eq!(
            fields_with(&dev, "ftp://127.0.0.1/", &["sync.failed"]).await,
            ["url"]
        );
    }

    #[tokio::test]
    async fn each_unknown_event_is_named_by_index() {
        assert_eq!(
            fields(
                "https://x.test",
                &["sync.completed", "sync.done", "SYNC.FAILED"]
            )
            .await,
            ["events[1]", "events[2]"]
        );
        assert_eq!(fields("https://x.test", &[]).await, ["events"]);
        assert_eq!(fields("nope", &[]).await, ["url", "events"]);
    }

    #[tokio::test]
    async fn duplicate_events_are_kept_once() {
        let body = CreateWebhookBody {
            url: "https://x.test".into(),
            events: vec![
                "connection.expired".into(),
                "sync.partial".into(),
                "connection.expired".into(),
            ],
        };
        assert_eq!(
            validate(&body, &production()).await.unwrap(),
            ["connection.expired", "sync.partial"]
        );
    }
}
