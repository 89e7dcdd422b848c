//! End to end (issue 13): OpenTelemetry traces across the queue. The ingress and a worker export
//! to an in-process OTLP/HTTP receiver; one signed provider webhook is one trace (continuing the
//! caller's `traceparent`) from the ingress request through the publish, the worker's jobs, the
//! provider requests and the target write, every span's parent in the trace; a `POST /v1/syncs`
//! trace holds the coordinator and, as its descendants through the queue, every batch job.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use fluxcascade_tests::otlp::{OtlpReceiver, ReceivedSpan};
use fluxcascade_tests::{hubspot_signature, Options, TestEnv};
use reqwest::Method;
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(60);

/// The trace context the webhook's caller sends (`traceparent`).
const CALLER_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN: &str = "00f067aa0ba902b7";

const SERVER: i32 = 2;
const CLIENT: i32 = 3;
const PRODUCER: i32 = 4;
const CONSUMER: i32 = 5;

/// The spans of `trace_id`, by span id.
fn trace_of(spans: &[ReceivedSpan], trace_id: &str) -> HashMap<String, ReceivedSpan> {
    spans
        .iter()
        .filter(|s| s.trace_id == trace_id)
        .map(|s| (s.span_id.clone(), s.clone()))
        .collect()
}

/// Whether `ancestor` is `span`'s parent, grandparent, ... within `trace`.
fn descends_from(
    trace: &HashMap<String, ReceivedSpan>,
    span: &ReceivedSpan,
    ancestor: &str,
) -> bool {
    let mut parent = span.parent_span_id.clone();
    for _ in 0..64 {
        if parent == ancestor {
            return true;
        }
        match trace.get(&parent) {
            Some(p) => parent = p.parent_span_id.clone(),
            None => return false,
        }
    }
    false
}

fn describe(trace: &HashMap<String, ReceivedSpan>) -> String {
    let mut lines: Vec<String> = trace
        .values()
        .map(|s| {
            format!(
                "{} {} kind={} {} <- {}",
                s.service, s.name, s.kind, s.span_id, s.parent_span_id
            )
        })
        .collect();
    lines.sort();
    lines.join("\n")
}

