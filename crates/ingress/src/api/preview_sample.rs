//! `"sample": {"count": N}` for `POST /v1/mappings/preview`: N records read from a connection.
//!
//! The one preview that calls a provider: a single read-only `list` page through the adapter,
//! with the connection's stored access token (no refresh here: an expired token is a 409 asking
//! to reconnect or let a sync refresh it). Provider failures are 409 (credentials, rate limit) or
//! 502 (the provider failed), never 500, and never echo a token.

use std::sync::Arc;

use fluxcascade_core::{FieldPair, ProviderKind};
use fluxcascade_providers::{ConnectionContext, ListQuery, ProviderError, StaticToken};
use fluxcascade_store::StoreError;
use serde::Deserialize;
use uuid::Uuid;

use crate::api::preview::SampleRecord;
use crate::error::{ApiError, ErrorDetail};
use crate::AppState;

/// The most records one sample may read.
pub const MAX_SAMPLE: u32 = 20;

/// `{"count": N}`: read N (1..=20) records of the records' endpoint.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct SampleRequest {
    pub count: i64,
}

/// The sample's size, or a 422 detail naming `sample.count`.
pub fn check_count(s: &SampleRequest) -> Result<u32, ErrorDetail> {
    if (1..=i64::from(MAX_SAMPLE)).contains(&s.count) {
        Ok(s.count as u32)
    } else {
        Err(ErrorDetail::new(
            "sample.count",
            format!("must be between 1 and {MAX_SAMPLE}; got {}", s.count),
        ))
    }
}

/// The top-level provider field names the pairs read (`emails[0].address` → `emails`).
pub fn fields_read(pairs: &[FieldPair]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let paths = pairs.iter().flat_map(|p| {
        p.source_field
            .iter()
            .chain(p.source_fields.iter().flatten())
            .cloned()
            .collect::<Vec<_>>()
    });
    for path in paths {
        let root = path.split(['.', '[']).next().unwrap_or_default().to_owned();
        if !root.is_empty() && !out.contains(&root) {
            out.push(root);
        }
    }
    out
}

/// Reads `count` records of `object` from the org's connection `connection_id`.
pub async fn read(
    state: &AppState,
    org_id: Uuid,
    connection_id: &str,
    object: &str,
    count: u32,
    fields: Vec<String>,
) -> Result<Vec<SampleRecord>, ApiError> {
    let id = Uuid::parse_str(connection_id).map_err(|_| ApiError::not_found())?;
    let creds = match state
        .store
        .load_credentials(org_id, id, &state.master_key)
        .await
    {
        Ok(c) => c,
        Err(StoreError::NotFound) => return Err(ApiError::not_found()),
        Err(e) => {
            tracing::error!(error = %e, "cannot load a connection for a preview sample");
            return Err(ApiError::unavailable("the store is unavailable; retry"));
        }
    };
    let kind = ProviderKind::parse(&creds.provider).ok_or_else(ApiError::internal)?;
    if creds.status != "active" || creds.expires_at.is_some_and(|t| t <= chrono::Utc::now()) {
        return Err(ApiError::conflict(format!(
            "the {} connection's access has expired; reconnect it (or let a sync refresh it) \
             and fetch the sample again",
            kind.as_str()
        )));
    }
    let mut ctx = ConnectionContext::simple(
        Arc::new(StaticToken(creds.access_token.clone())),
        state.http.clone(),
    );
    ctx.instance_url = creds.instance_url.clone();
    let provider = fluxcascade_providers::connect(kind, &state.providers, ctx)
        .map_err(|e| provider_error(kind, e))?;
    let query = ListQuery {
        since: None,
        page: None,
        page_size: count,
        fields,
    };
    let page = provider
        .list(object, &query)
        .await
        .map_err(|e| provider_error(kind, e))?;
    Ok(page
        .records
        .into_iter()
        .take(count as usize)
        .map(|r| SampleRecord {
            id: Some(r.id),
            fields: r.fields,
        })
        .collect())
}

/// A provider failure as the caller should see it: 409 when they can act, else 502.
fn provider_error(kind: ProviderKind, e: ProviderError) -> ApiError {
    use axum::http::StatusCode;
    tracing::warn!(error = %e, provider = kind.as_str(), "preview sample read failed");
    let name = kind.as_str();
    match e {
        ProviderError::Auth(_) => ApiError::conflict(format!(
            "{name} refused the connection's credentials; reconnect it"
        )),
        ProviderError::RateLimited { retry_after } => ApiError::conflict(format!(
            "{name} is rate limiting this connection; retry in {} s",
            retry_after.as_secs().max(1)
        )),
        ProviderError::Transient(_) => ApiError::new(
            StatusCode::BAD_GATEWAY,
            "provider_unavailable",
            format!("{name} did not answer the sample read; retry"),
        ),
        ProviderError::Permanent(m) => ApiError::new(
            StatusCode::BAD_GATEWAY,
            "provider_error",
            format!("{name} refused the sample read: {}", truncate(&m, 300)),
        ),
    }
}

fn truncate(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}
