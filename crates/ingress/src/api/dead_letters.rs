//! `/v1/dead-letters`: the jobs the queue gave up on (list, get, delete) and their replay: the same
//! work as a new first-attempt job, published with a broker confirm. Never shows payload bytes.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use fluxcascade_proto::v1::{JobEnvelope, JobKind, SyncJob};
use fluxcascade_queue::{decode_envelope, replay_job, Publisher};
use fluxcascade_store::dead_letters::{
    DeadLetterFilter, DeadLetterKind, DeadLetterRow, ReplayClaim,
};
use fluxcascade_store::{Store, StoreError};
use prost::Message;
use serde::Serialize;
use uuid::Uuid;

use crate::api::PathId;
use crate::auth::{Caller, Manager};
use crate::error::{ApiError, ErrorBody};
use crate::paging::{ListParams, Page, Params};
use crate::AppState;

/// A dead letter as the API shows it (its payload may carry records: it is never shown).
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeadLetterView {
    pub id: Uuid,
    pub job_id: String,
    pub kind: &'static str,
    pub mapping_id: Option<Uuid>,
    pub sync_id: Option<Uuid>,
    pub reason: String,
    pub attempts: i32,
    pub first_failed_at: Option<DateTime<Utc>>,
    pub last_failed_at: DateTime<Utc>,
    pub replayed_at: Option<DateTime<Utc>>,
    pub replay_job_id: Option<String>,
}

impl From<DeadLetterRow> for DeadLetterView {
    fn from(row: DeadLetterRow) -> DeadLetterView {
        DeadLetterView {
            id: row.id,
            job_id: row.job_id,
            kind: row.kind.as_str(),
            mapping_id: row.mapping_id,
            sync_id: row.sync_id,
            reason: row.reason,
            attempts: row.attempts,
            first_failed_at: row.first_failed_at,
            last_failed_at: row.last_failed_at,
            replayed_at: row.replayed_at,
            replay_job_id: row.replay_job_id,
        }
    }
}

/// `202` answer of a replay.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReplayView {
    pub replay_job_id: String,
}

/// Which dead letters a replay may touch: the caller's organization's, or (admin CLI) any.
#[derive(Debug, Clone, Copy)]
pub enum ReplayScope {
    Org(Uuid),
    Admin,
}

/// Why a dead letter was not replayed.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("no such dead letter")]
    NotFound,
    #[error("the dead letter was already replayed as job {0}")]
    AlreadyReplayed(String),
    #[error("another replay of this dead letter is under way")]
    InProgress,
    #[error("the dead letter cannot be replayed: {0}")]
    NotReplayable(&'static str),
    #[error("the job queue is unavailable; nothing was replayed, retry later")]
    Unavailable,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<ReplayError> for ApiError {
    fn from(e: ReplayError) -> ApiError {
        let message = e.to_string();
        match e {
            ReplayError::NotFound => ApiError::not_found(),
            ReplayError::AlreadyReplayed(_) => {
                ApiError::new(StatusCode::CONFLICT, "already_replayed", message)
            }
            ReplayError::InProgress => {
                ApiError::new(StatusCode::CONFLICT, "replay_in_progress", message)
            }
            ReplayError::NotReplayable(_) => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "not_replayable", message)
            }
            ReplayError::Unavailable => ApiError::unavailable(message),
            ReplayError::Store(StoreError::NotFound) => ApiError::not_found(),
            ReplayError::Store(e) => e.into(),
        }
    }
}

/// Replays one dead letter: claims it, decodes the stored envelope, reopens the failed run it
/// names, publishes the new job with a confirm and marks the dead letter replayed. Returns the
/// new job id. If the broker does not confirm, the run is failed again and nothing is marked.
pub async fn replay_dead_letter(
    store: &Store,
    publisher: &Publisher,
    scope: ReplayScope,
    id: Uuid,
) -> Result<String, ReplayError> {
    let claim = match scope {
        ReplayScope::Org(org_id) => store.claim_dead_letter_replay(org_id, id).await,
        ReplayScope::Admin => store.admin_claim_dead_letter_replay(id).await,
    }
    .map_err(|e| match e {
        StoreError::NotFound => ReplayError::NotFound,
        e => e.into(),
    })?;
    let (row, message) = match claim {
        ReplayClaim::Claimed { row, message } => (row, message),
        ReplayClaim::AlreadyReplayed { replay_job_id } => {
            return Err(ReplayError::AlreadyReplayed(
                replay_job_id.unwrap_or_default(),
            ))
        }
        ReplayClaim::InProgress => return Err(ReplayError::InProgress),
    };
    let outcome = publish_replay(store, publisher, &row, message.as_deref()).await;
    match outcome {
        Ok(job_id) => {
            store
                .mark_dead_letter_replayed(row.org_id, row.id, &job_id)
                .await?;
            tracing::info!(dead_letter = %row.id, org_id = ?row.org_id, job_id = %row.job_id, replay_job_id = %job_id, "dead letter replayed");
            Ok(job_id)
        }
        Err(error) => {
            if let Err(e) = store.release_dead_letter_replay(row.org_id, row.id).await {
                tracing::warn!(error = %e, dead_letter = %row.id, "could not release a replay claim; it expires");
            }
            Err(error)
        }
    }
}