/// Polls until `check` holds for what the receiver got, or fails after `WAIT` showing why.
async fn until<T>(
    receiver: &OtlpReceiver,
    mut check: impl FnMut(&[ReceivedSpan]) -> Result<T, String>,
) -> anyhow::Result<T> {
    let deadline = Instant::now() + WAIT;
    loop {
        let spans = receiver.spans();
        match check(&spans) {
            Ok(v) => return Ok(v),
            Err(why) if Instant::now() > deadline => bail!("{why}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}

async fn runs(env: &TestEnv, mapping: &str) -> anyhow::Result<Vec<Value>> {
    let v = env
        .api_ok(Method::GET, &format!("/v1/syncs?mappingId={mapping}"), None)
        .await?;
    Ok(v["data"].as_array().cloned().unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_webhook_is_one_trace_from_the_ingress_to_the_target_write() -> anyhow::Result<()> {
    let receiver = OtlpReceiver::start(true).await?;
    let options = Options {
        env: receiver.env(),
        ..Options::default()
    };
    let env = TestEnv::start_with("tracing_webhook", 1, options).await?;
    let hubspot = env.connect("hubspot").await?;
    let jobber = env.connect("jobber").await?;
    let c = env
        .api_ok(Method::GET, &format!("/v1/connections/{hubspot}"), None)
        .await?;
    let portal: u64 = c["externalAccountId"]
        .as_str()
        .context("externalAccountId")?
        .parse()?;
    let mapping = env.contacts_to_clients(&hubspot, &jobber).await?;
    // No webhookUrl in the sandbox: the test delivers the one webhook itself.
    let contact = env
        .http
        .post(format!("{}/_sandbox/hubspot/contacts", env.sandbox_url))
        .json(&json!({"properties": {"firstname": "Ada", "lastname": "Lovelace", "email": "ada@example.test"}}))
        .send()
        .await?
        .error_for_status()?
        .json::<Value>()
        .await?;
    let contact_id: u64 = contact["id"].as_str().context("contact id")?.parse()?;
    let body = json!([{"eventId": 7001, "subscriptionId": 1, "portalId": portal, "appId": 1,
        "occurredAt": chrono::Utc::now().timestamp_millis(), "subscriptionType": "contact.creation",
        "attemptNumber": 0, "objectId": contact_id, "changeSource": "CRM_UI", "sourceId": "userId:1"}])
    .to_string();
    // Signed like HubSpot's, and with the caller's trace context, which the trace continues.
    let uri = format!("{}/hooks/hubspot", env.api_url);
    let ts = chrono::Utc::now().timestamp_millis().to_string();
    let resp = env
        .http
        .post(&uri)
        .header("content-type", "application/json")
        .header("X-HubSpot-Request-Timestamp", &ts)
        .header(
            "X-HubSpot-Signature-v3",
            hubspot_signature("sandbox-secret", &uri, &body, &ts),
        )
        .header("traceparent", format!("00-{CALLER_TRACE}-{CALLER_SPAN}-01"))
        .body(body.clone())
        .send()
        .await?;
    assert_eq!(resp.status().as_u16(), 200);
    let request_id = resp
        .headers()
        .get("x-request-id")
        .context("X-Request-Id")?
        .to_str()?
        .to_owned();
    let deadline = Instant::now() + WAIT;
    loop {
        let all = runs(&env, &mapping).await?;
        if !all.is_empty() && all.iter().all(|r| r["status"] == "completed") {
            assert_eq!(all[0]["counts"]["created"], 1, "{all:?}");
            break;
        }
        if Instant::now() > deadline {
            bail!("the webhook run did not complete: {all:?}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    until(&receiver, |spans| {
        let server = spans
            .iter()
            .find(|s| s.kind == SERVER && s.trace_id == CALLER_TRACE)
            .ok_or("no server span for POST /hooks/hubspot")?;
        let trace = trace_of(spans, &server.trace_id);
        let shown = describe(&trace);
        let why = |what: &str| format!("{what} in the webhook's trace:\n{shown}");
        if server.service != "fluxcascade-ingress"
            || server.attr("http.request.method") != Some("POST")
            || server.attr("http.response.status_code") != Some("200")
            || server.attr("url.path") != Some("/hooks/hubspot")
            || server.attr("request_id") != Some(request_id.as_str())
        {
            return Err(why(&format!(
                "the server span lacks its attributes: {server:?}"
            )));
        }
        if server.trace_id != CALLER_TRACE || server.parent_span_id != CALLER_SPAN {
            return Err(why(
                "the server span does not continue the caller's traceparent",
            ));
        }
        // ingress request → publish → worker's webhook job.
        let publish = trace
            .values()
            .find(|s| s.kind == PRODUCER && s.parent_span_id == server.span_id)
            .ok_or_else(|| why("no publish span under the request"))?;
        if publish.attr("messaging.system") != Some("rabbitmq")
            || publish.attr("messaging.operation.type") != Some("publish")
            || publish.attr("messaging.destination.name").is_none()
        {
            return Err(why(&format!(
                "publish span without messaging attributes: {publish:?}"
            )));
        }
        let job = trace
            .values()
            .find(|s| s.kind == CONSUMER && s.parent_span_id == publish.span_id)
            .ok_or_else(|| why("no worker job span under the ingress's publish"))?;
        if job.service != "fluxcascade-worker" || job.attr("kind") != Some("webhook") {
            return Err(why(&format!(
                "the first job is not the worker's webhook job: {job:?}"
            )));
        }
        // The webhook job runs the webhook run's coordinator in place (one queue hop less): it
        // reads HubSpot, writes Jobber and commits the batch; a run published as a sync job
        // instead would be a descendant too.
        let provider = |name: &str| {
            trace.values().find(|s| {
                s.kind == CLIENT
                    && s.attr("fluxcascade.provider") == Some(name)
                    && s.attr("http.request.method").is_some()
                    && s.attr("server.address") == Some("127.0.0.1")
                    && s.attr("http.response.status_code").is_some()
            })
        };
        let read = provider("hubspot").ok_or_else(|| why("no HubSpot request span"))?;
        let write =
            provider("jobber").ok_or_else(|| why("no Jobber (target write) request span"))?;
        let commit = trace
            .values()
            .find(|s| s.name == "store.commit_batch")
            .ok_or_else(|| why("no store.commit_batch span"))?;
        for s in [read, write, commit] {
            if !descends_from(&trace, s, &job.span_id) {
                return Err(why(&format!(
                    "{} does not descend from the webhook job",
                    s.name
                )));
            }
        }
        // One connected tree: every span's parent is in the trace.
        if let Some(orphan) = trace
            .values()
            .find(|s| s.span_id != server.span_id && !trace.contains_key(&s.parent_span_id))
        {
            return Err(why(&format!(
                "{} has a parent outside the trace",
                orphan.name
            )));
        }
        Ok(())
    })
    .await?;

    // Concurrent deliveries may share a webhook job (the ingress coalesces them): every
    // delivery's request is then the parent of a worker's webhook job or linked from one.
    let mut sends = tokio::task::JoinSet::new();
    for i in 0..12u64 {
        let body = json!([{"eventId": 8000 + i, "subscriptionId": 1, "portalId": portal, "appId": 1,
            "occurredAt": chrono::Utc::now().timestamp_millis(), "subscriptionType": "contact.creation",
            "attemptNumber": 0, "objectId": contact_id, "changeSource": "CRM_UI", "sourceId": "userId:1"}])
        .to_string();
        let (http, uri) = (env.http.clone(), uri.clone());
        sends.spawn(async move {
            let ts = chrono::Utc::now().timestamp_millis().to_string();
            http.post(&uri)
                .header("content-type", "application/json")
                .header("X-HubSpot-Request-Timestamp", &ts)
                .header(
                    "X-HubSpot-Signature-v3",
                    hubspot_signature("sandbox-secret", &uri, &body, &ts),
                )
                .body(body)
                .send()
                .await
        });
    }
    while let Some(sent) = sends.join_next().await {
        assert_eq!(sent??.status().as_u16(), 200);
    }
    until(&receiver, |spans| {
        let jobs: Vec<&ReceivedSpan> = spans
            .iter()
            .filter(|s| s.kind == CONSUMER && s.attr("kind") == Some("webhook"))
            .collect();
        let by_id: HashMap<(String, String), &ReceivedSpan> = spans
            .iter()
            .map(|s| ((s.trace_id.clone(), s.span_id.clone()), s))
            .collect();
        let deliveries: Vec<&ReceivedSpan> = spans
            .iter()
            .filter(|s| s.kind == SERVER && s.attr("http.route") == Some("/hooks/hubspot"))
            .collect();
        if deliveries.len() < 13 {
            return Err(format!("{} delivery spans, want 13", deliveries.len()));
        }
        for delivery in deliveries {
            let key = (delivery.trace_id.clone(), delivery.span_id.clone());
            // job ← publish ← the delivery's request
            let parent_of = |job: &ReceivedSpan| {
                by_id
                    .get(&(job.trace_id.clone(), job.parent_span_id.clone()))
                    .is_some_and(|publish| publish.parent_span_id == delivery.span_id)
            };
            let covered = jobs.iter().any(|job| {
                (job.trace_id == delivery.trace_id && parent_of(job)) || job.links.contains(&key)
            });
            if !covered {
                return Err(format!(
                    "delivery {key:?} is neither the parent of a webhook job nor linked from one ({} jobs)",
                    jobs.len()
                ));
            }
        }
        Ok(())
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_triggered_sync_is_one_trace_with_the_batches_under_the_coordinator() -> anyhow::Result<()>
{
    let receiver = OtlpReceiver::start(true).await?;
    let options = Options {
        env: receiver.env(),
        ..Options::default()
    }
    .with_env("FLUXCASCADE_PAGE_SIZE", "10");
    let env = TestEnv::start_with("tracing_sync", 1, options).await?;
    let hubspot = env.connect("hubspot").await?;
    let jobber = env.connect("jobber").await?;
    env.seed("hubspot", "contacts", 25).await?;
    let mapping = env.contacts_to_clients(&hubspot, &jobber).await?;
    let sync_id = env.trigger_sync(&mapping, "full").await?;
    let done = env.wait_sync(&sync_id, WAIT).await?;
    assert_eq!(done["status"], "completed", "{done}");

    until(&receiver, |spans| {
        let server = spans
            .iter()
            .find(|s| {
                s.kind == SERVER
                    && s.attr("http.route") == Some("/v1/syncs")
                    && s.attr("http.request.method") == Some("POST")
            })
            .ok_or("no server span for POST /v1/syncs")?;
        let trace = trace_of(spans, &server.trace_id);
        let shown = describe(&trace);
        let why = |what: &str| format!("{what} in the sync's trace:\n{shown}");
        let coordinator = trace
            .values()
            .find(|s| s.kind == CONSUMER && s.attr("kind") == Some("sync"))
            .ok_or_else(|| why("no coordinator (sync job) span"))?;
        if !descends_from(&trace, coordinator, &server.span_id) {
            return Err(why("the coordinator does not descend from the request"));
        }
        let batches: Vec<&ReceivedSpan> = trace
            .values()
            .filter(|s| s.kind == CONSUMER && s.attr("kind") == Some("batch"))
            .collect();
        if batches.len() < 3 {
            return Err(why(&format!(
                "{} batch job spans, want 3 (25 records, pages of 10)",
                batches.len()
            )));
        }
        for batch in batches {
            let publish = trace
                .get(&batch.parent_span_id)
                .ok_or_else(|| why("a batch job's parent is not in the trace"))?;
            if publish.kind != PRODUCER || !descends_from(&trace, publish, &coordinator.span_id) {
                return Err(why(
                    "a batch job is not a child of a publish under the coordinator",
                ));
            }
        }
        Ok(())
    })
    .await
}
