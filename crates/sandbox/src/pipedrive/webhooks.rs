//! Pipedrive webhooks: the v1 subscription endpoints and delivery of v2 events
//! `{meta, data, previous}` with the subscription's HTTP Basic credentials, retried as Pipedrive
//! does (10 s timeout; again after 3, 30 and 150 s).

use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};
use tracing::warn;

use super::store::PipedriveKind;
use super::{now_s, pipedrive_error, AccountExt, ChangeSource, PipedriveAccount};
use crate::clock::{correlation_id, iso_seconds};
use crate::state::{lock, SandboxState, SharedState};

/// Waits before each retry of a failed delivery.
pub const RETRY_DELAYS: [Duration; 3] = [
    Duration::from_secs(3),
    Duration::from_secs(30),
    Duration::from_secs(150),
];
/// How long Pipedrive waits for the receiver.
pub const DELIVERY_TIMEOUT: Duration = Duration::from_secs(10);

const ACTIONS: &[&str] = &["create", "change", "delete", "*"];
const OBJECTS: &[&str] = &[
    "activity",
    "deal",
    "lead",
    "note",
    "organization",
    "person",
    "pipeline",
    "product",
    "stage",
    "user",
    "*",
];

/// One webhook subscription.
#[derive(Debug, Clone)]
pub struct PipedriveSubscription {
    pub id: u64,
    pub subscription_url: String,
    pub event_action: String,
    pub event_object: String,
    pub http_auth_user: Option<String>,
    pub http_auth_password: Option<String>,
    pub version: String,
    pub add_s: i64,
}

impl PipedriveSubscription {
    fn matches(&self, action: &str, entity: &str) -> bool {
        (self.event_action == "*" || self.event_action == action)
            && (self.event_object == "*" || self.event_object == entity)
    }

    fn render(&self, company_id: u64) -> Value {
        json!({
            "id": self.id,
            "company_id": company_id,
            "owner_id": 1,
            "user_id": 1,
            "event_action": self.event_action,
            "event_object": self.event_object,
            "subscription_url": self.subscription_url,
            "version": self.version,
            "is_active": 1,
            "add_time": iso_seconds(self.add_s * 1000),
            "remove_time": null,
            "type": "general",
            "http_auth_user": self.http_auth_user,
            "http_auth_password": self.http_auth_password,
            "additional_data": {},
            "remove_reason": null,
            "last_delivery_time": null,
            "last_http_status": null,
            "admin_id": 1,
        })
    }
}

/// A company's subscriptions.
#[derive(Debug, Default)]
pub struct PipedriveSubscriptions {
    list: Vec<PipedriveSubscription>,
    next_id: u64,
}

fn text(body: &Map<String, Value>, key: &str) -> Option<String> {
    body.get(key).and_then(Value::as_str).map(str::to_owned)
}

/// A JSON or form-encoded body as a map.
fn body_map(body: &[u8]) -> Option<Map<String, Value>> {
    if let Ok(Value::Object(m)) = serde_json::from_slice::<Value>(body) {
        return Some(m);
    }
    let text = std::str::from_utf8(body).ok()?;
    if !text.contains('=') {
        return None;
    }
    Some(
        url::form_urlencoded::parse(text.as_bytes())
            .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
            .collect(),
    )
}

/// `POST /api/v1/webhooks`
pub async fn create(axum::Extension(account): AccountExt, body: Bytes) -> Response {
    let Some(body) = body_map(&body) else {
        return pipedrive_error(StatusCode::BAD_REQUEST, "Invalid request body");
    };
    let url = text(&body, "subscription_url").unwrap_or_default();
    let valid_url = url::Url::parse(&url)
        .ok()
        .is_some_and(|u| matches!(u.scheme(), "http" | "https"));
    if !valid_url {
        return pipedrive_error(
            StatusCode::BAD_REQUEST,
            "subscription_url must be a valid URL",
        );
    }
    let action = text(&body, "event_action").unwrap_or_default();
    let object = text(&body, "event_object").unwrap_or_default();
    if !ACTIONS.contains(&action.as_str()) {
        return pipedrive_error(
            StatusCode::BAD_REQUEST,
            format!("event_action must be one of {}", ACTIONS.join(", ")),
        );
    }
    if !OBJECTS.contains(&object.as_str()) {
        return pipedrive_error(
            StatusCode::BAD_REQUEST,
            format!("event_object must be one of {}", OBJECTS.join(", ")),
        );
    }
    let version = text(&body, "version").unwrap_or_else(|| "2.0".into());
    if version != "2.0" && version != "1.0" {
        return pipedrive_error(StatusCode::BAD_REQUEST, "version must be 1.0 or 2.0");
    }
    let mut subs = lock(&account.webhooks);
    subs.next_id += 1;
    let sub = PipedriveSubscription {
        id: subs.next_id,
        subscription_url: url,
        event_action: action,
        event_object: object,
        http_auth_user: text(&body, "http_auth_user"),
        http_auth_password: text(&body, "http_auth_password"),
        version,
        add_s: now_s(),
    };
    let out = sub.render(account.company_id);
    subs.list.push(sub);
    v1_ok(StatusCode::CREATED, Some(out))
}

