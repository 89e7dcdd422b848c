//! Control-plane operations on Jobber jobs (seed, create, patch, read).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use crate::clock::{iso_millis, now_ms};
use crate::fake::FakeData;
use crate::jobber::store::{decode_id, encode_id, ClientRecord, JobberAddress};
use crate::jobber::work::JobberJob;
use crate::jobber::work_exec::create_job;
use crate::jobber::JobberAccount;
use crate::state::{lock, SandboxState};

/// A job as stored, with encoded ids.
pub fn job_json(j: &JobberJob) -> Value {
    let mut v = serde_json::to_value(j).unwrap_or(Value::Null);
    v["rawId"] = json!(j.id);
    v["id"] = json!(encode_id("Job", j.id));
    v["clientId"] = json!(encode_id("Client", j.client_id));
    v["propertyId"] = json!(encode_id("Property", j.property_id));
    v["createdAt"] = json!(iso_millis(j.created_ms));
    v["updatedAt"] = json!(iso_millis(j.updated_ms));
    v
}

/// Seeds `count` jobs, each at a new property of an existing client (clients are
/// created when the account has none).
pub fn seed(acct: &JobberAccount, count: u64, seed: u64) {
    let mut fake = FakeData::new(seed ^ 0x6a6f_6273);
    let mut clients = lock(&acct.clients);
    if clients.len() == 0 {
        let p = fake.person(1);
        clients.insert(ClientRecord {
            first_name: p.first,
            last_name: p.last,
            ..Default::default()
        });
    }
    let owners: Vec<(u64, Option<JobberAddress>)> = clients
        .all()
        .map(|c| (c.id, c.billing_address.clone()))
        .collect();
    let mut work = lock(&acct.work);
    let now = now_ms();
    for i in 0..count {
        let (client_id, address) = &owners[(i as usize) % owners.len()];
        let p = fake.person(i + 1);
        let address = address.clone().unwrap_or(JobberAddress {
            street1: p.street.clone(),
            city: p.city.clone(),
            province: p.state.clone(),
            postal_code: p.zip.clone(),
            country: "United States".into(),
            ..Default::default()
        });
        let property_id = work.add_property(*client_id, address);
        let job = JobberJob {
            title: Some(format!("{} service visit", p.company)),
            instructions: Some("Seeded by the sandbox".into()),
            job_status: "upcoming".into(),
            job_type: "ONE_OFF".into(),
            total: f64::from((i % 50) as u32 * 25 + 100),
            client_id: *client_id,
            property_id,
            ..Default::default()
        };
        work.add_job(job, now - (count - i) as i64);
    }
}

/// Creates a job from `JobCreateAttributes`-shaped JSON (needs `propertyId`).
pub fn create(state: &SandboxState, acct: &JobberAccount, body: &Value) -> Response {
    let mut work = lock(&acct.work);
    match create_job(&mut work, body) {
        Ok(id) => {
            let out = work.job(id).map(job_json);
            drop(work);
            state.jobber_changed(acct.account_id, "Job", id, true);
            (StatusCode::CREATED, Json(out)).into_response()
        }
        Err(errs) => (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "invalid job", "userErrors": errs.iter().map(|e| json!({"message": e.message, "path": e.path})).collect::<Vec<_>>()})),
        )
            .into_response(),
    }
}

/// Changes `title`, `instructions`, `jobStatus`, `total`; bumps `updatedAt`.
pub fn patch(state: &SandboxState, acct: &JobberAccount, id: &str, body: &Value) -> Option<Value> {
    let mut work = lock(&acct.work);
    let mut job = decode_id("Job", id).and_then(|n| work.job(n)).cloned()?;
    if let Some(t) = body.get("title").and_then(Value::as_str) {
        job.title = Some(t.to_owned());
    }
    if let Some(t) = body.get("instructions").and_then(Value::as_str) {
        job.instructions = Some(t.to_owned());
    }
    if let Some(t) = body.get("jobStatus").and_then(Value::as_str) {
        job.job_status = t.to_owned();
    }
    if let Some(t) = body.get("total").and_then(Value::as_f64) {
        job.total = t;
    }
    let jid = job.id;
    work.replace_job(job)?;
    let out = work.job(jid).map(job_json);
    drop(work);
    state.jobber_changed(acct.account_id, "Job", jid, false);
    out
}

pub fn list(acct: &JobberAccount, offset: usize, limit: usize) -> (usize, Vec<Value>) {
    let work = lock(&acct.work);
    (
        work.jobs_len(),
        work.all_jobs()
            .skip(offset)
            .take(limit)
            .map(job_json)
            .collect(),
    )
}

pub fn get(acct: &JobberAccount, id: &str) -> Option<Value> {
    let work = lock(&acct.work);
    decode_id("Job", id).and_then(|n| work.job(n)).map(job_json)
}