/// Everything of a replay but marking it: the new job's id once the broker confirmed it.
async fn publish_replay(
    store: &Store,
    publisher: &Publisher,
    row: &DeadLetterRow,
    message: Option<&[u8]>,
) -> Result<String, ReplayError> {
    let message = message.ok_or(ReplayError::NotReplayable(
        "the message was too large to be kept",
    ))?;
    let original = decode_envelope(message).ok_or(ReplayError::NotReplayable(
        "the message is not a job envelope",
    ))?;
    let mut job = replay_job(&original);
    // A replayed sync or batch job must be able to finish its run: a failed run is reopened.
    let mut reopened = None;
    if let (DeadLetterKind::Sync | DeadLetterKind::Batch, Some(org_id), Some(sync_id)) =
        (row.kind, row.org_id, row.sync_id)
    {
        if let Some(run) = store.get_sync(org_id, sync_id).await? {
            if run.status == "failed" {
                if let Some(epoch) = store.reopen_failed_sync(org_id, sync_id).await? {
                    reopened = Some((org_id, sync_id, run.error));
                    current_epoch(&mut job, epoch);
                }
            }
        }
    }
    if let Err(e) = publisher.publish(&job).await {
        tracing::warn!(error = %e, dead_letter = %row.id, "could not publish a replayed job");
        if let Some((org_id, sync_id, error)) = reopened {
            if let Err(e) = store
                .revert_reopened_sync(org_id, sync_id, error.as_deref())
                .await
            {
                tracing::error!(error = %e, sync_id = %sync_id, "could not fail a reopened run again");
            }
        }
        return Err(ReplayError::Unavailable);
    }
    Ok(job.job_id)
}

/// A replayed coordinator works under the reopened run's current epoch: one of an older epoch
/// would be dropped as superseded.
fn current_epoch(job: &mut JobEnvelope, epoch: i32) {
    if job.kind() != JobKind::Sync {
        return;
    }
    if let Ok(mut sync) = job.decode_payload::<SyncJob>() {
        sync.epoch = sync.epoch.max(u32::try_from(epoch).unwrap_or(0));
        job.payload = sync.encode_to_vec();
    }
}

/// The list filters, as `/openapi.json` documents them (read through [`Params`] by [`filter`]).
#[derive(Debug, utoipa::IntoParams)]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
pub struct DeadLetterQuery {
    /// `sync`, `batch`, `webhook`, `delivery` or `unknown`.
    pub kind: Option<String>,
    pub mapping_id: Option<Uuid>,
    pub sync_id: Option<Uuid>,
}

/// The list filters `kind`, `mappingId`, `syncId`.
fn filter(params: &Params) -> Result<DeadLetterFilter, ApiError> {
    let uuid = |name: &str| {
        params
            .get(name)
            .map(|v| Uuid::parse_str(v).map_err(|_| ApiError::invalid_field(name, "must be an id")))
            .transpose()
    };
    let kind = params
        .get("kind")
        .map(|v| {
            DeadLetterKind::parse(v).ok_or_else(|| {
                ApiError::invalid_field(
                    "kind",
                    "must be one of sync, batch, webhook, delivery, unknown",
                )
            })
        })
        .transpose()?;
    Ok(DeadLetterFilter {
        kind,
        mapping_id: uuid("mappingId")?,
        sync_id: uuid("syncId")?,
    })
}

/// The organization's dead letters, newest first.
#[utoipa::path(get, path = "/v1/dead-letters", tag = "dead-letters",
    params(ListParams, DeadLetterQuery),
    responses(
        (status = 200, body = Page<DeadLetterView>),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 503, body = ErrorBody),
    ),
    extensions(("x-min-role" = json!("member"))))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    params: Params,
) -> Result<Json<Page<DeadLetterView>>, ApiError> {
    let limit = params.limit()?;
    let filter = filter(&params)?;
    let rows = state
        .store
        .list_dead_letters(caller.org_id(), &filter, limit + 1, params.uuid_cursor()?)
        .await?;
    Ok(Json(Page::from_rows(
        rows,
        limit,
        |r| r.id,
        DeadLetterView::from,
    )))
}

/// One dead letter of the caller's organization.
#[utoipa::path(get, path = "/v1/dead-letters/{id}", tag = "dead-letters",
    params(("id" = Uuid, Path, description = "The dead letter's id")),
    responses(
        (status = 200, body = DeadLetterView),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 503, body = ErrorBody),
    ),
    extensions(("x-min-role" = json!("member"))))]
