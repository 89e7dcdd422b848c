//! HubSpot deletions: archiving through `batch/archive`, and the archived objects an incremental
//! read returns as tombstones.
//!
//! HubSpot's search never returns archived objects, and the archived list (`GET
//! /crm/v3/objects/{type}?archived=true`) pages by id with no time filter. So an incremental read
//! first walks the archived list, keeping the objects archived at or after the cursor (minus the
//! look-back) as tombstones (`Record { deleted: true }`, `updated_at` = `archivedAt`), then runs
//! the usual search from the same anchor. The page token says which phase a read is in.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::Utc;
use fluxcascade_core::Record;
use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::client::HubspotClient;
use super::records::{next_after, parse_time, HubspotObject, SearchToken, MAX_BATCH};
use crate::http::ApiRequest;
use crate::{Page, ProviderError, WriteResult};

/// Where the archived phase of an incremental read stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArchivedToken {
    /// Keep objects archived at or after this time (epoch ms); also the search's anchor after.
    pub since: i64,
    /// HubSpot's `after` within the archived list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
}

const ARCHIVED_TOKEN_PREFIX: &str = "a1.";

impl ArchivedToken {
    pub fn encode(&self) -> String {
        let json = serde_json::to_vec(self)
            .unwrap_or_else(|_| format!("{{\"since\":{}}}", self.since).into_bytes());
        format!("{ARCHIVED_TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(json))
    }

    pub fn is_archived_token(token: &str) -> bool {
        token.starts_with(ARCHIVED_TOKEN_PREFIX)
    }

    pub fn decode(token: &str) -> Result<ArchivedToken, ProviderError> {
        let bad = || ProviderError::Permanent(format!("invalid HubSpot page token `{token}`"));
        let b64 = token.strip_prefix(ARCHIVED_TOKEN_PREFIX).ok_or_else(bad)?;
        let bytes = URL_SAFE_NO_PAD.decode(b64).map_err(|_| bad())?;
        serde_json::from_slice(&bytes).map_err(|_| bad())
    }

    /// The token after an archived page: the next archived page, or the search phase.
    pub fn next(&self, next_after: Option<String>) -> String {
        match next_after {
            Some(after) => ArchivedToken {
                since: self.since,
                after: Some(after),
            }
            .encode(),
            None => SearchToken {
                anchor: self.since,
                after: None,
            }
            .encode(),
        }
    }
}

/// The tombstones of an archived list page: objects archived at or after `since_ms`. An object
/// without a readable `archivedAt` is kept at its `updatedAt` (never dropped: a missed deletion
/// is worse than a repeated one, which the write path finds unlinked).
pub fn tombstones(
    obj: &HubspotObject,
    body: &Value,
    since_ms: i64,
) -> Result<Vec<Record>, ProviderError> {
    let items = match body.get("results") {
        Some(Value::Array(items)) => items.as_slice(),
        None | Some(Value::Null) => &[],
        Some(_) => {
            return Err(ProviderError::Permanent(
                "HubSpot `results` is not an array".into(),
            ))
        }
    };
    let mut out = Vec::new();
    for v in items {
        let id = match v.get("id") {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => {
                return Err(ProviderError::Permanent(format!(
                    "HubSpot archived {} without an id",
                    obj.name
                )))
            }
        };
        let at = v
            .get("archivedAt")
            .and_then(parse_time)
            .or_else(|| v.get("updatedAt").and_then(parse_time));
        let Some(at) = at else {
            return Err(ProviderError::Permanent(format!(
                "HubSpot archived {} {id} has no readable archivedAt",
                obj.name
            )));
        };
        if at.timestamp_millis() >= since_ms {
            out.push(Record::tombstone(id, at));
        }
    }
    Ok(out)
}

/// The body of `POST /crm/v3/objects/{type}/batch/archive`.
pub fn archive_body(ids: &[String]) -> Value {
    let inputs: Vec<Value> = ids.iter().map(|id| json!({ "id": id })).collect();
    json!({ "inputs": inputs })
}

impl HubspotClient {
    /// One page of the archived phase of an incremental read.
    pub(super) async fn list_archived(
        &self,
        obj: &HubspotObject,
        token: &ArchivedToken,
    ) -> Result<Page, ProviderError> {
        let limit = MAX_BATCH.to_string();
        let mut params = vec![
            ("limit", limit.as_str()),
            ("archived", "true"),
            ("properties", obj.modified_property),
        ];
        if let Some(after) = &token.after {
            params.push(("after", after.as_str()));
        }
        let url = crate::oauth::with_query(&self.url(obj, ""), &params);
        let (_, body) = self
            .api
            .send(&ApiRequest {
                method: Method::GET,
                url,
                body: None,
                headers: &[],
            })
            .await?;
        Ok(Page {
            records: tombstones(obj, &body, token.since)?,
            next_page: Some(token.next(next_after(&body))),
        })
    }

