//! The Usage page: what the organization used per UTC day (`GET /v1/usage`, its range and
//! validation: 30 days through today unless `from`/`to` say otherwise, a bad date shown at its
//! field), as a bar chart drawn in SVG ([`chart`]) and a table of the days with activity, the
//! range's total and the usage per mapping. The API sets no plan limits, so none are shown.

pub mod chart;

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use chrono::Utc;
use maud::{html, Markup};

use crate::api::usage::{self as api, UsageCounts, UsageDayView, UsageView};
use crate::console::forms::{api_error_page, FormErrors};
use crate::console::layout::{page, Nav};
use crate::console::user::ConsoleUser;
use crate::paging::Params;
use crate::AppState;
use chart::{coord, DayPoint, Series};

/// The page's routes.
pub fn routes() -> Router<AppState> {
    Router::new().route("/usage", get(show))
}

/// Records written: created, updated and deleted.
fn written(c: &UsageCounts) -> i64 {
    c.records.records_created + c.records.records_updated + c.records.records_deleted
}

fn runs(c: &UsageCounts) -> i64 {
    c.records.runs.manual + c.records.runs.schedule + c.records.runs.webhook
}

fn is_idle(c: &UsageCounts) -> bool {
    c.records.records_read == 0
        && written(c) == 0
        && c.records.records_skipped == 0
        && c.records.records_failed == 0
        && runs(c) == 0
        && c.webhook_events == 0
        && c.deliveries == 0
}

/// `GET /usage[?from=YYYY-MM-DD&to=YYYY-MM-DD]`.
pub async fn show(
    State(state): State<AppState>,
    user: ConsoleUser,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let asked: HashMap<String, String> = query
        .into_iter()
        .filter(|(k, v)| (k == "from" || k == "to") && !v.trim().is_empty())
        .map(|(k, v)| (k, v.trim().to_owned()))
        .collect();
    let field = |name: &str| asked.get(name).cloned().unwrap_or_default();
    let (from, to) = (field("from"), field("to"));
    match api::get_usage(State(state.clone()), user.caller(), Params(asked)).await {
        Ok(axum::Json(usage)) => page(
            &user,
            Nav::Usage,
            html! {
                (range_form(&usage.from.to_string(), &usage.to.to_string(), &FormErrors::default()))
                (report(&usage))
            },
        ),
        Err(e) if e.status.is_client_error() => {
            let errors = FormErrors::from_api(&e);
            let mut resp = page(&user, Nav::Usage, range_form(&from, &to, &errors));
            *resp.status_mut() = e.status;
            resp
        }
        Err(e) => api_error_page(&e),
    }
}

fn range_form(from: &str, to: &str, errors: &FormErrors) -> Markup {
    html! {
        form.panel.usage-range method="get" action="/usage" {
            (errors.show_general())
            div.form-row {
                div.field {
                    label for="usage-from" { "From" }
                    input #usage-from type="date" name="from" value=(from) aria-describedby="usage-from-error";
                    (errors.show("from", "usage-from-error"))
                }
                div.field {
                    label for="usage-to" { "To (included)" }
                    input #usage-to type="date" name="to" value=(to) aria-describedby="usage-to-error";
                    (errors.show("to", "usage-to-error"))
                }
                div.field.submit { button type="submit" { "Show" } }
            }
            p.hint { "UTC days; at most 366 at once. No plan limits apply: this is what was counted." }
        }
    }
}

