//! The worker's `JobHandler`: dispatches jobs by kind and holds what the handlers share.

use std::time::Instant;

use fluxcascade_core::engine::CompiledMapping;
use fluxcascade_proto::v1::{JobEnvelope, JobKind};
use fluxcascade_queue::{JobError, JobHandler, Publisher};
use fluxcascade_store::mappings::MappingRow;
use fluxcascade_store::Store;
use fluxcascade_telemetry::metrics;
use uuid::Uuid;

use crate::adapters::Adapters;
use crate::project::Projection;

pub struct WorkerHandler {
    pub(crate) store: Store,
    pub(crate) publisher: Publisher,
    pub(crate) adapters: Adapters,
    pub(crate) name: String,
    pub(crate) max_attempts: u32,
    pub(crate) page_size: u32,
}

/// A mapping ready to apply: the core engine plus what the I/O side needs from it.
pub(crate) struct Compiled {
    pub engine: CompiledMapping,
    /// Top-level source fields to ask the provider for.
    pub source_fields: Vec<String>,
    pub target_fields: Vec<String>,
    pub projection: Projection,
}

pub(crate) fn parse_uuid(s: &str, what: &str) -> Result<Uuid, JobError> {
    Uuid::parse_str(s).map_err(|_| JobError::Permanent {
        message: format!("job has an invalid {what}: {s:?}"),
    })
}

impl WorkerHandler {
    pub fn new(
        store: Store,
        publisher: Publisher,
        adapters: Adapters,
        name: String,
        max_attempts: u32,
        page_size: u32,
    ) -> WorkerHandler {
        WorkerHandler {
            store,
            publisher,
            adapters,
            name,
            max_attempts,
            page_size,
        }
    }

    pub(crate) fn compile(&self, mapping: &MappingRow) -> Result<Compiled, JobError> {
        let engine = CompiledMapping::compile(&mapping.spec.field_pairs).map_err(|issues| {
            JobError::Permanent {
                message: format!(
                    "the mapping is invalid: {}",
                    issues
                        .iter()
                        .map(|i| format!("{}: {}", i.field, i.message))
                        .collect::<Vec<_>>()
                        .join("; ")
                ),
            }
        })?;
        Ok(Compiled {
            source_fields: engine.source_paths(),
            target_fields: engine.target_paths(),
            projection: Projection::new(&engine.target_field_paths()),
            engine,
        })
    }

    /// Whether this failure ends the job for good (permanent, or the attempts are used up).
    pub(crate) fn is_final_attempt(&self, env: &JobEnvelope, e: &JobError) -> bool {
        matches!(e, JobError::Permanent { .. }) || env.attempt >= self.max_attempts
    }
}

#[async_trait::async_trait]
impl JobHandler for WorkerHandler {
    async fn handle(&self, job: &JobEnvelope) -> Result<(), JobError> {
        let started = Instant::now();
        let kind = JobKind::try_from(job.kind).unwrap_or(JobKind::Unspecified);
        let label = match kind {
            JobKind::Sync => "sync",
            JobKind::Batch => "batch",
            JobKind::Webhook => "webhook",
            _ => "other",
        };
        let result = match kind {
            JobKind::Sync => self.handle_sync(job).await,
            JobKind::Batch => self.handle_batch(job).await,
            JobKind::Webhook => self.handle_webhook(job).await,
            other => Err(JobError::Permanent {
                message: format!("this worker does not handle {other:?} jobs"),
            }),
        };
        metrics()
            .job_duration
            .with_label_values(&[label])
            .observe(started.elapsed().as_secs_f64());
        result
    }
}
