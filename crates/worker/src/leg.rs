//! The per-job context of a batch: which leg it is, the mapping compiled once, and the adapter
//! and object it writes; plus how a written record becomes a link on either leg.

use chrono::{DateTime, Utc};
use fluxcascade_core::decide::Leg;
use fluxcascade_core::engine::CompiledMapping;
use fluxcascade_core::{ConflictResolution, Direction, Record};
use fluxcascade_queue::JobError;
use fluxcascade_store::links::LinkWrite;
use fluxcascade_store::mappings::MappingRow;

use crate::adapters::Adapter;
use crate::batch::BatchKey;
use crate::error::WorkerError;
use crate::handler::{Compiled, WorkerHandler};

/// Everything a batch job needs besides its records, loaded once per job.
pub(crate) struct LegCtx {
    pub key: BatchKey,
    pub leg: Leg,
    pub mapping: MappingRow,
    pub compiled: Compiled,
    /// The reverse leg's mapping (target values → source fields); `None` on the forward leg.
    pub reversed: Option<CompiledMapping>,
    /// The adapter of the side this leg writes.
    pub adapter: Adapter,
    /// The object this leg writes.
    pub object: String,
    /// The conflict policy on a bidirectional mapping.
    pub policy: Option<ConflictResolution>,
}

impl WorkerHandler {
    /// Loads the mapping, compiles it and connects the written side's adapter.
    pub(crate) async fn leg_ctx(&self, key: BatchKey) -> Result<LegCtx, WorkerError> {
        let mapping = self
            .store
            .get_mapping(key.org_id, key.mapping_id)
            .await?
            .ok_or_else(|| JobError::Permanent {
                message: "the mapping was deleted".into(),
            })?;
        let compiled = self.compile(&mapping)?;
        let leg = key.leg();
        let (connection, object, reversed) = match leg {
            Leg::Forward => (
                mapping.target_connection(),
                mapping.spec.target.object.clone(),
                None,
            ),
            Leg::Reverse => (
                mapping.source_connection(),
                mapping.spec.source.object.clone(),
                Some(compiled.engine.reversed()),
            ),
        };
        let connection = connection?;
        let adapter = self.adapters.get(key.org_id, connection).await?;
        let policy = (mapping.spec.direction == Direction::Bidirectional)
            .then_some(mapping.spec.conflict_resolution);
        Ok(LegCtx {
            key,
            leg,
            mapping,
            compiled,
            reversed,
            adapter,
            object,
            policy,
        })
    }
}

impl LegCtx {
    /// The link a write (or a reconciled create) leaves: `read` is the record this leg read,
    /// `written` its twin on the other side.
    pub fn link_write(
        &self,
        read: &Record,
        written_id: &str,
        written_at: Option<DateTime<Utc>>,
        hash: &str,
    ) -> LinkWrite {
        let (source_id, target_id, source_updated_at, target_updated_at) = match self.leg {
            Leg::Forward => (
                read.id.clone(),
                written_id.to_string(),
                Some(read.updated_at),
                written_at,
            ),
            Leg::Reverse => (
                written_id.to_string(),
                read.id.clone(),
                written_at,
                Some(read.updated_at),
            ),
        };
        LinkWrite {
            source_id,
            target_id,
            source_updated_at,
            target_updated_at,
            hash: hash.to_string(),
        }
    }
}
