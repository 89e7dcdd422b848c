//! Jobber jobs and properties over GraphQL: `jobs`, `job`, `property`, `jobCreate`,
//! `propertyCreate`.

use serde_json::{json, Value};

use super::document::{Field, GraphqlError};
use super::input::UserError;
use super::render::{client, leaf, needs_selection, object, undefined_field};
use super::store::{
    decode_cursor, decode_id, encode_cursor, encode_id, ClientRecord, JobberAddress,
    JobberClientStore,
};
use super::work::{JobberJob, JobberProperty, JobberWorkStore};
use crate::clock::{iso_seconds, now_ms, parse_iso};

use super::exec::{DEFAULT_PAGE, MAX_PAGE};

fn client_or_default(clients: &JobberClientStore, id: u64) -> ClientRecord {
    clients.get(id).cloned().unwrap_or_default()
}

fn opt_time(ms: Option<i64>) -> Value {
    ms.map_or(Value::Null, |m| iso_seconds(m).into())
}

pub fn property(
    p: &JobberProperty,
    fields: &[Field],
    clients: &JobberClientStore,
) -> Result<Value, GraphqlError> {
    let a = &p.address;
    object(fields, "Property", |f| match f.name.as_str() {
        "id" => leaf(f, encode_id("Property", p.id).into()),
        "client" => {
            needs_selection(f, "Client")?;
            client(&client_or_default(clients, p.client_id), &f.selection)
        }
        "address" => {
            needs_selection(f, "PropertyAddress")?;
            object(&f.selection, "PropertyAddress", |g| match g.name.as_str() {
                "id" => leaf(g, encode_id("PropertyAddress", p.id).into()),
                "street1" => leaf(g, a.street1.clone().into()),
                "street2" => leaf(g, a.street2.clone().into()),
                "street" => leaf(
                    g,
                    format!("{} {}", a.street1, a.street2)
                        .trim()
                        .to_owned()
                        .into(),
                ),
                "city" => leaf(g, a.city.clone().into()),
                "province" => leaf(g, a.province.clone().into()),
                "postalCode" => leaf(g, a.postal_code.clone().into()),
                "country" => leaf(g, a.country.clone().into()),
                _ => Err(undefined_field("PropertyAddress", g)),
            })
        }
        "street1" => leaf(f, a.street1.clone().into()),
        "street2" => leaf(f, a.street2.clone().into()),
        "street" => leaf(
            f,
            format!("{} {}", a.street1, a.street2)
                .trim()
                .to_owned()
                .into(),
        ),
        "city" => leaf(f, a.city.clone().into()),
        "province" => leaf(f, a.province.clone().into()),
        "postalCode" => leaf(f, a.postal_code.clone().into()),
        "country" => leaf(f, a.country.clone().into()),
        "isBillingAddress" => leaf(f, false.into()),
        "jobberWebUri" => leaf(
            f,
            format!("https://secure.getjobber.com/properties/{}", p.id).into(),
        ),
        _ => Err(undefined_field("Property", f)),
    })
}

pub fn job(
    j: &JobberJob,
    fields: &[Field],
    clients: &JobberClientStore,
    work: &JobberWorkStore,
) -> Result<Value, GraphqlError> {
    object(fields, "Job", |f| match f.name.as_str() {
        "id" => leaf(f, encode_id("Job", j.id).into()),
        "jobNumber" => leaf(f, j.job_number.into()),
        "title" => leaf(f, j.title.clone().into()),
        "instructions" => leaf(f, j.instructions.clone().into()),
        "jobStatus" => leaf(f, j.job_status.clone().into()),
        "jobType" => leaf(f, j.job_type.clone().into()),
        "startAt" => leaf(f, opt_time(j.start_at_ms)),
        "endAt" => leaf(f, opt_time(j.end_at_ms)),
        "completedAt" => leaf(f, opt_time(j.completed_at_ms)),
        "total" => leaf(f, json!(j.total)),
        "createdAt" => leaf(f, iso_seconds(j.created_ms).into()),
        "updatedAt" => leaf(f, iso_seconds(j.updated_ms).into()),
        "jobberWebUri" => leaf(
            f,
            format!("https://secure.getjobber.com/work_orders/{}", j.id).into(),
        ),
        "client" => {
            needs_selection(f, "Client")?;
            client(&client_or_default(clients, j.client_id), &f.selection)
        }
        "property" => {
            needs_selection(f, "Property")?;
            let p = work.property(j.property_id).cloned().unwrap_or_default();
            property(&p, &f.selection, clients)
        }
        _ => Err(undefined_field("Job", f)),
    })
}

