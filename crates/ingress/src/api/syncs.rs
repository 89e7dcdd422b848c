//! `/v1/syncs`: trigger a run (stored, then enqueued with a broker confirm), list, get, per-record errors.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use fluxcascade_core::{Counts, Progress, RecordError, SyncMode, SyncStatus, SyncTrigger, Waiting};
use fluxcascade_proto::v1::{JobEnvelope, JobKind, SyncJob};
use fluxcascade_store::syncs::{SyncFilter, SyncRow};
use prost::Message;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::api::PathId;
use crate::auth::{Caller, Manager};
use crate::error::{ApiError, ErrorBody};
use crate::json::ApiJson;
use crate::paging::{encode_cursor, ListParams, Page, Params};
use crate::AppState;

/// How many per-record errors a `Sync` carries inline (the rest: `/v1/syncs/{id}/errors`).
pub const INLINE_ERRORS: i64 = 100;

/// `POST /v1/syncs` body. An unknown or another org's `mappingId` is 422 naming `mappingId`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TriggerSyncBody {
    pub mapping_id: Uuid,
    #[serde(default)]
    pub mode: SyncMode,
}

/// A run as the API shows it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SyncView {
    pub id: Uuid,
    pub mapping_id: Uuid,
    /// `pending`, `running`, `completed`, `partial` or `failed`.
    #[schema(value_type = SyncStatus)]
    pub status: String,
    /// `manual`, `schedule` or `webhook`.
    #[schema(value_type = fluxcascade_core::SyncTrigger)]
    pub trigger: String,
    /// `incremental` or `full`.
    #[schema(value_type = SyncMode)]
    pub mode: String,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub counts: Counts,
    /// Why the run failed as a whole, when it did.
    pub error: Option<String>,
    /// The first 100 per-record errors (all of them: `GET /v1/syncs/{id}/errors`).
    pub errors: Vec<RecordError>,
    /// Records read and processed out of the run's total (known, estimated, or null), updated
    /// as its batches commit; a finished run's total is its read count.
    pub progress: Progress,
    /// Set while the running run waits on a provider's rate limit (which provider, until
    /// when); null otherwise, and once the wait is over or the run moves again.
    pub waiting: Option<Waiting>,
}

impl SyncView {
    fn new(row: SyncRow, errors: Vec<RecordError>) -> SyncView {
        SyncView {
            id: row.id,
            mapping_id: row.mapping_id,
            status: row.status,
            trigger: row.trigger,
            mode: row.mode,
            created_at: row.created_at,
            started_at: row.started_at,
            finished_at: row.finished_at,
            counts: row.counts,
            error: row.error,
            errors,
            progress: row.progress,
            waiting: row.waiting,
        }
    }
}

/// The run with its first errors (only runs with failed records have any).
async fn with_errors(state: &AppState, row: SyncRow) -> Result<SyncView, ApiError> {
    let errors = if row.counts.failed > 0 {
        state
            .store
            .list_sync_errors(row.org_id, row.id, INLINE_ERRORS, None)
            .await?
            .into_iter()
            .map(|(_, e)| e)
            .collect()
    } else {
        Vec::new()
    };
    Ok(SyncView::new(row, errors))
}

/// Starts a run of a mapping now (Admin, Owner): stored, then enqueued with a broker confirm.
#[utoipa::path(post, path = "/v1/syncs", tag = "syncs",
    request_body = TriggerSyncBody,
    responses(
        (status = 202, body = SyncView),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 409, description = "`mapping_disabled` or a run already under way", body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 503, body = ErrorBody),
    ),
    extensions(("x-min-role" = json!("admin"))))]
pub async fn trigger(
    State(state): State<AppState>,
    Manager(caller): Manager,
    ApiJson(body): ApiJson<TriggerSyncBody>,
) -> Result<(StatusCode, Json<SyncView>), ApiError> {
    let run = trigger_run(&state, &caller, body.mapping_id, body.mode).await?;
    Ok((StatusCode::ACCEPTED, Json(SyncView::new(run, Vec::new()))))
}

