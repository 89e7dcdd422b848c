//! One page of a batch job, either leg: load (links, in-flight creates, twins, the other side's
//! current records) → plan (per record, `plan.rs`) → write (intents first, then the provider) →
//! the commit the store applies in one transaction.

use std::borrow::Cow;
use std::collections::HashMap;

use fluxcascade_core::decide::{Leg, LinkState};
use fluxcascade_core::{on_delete, Counts, DeleteAction, Record, RecordError};
use fluxcascade_providers::WriteOp;
use fluxcascade_store::links::{BatchCommit, LinkRow, LinkWrite};
use fluxcascade_store::unlink::LinkSide;

use crate::associations::{self, Extra};
use crate::batch::max_cursor;
use crate::deletes::apply_deletes;
use crate::error::WorkerError;
use crate::handler::WorkerHandler;
use crate::leg::LegCtx;
use crate::matching;
use crate::plan::{plan_record, Planned};
use crate::writes::{self, Outcome, PlannedWrite};

/// What the plan of a page needs besides the records.
#[derive(Default)]
pub(crate) struct Loaded {
    /// Links by the id of the record read.
    pub links: HashMap<String, LinkState>,
    /// Creates of a crashed attempt, found and linked: committed even if now skipped.
    pub reconciled: HashMap<String, LinkWrite>,
    /// Bidirectional: the other side's current records, by id.
    pub others: HashMap<String, Record>,
    /// Forward: association values by source id.
    pub extras: HashMap<String, Extra>,
}

/// The plan of a page.
#[derive(Default)]
pub(crate) struct PagePlan {
    pub counts: Counts,
    pub errors: Vec<RecordError>,
    pub writes: Vec<PlannedWrite>,
}

/// A stored link's fields as the decision sees them (`target_id` left empty).
fn link_fields(row: &LinkRow) -> LinkState {
    LinkState {
        source_id: row.source_id.clone(),
        target_id: String::new(),
        source_updated_at: row.source_updated_at,
        target_updated_at: row.target_updated_at,
        hash: Some(row.hash.clone()),
    }
}

/// A stored link (with a twin) as the decision sees it.
fn link_state(row: &LinkRow) -> Option<LinkState> {
    Some(LinkState {
        source_id: row.source_id.clone(),
        target_id: row.target_id.clone()?,
        source_updated_at: row.source_updated_at,
        target_updated_at: row.target_updated_at,
        hash: Some(row.hash.clone()),
    })
}

impl WorkerHandler {
    /// Writes one page of records the leg read and returns what to commit.
    pub(crate) async fn write_page(
        &self,
        ctx: &LegCtx,
        records: &[Record],
    ) -> Result<BatchCommit, WorkerError> {
        // Tombstones never reach the plan (a deleted record is never created or matched): they
        // get the mapping's `onDelete` action instead.
        let tombstones: Vec<&Record> = records.iter().filter(|r| r.deleted).collect();
        let live: Cow<[Record]> = if tombstones.is_empty() {
            Cow::Borrowed(records) // the usual page: nothing copied
        } else {
            Cow::Owned(records.iter().filter(|r| !r.deleted).cloned().collect())
        };
        let loaded = self.load_page(ctx, &live).await?;
        let mut plan = plan_page(ctx, &live, &loaded);
        if !tombstones.is_empty() {
            self.apply_tombstones(ctx, &tombstones, &mut plan).await?;
        }
        self.write_intents(ctx, &plan.writes).await?;
        let outcomes =
            writes::execute(ctx.adapter.provider.as_ref(), &ctx.object, &plan.writes).await?;
        Ok(self.page_commit(ctx, records, loaded.reconciled, plan, outcomes))
    }

    /// The tombstones of a page: each one's `onDelete` action from its link (the twin is the
    /// record on the side this leg writes), applied through the written side's adapter, and
    /// counted: `deleted` when applied, `skipped` when there is nothing to do.
    async fn apply_tombstones(
        &self,
        ctx: &LegCtx,
        tombstones: &[&Record],
        plan: &mut PagePlan,
    ) -> Result<(), WorkerError> {
        let (org_id, mapping_id) = (ctx.key.org_id, ctx.key.mapping_id);
        let ids: Vec<String> = tombstones.iter().map(|r| r.id.clone()).collect();
        let (rows, side) = match ctx.leg {
            Leg::Forward => (
                self.store.load_links(org_id, mapping_id, &ids).await,
                LinkSide::Source,
            ),
            Leg::Reverse => (
                self.store
                    .load_links_by_target(org_id, mapping_id, &ids)
                    .await,
                LinkSide::Target,
            ),
        };
        let rows = rows?;
        let actions: Vec<(String, DeleteAction)> = ids
            .into_iter()
            .map(|id| {
                // The twin is the other side's record: the target on the forward leg, the source
                // on the reverse leg. An intent (no twin yet) only loses its link.
                let twin = rows.get(&id).map(|row| match ctx.leg {
                    Leg::Forward => LinkState {
                        target_id: row.target_id.clone().unwrap_or_default(),
                        ..link_fields(row)
                    },
                    Leg::Reverse => LinkState {
                        target_id: row.source_id.clone(),
                        ..link_fields(row)
                    },
                });
                let action = on_delete(ctx.mapping.spec.on_delete, twin.as_ref());
                (id, action)
            })
            .collect();
        let provider = ctx.adapter.provider.as_ref();
        let outcome = apply_deletes(
            &self.store,
            provider,
            (org_id, mapping_id),
            side,
            &ctx.object,
            &actions,
        )
        .await?;
        plan.counts.read += tombstones.len() as u64;
        plan.counts.deleted += outcome.applied.len() as u64;
        plan.counts.skipped += outcome.ignored.len() as u64;
        plan.counts.failed += outcome.errors.len() as u64;
        plan.errors.extend(outcome.errors);
        Ok(())
    }

