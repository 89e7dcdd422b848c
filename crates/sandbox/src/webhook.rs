//! Outgoing provider webhooks for record changes, signed as HubSpot and Jobber sign them.
//!
//! Target URL: `webhookUrl` from the config; `{provider}` in it is replaced by the provider
//! name, otherwise `/hooks/{provider}` is appended (the ingress routes of DESIGN §6).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use ring::{digest, hmac};
use serde_json::{json, Value};
use tokio::sync::{mpsc, Semaphore};
use tracing::warn;

use crate::clock::{iso_seconds, now_ms};
use crate::jobber::store::encode_id;
use crate::state::SandboxState;

/// Delivery attempts per webhook before it is dropped.
pub const MAX_ATTEMPTS: u32 = 5;
/// HubSpot puts at most this many events in one POST.
pub const HUBSPOT_BATCH: usize = 100;
/// The app id the sandbox reports for its registered app (also in token metadata).
pub const APP_ID: u64 = 1;

/// Who made a change: the integration through the API, or a person (control plane).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeSource {
    Integration,
    User,
}

/// One record change to announce.
#[derive(Debug, Clone)]
pub enum WebhookEvent {
    Hubspot {
        portal_id: u64,
        object: &'static str,
        object_id: u64,
        change: HubspotChange,
        source: ChangeSource,
    },
    Jobber {
        account_id: u64,
        topic: &'static str,
        /// Jobber type name of the item (`Client`, `Job`).
        item_kind: &'static str,
        item_id: u64,
    },
}

/// What happened to a HubSpot object (the `subscriptionType` suffix).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HubspotChange {
    /// `{object}.creation`
    Creation,
    /// `{object}.propertyChange` with (property, new value).
    Property(String, String),
    /// `{object}.deletion` (the object was archived).
    Deletion,
}

/// Queue of events; a background task delivers them.
pub struct WebhookDispatcher {
    tx: mpsc::UnboundedSender<WebhookEvent>,
    next_event_id: AtomicU64,
}

impl WebhookDispatcher {
    /// Creates the dispatcher and spawns its delivery task (which ends with the state).
    pub fn start(
        state: Weak<SandboxState>,
    ) -> (WebhookDispatcher, impl std::future::Future<Output = ()>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (
            WebhookDispatcher {
                tx,
                next_event_id: AtomicU64::new(1),
            },
            run(state, rx),
        )
    }

    /// Queues `events` (dropped when no webhook URL is configured).
    pub fn emit(&self, state: &SandboxState, events: impl IntoIterator<Item = WebhookEvent>) {
        if state.config().webhook_url.is_none() {
            return;
        }
        for e in events {
            let _ = self.tx.send(e);
        }
    }

    fn event_id(&self) -> u64 {
        self.next_event_id.fetch_add(1, Ordering::Relaxed)
    }
}

fn target(base: &str, provider: &str) -> String {
    if base.contains("{provider}") {
        base.replace("{provider}", provider)
    } else {
        format!("{}/hooks/{provider}", base.trim_end_matches('/'))
    }
}

async fn run(state: Weak<SandboxState>, mut rx: mpsc::UnboundedReceiver<WebhookEvent>) {
    let http = match reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            warn!(error = %e, "webhook client unavailable; webhooks disabled");
            return;
        }
    };
    let limit = Arc::new(Semaphore::new(32));
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        while batch.len() < 1000 {
            match rx.try_recv() {
                Ok(e) => batch.push(e),
                Err(_) => break,
            }
        }
        let Some(st) = state.upgrade() else { return };
        let cfg = st.config();
        let Some(base) = cfg.webhook_url.clone() else {
            continue;
        };
        let mut hubspot: Vec<(u64, Value)> = Vec::new();
        for e in batch {
            match e {
                WebhookEvent::Hubspot {
                    portal_id,
                    object,
                    object_id,
                    change,
                    source,
                } => {
                    let singular = object.trim_end_matches('s').replace("companie", "company");
                    let mut ev = json!({
                        "eventId": st.webhooks.event_id(),
                        "subscriptionId": match &change {
                            HubspotChange::Creation => 1000,
                            HubspotChange::Property(..) => 1001,
                            HubspotChange::Deletion => 1002,
                        },
                        "portalId": portal_id,
                        "appId": APP_ID,
                        "occurredAt": now_ms(),
                        "attemptNumber": 0,
                        "objectId": object_id,
                        "changeSource": if source == ChangeSource::Integration { "INTEGRATION" } else { "CRM_UI" },
                        "sourceId": if source == ChangeSource::Integration { APP_ID.to_string() } else { "userId:1".to_owned() },
                    });
                    match change {
                        HubspotChange::Creation => {
                            ev["subscriptionType"] = json!(format!("{singular}.creation"))
                        }
                        HubspotChange::Property(name, value) => {
                            ev["subscriptionType"] = json!(format!("{singular}.propertyChange"));
                            ev["propertyName"] = json!(name);
                            ev["propertyValue"] = json!(value);
                        }
                        HubspotChange::Deletion => {
                            ev["subscriptionType"] = json!(format!("{singular}.deletion"))
                        }
                    }
                    hubspot.push((portal_id, ev));
                }
                WebhookEvent::Jobber {
                    account_id,
                    topic,
                    item_kind,
                    item_id,
                } => {
                    let body = json!({"data": {"webHookEvent": {
                        "topic": topic,
                        "appId": cfg.app("jobber").client_id,
                        "accountId": encode_id("Account", account_id),
                        "itemId": encode_id(item_kind, item_id),
                        "occurredAt": iso_seconds(now_ms()),
                    }}});
                    let secret = cfg.app("jobber").client_secret;
                    spawn_delivery(
                        &http,
                        &limit,
                        &st,
                        Delivery::Jobber {
                            url: target(&base, "jobber"),
                            body,
                            secret,
                        },
                    );
                }
            }
        }
        hubspot.sort_by_key(|(p, _)| *p);
        for chunk in hubspot.chunk_by(|a, b| a.0 == b.0) {
            for part in chunk.chunks(HUBSPOT_BATCH) {
                let events: Vec<Value> = part.iter().map(|(_, e)| e.clone()).collect();
                spawn_delivery(
                    &http,
                    &limit,
                    &st,
                    Delivery::Hubspot {
                        url: target(&base, "hubspot"),
                        events,
                        secret: cfg.app("hubspot").client_secret,
                    },
                );
            }
        }
    }
}