/// `jobs(first, after, sort: [{key: UPDATED_AT, direction}])`
pub fn jobs_connection(
    f: &Field,
    clients: &JobberClientStore,
    work: &JobberWorkStore,
) -> Result<Value, GraphqlError> {
    needs_selection(f, "JobConnection")?;
    let first = f
        .arg("first")
        .and_then(Value::as_u64)
        .map_or(DEFAULT_PAGE, |n| (n as usize).min(MAX_PAGE));
    let cursor = match f.arg("after").and_then(Value::as_str) {
        None => None,
        Some(c) => Some(
            decode_cursor(c).ok_or_else(|| GraphqlError::new(format!("Invalid cursor: {c}")))?,
        ),
    };
    let sort = f.arg("sort").and_then(|s| match s {
        Value::Array(a) => a.first().cloned(),
        Value::Object(_) => Some(s.clone()),
        _ => None,
    });
    let by_updated = sort.as_ref().is_some_and(|s| s["key"] == "UPDATED_AT");
    let descending = sort
        .as_ref()
        .is_some_and(|s| s["direction"] == "DESCENDING");
    let mut it = if by_updated {
        work.jobs_by_updated(descending, cursor)
    } else {
        work.jobs_by_id(cursor.map(|(_, id)| id))
    };
    let page: Vec<&JobberJob> = it.by_ref().take(first).collect();
    let has_next = it.next().is_some();
    let cursor_of = |j: &JobberJob| encode_cursor(j.updated_ms, j.id);
    let dummy = JobberJob::default();
    object(&f.selection, "JobConnection", |g| match g.name.as_str() {
        "nodes" => {
            needs_selection(g, "Job")?;
            job(&dummy, &g.selection, clients, work)?;
            page.iter()
                .map(|j| job(j, &g.selection, clients, work))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array)
        }
        "edges" => {
            needs_selection(g, "JobEdge")?;
            let edge = |j: &JobberJob, c: String| {
                object(&g.selection, "JobEdge", |h| match h.name.as_str() {
                    "cursor" => leaf(h, c.clone().into()),
                    "node" => {
                        needs_selection(h, "Job")?;
                        job(j, &h.selection, clients, work)
                    }
                    _ => Err(undefined_field("JobEdge", h)),
                })
            };
            edge(&dummy, String::new())?;
            page.iter()
                .map(|j| edge(j, cursor_of(j)))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array)
        }
        "pageInfo" => {
            needs_selection(g, "PageInfo")?;
            object(&g.selection, "PageInfo", |h| match h.name.as_str() {
                "endCursor" => leaf(h, page.last().map(|j| cursor_of(j)).into()),
                "startCursor" => leaf(h, page.first().map(|j| cursor_of(j)).into()),
                "hasNextPage" => leaf(h, has_next.into()),
                "hasPreviousPage" => leaf(h, cursor.is_some().into()),
                _ => Err(undefined_field("PageInfo", h)),
            })
        }
        "totalCount" => leaf(g, json!(work.jobs_len())),
        _ => Err(undefined_field("JobConnection", g)),
    })
}

/// `userErrors` of a mutation payload (the selection is checked even when there are none).
pub(crate) fn user_errors(errors: &[UserError], f: &Field) -> Result<Value, GraphqlError> {
    needs_selection(f, "MutationErrors")?;
    let render = |e: &UserError| {
        object(&f.selection, "MutationErrors", |g| match g.name.as_str() {
            "message" => leaf(g, e.message.clone().into()),
            "path" => leaf(g, e.path.clone().into()),
            _ => Err(undefined_field("MutationErrors", g)),
        })
    };
    render(&UserError::default())?;
    errors
        .iter()
        .map(render)
        .collect::<Result<Vec<_>, _>>()
        .map(Value::Array)
}

/// `JobCreatePayload` for `job` (None when it failed).
pub fn job_payload(
    j: Option<&JobberJob>,
    errors: &[UserError],
    fields: &[Field],
    clients: &JobberClientStore,
    work: &JobberWorkStore,
) -> Result<Value, GraphqlError> {
    object(fields, "JobCreatePayload", |f| match f.name.as_str() {
        "job" => {
            needs_selection(f, "Job")?;
            let v = job(
                j.unwrap_or(&JobberJob::default()),
                &f.selection,
                clients,
                work,
            )?;
            Ok(if j.is_some() { v } else { Value::Null })
        }
        "userErrors" => user_errors(errors, f),
        _ => Err(undefined_field("JobCreatePayload", f)),
    })
}