/// v1 answers: `{success: true, status: "ok", data?}`.
fn v1_ok(status: StatusCode, data: Option<Value>) -> Response {
    let mut body = json!({"success": true, "status": "ok"});
    if let Some(d) = data {
        body["data"] = d;
    }
    (status, axum::Json(body)).into_response()
}

/// `GET /api/v1/webhooks`
pub async fn list(axum::Extension(account): AccountExt) -> Response {
    let subs = lock(&account.webhooks);
    let data: Vec<Value> = subs
        .list
        .iter()
        .map(|s| s.render(account.company_id))
        .collect();
    v1_ok(StatusCode::OK, Some(json!(data)))
}

/// `DELETE /api/v1/webhooks/{id}`
pub async fn remove(axum::Extension(account): AccountExt, Path(id): Path<String>) -> Response {
    let mut subs = lock(&account.webhooks);
    let before = subs.list.len();
    subs.list.retain(|s| s.id.to_string() != id);
    if subs.list.len() == before {
        return pipedrive_error(StatusCode::NOT_FOUND, "Webhook not found");
    }
    v1_ok(StatusCode::OK, None)
}

/// Sends a v2 event for one record change to every matching subscription of the company.
/// `data` is the record after the change (null for a delete), `previous` the changed fields'
/// old values (the whole record for a delete, null for a create).
#[allow(clippy::too_many_arguments)]
pub fn announce(
    state: &SharedState,
    account: &PipedriveAccount,
    kind: PipedriveKind,
    action: &'static str,
    id: u64,
    data: Value,
    previous: Value,
    source: ChangeSource,
) {
    let entity = kind.entity();
    let subs: Vec<PipedriveSubscription> = lock(&account.webhooks)
        .list
        .iter()
        .filter(|s| s.matches(action, entity))
        .cloned()
        .collect();
    if subs.is_empty() {
        return;
    }
    let correlation = correlation_id();
    for sub in subs {
        let meta = json!({
            "action": action,
            "entity": entity,
            "entity_id": id.to_string(),
            "id": uuid::Uuid::new_v4().to_string(),
            "company_id": account.company_id.to_string(),
            "correlation_id": correlation,
            "timestamp": iso_seconds(now_s() * 1000),
            "version": "2.0",
            "webhook_id": sub.id.to_string(),
            "change_source": if source == ChangeSource::Api { "api" } else { "app" },
            "is_bulk_edit": false,
            "type": "general",
            "user_id": "1",
            "attempt": 1,
        });
        let body = json!({"meta": meta, "data": data, "previous": previous});
        tokio::spawn(deliver(Arc::downgrade(state), sub, body));
    }
}

fn client() -> Option<&'static reqwest::Client> {
    static CLIENT: OnceLock<Option<reqwest::Client>> = OnceLock::new();
    CLIENT
        .get_or_init(|| {
            reqwest::Client::builder()
                .timeout(DELIVERY_TIMEOUT)
                .build()
                .map_err(|e| warn!(error = %e, "pipedrive webhook client unavailable"))
                .ok()
        })
        .as_ref()
}

async fn deliver(state: Weak<SandboxState>, sub: PipedriveSubscription, mut body: Value) {
    let Some(http) = client() else { return };
    for attempt in 0..=RETRY_DELAYS.len() {
        body["meta"]["attempt"] = json!(attempt + 1);
        let mut req = http.post(&sub.subscription_url).json(&body);
        if let Some(user) = &sub.http_auth_user {
            req = req.basic_auth(user, sub.http_auth_password.as_deref());
        }
        let status = match req.send().await {
            Ok(r) => r.status().as_u16(),
            Err(e) => {
                warn!(error = %e, webhook_id = sub.id, attempt, "pipedrive webhook delivery failed");
                0
            }
        };
        let Some(st) = state.upgrade() else { return };
        st.stats
            .record_request("pipedrive", "WEBHOOK (outgoing)".to_owned(), status);
        drop(st);
        if (200..300).contains(&status) {
            return;
        }
        if let Some(wait) = RETRY_DELAYS.get(attempt) {
            tokio::time::sleep(*wait).await;
        }
    }
}
