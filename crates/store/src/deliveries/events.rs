//! The outbox side of outbound webhooks: inside the transaction that produced an event, one
//! pending delivery per subscriber, holding the exact JSON body to sign and POST.

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use fluxcascade_core::{Counts, Progress, RunTotals};
use serde::Serialize;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::usage::{self, Usage, ORG_WIDE};
use crate::StoreError;

/// How many per-record errors a `sync.*` event carries (as `GET /v1/syncs/{id}` does).
const INLINE_ERRORS: i64 = 100;

/// The body every delivery POSTs: `{id, type, createdAt, data}`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct EventBody<'a> {
    id: Uuid,
    #[serde(rename = "type")]
    kind: &'a str,
    created_at: DateTime<Utc>,
    data: &'a Value,
}

/// Subscriptions of `org_id` to `event_type`.
pub(super) async fn subscribers<C: GenericClient>(
    c: &C,
    org_id: Uuid,
    event_type: &str,
) -> Result<Vec<Uuid>, StoreError> {
    let rows = c
        .query(
            "SELECT id FROM webhooks WHERE org_id = $1 AND $2 = ANY(events) ORDER BY id",
            &[&org_id, &event_type],
        )
        .await?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// Writes one pending delivery per subscriber, all with the same event id and body.
pub(super) async fn insert_deliveries<C: GenericClient>(
    c: &C,
    org_id: Uuid,
    event_type: &str,
    subject_id: Uuid,
    data: &Value,
    subscribers: &[Uuid],
) -> Result<Vec<Uuid>, StoreError> {
    if subscribers.is_empty() {
        return Ok(Vec::new());
    }
    let event_id = Uuid::now_v7();
    let body = serde_json::to_string(&EventBody {
        id: event_id,
        kind: event_type,
        created_at: Utc::now(),
        data,
    })
    .map_err(|e| StoreError::Corrupt(format!("encoding an event: {e}")))?;
    let mut ids = Vec::with_capacity(subscribers.len());
    for webhook_id in subscribers {
        let id = Uuid::now_v7();
        c.execute(
            "INSERT INTO webhook_deliveries (id, org_id, webhook_id, event_id, event_type, subject_id, body)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            &[&id, &org_id, webhook_id, &event_id, &event_type, &subject_id, &body],
        )
        .await?;
        ids.push(id);
    }
    let deliveries = Usage::deliveries(ids.len() as i64);
    usage::count_in_shard(
        c,
        org_id,
        ORG_WIDE,
        None,
        usage::CONNECTION_SHARD,
        &deliveries,
    )
    .await?;
    tracing::info!(%org_id, %event_id, event_type, deliveries = ids.len(), "webhook event recorded");
    Ok(ids)
}

/// Inside the transaction that finalised a run: a `sync.<status>` event with the run as the API
/// shows it (`GET /v1/syncs/{id}`), for every subscriber.
pub(crate) async fn emit_sync_event<C: GenericClient>(
    c: &C,
    org_id: Uuid,
    sync_id: Uuid,
) -> Result<(), StoreError> {
    let Some(run) = c
        .query_opt(
            "SELECT id, mapping_id, status, trigger, mode, created_at, started_at, finished_at,
                    read_count, created_count, updated_count, skipped_count, failed_count, error,
                    deleted_count
             FROM sync_runs WHERE org_id = $1 AND id = $2",
            &[&org_id, &sync_id],
        )
        .await?
    else {
        return Ok(());
    };
    let status: String = run.get(2);
    let event_type = format!("sync.{status}");
    let subs = subscribers(c, org_id, &event_type).await?;
    if subs.is_empty() {
        return Ok(());
    }
    let failed: i64 = run.get(12);
    let errors: Vec<Value> = if failed > 0 {
        c.query(
            "SELECT record_id, code, message FROM sync_errors WHERE org_id = $1 AND sync_id = $2
             ORDER BY id LIMIT $3",
            &[&org_id, &sync_id, &INLINE_ERRORS],
        )
        .await?
        .iter()
        .map(|e| {
            json!({"recordId": e.get::<_, String>(0), "code": e.get::<_, String>(1),
                   "message": e.get::<_, String>(2)})
        })
        .collect()
    } else {
        Vec::new()
    };
    let n = |i: usize| run.get::<_, i64>(i).max(0);
    let u = |i: usize| n(i) as u64;
    let counts = Counts {
        read: u(8),
        created: u(9),
        updated: u(10),
        skipped: u(11),
        failed: u(12),
        deleted: u(14),
    };
    let finished = RunTotals {
        finished: true,
        ..RunTotals::default()
    };
    let data = json!({
        "id": run.get::<_, Uuid>(0),
        "mappingId": run.get::<_, Uuid>(1),
        "status": status,
        "trigger": run.get::<_, String>(3),
        "mode": run.get::<_, String>(4),
        "createdAt": run.get::<_, DateTime<Utc>>(5),
        "startedAt": run.get::<_, Option<DateTime<Utc>>>(6),
        "finishedAt": run.get::<_, Option<DateTime<Utc>>>(7),
        "counts": {"read": n(8), "created": n(9), "updated": n(10), "skipped": n(11), "failed": n(12),
                   "deleted": n(14)},
        "error": run.get::<_, Option<String>>(13),
        "errors": errors,
        "progress": Progress::of(&counts, &finished),
        "waiting": Value::Null,
    });
    insert_deliveries(c, org_id, &event_type, sync_id, &data, &subs).await?;
    Ok(())
}

/// Inside the transaction that marked a connection expired: a `connection.expired` event with
/// the connection as the API shows it (never its tokens), for every subscriber.
pub(crate) async fn emit_connection_expired<C: GenericClient>(
    c: &C,
    org_id: Uuid,
    connection_id: Uuid,
) -> Result<(), StoreError> {
    let event_type = "connection.expired";
    let subs = subscribers(c, org_id, event_type).await?;
    if subs.is_empty() {
        return Ok(());
    }
    let Some(r) = c
        .query_opt(
            "SELECT id, provider, status, account_name, external_account_id, status_message, created_at
             FROM connections WHERE org_id = $1 AND id = $2",
            &[&org_id, &connection_id],
        )
        .await?
    else {
        return Ok(());
    };
    let mut data = json!({
        "id": r.get::<_, Uuid>(0),
        "provider": r.get::<_, String>(1),
        "status": r.get::<_, String>(2),
        "accountName": r.get::<_, String>(3),
        "externalAccountId": r.get::<_, String>(4),
        "createdAt": r.get::<_, DateTime<Utc>>(6),
    });
    if let (Some(message), Some(obj)) = (r.get::<_, Option<String>>(5), data.as_object_mut()) {
        obj.insert("statusMessage".into(), Value::String(message));
    }
    insert_deliveries(c, org_id, event_type, connection_id, &data, &subs).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_body_has_the_documented_fields() {
        let data = json!({"id": "x"});
        let body = serde_json::to_value(EventBody {
            id: Uuid::nil(),
            kind: "sync.completed",
            created_at: Utc::now(),
            data: &data,
        })
        .unwrap();
        let mut keys: Vec<&str> = body
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        assert_eq!(keys, ["createdAt", "data", "id", "type"]);
        assert_eq!(body["type"], "sync.completed");
    }
}
