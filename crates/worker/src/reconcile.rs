//! Reconciling create intents: records a crashed attempt may have created in the target are found
//! (changed since the intent, same mapped-values hash) and linked instead of being created again.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use fluxcascade_core::Cursor;
use fluxcascade_providers::{ListQuery, Provider};
use fluxcascade_store::links::LinkRow;
use tracing::info;

use crate::error::WorkerError;
use crate::handler::{Compiled, WorkerHandler};

/// Re-read this far before the oldest in-flight create when reconciling.
pub(crate) const RECONCILE_LOOKBACK_SECONDS: i64 = 5;
/// Give up reconciling after this many target pages (then the records are created again).
pub(crate) const RECONCILE_MAX_PAGES: usize = 400;

impl WorkerHandler {
    /// Creates that were in flight when a previous attempt died: find what they created in the
    /// target (records changed since the intent whose mapped values hash the same) and link it,
    /// so the retry updates instead of creating a duplicate.
    pub(crate) async fn reconcile_intents(
        &self,
        compiled: &Compiled,
        target: &dyn Provider,
        object: &str,
        links: &mut HashMap<String, LinkRow>,
    ) -> Result<Vec<String>, WorkerError> {
        let pending: Vec<(String, String, DateTime<Utc>)> = links
            .values()
            .filter(|l| l.target_id.is_none())
            .map(|l| {
                (
                    l.source_id.clone(),
                    l.hash.clone(),
                    l.pending_since.unwrap_or_else(Utc::now),
                )
            })
            .collect();
        if pending.is_empty() {
            return Ok(Vec::new());
        }
        let oldest = pending.iter().map(|p| p.2).min().unwrap_or_else(Utc::now);
        let since = oldest - chrono::Duration::seconds(RECONCILE_LOOKBACK_SECONDS);
        let mut by_hash: HashMap<&str, Vec<&str>> = HashMap::new();
        for (source, hash, _) in &pending {
            by_hash
                .entry(hash.as_str())
                .or_default()
                .push(source.as_str());
        }
        let mut query = ListQuery {
            since: Some(Cursor {
                updated_at: since,
                id: String::new(),
            }),
            page: None,
            page_size: 200,
            fields: compiled.target_fields.clone(),
        };
        let mut found: Vec<String> = Vec::new();
        for _ in 0..RECONCILE_MAX_PAGES {
            let page = target.list(object, &query).await?;
            for rec in page.records {
                if rec.updated_at < since {
                    continue;
                }
                let h = compiled.projection.hash(&rec.fields);
                if let Some(sources) = by_hash.get_mut(h.as_str()) {
                    if let Some(source) = sources.pop() {
                        if let Some(link) = links.get_mut(source) {
                            link.target_id = Some(rec.id.clone());
                            link.target_updated_at = Some(rec.updated_at);
                            found.push(source.to_string());
                        }
                    }
                }
            }
            if found.len() == pending.len() || page.next_page.is_none() {
                break;
            }
            query.page = page.next_page;
        }
        // Intents with no twin in the target were never created: create them now.
        links.retain(|_, l| l.target_id.is_some() || l.pending_since.is_none());
        info!(
            pending = pending.len(),
            found = found.len(),
            "reconciled in-flight creates"
        );
        Ok(found)
    }
}
