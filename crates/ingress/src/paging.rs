//! List paging: `limit` (1..=100, default 50), opaque `cursor`s (base64 of the last id), `{data, nextCursor}`.

use std::collections::HashMap;

use axum::extract::{FromRequestParts, Query};
use axum::http::request::Parts;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::Serialize;
use uuid::Uuid;

use crate::error::ApiError;

pub const DEFAULT_LIMIT: i64 = 50;
pub const MAX_LIMIT: i64 = 100;

/// The query string as key/value pairs (a malformed query string is 400).
#[derive(Debug, Default)]
pub struct Params(pub HashMap<String, String>);

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Query(map) = Query::<HashMap<String, String>>::from_request_parts(parts, state)
            .await
            .map_err(|e| ApiError::bad_request(e.body_text()))?;
        Ok(Params(map))
    }
}

impl Params {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .get(key)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// `limit`: 1..=100, default 50.
    pub fn limit(&self) -> Result<i64, ApiError> {
        match self.get("limit") {
            None => Ok(DEFAULT_LIMIT),
            Some(v) => match v.parse::<i64>() {
                Ok(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
                _ => Err(ApiError::invalid_field(
                    "limit",
                    format!("must be an integer from 1 to {MAX_LIMIT}"),
                )),
            },
        }
    }

    /// A cursor holding an id (connections, mappings, syncs).
    pub fn uuid_cursor(&self) -> Result<Option<Uuid>, ApiError> {
        self.get("cursor")
            .map(|c| {
                decode(c)
                    .and_then(|s| Uuid::parse_str(&s).ok())
                    .ok_or_else(bad_cursor)
            })
            .transpose()
    }

    /// A cursor holding a numeric id (sync errors).
    pub fn int_cursor(&self) -> Result<Option<i64>, ApiError> {
        self.get("cursor")
            .map(|c| {
                decode(c)
                    .and_then(|s| s.parse::<i64>().ok())
                    .ok_or_else(bad_cursor)
            })
            .transpose()
    }
}

fn bad_cursor() -> ApiError {
    ApiError::invalid_field("cursor", "not a cursor returned by this list")
}

fn decode(cursor: &str) -> Option<String> {
    String::from_utf8(URL_SAFE_NO_PAD.decode(cursor).ok()?).ok()
}

pub fn encode_cursor(id: &impl ToString) -> String {
    URL_SAFE_NO_PAD.encode(id.to_string())
}

/// The paging query parameters of every list, as `/openapi.json` documents them (the handlers
/// read them through [`Params`]).
#[derive(Debug, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Page size, 1 to 100 (default 50).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    /// The `nextCursor` of the previous page.
    pub cursor: Option<String>,
}

/// One page of a list.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Page<T> {
    pub data: Vec<T>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// From `limit + 1` fetched rows: the extra row only says there is a next page.
    pub fn from_rows<R, K: ToString>(
        mut rows: Vec<R>,
        limit: i64,
        key: impl Fn(&R) -> K,
        render: impl FnMut(R) -> T,
    ) -> Page<T> {
        let limit = usize::try_from(limit).unwrap_or(0);
        let more = rows.len() > limit;
        rows.truncate(limit);
        let next_cursor = if more {
            rows.last().map(|r| encode_cursor(&key(r)))
        } else {
            None
        };
        Page {
            data: rows.into_iter().map(render).collect(),
            next_cursor,
        }
    }
}

#[cfg(test)]
impl Params {
    /// Query parameters from pairs, for tests.
    pub(crate) fn of(pairs: &[(&str, &str)]) -> Params {
        Params(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_bounds() {
        assert_eq!(Params::of(&[]).limit().unwrap(), 50);
        assert_eq!(Params::of(&[("limit", "100")]).limit().unwrap(), 100);
        for bad in ["0", "101", "-1", "ten"] {
            let e = Params::of(&[("limit", bad)]).limit().unwrap_err();
            assert_eq!(e.details[0].field, "limit", "{bad}");
        }
    }

    #[test]
    fn cursors_roundtrip_and_reject_garbage() {
        let id = Uuid::now_v7();
        let c = encode_cursor(&id);
        assert_eq!(
            Params::of(&[("cursor", &c)]).uuid_cursor().unwrap(),
            Some(id)
        );
        assert_eq!(
            Params::of(&[("cursor", &encode_cursor(&42))])
                .int_cursor()
                .unwrap(),
            Some(42)
        );
        assert_eq!(
            Params::of(&[("cursor", "!!")])
                .uuid_cursor()
                .unwrap_err()
                .details[0]
                .field,
            "cursor"
        );
        assert!(Params::of(&[("cursor", &encode_cursor(&42))])
            .uuid_cursor()
            .is_err());
    }

    #[test]
    fn page_has_next_cursor_only_when_more_rows() {
        let p: Page<i32> = Page::from_rows(vec![1, 2, 3], 2, |r| *r, |r| r * 10);
        assert_eq!(p.data, vec![10, 20]);
        assert_eq!(p.next_cursor, Some(encode_cursor(&2)));
        let p: Page<i32> = Page::from_rows(vec![1, 2], 2, |r| *r, |r| r);
        assert_eq!(p.next_cursor, None);
    }
}