fn report(usage: &UsageView) -> Markup {
    if is_idle(&usage.total) {
        return html! {
            div.empty {
                p { strong { "Nothing used from " (usage.from) " to " (usage.to) "." } }
                p { "Usage is counted as syncs run: connect two accounts, create a mapping, then start a run on the Syncs page (or wait for its schedule). Webhook events received and deliveries sent count here too." }
            }
        };
    }
    let today = Utc::now().date_naive();
    let active: Vec<&UsageDayView> = usage
        .days
        .iter()
        .rev()
        .filter(|d| !is_idle(&d.counts))
        .collect();
    html! {
        (chart_svg(usage))
        h2 { "Per day" }
        table.list.usage-days {
            thead { tr {
                th { "Day" } th { "Read" } th { "Created" } th { "Updated" } th { "Skipped" }
                th { "Failed" } th { "Runs" } th { "Webhook events" } th { "Deliveries" }
            } }
            tbody {
                @for d in &active {
                    tr data-day=(d.date) {
                        td data-label="Day" { (d.date) @if d.date == today { " " span.meta { "(today)" } } }
                        (count_cells(&d.counts))
                    }
                }
                tr.total data-day="total" {
                    td data-label="Day" { strong { "Total" } }
                    (count_cells(&usage.total))
                }
            }
        }
        @if !usage.by_mapping.is_empty() {
            h2 { "Per mapping" }
            table.list.usage-mappings {
                thead { tr { th { "Mapping" } th { "Read" } th { "Written" } th { "Failed" } th { "Runs" } } }
                tbody {
                    @for m in &usage.by_mapping {
                        tr {
                            td data-label="Mapping" {
                                @match &m.mapping_name { Some(n) => (n), None => code { (m.mapping_id) } }
                            }
                            td.num data-label="Read" { (m.counts.records_read) }
                            td.num data-label="Written" { (m.counts.records_created + m.counts.records_updated + m.counts.records_deleted) }
                            td.num data-label="Failed" { (m.counts.records_failed) }
                            td.num data-label="Runs" { (m.counts.runs.manual + m.counts.runs.schedule + m.counts.runs.webhook) }
                        }
                    }
                }
            }
        }
    }
}

fn count_cells(c: &UsageCounts) -> Markup {
    let r = &c.records;
    html! {
        td.num data-label="Read" { (r.records_read) }
        td.num data-label="Created" { (r.records_created) }
        td.num data-label="Updated" { (r.records_updated) }
        td.num data-label="Skipped" { (r.records_skipped) }
        td.num data-label="Failed" { (r.records_failed) }
        td.num data-label="Runs" { (runs(c)) }
        td.num data-label="Webhook events" { (c.webhook_events) }
        td.num data-label="Deliveries" { (c.deliveries) }
    }
}

fn chart_svg(usage: &UsageView) -> Markup {
    let points: Vec<DayPoint> = usage
        .days
        .iter()
        .map(|d| DayPoint {
            date: d.date,
            read: d.counts.records.records_read,
            written: written(&d.counts),
        })
        .collect();
    let c = chart::layout(&points);
    let title = format!(
        "Records read and written per day, {} to {}",
        usage.from, usage.to
    );
    html! {
        figure.usage-chart {
            svg xmlns="http://www.w3.org/2000/svg" viewBox=(format!("0 0 {} {}", chart::WIDTH, chart::HEIGHT))
                width=(chart::WIDTH) height=(chart::HEIGHT) role="img" aria-labelledby="usage-chart-title" preserveAspectRatio="xMidYMid meet" {
                title #usage-chart-title { (title) }
                @for t in &c.ticks {
                    line.grid x1=(coord(c.left)) x2=(coord(c.right)) y1=(coord(t.y)) y2=(coord(t.y)) stroke="#dde3ea" stroke-width="1" {}
                    text.axis x=(coord(c.left - 6.0)) y=(coord(t.y + 4.0)) text-anchor="end" font-size="11" fill="#5b6676" { (t.value) }
                }
                line.axis-line x1=(coord(c.left)) x2=(coord(c.right)) y1=(coord(c.bottom)) y2=(coord(c.bottom)) stroke="#5b6676" stroke-width="1" {}
                @for b in &c.bars {
                    @if b.height > 0.0 {
                        rect class=(b.series.class()) x=(coord(b.x)) y=(coord(b.y)) width=(coord(b.width)) height=(coord(b.height))
                            fill=(match b.series { Series::Read => "#9db7f0", Series::Written => "#2457d6" })
                            data-date=(b.date) data-value=(b.value) {
                            title { (b.date) ": " (b.value) " " (b.series.label()) }
                        }
                    }
                }
                @for l in &c.x_labels {
                    text.axis x=(coord(l.x)) y=(coord(c.bottom + 18.0)) text-anchor="middle" font-size="11" fill="#5b6676" { (l.text) }
                }
            }
            figcaption {
                span.legend.read { "Records read" }
                span.legend.written { "Records written (created, updated, deleted)" }
                span.meta { " · UTC days, " (usage.from) " to " (usage.to) }
            }
        }
    }
}
