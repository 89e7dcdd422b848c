//! Salesforce reads: a SOQL query page by page through `/query` (live records) or `/queryAll`
//! (the recycle bin's too, whose `IsDeleted` records become tombstones), restarting after the
//! last record handed out when a query locator has expired.

use fluxcascade_core::Record;
use reqwest::Method;
use serde_json::Value;
use tracing::warn;

use super::client::SalesforceClient;
use super::records::{
    batch_header, fields_for, next_token, object, parse_records, soql, PageToken, SalesforceObject,
};
use crate::{ListQuery, Page, ProviderError};

/// Which records a read returns: the live ones (`/query`) or deletions too (`/queryAll`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ReadScope {
    Live,
    WithDeleted,
}

impl ReadScope {
    fn resource(self) -> &'static str {
        match self {
            ReadScope::Live => "/query",
            ReadScope::WithDeleted => "/queryAll",
        }
    }
}

/// A record `queryAll` shows with `IsDeleted = true` becomes a tombstone at its deletion time.
pub(super) fn tombstone_if_deleted(record: Record) -> Record {
    if record.fields.get("IsDeleted").and_then(Value::as_bool) == Some(true) {
        Record::tombstone(record.id, record.updated_at)
    } else {
        record
    }
}

impl SalesforceClient {
    pub(super) async fn query_page(
        &self,
        obj: &SalesforceObject,
        url: String,
        page_size: u32,
    ) -> Result<Page, ProviderError> {
        let body = self
            .send(
                Method::GET,
                url,
                None,
                &[("Sforce-Query-Options", batch_header(page_size))],
            )
            .await?;
        let records = parse_records(obj, &body)?;
        let next_page = next_token(&body, &records);
        Ok(Page { records, next_page })
    }

    pub(super) fn query_url(&self, scope: ReadScope, q: &str) -> String {
        crate::oauth::with_query(&self.data_url(scope.resource()), &[("q", q)])
    }

    /// One page of `list` or `list_with_tombstones`.
    pub(super) async fn read(
        &self,
        object_name: &str,
        query: &ListQuery,
        scope: ReadScope,
    ) -> Result<Page, ProviderError> {
        let obj = object(object_name)?;
        let mut fields = fields_for(obj, &query.fields)?;
        if scope == ReadScope::WithDeleted {
            fields = fields_for(obj, &[fields, vec!["IsDeleted".to_owned()]].concat())?;
        }
        let mut page = match &query.page {
            Some(token) => {
                let token = PageToken::decode(token)?;
                let url = format!("{}{}", self.base, token.locator);
                match self.query_page(obj, url, query.page_size).await {
                    Err(ProviderError::Permanent(m))
                        if m.contains("INVALID_QUERY_LOCATOR") && token.resume.is_some() =>
                    {
                        warn!(error = %m, "Salesforce query locator expired; restarting after the last record read");
                        let q = soql(obj, &fields, token.resume.as_ref());
                        self.query_page(obj, self.query_url(scope, &q), query.page_size)
                            .await?
                    }
                    other => other?,
                }
            }
            None => {
                let q = soql(obj, &fields, query.since.as_ref());
                self.query_page(obj, self.query_url(scope, &q), query.page_size)
                    .await?
            }
        };
        if scope == ReadScope::WithDeleted {
            page.records = page.records.into_iter().map(tombstone_if_deleted).collect();
        }
        Ok(page)
    }
}