/// What `POST /v1/syncs` does once the body is read (the console's "Run now" calls it too): the
/// caller may manage, the mapping is the org's (else 422 naming `mappingId`) and enabled (else
/// 409), then the run is stored, enqueued and audited.
pub async fn trigger_run(
    state: &AppState,
    caller: &Caller,
    mapping_id: Uuid,
    mode: SyncMode,
) -> Result<SyncRow, ApiError> {
    caller.require_manage()?;
    let org_id = caller.org_id();
    let mapping = state
        .store
        .get_mapping(org_id, mapping_id)
        .await?
        .ok_or_else(|| {
            ApiError::invalid_field("mappingId", "no such mapping in this organization")
        })?;
    if !mapping.spec.enabled {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "mapping_disabled",
            "the mapping is disabled; enable it first",
        ));
    }
    // Store, publish and (on failure) discard run to completion in their own task: a client that
    // hangs up mid-request must not leave a pending run that was never enqueued.
    let task_state = state.clone();
    // In the request's span, so the run's publish is part of the request's trace.
    let task = tokio::spawn(tracing::Instrument::in_current_span(async move {
        start_run(&task_state, org_id, mapping.id, mode).await
    }));
    let run = task.await.map_err(|e| {
        tracing::error!(error = %e, org_id = %org_id, "sync trigger task failed");
        ApiError::internal()
    })??;
    crate::api::audit::record(state, caller, "sync.triggered", "sync", run.id).await;
    Ok(run)
}

/// Creates the pending run and publishes its job; a run whose job the broker did not confirm
/// is discarded and the caller gets 503 (a 2xx promises the job is queued).
async fn start_run(
    state: &AppState,
    org_id: Uuid,
    mapping_id: Uuid,
    mode: SyncMode,
) -> Result<SyncRow, ApiError> {
    let run = state
        .store
        .create_sync(org_id, mapping_id, SyncTrigger::Manual, mode)
        .await?;
    let job = SyncJob {
        sync_id: run.id.to_string(),
        mapping_id: mapping_id.to_string(),
        epoch: 0,
    };
    let envelope = JobEnvelope::new(JobKind::Sync, org_id.to_string(), job.encode_to_vec());
    if let Err(e) = state.publisher.publish(&envelope).await {
        tracing::warn!(error = %e, org_id = %org_id, sync_id = %run.id, "could not enqueue sync job; discarding the run");
        if let Err(e) = state.store.discard_pending_sync(org_id, run.id).await {
            tracing::error!(error = %e, sync_id = %run.id, "could not discard the unqueued run");
        }
        return Err(ApiError::unavailable(
            "the job queue is unavailable; nothing was started, retry later",
        ));
    }
    tracing::info!(org_id = %org_id, sync_id = %run.id, mapping_id = %mapping_id, job_id = %envelope.job_id, "sync enqueued");
    Ok(run)
}

/// The list filters, as `/openapi.json` documents them (read through [`Params`] by [`filter`]).
#[derive(Debug, utoipa::IntoParams)]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
pub struct SyncQuery {
    pub mapping_id: Option<Uuid>,
    pub status: Option<SyncStatus>,
}

fn filter(params: &Params) -> Result<SyncFilter, ApiError> {
    let mapping_id = params
        .get("mappingId")
        .map(|v| {
            Uuid::parse_str(v)
                .map_err(|_| ApiError::invalid_field("mappingId", "must be a mapping id"))
        })
        .transpose()?;
    let status = params
        .get("status")
        .map(|v| {
            SyncStatus::parse(v)
                .map(|s| s.as_str().to_string())
                .ok_or_else(|| {
                    ApiError::invalid_field(
                        "status",
                        "must be one of pending, running, completed, partial, failed",
                    )
                })
        })
        .transpose()?;
    Ok(SyncFilter { mapping_id, status })
}

