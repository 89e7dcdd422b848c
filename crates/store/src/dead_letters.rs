//! Dead letters: jobs the queue gave up on, recorded once per job id, listed, replayed, deleted.
//!
//! Tenant functions take the `org_id` they are scoped to; the `admin_*` variants see every row,
//! including jobs that name no organization (`org_id` NULL).

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::{Store, StoreError};

/// The most bytes of a dead-lettered message that are stored (16 MiB). A larger message still gets
/// its row (reason, ids, size) but no bytes, and cannot be replayed.
pub const MAX_STORED_MESSAGE_BYTES: usize = 16 * 1024 * 1024;

/// How long a replay may hold its claim (publish with confirm, then mark) before another may try.
const REPLAY_CLAIM_SECONDS: f64 = 120.0;

/// What kind of job a dead letter was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeadLetterKind {
    Sync,
    Batch,
    Webhook,
    Delivery,
    /// Not a decodable job envelope (its bytes are kept as they were).
    Unknown,
}

impl DeadLetterKind {
    pub const ALL: [DeadLetterKind; 5] = [
        DeadLetterKind::Sync,
        DeadLetterKind::Batch,
        DeadLetterKind::Webhook,
        DeadLetterKind::Delivery,
        DeadLetterKind::Unknown,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DeadLetterKind::Sync => "sync",
            DeadLetterKind::Batch => "batch",
            DeadLetterKind::Webhook => "webhook",
            DeadLetterKind::Delivery => "delivery",
            DeadLetterKind::Unknown => "unknown",
        }
    }

    pub fn parse(s: &str) -> Option<DeadLetterKind> {
        DeadLetterKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// A dead letter to record.
#[derive(Debug, Clone)]
pub struct NewDeadLetter {
    /// The envelope's org id; recorded as NULL when no such organization exists.
    pub org_id: Option<Uuid>,
    pub job_id: String,
    pub kind: DeadLetterKind,
    pub mapping_id: Option<Uuid>,
    pub sync_id: Option<Uuid>,
    pub reason: String,
    pub attempts: i32,
    pub first_failed_at: Option<DateTime<Utc>>,
    /// The bytes as they were dead-lettered (not stored beyond [`MAX_STORED_MESSAGE_BYTES`]).
    pub message: Vec<u8>,
}

/// A recorded dead letter, without its message bytes.
#[derive(Debug, Clone)]
pub struct DeadLetterRow {
    pub id: Uuid,
    pub org_id: Option<Uuid>,
    pub job_id: String,
    pub kind: DeadLetterKind,
    pub mapping_id: Option<Uuid>,
    pub sync_id: Option<Uuid>,
    pub reason: String,
    pub attempts: i32,
    pub first_failed_at: Option<DateTime<Utc>>,
    /// When the recorder took it off the dead-letter queue.
    pub last_failed_at: DateTime<Utc>,
    /// Size of the dead-lettered message in bytes.
    pub message_size: i32,
    /// Whether the bytes are stored (false when over [`MAX_STORED_MESSAGE_BYTES`]).
    pub message_stored: bool,
    pub replayed_at: Option<DateTime<Utc>>,
    pub replay_job_id: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// The lease a reopened run gets (the default `FLUXCASCADE_RUN_LEASE_SECONDS`): the replayed job
/// renews it once it runs; if it never does, the reaper resumes the run after this long.
const REOPEN_LEASE_SECONDS: f64 = 120.0;

/// Filters for listing dead letters.
#[derive(Debug, Default, Clone)]
pub struct DeadLetterFilter {
    pub kind: Option<DeadLetterKind>,
    pub mapping_id: Option<Uuid>,
    pub sync_id: Option<Uuid>,
}

/// The outcome of asking to replay a dead letter.
#[derive(Debug, Clone)]
pub enum ReplayClaim {
    /// This caller may replay it: the row and its stored bytes (None: too large to have been kept).
    Claimed {
        row: DeadLetterRow,
        message: Option<Vec<u8>>,
    },
    AlreadyReplayed {
        replay_job_id: Option<String>,
    },
    /// Another replay of it is under way.
    InProgress,
}

/// Which rows a query may see: one organization's, or (admin) every row.
#[derive(Debug, Clone, Copy)]
enum Scope {
    Org(Uuid),
    All,
}

impl Scope {
    /// The SQL condition on parameter `$1` (the org id, or NULL for every row).
    fn clause(self) -> &'static str {
        match self {
            Scope::Org(_) => "org_id = $1",
            Scope::All => "$1::uuid IS NULL",
        }
    }

    fn param(self) -> Option<Uuid> {
        match self {
            Scope::Org(id) => Some(id),
            Scope::All => None,
        }
    }
}

const COLUMNS: &str = "id, org_id, job_id, kind, mapping_id, sync_id, reason, attempts,
    first_failed_at, last_failed_at, message_size, message IS NOT NULL, replayed_at, replay_job_id,
    created_at";

fn row_to_dead_letter(r: &tokio_postgres::Row) -> Result<DeadLetterRow, StoreError> {
    let kind: String = r.get(3);
    Ok(DeadLetterRow {
        id: r.get(0),
        org_id: r.get(1),
        job_id: r.get(2),
        kind: DeadLetterKind::parse(&kind)
            .ok_or_else(|| StoreError::Corrupt(format!("dead letter kind {kind:?}")))?,
        mapping_id: r.get(4),
        sync_id: r.get(5),
        reason: r.get(6),
        attempts: r.get(7),
        first_failed_at: r.get(8),
        last_failed_at: r.get(9),
        message_size: r.get(10),
        message_stored: r.get(11),
        replayed_at: r.get(12),
        replay_job_id: r.get(13),
        created_at: r.get(14),
    })
}

/// Postgres text cannot hold NUL: a reason or id carrying one must still be recorded.
fn pg_text(text: &str) -> String {
    text.replace('\0', "\u{FFFD}")
}

impl Store {
    /// Records a dead letter once per `job_id`; true when this call inserted it (a redelivered
    /// dead letter finds its row and changes nothing).
    pub async fn record_dead_letter(&self, letter: &NewDeadLetter) -> Result<bool, StoreError> {
        let size = i32::try_from(letter.message.len()).unwrap_or(i32::MAX);
        let message =
            (letter.message.len() <= MAX_STORED_MESSAGE_BYTES).then_some(letter.message.as_slice());
        let n = self
            .client()
            .await?
            .execute(
                "INSERT INTO dead_letters (id, org_id, job_id, kind, mapping_id, sync_id, reason, attempts,
                    first_failed_at, last_failed_at, message, message_size)
                 VALUES ($1, (SELECT id FROM organizations WHERE id = $2), $3, $4, $5, $6, $7, $8, $9,
                    now(), $10, $11)
                 ON CONFLICT (job_id) DO NOTHING",
                &[
                    &Uuid::now_v7(),
                    &letter.org_id,
                    &pg_text(&letter.job_id),
                    &letter.kind.as_str(),
                    &letter.mapping_id,
                    &letter.sync_id,
                    &pg_text(&letter.reason),
                    &letter.attempts,
                    &letter.first_failed_at,
                    &message,
                    &size,
                ],
            )
            .await?;
        Ok(n == 1)
    }

    /// An organization's dead letters, newest first; `after` is the last id of the previous page.
    pub async fn list_dead_letters(
        &self,
        org_id: Uuid,
        filter: &DeadLetterFilter,
        limit: i64,
        after: Option<Uuid>,
    ) -> Result<Vec<DeadLetterRow>, StoreError> {
        self.list_scoped(Scope::Org(org_id), filter, limit, after)
            .await
    }

    /// Every dead letter (all organizations and none), newest first.
    pub async fn admin_list_dead_letters(
        &self,
        filter: &DeadLetterFilter,
        limit: i64,
        after: Option<Uuid>,
    ) -> Result<Vec<DeadLetterRow>, StoreError> {
        self.list_scoped(Scope::All, filter, limit, after).await
    }

    pub async fn get_dead_letter(
        &self,
        org_id: Uuid,
        id: Uuid,
    ) -> Result<Option<DeadLetterRow>, StoreError> {
        self.get_scoped(Scope::Org(org_id), id).await
    }

    pub async fn admin_get_dead_letter(
        &self,
        id: Uuid,
    ) -> Result<Option<DeadLetterRow>, StoreError> {
        self.get_scoped(Scope::All, id).await
    }

    /// Deletes one; false when the organization has no such dead letter.
    pub async fn delete_dead_letter(&self, org_id: Uuid, id: Uuid) -> Result<bool, StoreError> {
        self.delete_scoped(Scope::Org(org_id), id).await
    }

    pub async fn admin_delete_dead_letter(&self, id: Uuid) -> Result<bool, StoreError> {
        self.delete_scoped(Scope::All, id).await
    }

    /// Claims the replay of a dead letter (`NotFound` if the organization has none with this id).
    /// A claim is ended by [`Store::mark_dead_letter_replayed`] or
    /// [`Store::release_dead_letter_replay`]; one left behind by a crash expires.
    pub async fn claim_dead_letter_replay(
        &self,
        org_id: Uuid,
        id: Uuid,
    ) -> Result<ReplayClaim, StoreError> {
        self.claim_scoped(Scope::Org(org_id), id).await
    }

    pub async fn admin_claim_dead_letter_replay(
        &self,
        id: Uuid,
    ) -> Result<ReplayClaim, StoreError> {
        self.claim_scoped(Scope::All, id).await
    }

    /// Marks a claimed dead letter replayed as `replay_job_id` (ends the claim).
    pub async fn mark_dead_letter_replayed(
        &self,
        org_id: Option<Uuid>,
        id: Uuid,
        replay_job_id: &str,
    ) -> Result<(), StoreError> {
        let n = self
            .client()
            .await?
            .execute(
                "UPDATE dead_letters SET replayed_at = now(), replay_job_id = $3, replay_claimed_until = NULL
                 WHERE org_id IS NOT DISTINCT FROM $1 AND id = $2 AND replayed_at IS NULL",
                &[&org_id, &id, &replay_job_id],
            )
            .await?;
        if n == 1 {
            Ok(())
        } else {
            Err(StoreError::Conflict(
                "the dead letter was deleted or replayed meanwhile".into(),
            ))
        }
    }

    /// Gives up a replay claim (nothing was published).
    pub async fn release_dead_letter_replay(
        &self,
        org_id: Option<Uuid>,
        id: Uuid,
    ) -> Result<(), StoreError> {
        self.client()
            .await?
            .execute(
                "UPDATE dead_letters SET replay_claimed_until = NULL
                 WHERE org_id IS NOT DISTINCT FROM $1 AND id = $2 AND replayed_at IS NULL",
                &[&org_id, &id],
            )
            .await?;
        Ok(())
    }

    /// A replayed job must be able to finish its run: a run in status `failed` goes back to
    /// `running` (`finished_at`, `error` cleared; live counts come from its batches again) with a
    /// fresh lease and progress time, so the reaper leaves it to the replayed job for a lease
    /// (and resumes it, as any run, if that job never renews it). `Some(coordinator epoch)` when it
    /// did; `None` when the run is not failed. `Conflict` when the mapping has another pending or
    /// running run meanwhile.
    pub async fn reopen_failed_sync(
        &self,
        org_id: Uuid,
        sync_id: Uuid,
    ) -> Result<Option<i32>, StoreError> {
        let res = self
            .client()
            .await?
            .query_opt(
                "UPDATE sync_runs SET status = 'running', finished_at = NULL, error = NULL,
                    progress_at = now(), lease_until = now() + make_interval(secs => $3)
                 WHERE org_id = $1 AND id = $2 AND status = 'failed'
                 RETURNING coordinator_epoch",
                &[&org_id, &sync_id, &REOPEN_LEASE_SECONDS],
            )
            .await;
        match res {
            Ok(row) => Ok(row.map(|r| r.get(0))),
            Err(e) if StoreError::is_unique_violation(&e) => Err(StoreError::Conflict(
                "another sync of this mapping is pending or running".into(),
            )),
            Err(e) => Err(e.into()),
        }
    }

    /// Undoes [`Store::reopen_failed_sync`] when the replayed job could not be published: the run
    /// is failed again with its former `error` (no webhook event: its subscribers already had one).
    pub async fn revert_reopened_sync(
        &self,
        org_id: Uuid,
        sync_id: Uuid,
        error: Option<&str>,
    ) -> Result<(), StoreError> {
        self.client()
            .await?
            .execute(
                "UPDATE sync_runs SET status = 'failed', finished_at = now(), error = $3, lease_until = NULL
                 WHERE org_id = $1 AND id = $2 AND status = 'running'",
                &[&org_id, &sync_id, &error],
            )
            .await?;
        Ok(())
    }

    async fn list_scoped(
        &self,
        scope: Scope,
        filter: &DeadLetterFilter,
        limit: i64,
        after: Option<Uuid>,
    ) -> Result<Vec<DeadLetterRow>, StoreError> {
        let kind = filter.kind.map(DeadLetterKind::as_str);
        let rows = self
            .client()
            .await?
            .query(
                &format!(
                    "SELECT {COLUMNS} FROM dead_letters
                     WHERE {} AND ($2::text IS NULL OR kind = $2) AND ($3::uuid IS NULL OR mapping_id = $3)
                       AND ($4::uuid IS NULL OR sync_id = $4) AND ($5::uuid IS NULL OR id < $5)
                     ORDER BY id DESC LIMIT $6",
                    scope.clause()
                ),
                &[
                    &scope.param(),
                    &kind,
                    &filter.mapping_id,
                    &filter.sync_id,
                    &after,
                    &limit,
                ],
            )
            .await?;
        rows.iter().map(row_to_dead_letter).collect()
    }

    async fn get_scoped(
        &self,
        scope: Scope,
        id: Uuid,
    ) -> Result<Option<DeadLetterRow>, StoreError> {
        let row = self
            .client()
            .await?
            .query_opt(
                &format!(
                    "SELECT {COLUMNS} FROM dead_letters WHERE {} AND id = $2",
                    scope.clause()
                ),
                &[&scope.param(), &id],
            )
            .await?;
        row.as_ref().map(row_to_dead_letter).transpose()
    }

    async fn delete_scoped(&self, scope: Scope, id: Uuid) -> Result<bool, StoreError> {
        let n = self
            .client()
            .await?
            .execute(
                &format!(
                    "DELETE FROM dead_letters WHERE {} AND id = $2",
                    scope.clause()
                ),
                &[&scope.param(), &id],
            )
            .await?;
        Ok(n == 1)
    }

    async fn claim_scoped(&self, scope: Scope, id: Uuid) -> Result<ReplayClaim, StoreError> {
        let client = self.client().await?;
        let claimed = client
            .query_opt(
                &format!(
                    "UPDATE dead_letters SET replay_claimed_until = now() + make_interval(secs => $3)
                     WHERE {} AND id = $2 AND replayed_at IS NULL
                       AND (replay_claimed_until IS NULL OR replay_claimed_until < now())
                     RETURNING {COLUMNS}, message",
                    scope.clause()
                ),
                &[&scope.param(), &id, &REPLAY_CLAIM_SECONDS],
            )
            .await?;
        if let Some(r) = claimed {
            return Ok(ReplayClaim::Claimed {
                row: row_to_dead_letter(&r)?,
                message: r.get(15),
            });
        }
        let state = client
            .query_opt(
                &format!(
                    "SELECT replayed_at IS NOT NULL, replay_job_id FROM dead_letters WHERE {} AND id = $2",
                    scope.clause()
                ),
                &[&scope.param(), &id],
            )
            .await?
            .ok_or(StoreError::NotFound)?;
        if state.get::<_, bool>(0) {
            Ok(ReplayClaim::AlreadyReplayed {
                replay_job_id: state.get(1),
            })
        } else {
            Ok(ReplayClaim::InProgress)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip() {
        for kind in DeadLetterKind::ALL {
            assert_eq!(DeadLetterKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(DeadLetterKind::parse("Sync"), None);
    }

    #[test]
    fn nul_never_reaches_postgres_text() {
        assert_eq!(pg_text("a\0b"), "a\u{FFFD}b");
        assert_eq!(pg_text("plain"), "plain");
    }

    #[test]
    fn admin_scope_is_explicit() {
        let org = Uuid::now_v7();
        assert_eq!(Scope::Org(org).clause(), "org_id = $1");
        assert_eq!(Scope::Org(org).param(), Some(org));
        assert_eq!(Scope::All.param(), None);
    }
}