    async fn load_page(&self, ctx: &LegCtx, records: &[Record]) -> Result<Loaded, WorkerError> {
        let mut loaded = match ctx.leg {
            Leg::Forward => self.load_forward(ctx, records).await?,
            Leg::Reverse => self.load_reverse(ctx, records).await?,
        };
        if ctx.policy.is_some() {
            let ids: Vec<String> = loaded
                .links
                .values()
                .map(|l| match ctx.leg {
                    Leg::Forward => l.target_id.clone(),
                    Leg::Reverse => l.source_id.clone(),
                })
                .collect();
            if !ids.is_empty() {
                // The written side's fields the mapping reads (a HubSpot property outside the
                // defaults would otherwise look unchanged by the other side).
                let fields = match ctx.leg {
                    Leg::Forward => &ctx.compiled.target_fields,
                    Leg::Reverse => &ctx.compiled.source_fields,
                };
                let found = ctx
                    .adapter
                    .provider
                    .get_many(&ctx.object, &ids, fields)
                    .await?;
                loaded.others = found.into_iter().map(|r| (r.id.clone(), r)).collect();
            }
        }
        Ok(loaded)
    }

    /// Forward: links by source id, in-flight creates reconciled, match-rule twins, associations.
    async fn load_forward(&self, ctx: &LegCtx, records: &[Record]) -> Result<Loaded, WorkerError> {
        let (org_id, mapping_id) = (ctx.key.org_id, ctx.key.mapping_id);
        let ids: Vec<String> = records.iter().map(|r| r.id.clone()).collect();
        let mut rows = self.store.load_links(org_id, mapping_id, &ids).await?;
        let provider = ctx.adapter.provider.as_ref();
        let found = self
            .reconcile_intents(&ctx.compiled, provider, &ctx.object, &mut rows)
            .await?;
        let mut loaded = Loaded::default();
        for record in records.iter().filter(|r| found.contains(&r.id)) {
            if let Some(row) = rows.get(&record.id) {
                if let Some(t) = &row.target_id {
                    let link = ctx.link_write(record, t, row.target_updated_at, &row.hash);
                    loaded.reconciled.insert(record.id.clone(), link);
                }
            }
        }
        loaded.links = rows
            .iter()
            .filter_map(|(id, row)| Some((id.clone(), link_state(row)?)))
            .collect();
        // Match rule: unlinked records look for an existing twin in the target before creating.
        if let Some(rule) = &ctx.mapping.spec.match_rule {
            let unlinked: Vec<&Record> = records
                .iter()
                .filter(|r| !loaded.links.contains_key(&r.id))
                .collect();
            if !unlinked.is_empty() {
                let fields = &ctx.compiled.target_fields;
                let twins =
                    matching::find_twins(provider, &ctx.object, rule, &unlinked, fields).await?;
                for (source_id, twin) in twins {
                    let link = LinkState {
                        source_id: source_id.clone(),
                        target_id: twin.id,
                        source_updated_at: None,
                        target_updated_at: Some(twin.updated_at),
                        hash: None, // never written by us: the decision updates it
                    };
                    loaded.links.insert(source_id, link);
                }
            }
        }
        let spec = &ctx.mapping.spec;
        if !spec.associations.is_empty() {
            let object = &spec.source.object;
            loaded.extras =
                associations::resolve(&self.store, org_id, object, &spec.associations, records)
                    .await?;
        }
        Ok(loaded)
    }