/// `PropertyCreatePayload`.
pub fn property_payload(
    owner: Option<&ClientRecord>,
    props: &[JobberProperty],
    errors: &[UserError],
    fields: &[Field],
    clients: &JobberClientStore,
) -> Result<Value, GraphqlError> {
    object(fields, "PropertyCreatePayload", |f| match f.name.as_str() {
        "client" => {
            needs_selection(f, "Client")?;
            let v = client(owner.unwrap_or(&ClientRecord::default()), &f.selection)?;
            Ok(if owner.is_some() { v } else { Value::Null })
        }
        "properties" => {
            needs_selection(f, "Property")?;
            property(&JobberProperty::default(), &f.selection, clients)?;
            props
                .iter()
                .map(|p| property(p, &f.selection, clients))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array)
        }
        "userErrors" => user_errors(errors, f),
        _ => Err(undefined_field("PropertyCreatePayload", f)),
    })
}

fn address_from(v: &Value) -> JobberAddress {
    let s = |k: &str| {
        v.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    JobberAddress {
        street1: s("street1"),
        street2: s("street2"),
        city: s("city"),
        province: s("province"),
        postal_code: s("postalCode"),
        country: s("country"),
    }
}

/// Applies `propertyCreate(clientId, input)`; returns the new properties.
pub fn create_properties(
    clients: &JobberClientStore,
    work: &mut JobberWorkStore,
    client_id: &str,
    input: &Value,
) -> Result<(u64, Vec<JobberProperty>), Vec<UserError>> {
    let Some(cid) = decode_id("Client", client_id).filter(|id| clients.get(*id).is_some()) else {
        return Err(vec![UserError {
            message: "Client not found".into(),
            path: vec!["clientId".into()],
        }]);
    };
    let list = input
        .get("properties")
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice);
    let created = list
        .iter()
        .map(|p| {
            let id = work.add_property(cid, address_from(p.get("address").unwrap_or(&Value::Null)));
            work.property(id).cloned().unwrap_or_default()
        })
        .collect();
    Ok((cid, created))
}

/// Applies `jobEdit(jobId, input)` (`JobEditInput`: title, instructions, jobNumber); returns the job id.
pub fn edit_job(
    work: &mut JobberWorkStore,
    job_id: &str,
    input: &Value,
) -> Result<u64, Vec<UserError>> {
    let Some(mut job) = decode_id("Job", job_id).and_then(|id| work.job(id).cloned()) else {
        return Err(vec![UserError {
            message: "Job not found".into(),
            path: vec!["jobId".into()],
        }]);
    };
    if let Some(v) = input.get("title") {
        job.title = v.as_str().map(str::to_owned);
    }
    if let Some(v) = input.get("instructions") {
        job.instructions = v.as_str().map(str::to_owned);
    }
    if let Some(n) = input.get("jobNumber").and_then(Value::as_u64) {
        job.job_number = n;
    }
    let id = job.id;
    work.replace_job(job);
    Ok(id)
}

/// Applies `jobCreate(input)`; returns the new job id.
pub fn create_job(work: &mut JobberWorkStore, input: &Value) -> Result<u64, Vec<UserError>> {
    let property = input
        .get("propertyId")
        .and_then(Value::as_str)
        .and_then(|s| decode_id("Property", s))
        .and_then(|id| work.property(id).cloned());
    let Some(property) = property else {
        return Err(vec![UserError {
            message: "Property not found".into(),
            path: vec!["input".into(), "propertyId".into()],
        }]);
    };
    let s = |k: &str| input.get(k).and_then(Value::as_str).map(str::to_owned);
    let recurring = input
        .pointer("/invoicing/invoicingSchedule")
        .and_then(Value::as_str)
        .is_some_and(|v| v != "ON_COMPLETION" && v != "NEVER");
    let total = input
        .get("lineItems")
        .and_then(Value::as_array)
        .map_or(0.0, |items| {
            items
                .iter()
                .map(|i| {
                    i.get("quantity").and_then(Value::as_f64).unwrap_or(1.0)
                        * i.get("unitPrice").and_then(Value::as_f64).unwrap_or(0.0)
                })
                .sum()
        });
    let timeframe = input.get("timeframe").cloned().unwrap_or(Value::Null);
    let time = |k: &str| timeframe.get(k).and_then(Value::as_str).and_then(parse_iso);
    let j = JobberJob {
        job_number: input.get("jobNumber").and_then(Value::as_u64).unwrap_or(0),
        title: s("title"),
        instructions: s("instructions"),
        job_status: "upcoming".into(),
        job_type: if recurring { "RECURRING" } else { "ONE_OFF" }.into(),
        start_at_ms: time("startAt"),
        end_at_ms: time("endAt"),
        total,
        client_id: property.client_id,
        property_id: property.id,
        ..Default::default()
    };
    Ok(work.add_job(j, now_ms()))
}
