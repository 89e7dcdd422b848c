//! `GET /v1/usage`: what the caller's organization used per UTC day, in total and per mapping —
//! records read/created/updated/deleted/skipped/failed, runs by trigger, webhook events received
//! and outbound deliveries — as counted by the transactions that committed the work.

use axum::extract::State;
use axum::Json;
use chrono::{Days, NaiveDate, Utc};
use fluxcascade_store::usage::{MappingUsage, Usage, UsageReport};
use serde::Serialize;
use uuid::Uuid;

use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody, ErrorDetail};
use crate::paging::Params;
use crate::AppState;

/// Days a range covers when `from` is not given (through `to`, both included).
pub const DEFAULT_DAYS: u64 = 30;
/// The longest range one request may cover, in days (both ends included).
pub const MAX_DAYS: i64 = 366;

/// The query of `GET /v1/usage` (UTC days, both included).
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // documents the query; the handler parses it through `Params`
pub struct UsageQuery {
    /// First day, `YYYY-MM-DD` (default: 29 days before `to`).
    #[param(value_type = Option<String>, format = Date, example = "2026-11-01")]
    from: Option<NaiveDate>,
    /// Last day, included, `YYYY-MM-DD` (default: today, UTC). At most 366 days after `from`.
    #[param(value_type = Option<String>, format = Date, example = "2026-11-30")]
    to: Option<NaiveDate>,
}

/// Runs started, by what started them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct RunsByTrigger {
    pub manual: i64,
    pub schedule: i64,
    pub webhook: i64,
}

/// Record and run counts (what a mapping uses).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RecordUsage {
    pub records_read: i64,
    pub records_created: i64,
    pub records_updated: i64,
    /// Always 0 until deletions are synced.
    pub records_deleted: i64,
    /// Read but left as they were (unchanged, or echoes of FluxCascade's own writes).
    pub records_skipped: i64,
    pub records_failed: i64,
    pub runs: RunsByTrigger,
}

/// Everything counted: records, runs, webhook events received and outbound deliveries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UsageCounts {
    #[serde(flatten)]
    pub records: RecordUsage,
    /// Provider webhook events received (each event once, redeliveries not counted).
    pub webhook_events: i64,
    /// Outbound webhook deliveries written (one per subscription and event).
    pub deliveries: i64,
}

/// One UTC day.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UsageDayView {
    pub date: NaiveDate,
    #[serde(flatten)]
    pub counts: UsageCounts,
}

/// One mapping over the whole range.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MappingUsageView {
    pub mapping_id: Uuid,
    /// A deleted mapping keeps its name here; absent only once its row was purged (its usage stays).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mapping_name: Option<String>,
    #[serde(flatten)]
    pub counts: RecordUsage,
}

/// `GET /v1/usage`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UsageView {
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// Every day of the range, oldest first (zeros where nothing was used).
    pub days: Vec<UsageDayView>,
    pub total: UsageCounts,
    /// The mappings that used anything in the range.
    pub by_mapping: Vec<MappingUsageView>,
}

fn record_usage(u: &Usage) -> RecordUsage {
    RecordUsage {
        records_read: u.records_read,
        records_created: u.records_created,
        records_updated: u.records_updated,
        records_deleted: u.records_deleted,
        records_skipped: u.records_skipped,
        records_failed: u.records_failed,
        runs: RunsByTrigger {
            manual: u.runs_manual,
            schedule: u.runs_schedule,
            webhook: u.runs_webhook,
        },
    }
}

impl From<&Usage> for UsageCounts {
    fn from(u: &Usage) -> UsageCounts {
        UsageCounts {
            records: record_usage(u),
            webhook_events: u.webhook_events,
            deliveries: u.deliveries,
        }
    }
}

impl From<MappingUsage> for MappingUsageView {
    fn from(m: MappingUsage) -> MappingUsageView {
        MappingUsageView {
            mapping_id: m.mapping_id,
            mapping_name: m.mapping_name,
            counts: record_usage(&m.usage),
        }
    }
}

fn view(from: NaiveDate, to: NaiveDate, report: UsageReport) -> UsageView {
    UsageView {
        from,
        to,
        days: report
            .days
            .iter()
            .map(|d| UsageDayView {
                date: d.day,
                counts: (&d.usage).into(),
            })
            .collect(),
        total: (&report.total).into(),
        by_mapping: report.by_mapping.into_iter().map(Into::into).collect(),
    }
}

