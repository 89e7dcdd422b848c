//! `POST /hooks/hubspot`: a JSON array of up to 100 events, signed with `X-HubSpot-Signature-v3`.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use fluxcascade_core::ProviderKind;
use serde_json::Value;

use super::{enqueue, raw_body, unauthorized, verify, HookAction, HookEvent, CONFIRM_DEADLINE};
use crate::error::{ApiError, ErrorBody};
use crate::AppState;

/// HubSpot's webhook deliveries: a JSON array of up to 100 events, verified by
/// `X-HubSpot-Signature-v3` (no API key).
#[utoipa::path(post, path = "/hooks/hubspot", tag = "hooks", operation_id = "hubspot_hook",
    request_body(content = Vec<Object>, description = "HubSpot's event array"),
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
        .provider_app(ProviderKind::Hubspot)?
        .client_secret
        .clone();
    let headers = req.headers().clone();
    let method = req.method().as_str().to_owned();
    let path_and_query = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "/hooks/hubspot".into());
    let body = raw_body(req, &state).await?;
    // HubSpot signs the URL it called: ours as the public sees it.
    let uri = format!("{}{path_and_query}", state.public_url);
    check_signature(secret.expose(), &headers, &method, &uri, &body)?;
    let events = parse(&body)?;
    enqueue(&state, "hubspot", None, None, events, CONFIRM_DEADLINE).await?;
    Ok(StatusCode::OK)
}

fn check_signature(
    secret: &str,
    headers: &HeaderMap,
    method: &str,
    uri: &str,
    body: &[u8],
) -> Result<(), ApiError> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let (Some(signature), Some(timestamp)) = (
        header("x-hubspot-signature-v3"),
        header("x-hubspot-request-timestamp"),
    ) else {
        return Err(unauthorized(
            "X-HubSpot-Signature-v3 and X-HubSpot-Request-Timestamp are required",
        ));
    };
    if !verify::hubspot_fresh(timestamp, chrono::Utc::now().timestamp_millis()) {
        return Err(unauthorized(
            "X-HubSpot-Request-Timestamp is more than 5 minutes away",
        ));
    }
    if !verify::hubspot_v3(secret, method, uri, body, timestamp, signature) {
        tracing::warn!(uri, "HubSpot webhook with a bad signature");
        return Err(unauthorized("the HubSpot signature does not match"));
    }
    Ok(())
}

/// The events worth a sync: every valid event except our own app's writes coming back.
pub fn parse(body: &[u8]) -> Result<Vec<HookEvent>, ApiError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_json(format!("malformed JSON: {e}")))?;
    let Value::Array(items) = value else {
        return Err(ApiError::bad_request("expected a JSON array of events"));
    };
    let mut events = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let field = |name: &str| -> Result<String, ApiError> {
            match item.get(name) {
                Some(Value::Number(n)) => Ok(n.to_string()),
                Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
                _ => Err(ApiError::bad_request(format!(
                    "event [{i}] has no valid {name}"
                ))),
            }
        };
        let (id, portal, object_id, kind) = (
            field("eventId")?,
            field("portalId")?,
            field("objectId")?,
            field("subscriptionType")?,
        );
        if is_own_write(item) {
            continue;
        }
        let Some((object, action)) = object_and_action(&kind) else {
            continue; // a subscription type we do not sync (e.g. an association change)
        };
        events.push(HookEvent::new(id, portal, object, object_id, action));
    }
    Ok(events)
}

/// `changeSource: INTEGRATION` with `sourceId` = the receiving app's id: our own API write.
fn is_own_write(item: &Value) -> bool {
    let app = match item.get("appId") {
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::String(s)) => s.clone(),
        _ => return false,
    };
    item.get("changeSource").and_then(Value::as_str) == Some("INTEGRATION")
        && item.get("sourceId").and_then(Value::as_str) == Some(app.as_str())
}

/// `contact.propertyChange` → (`contacts`, update).
fn object_and_action(kind: &str) -> Option<(String, HookAction)> {
    let (singular, change) = kind.split_once('.')?;
    let object = match singular {
        "contact" => "contacts",
        "company" => "companies",
        "deal" => "deals",
        "ticket" => "tickets",
        "product" => "products",
        "line_item" => "line_items",
        _ => return None,
    };
    let action = match change {
        "creation" | "restore" => HookAction::Create,
        "propertyChange" | "merge" => HookAction::Update,
        "deletion" | "privacyDeletion" => HookAction::Delete,
        _ => return None,
    };
    Some((object.to_string(), action))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_become_object_and_record_ids_and_own_writes_are_dropped() {
        let body = br#"[
          {"eventId":1,"portalId":62515,"appId":7,"objectId":101,"subscriptionType":"contact.propertyChange",
           "changeSource":"CRM_UI","sourceId":"userId:1","occurredAt":1},
          {"eventId":2,"portalId":62515,"appId":7,"objectId":102,"subscriptionType":"deal.creation"},
          {"eventId":3,"portalId":62515,"appId":7,"objectId":103,"subscriptionType":"contact.propertyChange",
           "changeSource":"INTEGRATION","sourceId":"7"},
          {"eventId":4,"portalId":62515,"appId":7,"objectId":104,"subscriptionType":"contact.propertyChange",
           "changeSource":"INTEGRATION","sourceId":"99"},
          {"eventId":5,"portalId":62515,"appId":7,"objectId":105,"subscriptionType":"contact.deletion"}
        ]"#;
        let events = parse(body).unwrap();
        let got: Vec<(&str, &str, &str)> = events
            .iter()
            .map(|e| (e.id.as_str(), e.object.as_str(), e.action().name()))
            .collect();
        assert_eq!(
            got,
            [
                ("1", "contacts", "update"),
                ("2", "deals", "create"),
                ("4", "contacts", "update"),
                ("5", "contacts", "delete")
            ]
        );
        assert_eq!(events[0].account, "62515");
        assert_eq!(events[0].record_id, "101");
    }

    #[test]
    fn malformed_bodies_are_400() {
        for body in [&b"{"[..], b"{}", br#"[{"portalId":1}]"#, b"[1]"] {
            assert_eq!(parse(body).unwrap_err().status, StatusCode::BAD_REQUEST);
        }
    }
}
