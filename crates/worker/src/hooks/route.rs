//! Which connections a delivery is for (by account id, or the one its URL named) and which
//! mappings each event goes to.

use std::collections::BTreeMap;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use fluxcascade_core::{Direction, OnDelete};
use fluxcascade_proto::v1::{HookAction, WebhookJob};
use fluxcascade_store::hook_events::{HookMapping, RoutedEvent};
use fluxcascade_store::Store;
use serde::Deserialize;
use uuid::Uuid;

use crate::error::WorkerError;

pub(crate) use fluxcascade_proto::v1::HookEvent;

/// A job's events as written before they were messages (`WebhookJob.events_json`).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct LegacyHookEvent {
    id: String,
    #[serde(default)]
    account: String,
    object: String,
    record_id: String,
    action: String,
}

/// The hook events of a job: its `events`, or — a job queued by an older ingress — its
/// `events_json`. An action this worker does not know is refused (the job is dead-lettered).
pub(crate) fn events_of(job: &WebhookJob) -> Result<Vec<HookEvent>, WorkerError> {
    if !job.events.is_empty() || job.events_json.is_empty() {
        return Ok(job.events.clone());
    }
    let legacy: Vec<LegacyHookEvent> = serde_json::from_slice(&job.events_json)
        .map_err(|e| WorkerError::bad_job(format!("undecodable webhook events: {e}")))?;
    legacy
        .into_iter()
        .map(|e| {
            let action = HookAction::from_name(&e.action).ok_or_else(|| {
                WorkerError::bad_job(format!("unknown webhook event action {:?}", e.action))
            })?;
            Ok(HookEvent::new(
                e.id,
                e.account,
                e.object,
                e.record_id,
                action,
            ))
        })
        .collect()
}

/// A connection and the indices of the events that are for it.
pub(crate) struct ForConnection {
    pub id: Uuid,
    pub org_id: Uuid,
    pub events: Vec<usize>,
}

pub(crate) fn single_connection(
    org_id: Uuid,
    id: Uuid,
    events: &[HookEvent],
) -> Vec<ForConnection> {
    vec![ForConnection {
        id,
        org_id,
        events: (0..events.len()).collect(),
    }]
}

/// HubSpot and Jobber: every live connection of each event's account (several orgs may have
/// connected the same portal).
pub(crate) async fn connections_by_account(
    store: &Store,
    provider: &str,
    events: &[HookEvent],
) -> Result<Vec<ForConnection>, WorkerError> {
    let mut by_account: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, e) in events.iter().enumerate() {
        by_account.entry(e.account.as_str()).or_default().push(i);
    }
    let mut out = Vec::new();
    for (account, indices) in by_account {
        if account.is_empty() {
            continue;
        }
        let found = store
            .connections_for_account(provider, &account_forms(account))
            .await?;
        out.extend(found.into_iter().map(|c| ForConnection {
            id: c.id,
            org_id: c.org_id,
            events: indices.clone(),
        }));
    }
    Ok(out)
}

/// The forms an account id may be stored in: as sent, and for Jobber's encoded
/// `gid://Jobber/Account/<n>` also `<n>` (what the access token's `account_id` says).
pub(crate) fn account_forms(account: &str) -> Vec<String> {
    let mut forms = vec![account.to_string()];
    if let Some(n) = STANDARD
        .decode(account)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| s.rsplit_once('/').map(|(_, n)| n.to_string()))
    {
        forms.push(n);
    }
    forms
}

/// Every (connection, event) with the mappings it goes to; events that go nowhere are kept so
/// they are deduped too.
pub(crate) async fn route(
    store: &Store,
    events: &[HookEvent],
    connections: &[ForConnection],
) -> Result<Vec<RoutedEvent>, WorkerError> {
    let mut by_org: BTreeMap<Uuid, Vec<&ForConnection>> = BTreeMap::new();
    for c in connections {
        by_org.entry(c.org_id).or_default().push(c);
    }
    let mut out = Vec::new();
    for (org_id, conns) in by_org {
        let ids: Vec<Uuid> = conns.iter().map(|c| c.id).collect();
        let mappings = store.mappings_touching(org_id, &ids).await?;
        for c in conns {
            for &i in &c.events {
                let e = &events[i];
                out.push(RoutedEvent {
                    connection_id: c.id,
                    org_id,
                    event_id: e.id.clone(),
                    record_id: e.record_id.clone(),
                    routes: routes_for(&mappings, c.id, e),
                });
            }
        }
    }
    Ok(out)
}

