//! The worker's `JobHandler`: dispatches jobs by kind and holds what the handlers share.

use fluxcascade_core::engine::CompiledMapping;
use fluxcascade_proto::v1::{JobEnvelope, JobKind};
use fluxcascade_queue::{JobError, JobHandler, Publisher, RetryPolicy};
use fluxcascade_store::mappings::MappingRow;
use fluxcascade_store::{BatchCaps, Store};
use uuid::Uuid;

use crate::adapters::Adapters;
use crate::error::WorkerError;
use crate::project::Projection;

pub struct WorkerHandler {
    pub(crate) store: Store,
    pub(crate) publisher: Publisher,
    pub(crate) adapters: Adapters,
    pub(crate) name: String,
    pub(crate) retry: RetryPolicy,
    pub(crate) page_size: u32,
    /// How long a run's lease lasts after whoever works on it renewed it.
    pub(crate) run_lease: std::time::Duration,
    /// Fleet-wide caps on concurrent batch jobs per org and per written connection.
    pub(crate) batch_caps: BatchCaps,
}

/// A mapping ready to apply: the core engine plus what the I/O side needs from it.
pub(crate) struct Compiled {
    pub engine: CompiledMapping,
    /// Top-level source fields to ask the provider for (the pairs' and the match rule's).
    pub source_fields: Vec<String>,
    pub target_fields: Vec<String>,
    pub projection: Projection,
}

pub(crate) fn now_unix_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

pub(crate) fn parse_uuid(s: &str, what: &str) -> Result<Uuid, WorkerError> {
    Uuid::parse_str(s)
        .map_err(|_| WorkerError::bad_job(format!("job has an invalid {what}: {s:?}")))
}

impl WorkerHandler {
    pub fn new(
        store: Store,
        publisher: Publisher,
        adapters: Adapters,
        name: String,
        retry: RetryPolicy,
        page_size: u32,
        run_lease: std::time::Duration,
    ) -> WorkerHandler {
        WorkerHandler {
            store,
            publisher,
            adapters,
            name,
            retry,
            page_size,
            run_lease,
            batch_caps: BatchCaps::OFF,
        }
    }

    /// Holds bulk batch jobs to `caps` (default: no caps).
    pub fn with_batch_caps(mut self, caps: BatchCaps) -> WorkerHandler {
        self.batch_caps = caps;
        self
    }

    pub(crate) fn compile(&self, mapping: &MappingRow) -> Result<Compiled, WorkerError> {
        let engine = CompiledMapping::compile(&mapping.spec.field_pairs).map_err(|issues| {
            WorkerError::bad_job(format!(
                "the mapping is invalid: {}",
                issues
                    .iter()
                    .map(|i| format!("{}: {}", i.field, i.message))
                    .collect::<Vec<_>>()
                    .join("; ")
            ))
        })?;
        let mut source_fields = engine.source_paths();
        // A match rule's source field is read too, though no pair maps it.
        if let Some(rule) = &mapping.spec.match_rule {
            let top = rule
                .source_field
                .split(['.', '['])
                .next()
                .unwrap_or_default();
            if !top.is_empty() && !source_fields.iter().any(|f| f == top) {
                source_fields.push(top.to_owned());
            }
        }
        Ok(Compiled {
            source_fields,
            target_fields: engine.target_paths(),
            projection: Projection::new(&engine.target_field_paths()),
            engine,
        })
    }

    /// Whether this failure ends the job for good: permanent, or a transient or infrastructure
    /// fault that has been retried for the whole retry window. A deferred job never ends.
    pub(crate) fn is_final_attempt(&self, env: &JobEnvelope, e: &JobError) -> bool {
        match e {
            JobError::Permanent { .. } => true,
            JobError::Deferred { .. } => false,
            JobError::Transient { .. } | JobError::Infrastructure { .. } => self
                .retry
                .window_elapsed(env.first_failed_at_unix_ms, now_unix_ms()),
        }
    }
}

#[async_trait::async_trait]
impl JobHandler for WorkerHandler {
    async fn handle(&self, job: &JobEnvelope) -> Result<(), JobError> {
        // The queue's consumer times the job and counts its outcome (`observe_job`).
        let kind = JobKind::try_from(job.kind).unwrap_or(JobKind::Unspecified);
        match kind {
            JobKind::Sync => self.handle_sync(job).await,
            JobKind::Batch => self.handle_batch(job).await,
            JobKind::Webhook => self.handle_webhook(job).await.map_err(JobError::from),
            other => Err(JobError::Permanent {
                message: format!("this worker does not handle {other:?} jobs"),
            }),
        }
    }
}
