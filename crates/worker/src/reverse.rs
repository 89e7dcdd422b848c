//! Create intents of the reverse leg (target records created on the source): what a crashed
//! attempt may have created on the source is found and linked instead of being created again.
//!
//! Link hashes always live in the target-side projection, so a reverse intent stores the hash the
//! created source record shows once mapped forward again (`LegCtx`'s mapping), and a retry lists
//! the source for records changed since the intent whose mapped values hash the same.

use std::collections::HashMap;

use chrono::Duration;
use fluxcascade_core::{Cursor, Record};
use fluxcascade_providers::ListQuery;
use tracing::info;

use crate::error::WorkerError;
use crate::handler::WorkerHandler;
use crate::leg::LegCtx;
use crate::reconcile::{RECONCILE_LOOKBACK_SECONDS, RECONCILE_MAX_PAGES};

impl WorkerHandler {
    /// For the unlinked target records of a reverse page that have an intent: the source record
    /// an earlier attempt created for each (changed since the intent, same hash, not linked to
    /// anything else), by target id. Intents with no such record were never created.
    pub(crate) async fn reconcile_reverse(
        &self,
        ctx: &LegCtx,
        unlinked: &[&Record],
    ) -> Result<HashMap<String, Record>, WorkerError> {
        let (org_id, mapping_id) = (ctx.key.org_id, ctx.key.mapping_id);
        let ids: Vec<String> = unlinked.iter().map(|r| r.id.clone()).collect();
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        let intents = self
            .store
            .load_reverse_intents(org_id, mapping_id, &ids)
            .await?;
        let Some(oldest) = intents.values().map(|i| i.pending_since).min() else {
            return Ok(HashMap::new());
        };
        let since = oldest - Duration::seconds(RECONCILE_LOOKBACK_SECONDS);
        let mut by_hash: HashMap<&str, Vec<&str>> = HashMap::new();
        for intent in intents.values() {
            by_hash
                .entry(intent.match_hash.as_str())
                .or_default()
                .push(intent.target_id.as_str());
        }
        let mut query = ListQuery {
            since: Some(Cursor {
                updated_at: since,
                id: String::new(),
            }),
            page: None,
            page_size: 200,
            fields: ctx.compiled.source_fields.clone(),
        };
        let provider = ctx.adapter.provider.as_ref();
        let mut found: HashMap<String, Record> = HashMap::new();
        for _ in 0..RECONCILE_MAX_PAGES {
            let page = provider.list(&ctx.object, &query).await?;
            let candidates: Vec<(Record, String)> = page
                .records
                .into_iter()
                .filter(|r| r.updated_at >= since)
                .filter_map(|r| {
                    let mapped = ctx.compiled.engine.apply(&r.fields).ok()?;
                    let hash = ctx.compiled.projection.hash(&mapped);
                    by_hash.contains_key(hash.as_str()).then_some((r, hash))
                })
                .collect();
            if !candidates.is_empty() {
                let candidate_ids: Vec<String> =
                    candidates.iter().map(|c| c.0.id.clone()).collect();
                let linked = self
                    .store
                    .linked_sources(org_id, mapping_id, &candidate_ids)
                    .await?;
                for (record, hash) in candidates {
                    if linked.contains(&record.id) {
                        continue; // the twin of some other record already
                    }
                    let target = by_hash.get_mut(hash.as_str()).and_then(Vec::pop);
                    if let Some(target) = target {
                        found.insert(target.to_string(), record);
                    }
                }
            }
            if found.len() == intents.len() || page.next_page.is_none() {
                break;
            }
            query.page = page.next_page;
        }
        info!(%org_id, %mapping_id, pending = intents.len(), found = found.len(),
              "reconciled in-flight reverse creates");
        Ok(found)
    }
}
