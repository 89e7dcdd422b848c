//! `POST /hooks/pipedrive/{connectionId}`: webhooks v2 `{meta, data, previous}`. Pipedrive signs
//! nothing; the subscription carries HTTP Basic credentials made for the connection
//! (user = the connection id, password = its webhook secret).

use axum::extract::{Path, Request, State};
use axum::http::{header, StatusCode};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use fluxcascade_core::ProviderKind;
use serde_json::Value;

use super::{enqueue, raw_body, secrets, HookAction, HookEvent, CONFIRM_DEADLINE};
use crate::error::{ApiError, ErrorBody};
use crate::AppState;

/// Pipedrive's webhook deliveries for one connection, authenticated by HTTP Basic
/// `<connectionId>:<webhook secret>` (no API key).
#[utoipa::path(post, path = "/hooks/pipedrive/{connection_id}", tag = "hooks", operation_id = "pipedrive_hook",
    params(("connection_id" = String, Path, description = "The connection's id")),
    request_body(content = Object, description = "Pipedrive's webhook notification"),
    security(()),
    responses(
        (status = 200, description = "Enqueued (or nothing to do)"),
        (status = 400, description = "Malformed delivery", body = ErrorBody),
        (status = 401, description = "Bad signature or credentials; nothing enqueued", body = ErrorBody),
        (status = 404, description = "`provider_not_configured`", body = ErrorBody),
        (status = 413, body = ErrorBody),
        (status = 503, description = "The job queue did not confirm; the provider retries", body = ErrorBody),
    ))]
pub async fn receive(
    State(state): State<AppState>,
    Path(connection_id): Path<String>,
    req: Request,
) -> Result<StatusCode, ApiError> {
    state.provider_app(ProviderKind::Pipedrive)?;
    let basic = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(basic_credentials);
    let body = raw_body(req, &state).await?;
    let password = basic
        .as_ref()
        .filter(|(user, _)| *user == connection_id)
        .map(|(_, p)| p.as_str());
    let conn = secrets::authenticate(&state, &connection_id, "pipedrive", password).await?;
    let events = parse(&body)?;
    enqueue(
        &state,
        "pipedrive",
        Some(conn.org_id),
        Some(conn.id),
        events,
        CONFIRM_DEADLINE,
    )
    .await?;
    Ok(StatusCode::OK)
}

/// `Basic base64(user:password)` → (user, password).
fn basic_credentials(value: &str) -> Option<(String, String)> {
    let encoded = value
        .strip_prefix("Basic ")
        .or_else(|| value.strip_prefix("basic "))?;
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (user, password) = decoded.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

pub fn parse(body: &[u8]) -> Result<Vec<HookEvent>, ApiError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_json(format!("malformed JSON: {e}")))?;
    let meta = value
        .get("meta")
        .filter(|m| m.is_object())
        .ok_or_else(|| ApiError::bad_request("meta is missing"))?;
    let text = |name: &str| -> Option<String> {
        match meta.get(name) {
            Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        }
    };
    let missing = |name: &str| ApiError::bad_request(format!("meta.{name} is missing"));
    let action = text("action").ok_or_else(|| missing("action"))?;
    let entity = text("entity").ok_or_else(|| missing("entity"))?;
    let entity_id = text("entity_id").ok_or_else(|| missing("entity_id"))?;
    // v2 carries a unique event id in meta.id; fall back to what identifies one change.
    let id = text("id").unwrap_or_else(|| {
        format!(
            "{}:{entity}:{entity_id}:{}",
            text("correlation_id").unwrap_or_default(),
            text("timestamp").unwrap_or_default()
        )
    });
    let object = match entity.as_str() {
        "person" => "persons",
        "organization" => "organizations",
        "deal" => "deals",
        "activity" => "activities",
        "product" => "products",
        "lead" => "leads",
        _ => return Ok(Vec::new()),
    };
    let action = match action.as_str() {
        "create" | "added" => HookAction::Create,
        "change" | "updated" => HookAction::Update,
        "delete" | "deleted" => HookAction::Delete,
        _ => return Ok(Vec::new()),
    };
    Ok(vec![HookEvent::new(
        id,
        text("company_id").unwrap_or_default(),
        object.to_string(),
        entity_id,
        action,
    )])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v2_meta_becomes_one_event() {
        let body = br#"{"meta":{"action":"change","entity":"person","entity_id":"42","id":"ev-1",
            "company_id":"9","version":"2.0"},"data":{"id":42},"previous":{}}"#;
        let e = parse(body).unwrap();
        assert_eq!(
            (
                e[0].id.as_str(),
                e[0].object.as_str(),
                e[0].record_id.as_str(),
                e[0].action().name()
            ),
            ("ev-1", "persons", "42", "update")
        );
        assert_eq!(
            parse(br#"{"meta":{}}"#).unwrap_err().status,
            StatusCode::BAD_REQUEST
        );
        assert_eq!(parse(b"[").unwrap_err().status, StatusCode::BAD_REQUEST);
    }

    #[test]
    fn a_v2_delete_is_a_delete_event() {
        let body = br#"{"meta":{"action":"delete","entity":"person","entity_id":"42","id":"ev-2",
            "company_id":"9","version":"2.0"},"data":null,"previous":{"id":42,"name":"Ada"}}"#;
        let e = parse(body).unwrap();
        assert_eq!(
            (
                e[0].object.as_str(),
                e[0].record_id.as_str(),
                e[0].action().name()
            ),
            ("persons", "42", "delete")
        );
    }

    #[test]
    fn basic_credentials_are_decoded() {
        let v = format!("Basic {}", STANDARD.encode("id:pw:x"));
        assert_eq!(basic_credentials(&v), Some(("id".into(), "pw:x".into())));
        assert_eq!(basic_credentials("Bearer x"), None);
    }
}
