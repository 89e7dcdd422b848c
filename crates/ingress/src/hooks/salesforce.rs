//! `POST /hooks/salesforce/{connectionId}?s=<webhook secret>`: a SOAP Outbound Message
//! (`notifications` with OrganizationId and up to 100 `Notification{Id, sObject}`), answered with
//! the SOAP Ack. Outbound messages are not signed: the secret in the URL (configured with the
//! outbound message's endpoint) and the OrganizationId (the connection's org) authenticate it.

use axum::extract::{Path, Query, Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use fluxcascade_core::ProviderKind;
use quick_xml::events::Event;
use quick_xml::Reader;
use serde::Deserialize;

use super::{enqueue, raw_body, secrets, unauthorized, HookAction, HookEvent, CONFIRM_DEADLINE};
use crate::error::{ApiError, ErrorBody};
use crate::AppState;

/// At most this many notifications in one message (Salesforce's own limit).
pub const MAX_NOTIFICATIONS: usize = 100;

/// What Salesforce expects back once the message is safe with us.
pub const ACK: &str = concat!(
    r#"<?xml version="1.0" encoding="UTF-8"?>"#,
    r#"<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/">"#,
    r#"<soapenv:Body><notificationsResponse xmlns="http://soap.sforce.com/2005/09/outbound">"#,
    r#"<Ack>true</Ack></notificationsResponse></soapenv:Body></soapenv:Envelope>"#
);

/// `s`: the connection's webhook secret (part of the endpoint URL shown at creation).
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SecretQuery {
    #[serde(default)]
    s: Option<String>,
}

/// Salesforce outbound messages for one connection (SOAP), authenticated by the connection's
/// webhook secret in `s` and the message's OrganizationId (no API key); answered with the SOAP Ack.
#[utoipa::path(post, path = "/hooks/salesforce/{connection_id}", tag = "hooks", operation_id = "salesforce_hook",
    params(("connection_id" = String, Path, description = "The connection's id"), SecretQuery),
    request_body(content = String, content_type = "text/xml", description = "A SOAP outbound message"),
    security(()),
    responses(
        (status = 200, description = "The SOAP Ack", content_type = "text/xml", body = String),
        (status = 400, description = "Malformed delivery", body = ErrorBody),
        (status = 401, description = "Bad signature or credentials; nothing enqueued", body = ErrorBody),
        (status = 404, description = "`provider_not_configured`", body = ErrorBody),
        (status = 413, body = ErrorBody),
        (status = 503, description = "The job queue did not confirm; the provider retries", body = ErrorBody),
    ))]
pub async fn receive(
    State(state): State<AppState>,
    Path(connection_id): Path<String>,
    Query(query): Query<SecretQuery>,
    req: Request,
) -> Result<Response, ApiError> {
    state.provider_app(ProviderKind::Salesforce)?;
    let body = raw_body(req, &state).await?;
    let conn =
        secrets::authenticate(&state, &connection_id, "salesforce", query.s.as_deref()).await?;
    let message = parse(&body)?;
    if !same_org(&message.organization_id, &conn.external_account_id) {
        tracing::warn!(connection_id = %conn.id, org = %message.organization_id, "Salesforce message from another org");
        return Err(unauthorized(
            "the OrganizationId is not this connection's organization",
        ));
    }
    let events: Vec<HookEvent> = message
        .notifications
        .into_iter()
        .map(|n| {
            HookEvent::new(
                n.id,
                message.organization_id.clone(),
                n.object,
                n.record_id,
                HookAction::Update,
            )
        })
        .collect();
    enqueue(
        &state,
        "salesforce",
        Some(conn.org_id),
        Some(conn.id),
        events,
        CONFIRM_DEADLINE,
    )
    .await?;
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/xml; charset=utf-8")],
        ACK,
    )
        .into_response())
}