    /// Archives `ids` in chunks of 100. HubSpot answers 204 for the whole chunk, ids it does
    /// not know included, so every id comes back as a tombstone; a chunk refused with a 4xx
    /// fails each of its ids.
    pub(super) async fn archive_ids(
        &self,
        obj: &HubspotObject,
        ids: &[String],
    ) -> Result<Vec<WriteResult>, ProviderError> {
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(MAX_BATCH) {
            let sent = self
                .api
                .send(&ApiRequest {
                    method: Method::POST,
                    url: self.url(obj, "/batch/archive"),
                    body: Some(&archive_body(chunk)),
                    headers: &[],
                })
                .await;
            match sent {
                Ok(_) => {
                    let now = Utc::now();
                    out.extend(
                        chunk
                            .iter()
                            .map(|id| WriteResult::Ok(Record::tombstone(id.clone(), now))),
                    );
                }
                Err(ProviderError::Permanent(message)) => {
                    out.extend(chunk.iter().map(|_| WriteResult::Failed {
                        code: super::batch::REJECTED.to_owned(),
                        message: message.clone(),
                    }))
                }
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hubspot::records::object;

    #[test]
    fn archived_tokens_round_trip_and_hand_over_to_search() {
        let t = ArchivedToken {
            since: 1_700_000_000_000,
            after: Some("42".into()),
        };
        let enc = t.encode();
        assert!(ArchivedToken::is_archived_token(&enc));
        assert!(!SearchToken::is_search_token(&enc));
        assert_eq!(ArchivedToken::decode(&enc).unwrap(), t);
        let next = t.next(Some("99".into()));
        assert_eq!(
            ArchivedToken::decode(&next).unwrap().after.as_deref(),
            Some("99")
        );
        let search = t.next(None);
        assert_eq!(
            SearchToken::decode(&search).unwrap(),
            SearchToken {
                anchor: t.since,
                after: None
            }
        );
        assert!(ArchivedToken::decode("s1.xyz").is_err());
    }

    #[test]
    fn tombstones_keep_objects_archived_since_the_cursor() {
        let obj = object("contacts").unwrap();
        let body = json!({"results": [
            {"id": "1", "archived": true, "archivedAt": "2026-01-01T00:00:00.000Z",
             "updatedAt": "2025-12-01T00:00:00.000Z", "properties": {}},
            {"id": "2", "archived": true, "archivedAt": "2026-02-01T00:00:00.000Z",
             "updatedAt": "2025-12-01T00:00:00.000Z", "properties": {}},
            {"id": "3", "archived": true, "updatedAt": "2026-03-01T00:00:00.000Z"}
        ]});
        let since = parse_time(&json!("2026-01-15T00:00:00Z"))
            .unwrap()
            .timestamp_millis();
        let got = tombstones(obj, &body, since).unwrap();
        let ids: Vec<&str> = got.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, ["2", "3"]);
        assert!(got.iter().all(|r| r.deleted));
        assert_eq!(got[0].updated_at.to_rfc3339(), "2026-02-01T00:00:00+00:00");
        assert!(tombstones(obj, &json!({"results": [{"archivedAt": "x"}]}), 0).is_err());
        assert!(tombstones(obj, &json!({"results": 1}), 0).is_err());
    }

    #[test]
    fn archive_body_lists_the_ids() {
        assert_eq!(
            archive_body(&["1".into(), "2".into()]),
            json!({"inputs": [{"id": "1"}, {"id": "2"}]})
        );
    }
}
