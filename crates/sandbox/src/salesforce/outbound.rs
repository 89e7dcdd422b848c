//! Outbound Messages: an admin's "send a SOAP message to this URL when a <object> changes",
//! configured through the control plane. Pending notifications are batched (≤100 per message
//! and endpoint) into Salesforce's `notifications` envelope; anything but a 2xx SOAP
//! `<Ack>true</Ack>` is retried with exponential backoff.

use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use serde_json::Value;
use tokio::sync::mpsc;
use tracing::warn;

use super::schema::{make_id, SObjectKind, API_VERSION};
use super::SalesforceAccount;
use crate::state::{lock, SandboxState};

/// Salesforce puts at most this many notifications in one message.
pub const MAX_NOTIFICATIONS: usize = 100;
/// Delivery attempts per message before it is dropped (Salesforce keeps trying for 24 h).
pub const MAX_ATTEMPTS: u32 = 8;
/// Longest wait between two attempts.
pub const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// One configured outbound message.
#[derive(Debug, Clone)]
pub struct OutboundConfig {
    /// `04k…`, the workflow action id sent as ActionId.
    pub action_id: String,
    pub object: SObjectKind,
    pub endpoint_url: String,
}

/// One record change waiting to be sent.
#[derive(Debug, Clone)]
struct Pending {
    endpoint_url: String,
    action_id: String,
    org_id: String,
    base_url: String,
    note: OutboundNotification,
}

/// One `Notification` of a message: its own id, and the record's type, id and fields.
#[derive(Debug, Clone)]
pub struct OutboundNotification {
    pub id: String,
    pub object: SObjectKind,
    pub record_id: String,
    pub fields: Vec<(String, Value)>,
}

#[derive(Default)]
struct Inner {
    configs: Vec<OutboundConfig>,
    tx: Option<mpsc::UnboundedSender<Pending>>,
    next_id: u64,
}

/// The outbound messages of one org and their delivery queue.
#[derive(Default)]
pub struct OutboundMessages {
    inner: Mutex<Inner>,
}

impl OutboundMessages {
    /// Adds an outbound message for `object` to `endpoint_url`; starts the delivery task on
    /// first use (needs a Tokio runtime).
    pub fn configure(
        &self,
        state: &Arc<SandboxState>,
        object: SObjectKind,
        endpoint_url: String,
    ) -> OutboundConfig {
        let mut inner = lock(&self.inner);
        inner.next_id += 1;
        let config = OutboundConfig {
            action_id: make_id("04k", inner.next_id),
            object,
            endpoint_url,
        };
        inner.configs.push(config.clone());
        if inner.tx.is_none() {
            let (tx, rx) = mpsc::unbounded_channel();
            tokio::spawn(run(Arc::downgrade(state), rx));
            inner.tx = Some(tx);
        }
        config
    }

    pub fn configs(&self) -> Vec<OutboundConfig> {
        lock(&self.inner).configs.clone()
    }

    /// Queues a notification for every outbound message on `object`: the record's id and
    /// `fields` (the changed ones).
    pub fn notify(
        &self,
        base_url: &str,
        account: &SalesforceAccount,
        object: SObjectKind,
        record_id: &str,
        fields: Vec<(String, Value)>,
    ) {
        let mut inner = lock(&self.inner);
        let targets: Vec<OutboundConfig> = inner
            .configs
            .iter()
            .filter(|c| c.object == object)
            .cloned()
            .collect();
        for c in targets {
            inner.next_id += 1;
            let pending = Pending {
                endpoint_url: c.endpoint_url.clone(),
                action_id: c.action_id.clone(),
                org_id: account.org_id.clone(),
                base_url: format!("{}/salesforce", base_url.trim_end_matches('/')),
                note: OutboundNotification {
                    id: make_id("04l", inner.next_id),
                    object,
                    record_id: record_id.to_owned(),
                    fields: fields.clone(),
                },
            };
            if let Some(tx) = &inner.tx {
                let _ = tx.send(pending);
            }
        }
    }
}

async fn run(state: Weak<SandboxState>, mut rx: mpsc::UnboundedReceiver<Pending>) {
    let http = match reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            warn!(error = %e, "outbound message client unavailable; outbound messages disabled");
            return;
        }
    };
    while let Some(first) = rx.recv().await {
        let mut pending = vec![first];
        while let Ok(p) = rx.try_recv() {
            pending.push(p);
        }
        pending
            .sort_by(|a, b| (&a.endpoint_url, &a.action_id).cmp(&(&b.endpoint_url, &b.action_id)));
        for group in
            pending.chunk_by(|a, b| a.endpoint_url == b.endpoint_url && a.action_id == b.action_id)
        {
            for batch in group.chunks(MAX_NOTIFICATIONS) {
                tokio::spawn(deliver(http.clone(), state.clone(), batch.to_vec()));
            }
        }
    }
}