    /// Reverse: links by target id, and the creates of a crashed attempt found on the source.
    async fn load_reverse(&self, ctx: &LegCtx, records: &[Record]) -> Result<Loaded, WorkerError> {
        let (org_id, mapping_id) = (ctx.key.org_id, ctx.key.mapping_id);
        let ids: Vec<String> = records.iter().map(|r| r.id.clone()).collect();
        let rows = self
            .store
            .load_links_by_target(org_id, mapping_id, &ids)
            .await?;
        let mut loaded = Loaded {
            links: rows
                .iter()
                .filter_map(|(id, row)| Some((id.clone(), link_state(row)?)))
                .collect(),
            ..Loaded::default()
        };
        let unlinked: Vec<&Record> = records
            .iter()
            .filter(|r| !loaded.links.contains_key(&r.id))
            .collect();
        let found = self.reconcile_reverse(ctx, &unlinked).await?;
        for record in unlinked {
            let Some(source) = found.get(&record.id) else {
                continue;
            };
            let hash = ctx.compiled.projection.hash(&record.fields);
            let link = ctx.link_write(record, &source.id, Some(source.updated_at), &hash);
            loaded.links.insert(
                record.id.clone(),
                LinkState {
                    source_id: link.source_id.clone(),
                    target_id: link.target_id.clone(),
                    source_updated_at: link.source_updated_at,
                    target_updated_at: link.target_updated_at,
                    hash: Some(hash),
                },
            );
            loaded.reconciled.insert(record.id.clone(), link);
        }
        Ok(loaded)
    }

    /// Commits, before any create is sent, what each create will be recognised by after a crash.
    async fn write_intents(
        &self,
        ctx: &LegCtx,
        writes: &[PlannedWrite],
    ) -> Result<(), WorkerError> {
        let (org_id, mapping_id) = (ctx.key.org_id, ctx.key.mapping_id);
        let creates = writes.iter().filter_map(|w| match &w.op {
            WriteOp::Create { fields } => Some((w, fields)),
            WriteOp::Update { .. } => None,
        });
        let stored = match ctx.leg {
            Leg::Forward => {
                let intents: Vec<(String, String)> = creates
                    .map(|(w, _)| (w.record.id.clone(), w.hash.clone()))
                    .collect();
                self.store
                    .write_create_intents(org_id, mapping_id, &intents)
                    .await
            }
            Leg::Reverse => {
                // The source record we create shows `fields`; mapped forward again they hash
                // to what a reconciling retry looks for.
                let intents: Vec<(String, String)> = creates
                    .map(|(w, fields)| {
                        let hash = ctx
                            .compiled
                            .engine
                            .apply(fields)
                            .map_or_else(|_| w.hash.clone(), |v| ctx.compiled.projection.hash(&v));
                        (w.record.id.clone(), hash)
                    })
                    .collect();
                self.store
                    .write_reverse_intents(org_id, mapping_id, &intents)
                    .await
            }
        };
        Ok(stored?)
    }

    fn page_commit(
        &self,
        ctx: &LegCtx,
        records: &[Record],
        mut links: HashMap<String, LinkWrite>,
        plan: PagePlan,
        outcomes: Vec<Outcome>,
    ) -> BatchCommit {
        let PagePlan {
            mut counts,
            mut errors,
            writes: planned,
        } = plan;
        let mut dropped_intents = Vec::new();
        for (w, outcome) in planned.iter().zip(outcomes) {
            writes::count(&mut counts, w, &outcome);
            match outcome {
                Outcome::Written(written) => {
                    let link =
                        ctx.link_write(&w.record, &written.id, Some(written.updated_at), &w.hash);
                    links.insert(w.record.id.clone(), link);
                }
                Outcome::Failed(e) => {
                    if w.create && ctx.leg == Leg::Forward {
                        dropped_intents.push(w.record.id.clone());
                    }
                    errors.push(e);
                }
            }
        }
        BatchCommit {
            org_id: ctx.key.org_id,
            sync_id: ctx.key.sync_id,
            mapping_id: ctx.key.mapping_id,
            batch_no: ctx.key.batch_no,
            side: ctx.leg.as_str(),
            worker: self.name.clone(),
            counts,
            max_cursor: max_cursor(records),
            links: links.into_values().collect(),
            dropped_intents,
            errors,
        }
    }
}

/// The decision for every record of the page.
pub(crate) fn plan_page(ctx: &LegCtx, records: &[Record], loaded: &Loaded) -> PagePlan {
    let mut plan = PagePlan {
        counts: Counts {
            read: records.len() as u64,
            ..Counts::default()
        },
        ..PagePlan::default()
    };
    for record in records {
        let link = loaded.links.get(&record.id);
        let extra = loaded.extras.get(&record.id);
        match plan_record(ctx, record, link, &loaded.others, extra) {
            Planned::Write(w) => plan.writes.push(w),
            Planned::Skipped => plan.counts.skipped += 1,
            Planned::Failed(e) => {
                plan.counts.failed += 1;
                plan.errors.push(e);
            }
        }
    }
    plan
}

#[cfg(test)]
#[path = "page_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "page_sandbox_tests.rs"]
mod sandbox_tests;