enum Delivery {
    Hubspot {
        url: String,
        events: Vec<Value>,
        secret: String,
    },
    Jobber {
        url: String,
        body: Value,
        secret: String,
    },
}

fn spawn_delivery(
    http: &reqwest::Client,
    limit: &Arc<Semaphore>,
    state: &Arc<SandboxState>,
    d: Delivery,
) {
    let http = http.clone();
    let limit = limit.clone();
    let state = Arc::downgrade(state);
    tokio::spawn(async move {
        let Ok(_permit) = limit.acquire_owned().await else {
            return;
        };
        for attempt in 0..MAX_ATTEMPTS {
            let req = build(&http, &d, attempt);
            let (provider, status) = match req.send().await {
                Ok(r) => (provider_of(&d), r.status().as_u16()),
                Err(e) => {
                    warn!(error = %e, attempt, "webhook delivery failed");
                    (provider_of(&d), 0)
                }
            };
            if let Some(st) = state.upgrade() {
                st.stats
                    .record_request(provider, "WEBHOOK (outgoing)".to_owned(), status);
            }
            if (200..300).contains(&status) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(200 << attempt)).await;
        }
    });
}

fn provider_of(d: &Delivery) -> &'static str {
    match d {
        Delivery::Hubspot { .. } => "hubspot",
        Delivery::Jobber { .. } => "jobber",
    }
}

fn build(http: &reqwest::Client, d: &Delivery, attempt: u32) -> reqwest::RequestBuilder {
    match d {
        Delivery::Hubspot {
            url,
            events,
            secret,
        } => {
            let events: Vec<Value> = events
                .iter()
                .map(|e| {
                    let mut e = e.clone();
                    e["attemptNumber"] = json!(attempt);
                    e
                })
                .collect();
            let body = Value::Array(events).to_string();
            let ts = now_ms().to_string();
            let (v3, v1) = hubspot_signatures(secret, "POST", url, &body, &ts);
            http.post(url)
                .header("Content-Type", "application/json")
                .header("X-HubSpot-Request-Timestamp", ts)
                .header("X-HubSpot-Signature-v3", v3)
                .header("X-HubSpot-Signature", v1)
                .header("X-HubSpot-Signature-Version", "v1")
                .body(body)
        }
        Delivery::Jobber { url, body, secret } => {
            let body = body.to_string();
            http.post(url)
                .header("Content-Type", "application/json")
                .header("X-Jobber-Hmac-SHA256", jobber_signature(secret, &body))
                .body(body)
        }
    }
}

/// (v3, v1) signatures: v3 = base64(HMAC-SHA256(secret, method + uri + body + timestamp)),
/// v1 = hex(SHA-256(secret + body)).
pub fn hubspot_signatures(
    secret: &str,
    method: &str,
    uri: &str,
    body: &str,
    ts: &str,
) -> (String, String) {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    let v3 = STANDARD.encode(hmac::sign(
        &key,
        format!("{method}{uri}{body}{ts}").as_bytes(),
    ));
    let v1 = digest::digest(&digest::SHA256, format!("{secret}{body}").as_bytes());
    let v1: String = v1.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    (v3, v1)
}

/// base64(HMAC-SHA256(secret, body)).
pub fn jobber_signature(secret: &str, body: &str) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    STANDARD.encode(hmac::sign(&key, body.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_appends_hooks_path_or_substitutes() {
        assert_eq!(target("http://h:1/", "jobber"), "http://h:1/hooks/jobber");
        assert_eq!(
            target("http://h:1/in/{provider}", "hubspot"),
            "http://h:1/in/hubspot"
        );
    }

    #[test]
    fn signatures_match_a_manual_hmac() {
        let key = hmac::Key::new(hmac::HMAC_SHA256, b"s");
        let expected = STANDARD.encode(hmac::sign(&key, b"POSThttp://x/hooks[]1"));
        assert_eq!(
            hubspot_signatures("s", "POST", "http://x/hooks", "[]", "1").0,
            expected
        );
        assert_ne!(jobber_signature("s", "a"), jobber_signature("t", "a"));
    }
}