/// A `YYYY-MM-DD` query parameter.
fn date(params: &Params, name: &str) -> Result<Option<NaiveDate>, ErrorDetail> {
    params
        .get(name)
        .map(|v| {
            NaiveDate::parse_from_str(v, "%Y-%m-%d")
                .map_err(|_| ErrorDetail::new(name, "must be a date YYYY-MM-DD"))
        })
        .transpose()
}

/// The range asked for: defaults (the 30 days through `today`) and limits applied.
fn range(params: &Params, today: NaiveDate) -> Result<(NaiveDate, NaiveDate), ApiError> {
    let (from, to) = (date(params, "from"), date(params, "to"));
    let (from, to) = match (from, to) {
        (Ok(f), Ok(t)) => (f, t),
        (f, t) => {
            return Err(ApiError::invalid(
                [f.err(), t.err()].into_iter().flatten().collect(),
            ))
        }
    };
    let to = to.unwrap_or(today);
    let from = match from {
        Some(f) => f,
        None => to
            .checked_sub_days(Days::new(DEFAULT_DAYS - 1))
            .unwrap_or(NaiveDate::MIN),
    };
    if from > to {
        return Err(ApiError::invalid(vec![ErrorDetail::new(
            "from",
            format!("must not be after to ({to})"),
        )]));
    }
    if (to - from).num_days() + 1 > MAX_DAYS {
        return Err(ApiError::invalid(vec![ErrorDetail::new(
            "to",
            format!("must be at most {MAX_DAYS} days from from ({from}), both included"),
        )]));
    }
    Ok((from, to))
}

/// The caller's organization's usage per UTC day, in total and per mapping (any role).
#[utoipa::path(get, path = "/v1/usage", tag = "usage",
    params(UsageQuery),
    responses(
        (status = 200, description = "The range's usage", body = UsageView),
        (status = 400, description = "A malformed query string", body = ErrorBody),
        (status = 401, description = "No valid API key", body = ErrorBody),
        (status = 422, description = "A bad date or range; `details` name `from` or `to`",
            body = ErrorBody),
    ),
    extensions(("x-min-role" = json!("member"))))]
pub async fn get_usage(
    State(state): State<AppState>,
    caller: Caller,
    params: Params,
) -> Result<Json<UsageView>, ApiError> {
    let (from, to) = range(&params, Utc::now().date_naive())?;
    let report = state.store.usage(caller.org_id(), from, to).await?;
    Ok(Json(view(from, to, report)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn params(pairs: &[(&str, &str)]) -> Params {
        Params(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    fn fields(e: ApiError) -> Vec<String> {
        assert_eq!(e.status, axum::http::StatusCode::UNPROCESSABLE_ENTITY);
        e.details.into_iter().map(|d| d.field).collect()
    }

    #[test]
    fn defaults_to_the_30_days_through_today() {
        let today = day("2026-03-01");
        assert_eq!(
            range(&params(&[]), today).unwrap(),
            (day("2026-01-31"), today)
        );
        assert_eq!(
            range(&params(&[("to", "2026-02-10")]), today).unwrap(),
            (day("2026-01-12"), day("2026-02-10"))
        );
        assert_eq!(
            range(&params(&[("from", "2026-02-27")]), today).unwrap(),
            (day("2026-02-27"), today)
        );
    }

    #[test]
    fn a_full_leap_year_is_the_longest_range() {
        let today = day("2026-01-01");
        let p = params(&[("from", "2024-01-01"), ("to", "2024-12-31")]);
        assert_eq!(range(&p, today).unwrap().1, day("2024-12-31"));
        let p = params(&[("from", "2024-01-01"), ("to", "2025-01-01")]);
        assert_eq!(fields(range(&p, today).unwrap_err()), ["to"]);
    }

    #[test]
    fn bad_dates_and_reversed_ranges_name_their_field() {
        let today = day("2026-01-01");
        let p = params(&[("from", "2026-13-01")]);
        assert_eq!(fields(range(&p, today).unwrap_err()), ["from"]);
        let p = params(&[("from", "yesterday"), ("to", "2026-1-x")]);
        assert_eq!(fields(range(&p, today).unwrap_err()), ["from", "to"]);
        let p = params(&[("from", "2026-01-02"), ("to", "2026-01-01")]);
        assert_eq!(fields(range(&p, today).unwrap_err()), ["from"]);
    }
}