/// Salesforce ids come in a 15-character case-sensitive and an 18-character form.
fn same_org(a: &str, b: &str) -> bool {
    let short = |s: &str| s.get(..15).unwrap_or(s).to_owned();
    !a.is_empty() && !b.is_empty() && short(a) == short(b)
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct OutboundMessage {
    pub organization_id: String,
    pub notifications: Vec<Notification>,
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Notification {
    /// The notification's own id (stable across Salesforce's retries: the dedupe key).
    pub id: String,
    /// The sObject type (`Contact`).
    pub object: String,
    pub record_id: String,
}

/// Reads the `notifications` element of the SOAP envelope; namespace prefixes are ignored.
pub fn parse(body: &[u8]) -> Result<OutboundMessage, ApiError> {
    let bad = |m: String| ApiError::bad_request(format!("malformed outbound message: {m}"));
    let mut reader = Reader::from_reader(body);
    reader.config_mut().trim_text(true);
    let mut path: Vec<String> = Vec::new();
    let mut message = OutboundMessage::default();
    let mut current: Option<Notification> = None;
    let mut saw_notifications = false;
    loop {
        match reader.read_event().map_err(|e| bad(e.to_string()))? {
            Event::Start(e) => {
                let name = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                match name.as_str() {
                    "notifications" => saw_notifications = true,
                    "Notification" => current = Some(Notification::default()),
                    "sObject" => {
                        for attr in e.attributes().flatten() {
                            if attr.key.local_name().as_ref() == b"type" {
                                let v = String::from_utf8_lossy(&attr.value).into_owned();
                                let object = v.rsplit(':').next().unwrap_or_default().to_owned();
                                if let Some(n) = current.as_mut() {
                                    n.object = object;
                                }
                            }
                        }
                    }
                    _ => {}
                }
                path.push(name);
            }
            Event::End(_) => {
                let closed = path.pop();
                if closed.as_deref() != Some("Notification") {
                    continue;
                }
                let n = current.take().unwrap_or_default();
                if n.id.is_empty() || n.object.is_empty() || n.record_id.is_empty() {
                    return Err(bad(
                        "a Notification lacks its Id, sObject type or sObject Id".into(),
                    ));
                }
                message.notifications.push(n);
                if message.notifications.len() > MAX_NOTIFICATIONS {
                    return Err(bad(format!("more than {MAX_NOTIFICATIONS} notifications")));
                }
            }
            Event::Text(t) => {
                let text = t
                    .decode()
                    .map_err(|e| bad(e.to_string()))?
                    .trim()
                    .to_owned();
                let tail: Vec<&str> = path.iter().rev().take(2).map(String::as_str).collect();
                match (tail.first(), tail.get(1), current.as_mut()) {
                    (Some(&"OrganizationId"), Some(&"notifications"), _) => {
                        message.organization_id = text
                    }
                    (Some(&"Id"), Some(&"Notification"), Some(n)) => n.id = text,
                    (Some(&"Id"), Some(&"sObject"), Some(n)) => n.record_id = text,
                    _ => {}
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if !saw_notifications || message.organization_id.is_empty() {
        return Err(bad("no notifications element with an OrganizationId".into()));
    }
    Ok(message)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MESSAGE: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
 <soapenv:Body>
  <notifications xmlns="http://soap.sforce.com/2005/09/outbound">
   <OrganizationId>00D000000000062EAA</OrganizationId>
   <ActionId>04k000000000001AAA</ActionId>
   <SessionId xsi:nil="true"/>
   <Notification>
    <Id>04l000000000001AAA</Id>
    <sObject xsi:type="sf:Contact" xmlns:sf="urn:sobject.enterprise.soap.sforce.com">
     <sf:Id>003000000000001AAA</sf:Id>
     <sf:FirstName>Ada</sf:FirstName>
    </sObject>
   </Notification>
   <Notification>
    <Id>04l000000000002AAA</Id>
    <sObject xsi:type="sf:Account" xmlns:sf="urn:sobject.enterprise.soap.sforce.com">
     <sf:Id>001000000000002AAA</sf:Id>
    </sObject>
   </Notification>
  </notifications>
 </soapenv:Body>
</soapenv:Envelope>"#;

    #[test]
    fn notifications_carry_their_id_object_and_record() {
        let m = parse(MESSAGE.as_bytes()).unwrap();
        assert_eq!(m.organization_id, "00D000000000062EAA");
        assert_eq!(
            m.notifications,
            vec![
                Notification {
                    id: "04l000000000001AAA".into(),
                    object: "Contact".into(),
                    record_id: "003000000000001AAA".into()
                },
                Notification {
                    id: "04l000000000002AAA".into(),
                    object: "Account".into(),
                    record_id: "001000000000002AAA".into()
                }
            ]
        );
    }

    #[test]
    fn malformed_messages_are_400() {
        for body in [
            "<a><b></a>",
            "{}",
            "<Envelope/>",
            &MESSAGE.replace("<Id>04l000000000001AAA</Id>", ""),
        ] {
            assert_eq!(
                parse(body.as_bytes()).unwrap_err().status,
                StatusCode::BAD_REQUEST,
                "{body}"
            );
        }
    }

    #[test]
    fn org_ids_compare_in_15_and_18_character_forms() {
        assert!(same_org("00D000000000062EAA", "00D000000000062"));
        assert!(!same_org("00D000000000062EAA", "00D000000000063EAA"));
        assert!(!same_org("00D000000000062EAA", ""));
    }
}
