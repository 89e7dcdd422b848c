//! `POST /hooks/jobber`: `{data:{webHookEvent:{topic, appId, accountId, itemId, occurredAt}}}`,
//! signed with `X-Jobber-Hmac-SHA256`; Jobber wants the answer within 1 s.
//!
//! Jobber's payload has no event id, and `occurredAt` is whole seconds: two real changes of one
//! item within one second send byte-identical bodies, exactly like a redelivery. Telling them apart
//! is impossible, so no Jobber delivery is ever dropped as a duplicate: each gets its own event id
//! (`topic:itemId:occurredAt:` + a UUID v7 drawn on receipt). A redelivery costs one more read of
//! the record, which the link hash turns into a skip; deliveries that arrive while the mapping's
//! webhook run is pending join that run (coalesced), so a burst is read once.

use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use fluxcascade_core::ProviderKind;
use serde_json::Value;

use super::{enqueue, raw_body, unauthorized, verify, HookAction, HookEvent};
use crate::error::{ApiError, ErrorBody};
use crate::AppState;

/// The publish must be confirmed within this, so the answer beats Jobber's 1 s deadline.
pub const JOBBER_DEADLINE: Duration = Duration::from_millis(900);

/// Jobber's webhook deliveries, verified by `X-Jobber-Hmac-SHA256` over the raw body (no API key).
#[utoipa::path(post, path = "/hooks/jobber", tag = "hooks", operation_id = "jobber_hook",
    request_body(content = Object, description = "Jobber's webhook notification"),
    security(()),
    responses(
        (status = 200, description = "Enqueued (or nothing to do)"),
        (status = 400, description = "Malformed delivery", body = ErrorBody),
        (status = 401, description = "Bad signature or credentials; nothing enqueued", body = ErrorBody),
        (status = 404, description = "`provider_not_configured`", body = ErrorBody),
        (status = 413, body = ErrorBody),
        (status = 503, description = "The job queue did not confirm; the provider retries", body = ErrorBody),
    ))]
pub async fn receive(State(state): State<AppState>, req: Request) -> Result<StatusCode, ApiError> {
    let secret = state
        .provider_app(ProviderKind::Jobber)?
        .client_secret
        .clone();
    let signature = req
        .headers()
        .get("x-jobber-hmac-sha256")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = raw_body(req, &state).await?;
    let Some(signature) = signature else {
        return Err(unauthorized("X-Jobber-Hmac-SHA256 is required"));
    };
    if !verify::jobber(secret.expose(), &body, &signature) {
        tracing::warn!("Jobber webhook with a bad signature");
        return Err(unauthorized("the Jobber signature does not match"));
    }
    let events = parse(&body)?;
    enqueue(&state, "jobber", None, None, events, JOBBER_DEADLINE).await?;
    Ok(StatusCode::OK)
}

pub fn parse(body: &[u8]) -> Result<Vec<HookEvent>, ApiError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_json(format!("malformed JSON: {e}")))?;
    let event = &value["data"]["webHookEvent"];
    let field = |name: &str| -> Result<String, ApiError> {
        match event.get(name) {
            Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
            Some(Value::Number(n)) => Ok(n.to_string()),
            _ => Err(ApiError::bad_request(format!(
                "data.webHookEvent.{name} is missing"
            ))),
        }
    };
    let (topic, account, item) = (field("topic")?, field("accountId")?, field("itemId")?);
    let occurred = field("occurredAt").unwrap_or_default();
    let Some((object, action)) = object_and_action(&topic) else {
        return Ok(Vec::new()); // a topic we do not sync (invoices, quotes, app events)
    };
    let nonce = uuid::Uuid::now_v7();
    Ok(vec![HookEvent::new(
        format!("{topic}:{item}:{occurred}:{nonce}"),
        account,
        object.to_string(),
        item,
        action,
    )])
}

/// `CLIENT_UPDATE` → (`clients`, update).
fn object_and_action(topic: &str) -> Option<(&'static str, HookAction)> {
    let (kind, change) = topic.rsplit_once('_')?;
    let object = match kind {
        "CLIENT" => "clients",
        "JOB" => "jobs",
        "PROPERTY" => "properties",
        _ => return None,
    };
    let action = match change {
        "CREATE" => HookAction::Create,
        "UPDATE" => HookAction::Update,
        "DESTROY" | "DELETE" => HookAction::Delete,
        _ => return None,
    };
    Some((object, action))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_update_is_one_event_never_equal_to_an_identical_delivery() {
        let body = br#"{"data":{"webHookEvent":{"topic":"CLIENT_UPDATE","appId":"a","accountId":"QWNj","itemId":"Q2xp","occurredAt":"2026-01-01T00:00:00Z"}}}"#;
        let e = parse(body).unwrap();
        assert_eq!(e.len(), 1);
        assert!(
            e[0].id
                .starts_with("CLIENT_UPDATE:Q2xp:2026-01-01T00:00:00Z:"),
            "{}",
            e[0].id
        );
        // The same bytes again (a redelivery, or a second change in the same second) is a new event.
        assert_ne!(parse(body).unwrap()[0].id, e[0].id);
        assert_eq!(
            (
                e[0].object.as_str(),
                e[0].action().name(),
                e[0].account.as_str()
            ),
            ("clients", "update", "QWNj")
        );
        let invoice =
            br#"{"data":{"webHookEvent":{"topic":"INVOICE_CREATE","accountId":"a","itemId":"i"}}}"#;
        assert!(parse(invoice).unwrap().is_empty());
    }

    #[test]
    fn a_destroyed_client_is_a_delete_event() {
        let body = br#"{"data":{"webHookEvent":{"topic":"CLIENT_DESTROY","appId":"a","accountId":"QWNj","itemId":"Q2xp","occurredAt":"2026-01-01T00:00:00Z"}}}"#;
        let e = parse(body).unwrap();
        assert_eq!(
            (
                e[0].object.as_str(),
                e[0].record_id.as_str(),
                e[0].action().name()
            ),
            ("clients", "Q2xp", "delete")
        );
    }

    #[test]
    fn malformed_bodies_are_400() {
        for body in [
            &b"nope"[..],
            b"{}",
            br#"{"data":{"webHookEvent":{"topic":"CLIENT_UPDATE"}}}"#,
        ] {
            assert_eq!(parse(body).unwrap_err().status, StatusCode::BAD_REQUEST);
        }
    }
}