async fn deliver(http: reqwest::Client, state: Weak<SandboxState>, batch: Vec<Pending>) {
    let Some(first) = batch.first() else { return };
    let url = first.endpoint_url.clone();
    let body = envelope(&batch);
    for attempt in 0..MAX_ATTEMPTS {
        let sent = http
            .post(&url)
            .header("Content-Type", "text/xml; charset=utf-8")
            .header("SOAPAction", "\"\"")
            .body(body.clone())
            .send()
            .await;
        let (status, acked) = match sent {
            Ok(r) => {
                let status = r.status().as_u16();
                let text = r.text().await.unwrap_or_default();
                (status, (200..300).contains(&status) && is_ack(&text))
            }
            Err(e) => {
                warn!(error = %e, attempt, url = %url, "outbound message delivery failed");
                (0, false)
            }
        };
        match state.upgrade() {
            Some(st) => st.stats.record_request(
                "salesforce",
                "OUTBOUND MESSAGE (outgoing)".to_owned(),
                status,
            ),
            None => return,
        }
        if acked {
            return;
        }
        let wait = Duration::from_millis(250u64 << attempt.min(10)).min(MAX_BACKOFF);
        tokio::time::sleep(wait).await;
    }
    warn!(url = %url, notifications = batch.len(), "outbound message dropped after retries");
}

/// Whether a response body is the SOAP `notificationsResponse` with `<Ack>true</Ack>`
/// (any namespace prefix).
pub fn is_ack(body: &str) -> bool {
    let compact: String = body.split_whitespace().collect();
    compact.contains("Ack>true</") && compact.contains("notificationsResponse")
}

/// XML-escapes text content and attribute values.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

fn scalar_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The SOAP `notifications` envelope for one batch (all of one org, action and endpoint).
pub fn envelope_for(
    org_id: &str,
    action_id: &str,
    base_url: &str,
    notifications: &[OutboundNotification],
) -> String {
    let v = API_VERSION.trim_start_matches('v');
    let mut x = String::from(concat!(
        r#"<?xml version="1.0" encoding="UTF-8"?>"#,
        r#"<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" "#,
        r#"xmlns:xsd="http://www.w3.org/2001/XMLSchema" "#,
        r#"xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">"#,
        r#"<soapenv:Body><notifications xmlns="http://soap.sforce.com/2005/09/outbound">"#
    ));
    x.push_str(&format!("<OrganizationId>{}</OrganizationId>", esc(org_id)));
    x.push_str(&format!("<ActionId>{}</ActionId>", esc(action_id)));
    x.push_str(r#"<SessionId xsi:nil="true"/>"#);
    x.push_str(&format!(
        "<EnterpriseUrl>{}</EnterpriseUrl>",
        esc(&format!("{base_url}/services/Soap/c/{v}/{org_id}"))
    ));
    x.push_str(&format!(
        "<PartnerUrl>{}</PartnerUrl>",
        esc(&format!("{base_url}/services/Soap/u/{v}/{org_id}"))
    ));
    for n in notifications {
        let (object, record_id, fields) = (n.object, &n.record_id, &n.fields);
        x.push_str(&format!("<Notification><Id>{}</Id>", esc(&n.id)));
        x.push_str(&format!(
            r#"<sObject xsi:type="sf:{}" xmlns:sf="urn:sobject.enterprise.soap.sforce.com">"#,
            object.name()
        ));
        x.push_str(&format!("<sf:Id>{}</sf:Id>", esc(record_id)));
        for (name, value) in fields.iter().filter(|(n, _)| n != "Id") {
            if value.is_null() {
                x.push_str(&format!(r#"<sf:{name} xsi:nil="true"/>"#));
            } else {
                x.push_str(&format!(
                    "<sf:{name}>{}</sf:{name}>",
                    esc(&scalar_text(value))
                ));
            }
        }
        x.push_str("</sObject></Notification>");
    }
    x.push_str("</notifications></soapenv:Body></soapenv:Envelope>");
    x
}

fn envelope(batch: &[Pending]) -> String {
    let Some(first) = batch.first() else {
        return String::new();
    };
    let notes: Vec<OutboundNotification> = batch.iter().map(|p| p.note.clone()).collect();
    envelope_for(&first.org_id, &first.action_id, &first.base_url, &notes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn envelope_carries_org_notification_and_escaped_fields() {
        let x = envelope_for(
            "00Dabc",
            "04kX",
            "http://h/salesforce",
            &[OutboundNotification {
                id: "04lY".into(),
                object: SObjectKind::Contact,
                record_id: "003Z".into(),
                fields: vec![
                    ("LastName".into(), json!("O'Neil & Co")),
                    ("Phone".into(), Value::Null),
                ],
            }],
        );
        assert!(x.contains("<OrganizationId>00Dabc</OrganizationId>"));
        assert!(x.contains(r#"<sObject xsi:type="sf:Contact""#));
        assert!(x.contains("<sf:Id>003Z</sf:Id>"));
        assert!(x.contains("<sf:LastName>O&apos;Neil &amp; Co</sf:LastName>"));
        assert!(x.contains(r#"<sf:Phone xsi:nil="true"/>"#));
        assert!(is_ack("<soapenv:Envelope><soapenv:Body><notificationsResponse xmlns=\"x\"><Ack>true</Ack></notificationsResponse></soapenv:Body></soapenv:Envelope>"));
        assert!(!is_ack("<Ack>false</Ack>"));
    }
}