/// The organization's runs, newest first.
#[utoipa::path(get, path = "/v1/syncs", tag = "syncs",
    params(ListParams, SyncQuery),
    responses(
        (status = 200, body = Page<SyncView>),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 503, body = ErrorBody),
    ),
    extensions(("x-min-role" = json!("member"))))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    params: Params,
) -> Result<Json<Page<SyncView>>, ApiError> {
    let limit = params.limit()?;
    let filter = filter(&params)?;
    let rows = state
        .store
        .list_syncs(caller.org_id(), &filter, limit + 1, params.uuid_cursor()?)
        .await?;
    let page = Page::from_rows(rows, limit, |r| r.id, |r| r);
    let mut data = Vec::with_capacity(page.data.len());
    for row in page.data {
        data.push(with_errors(&state, row).await?);
    }
    Ok(Json(Page {
        data,
        next_cursor: page.next_cursor,
    }))
}

/// One run of the caller's organization, with its first errors.
#[utoipa::path(get, path = "/v1/syncs/{id}", tag = "syncs",
    params(("id" = Uuid, Path, description = "The run's id")),
    responses(
        (status = 200, body = SyncView),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 503, body = ErrorBody),
    ),
    extensions(("x-min-role" = json!("member"))))]
pub async fn get_one(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
) -> Result<Json<SyncView>, ApiError> {
    let row = state
        .store
        .get_sync(caller.org_id(), id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    Ok(Json(with_errors(&state, row).await?))
}

/// Every per-record error of a run, in the order they happened.
#[utoipa::path(get, path = "/v1/syncs/{id}/errors", tag = "syncs",
    params(("id" = Uuid, Path, description = "The run's id"), ListParams),
    responses(
        (status = 200, body = Page<RecordError>),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 503, body = ErrorBody),
    ),
    extensions(("x-min-role" = json!("member"))))]
pub async fn errors(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
    params: Params,
) -> Result<Json<Page<RecordError>>, ApiError> {
    let limit = params.limit()?;
    let after = params.int_cursor()?;
    state
        .store
        .get_sync(caller.org_id(), id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let mut rows = state
        .store
        .list_sync_errors(caller.org_id(), id, limit + 1, after)
        .await?;
    let more = rows.len() as i64 > limit;
    rows.truncate(usize::try_from(limit).unwrap_or(0));
    let next_cursor = if more {
        rows.last().map(|(n, _)| encode_cursor(n))
    } else {
        None
    };
    Ok(Json(Page {
        data: rows.into_iter().map(|(_, e)| e).collect(),
        next_cursor,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_are_validated() {
        let id = Uuid::now_v7();
        let f = filter(&Params::of(&[
            ("mappingId", &id.to_string()),
            ("status", "partial"),
        ]))
        .unwrap();
        assert_eq!(
            (f.mapping_id, f.status.as_deref()),
            (Some(id), Some("partial"))
        );
        assert_eq!(
            filter(&Params::of(&[("status", "done")]))
                .unwrap_err()
                .details[0]
                .field,
            "status"
        );
        assert_eq!(
            filter(&Params::of(&[("mappingId", "x")]))
                .unwrap_err()
                .details[0]
                .field,
            "mappingId"
        );
    }

    #[test]
    fn trigger_body_defaults_to_incremental_and_rejects_bad_modes() {
        let id = Uuid::now_v7();
        let b: TriggerSyncBody =
            crate::json::parse_slice(format!(r#"{{"mappingId":"{id}"}}"#).as_bytes()).unwrap();
        assert_eq!(b.mode, SyncMode::Incremental);
        let e = crate::json::parse_slice::<TriggerSyncBody>(
            format!(r#"{{"mappingId":"{id}","mode":"x"}}"#).as_bytes(),
        )
        .unwrap_err();
        assert_eq!(e.details[0].field, "mode");
        let e =
            crate::json::parse_slice::<TriggerSyncBody>(br#"{"mappingId":"nope"}"#).unwrap_err();
        assert_eq!(e.details[0].field, "mappingId");
    }
}