/// The `(mapping, side)` pairs an event goes to: mappings whose source is the connection and
/// object (read forward), or — for target_to_source and bidirectional — whose target is
/// (read in the reverse leg). Deletions go only to mappings that act on them (`onDelete` other
/// than `ignore`): the run finds the record gone and applies the policy.
pub(crate) fn routes_for(
    mappings: &[HookMapping],
    connection_id: Uuid,
    event: &HookEvent,
) -> Vec<(Uuid, &'static str)> {
    let conn = connection_id.to_string();
    let mut routes = Vec::new();
    let acts = |m: &&HookMapping| !event.is_deletion() || m.spec.on_delete != OnDelete::Ignore;
    for m in mappings.iter().filter(|m| m.spec.enabled).filter(acts) {
        let s = &m.spec;
        let forward = s.direction != Direction::TargetToSource;
        let reverse = s.direction != Direction::SourceToTarget;
        if forward && s.source.connection_id == conn && s.source.object == event.object {
            routes.push((m.id, "source"));
        }
        if reverse && s.target.connection_id == conn && s.target.object == event.object {
            routes.push((m.id, "target"));
        }
    }
    routes
}

#[cfg(test)]
mod tests {
    use super::*;
    use fluxcascade_core::MappingSpec;
    use serde_json::json;

    fn mapping(source: Uuid, target: Uuid, direction: &str, enabled: bool) -> HookMapping {
        let spec: MappingSpec = serde_json::from_value(json!({
            "name": "m",
            "source": {"connectionId": source.to_string(), "object": "contacts"},
            "target": {"connectionId": target.to_string(), "object": "clients"},
            "direction": direction,
            "fieldPairs": [{"sourceField": "firstname", "targetField": "firstName"}],
            "enabled": enabled
        }))
        .unwrap();
        HookMapping {
            id: Uuid::new_v4(),
            org_id: Uuid::nil(),
            spec,
        }
    }

    fn event(object: &str, action: &str) -> HookEvent {
        let action = HookAction::from_name(action).expect("an action");
        HookEvent::new("1".into(), "a".into(), object.into(), "r".into(), action)
    }

    #[test]
    fn events_go_to_enabled_mappings_reading_that_connection_and_object() {
        let (hs, jb) = (Uuid::new_v4(), Uuid::new_v4());
        let forward = mapping(hs, jb, "source_to_target", true);
        let both = mapping(hs, jb, "bidirectional", true);
        let reverse = mapping(hs, jb, "target_to_source", true);
        let off = mapping(hs, jb, "source_to_target", false);
        let all = [forward.clone(), both.clone(), reverse.clone(), off];
        assert_eq!(
            routes_for(&all, hs, &event("contacts", "update")),
            vec![(forward.id, "source"), (both.id, "source")]
        );
        assert_eq!(
            routes_for(&all, jb, &event("clients", "create")),
            vec![(both.id, "target"), (reverse.id, "target")]
        );
        assert!(routes_for(&all, hs, &event("deals", "update")).is_empty());
        assert!(
            routes_for(&all, hs, &event("contacts", "delete")).is_empty(),
            "no mapping acts on deletions (onDelete defaults to ignore)"
        );
        let mut archiving = mapping(hs, jb, "source_to_target", true);
        archiving.spec.on_delete = OnDelete::Archive;
        let with_archive = [forward.clone(), archiving.clone()];
        assert_eq!(
            routes_for(&with_archive, hs, &event("contacts", "delete")),
            vec![(archiving.id, "source")],
            "a deletion goes to the mappings that act on it"
        );
        assert!(event("contacts", "delete").is_deletion());
        assert!(!event("contacts", "update").is_deletion());
    }

    #[test]
    fn a_job_queued_by_an_older_ingress_still_reads_its_json_events() {
        let legacy = WebhookJob {
            provider: "hubspot".into(),
            connection_id: String::new(),
            events_json: serde_json::to_vec(&json!([{"id": "5", "account": "62515",
                "object": "contacts", "recordId": "105", "action": "delete"}]))
            .unwrap(),
            received_at_unix_ms: 0,
            events: Vec::new(),
        };
        let events = events_of(&legacy).unwrap();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].record_id, "105");
        assert!(events[0].is_deletion());
        let unknown = WebhookJob {
            events_json: serde_json::to_vec(&json!([{"id": "5", "object": "contacts",
                "recordId": "105", "action": "explode"}]))
            .unwrap(),
            ..legacy.clone()
        };
        assert!(matches!(events_of(&unknown), Err(WorkerError::BadJob(_))));
        let current = WebhookJob {
            events_json: Vec::new(),
            events: vec![event("contacts", "update")],
            ..legacy
        };
        assert_eq!(events_of(&current).unwrap(), current.events);
    }

    #[test]
    fn jobber_encoded_account_ids_also_match_their_number() {
        let encoded = STANDARD.encode("gid://Jobber/Account/42");
        assert_eq!(account_forms(&encoded), vec![encoded.clone(), "42".into()]);
        assert_eq!(account_forms("62515"), vec!["62515".to_string()]);
    }
}
