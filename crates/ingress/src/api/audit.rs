//! `GET /v1/audit`: the organization's audit log, newest first (Admin, Owner), and [`record`],
//! which handlers call after a change that committed without its own audit entry.

use axum::extract::State;
use axum::Json;
use chrono::{DateTime, Utc};
use fluxcascade_store::audit::{AuditEvent, AuditFilter, AuditRow};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::paging::{Page, Params};
use crate::AppState;

/// Longest `action` filter accepted.
const MAX_ACTION_CHARS: usize = 64;

/// Records `action` on `target_type` `id` by `caller` after its change committed. A failure is
/// logged, not answered: the change is done and the client must learn that.
pub async fn record(state: &AppState, caller: &Caller, action: &str, target_type: &str, id: Uuid) {
    record_event(
        state,
        caller,
        AuditEvent::new(action, target_type, Some(id)),
    )
    .await;
}

/// Records `<target_type>.updated` with the names of the fields that changed.
pub async fn record_update(
    state: &AppState,
    caller: &Caller,
    target_type: &str,
    id: Uuid,
    changed: Vec<String>,
) {
    let action = format!("{target_type}.updated");
    let event = AuditEvent::new(&action, target_type, Some(id)).with_changed_fields(changed);
    record_event(state, caller, event).await;
}

async fn record_event(state: &AppState, caller: &Caller, event: AuditEvent<'_>) {
    if let Err(e) = state.store.record_audit(&caller.0, &event).await {
        tracing::warn!(error = %e, org_id = %caller.org_id(), action = event.action, "could not record an audit entry");
    }
}

/// Records an OAuth callback's change to a connection: the browser carries no key, so the actor
/// is the member and key that started the authorization (none for one started before that was kept).
pub async fn record_callback(
    state: &AppState,
    started: &fluxcascade_store::oauth_states::OAuthState,
    action: &str,
    id: Uuid,
) {
    let org_id = started.org_id;
    let event = AuditEvent::new(action, "connection", Some(id));
    if let Err(e) = state
        .store
        .record_audit_as(org_id, started.started_by, &event)
        .await
    {
        tracing::warn!(error = %e, org_id = %org_id, action, "could not record an audit entry");
    }
}

/// The top-level keys whose value differs between two JSON objects (names only, sorted).
pub fn changed_keys(before: &serde_json::Value, after: &serde_json::Value) -> Vec<String> {
    let empty = serde_json::Map::new();
    let b = before.as_object().unwrap_or(&empty);
    let a = after.as_object().unwrap_or(&empty);
    let mut keys: Vec<String> = b
        .keys()
        .chain(a.keys())
        .filter(|k| b.get(*k) != a.get(*k))
        .cloned()
        .collect();
    keys.sort();
    keys.dedup();
    keys
}

/// Who made a change: the member and the key (both absent when no key made it).
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ActorView {
    pub member_id: Option<Uuid>,
    pub api_key_id: Option<Uuid>,
}

/// What a change was made to.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TargetView {
    #[serde(rename = "type")]
    pub kind: String,
    pub id: Option<Uuid>,
}

/// One audit entry.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditView {
    pub id: Uuid,
    pub at: DateTime<Utc>,
    pub actor: ActorView,
    /// `<target>.<verb>`, e.g. `mapping.updated`.
    pub action: String,
    pub target: TargetView,
    /// For updates: the names (never the values) of the fields that changed.
    pub changed_fields: Vec<String>,
}

impl From<AuditRow> for AuditView {
    fn from(r: AuditRow) -> AuditView {
        AuditView {
            id: r.id,
            at: r.at,
            actor: ActorView {
                member_id: r.actor_member_id,
                api_key_id: r.actor_key_id,
            },
            action: r.action,
            target: TargetView {
                kind: r.target_type,
                id: r.target_id,
            },
            changed_fields: r.changed_fields,
        }
    }
}

/// A page of audit entries.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditPage {
    pub data: Vec<AuditView>,
    pub next_cursor: Option<String>,
}

/// The audit list's query (documentation of what [`Params`] parses).
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct AuditQuery {
    /// Only this action, e.g. `mapping.updated`.
    action: Option<String>,
    /// Only changes to this target.
    target_id: Option<Uuid>,
    /// 1 to 100, default 50.
    limit: Option<i64>,
    /// The `nextCursor` of the previous page.
    cursor: Option<String>,
}

fn filter(params: &Params) -> Result<AuditFilter, ApiError> {
    let action = params
        .get("action")
        .map(|a| {
            if a.len() <= MAX_ACTION_CHARS
                && a.chars()
                    .all(|c| c.is_ascii_lowercase() || c == '.' || c == '_')
            {
                Ok(a.to_string())
            } else {
                Err(ApiError::invalid_field(
                    "action",
                    "must be an action name such as mapping.updated",
                ))
            }
        })
        .transpose()?;
    let target_id = params
        .get("targetId")
        .map(|v| {
            Uuid::parse_str(v).map_err(|_| ApiError::invalid_field("targetId", "must be an id"))
        })
        .transpose()?;
    Ok(AuditFilter { action, target_id })
}

/// The organization's audit log, newest first (Admin, Owner).
#[utoipa::path(get, path = "/v1/audit", tag = "audit", params(AuditQuery),
    responses(
        (status = 200, body = AuditPage),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 422, body = ErrorBody),
    ),
    extensions(("x-min-role" = json!("admin"))))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    params: Params,
) -> Result<Json<Page<AuditView>>, ApiError> {
    caller.require_manage()?;
    let limit = params.limit()?;
    let filter = filter(&params)?;
    let rows = state
        .store
        .list_audit(caller.org_id(), &filter, limit + 1, params.uuid_cursor()?)
        .await?;
    Ok(Json(Page::from_rows(
        rows,
        limit,
        |r| r.id,
        AuditView::from,
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changed_keys_names_top_level_keys_whose_value_changed() {
        let before =
            serde_json::json!({"name": "a", "enabled": true, "schedule": "0 * * * *", "x": [1]});
        let after = serde_json::json!({"name": "b", "enabled": true, "x": [1], "direction": "bidirectional"});
        assert_eq!(
            changed_keys(&before, &after),
            vec!["direction", "name", "schedule"]
        );
        assert!(changed_keys(&before, &before).is_empty());
    }

    #[test]
    fn filters_are_validated() {
        let id = Uuid::now_v7();
        let f = filter(&Params::of(&[
            ("action", "mapping.updated"),
            ("targetId", &id.to_string()),
        ]))
        .unwrap();
        assert_eq!(
            (f.action.as_deref(), f.target_id),
            (Some("mapping.updated"), Some(id))
        );
        for (name, bad) in [("action", "DROP TABLE"), ("targetId", "x")] {
            let e = filter(&Params::of(&[(name, bad)])).unwrap_err();
            assert_eq!(e.details[0].field, name);
        }
    }
}