pub async fn get_one(
    State(state): State<AppState>,
    caller: Caller,
    PathId(id): PathId,
) -> Result<Json<DeadLetterView>, ApiError> {
    let row = state
        .store
        .get_dead_letter(caller.org_id(), id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    Ok(Json(row.into()))
}

/// Publishes the dead letter's job again as a new first attempt (Admin, Owner).
#[utoipa::path(post, path = "/v1/dead-letters/{id}/replay", tag = "dead-letters",
    params(("id" = Uuid, Path, description = "The dead letter's id")),
    responses(
        (status = 202, body = ReplayView),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 503, body = ErrorBody),
    ),
    extensions(("x-min-role" = json!("admin"))))]
pub async fn replay(
    State(state): State<AppState>,
    Manager(caller): Manager,
    PathId(id): PathId,
) -> Result<(StatusCode, Json<ReplayView>), ApiError> {
    let replay_job_id = replay_for(&state, &caller, id).await?;
    Ok((StatusCode::ACCEPTED, Json(ReplayView { replay_job_id })))
}

/// What `POST /v1/dead-letters/{id}/replay` does (the console's Replay calls it too): the caller
/// may manage, then the replay of the org's dead letter, audited; the new job's id.
pub async fn replay_for(state: &AppState, caller: &Caller, id: Uuid) -> Result<String, ApiError> {
    caller.require_manage()?;
    let scope = ReplayScope::Org(caller.org_id());
    // Claim, publish and mark run to completion in their own task: a client that hangs up
    // mid-request must not leave a claimed replay half done.
    let task_state = state.clone();
    let task = tokio::spawn(tracing::Instrument::in_current_span(async move {
        replay_dead_letter(&task_state.store, &task_state.publisher, scope, id).await
    }));
    let replay_job_id = task.await.map_err(|e| {
        tracing::error!(error = %e, "dead-letter replay task failed");
        ApiError::internal()
    })??;
    crate::api::audit::record(state, caller, "dead_letter.replayed", "dead_letter", id).await;
    Ok(replay_job_id)
}

/// Deletes a dead letter without replaying it (Admin, Owner).
#[utoipa::path(delete, path = "/v1/dead-letters/{id}", tag = "dead-letters",
    params(("id" = Uuid, Path, description = "The dead letter's id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 503, body = ErrorBody),
    ),
    extensions(("x-min-role" = json!("admin"))))]
pub async fn delete(
    State(state): State<AppState>,
    Manager(caller): Manager,
    PathId(id): PathId,
) -> Result<StatusCode, ApiError> {
    delete_for(&state, &caller, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// What `DELETE /v1/dead-letters/{id}` does (the console's Delete calls it too): the caller may
/// manage, then the org's dead letter is deleted (404 when it has none) and audited.
pub async fn delete_for(state: &AppState, caller: &Caller, id: Uuid) -> Result<(), ApiError> {
    caller.require_manage()?;
    if state.store.delete_dead_letter(caller.org_id(), id).await? {
        crate::api::audit::record(state, caller, "dead_letter.deleted", "dead_letter", id).await;
        Ok(())
    } else {
        Err(ApiError::not_found())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_are_validated() {
        let id = Uuid::now_v7();
        let f = filter(&Params::of(&[
            ("kind", "batch"),
            ("syncId", &id.to_string()),
        ]))
        .unwrap();
        assert_eq!(
            (f.kind, f.sync_id, f.mapping_id),
            (Some(DeadLetterKind::Batch), Some(id), None)
        );
        for (name, bad) in [("kind", "job"), ("mappingId", "x"), ("syncId", "1")] {
            let e = filter(&Params::of(&[(name, bad)])).unwrap_err();
            assert_eq!(e.details[0].field, name);
        }
    }

    #[test]
    fn a_replayed_coordinator_takes_the_reopened_runs_epoch() {
        let sync = SyncJob {
            sync_id: "s".into(),
            mapping_id: "m".into(),
            epoch: 1,
        };
        let mut job = JobEnvelope::with_message(JobKind::Sync, "o", &sync);
        current_epoch(&mut job, 3);
        assert_eq!(job.decode_payload::<SyncJob>().unwrap().epoch, 3);
        current_epoch(&mut job, 2);
        assert_eq!(
            job.decode_payload::<SyncJob>().unwrap().epoch,
            3,
            "never lowered"
        );
        let mut batch = JobEnvelope::new(JobKind::Batch, "o", b"page".to_vec());
        current_epoch(&mut batch, 5);
        assert_eq!(batch.payload, b"page");
    }

    #[test]
    fn replay_errors_map_to_statuses_and_codes() {
        let cases = [
            (ReplayError::NotFound, 404, "not_found"),
            (
                ReplayError::AlreadyReplayed("j".into()),
                409,
                "already_replayed",
            ),
            (ReplayError::InProgress, 409, "replay_in_progress"),
            (ReplayError::NotReplayable("x"), 422, "not_replayable"),
            (ReplayError::Unavailable, 503, "unavailable"),
        ];
        for (error, status, code) in cases {
            let api = ApiError::from(error);
            assert_eq!((api.status.as_u16(), api.code), (status, code));
        }
    }
}
