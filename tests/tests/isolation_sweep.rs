//! The generated isolation sweep: walks the running ingress's `/openapi.json` (no hand-kept list
//! of endpoints, so an endpoint is covered the day it lands) and calls every operation that needs
//! an API key
//! (a) with no key → 401;
//! (b) with another organization's Owner key on this organization's ids → 404, and nothing it
//!     answers (lists and reads included) names any of this organization's ids;
//! (c) with a Member key of this organization → 403 for every operation whose `x-min-role` is
//!     `admin` or `owner` (and never 401/403 for the `member` ones).
//! No answer in the whole sweep carries a secret created in setup (API keys, provider tokens,
//! webhook signing secrets).
//!
//! Path parameters come from [`Fixtures::path_value`], keyed by the path's collection segment
//! (`/v1/mappings/{id}` → `mappings`); request bodies from [`Fixtures::body`], keyed by the
//! body's schema. An operation without a fixture fails the sweep, saying which to add.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use fluxcascade_queue::{JobEnvelope, JobKind, Publisher, QueueConfig};
use fluxcascade_store::orgs::Role;
use fluxcascade_tests::{TestEnv, AMQP_URL};
use reqwest::Method;
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(120);

/// A path parameter's value: one of org A's ids (a foreign caller must get 404), or a value that
/// belongs to no organization (a provider name).
enum PathValue {
    OwnedId(String),
    Shared(&'static str),
}

/// What setup created in org A.
struct Fixtures {
    /// By collection segment: `connections` → a connection id, ...
    ids: BTreeMap<&'static str, String>,
    /// A's organization id.
    org: String,
    /// The sweep's bodies reference A's resources by these.
    hubspot: String,
    jobber: String,
    mapping: String,
    /// Every secret created in setup; no answer may contain one.
    secrets: Vec<(&'static str, String)>,
}

impl Fixtures {
    /// The value of the path parameter that follows `collection` (`/v1/{collection}/{param}`).
    fn path_value(&self, collection: &str) -> Option<PathValue> {
        match collection {
            "oauth" => Some(PathValue::Shared("hubspot")),
            other => self.ids.get(other).cloned().map(PathValue::OwnedId),
        }
    }

    /// A plausible body for a request whose body schema is `schema` (a component name, or
    /// `inline:<METHOD> <path>` for an inline schema), so role and ownership checks are reached.
    fn body(&self, schema: &str) -> Option<Value> {
        let spec = json!({
            "name": "sweep",
            "source": {"connectionId": self.hubspot, "object": "contacts"},
            "target": {"connectionId": self.jobber, "object": "clients"},
            "fieldPairs": [{"sourceField": "email", "targetField": "emails[0].address"}]
        });
        Some(match schema {
            "CreateConnectionBody" => json!({
                "provider": "jobber",
                "credentials": {"accessToken": "sweep-not-a-token"}
            }),
            "ReconnectBody" => json!({"accessToken": "sweep-not-a-token"}),
            "MappingSpec" => spec,
            "inline:PATCH /v1/mappings/{id}" => json!({"name": "renamed by the sweep"}),
            "PreviewRequest" => json!({
                "mapping": spec,
                "records": [{"id": "1", "fields": {"email": "a@b.test"}}]
            }),
            "TriggerSyncBody" => json!({"mappingId": self.mapping, "mode": "full"}),
            "OrgPatch" => json!({"name": "renamed by the sweep"}),
            "MemberPatch" => json!({"role": "admin"}),
            "InviteRequest" => json!({"email": "swept@a.test", "role": "member"}),
            "ApiKeyRequest" => json!({"name": "sweep"}),
            "CreateWebhookBody" => json!({
                "url": "http://127.0.0.1:9/sweep",
                "events": ["sync.completed"]
            }),
            _ => return None,
        })
    }
}

/// A known access and refresh token of the sandbox's Jobber account, so the sweep can look for
/// them in every answer.
async fn jobber_tokens(env: &TestEnv) -> anyhow::Result<(String, String)> {
    let token = env.fresh_jobber_tokens().await?;
    match (
        token["access_token"].as_str(),
        token["refresh_token"].as_str(),
    ) {
        (Some(a), Some(r)) => Ok((a.to_owned(), r.to_owned())),
        _ => bail!("no access and refresh token: {token}"),
    }
}

/// Org A with one of each resource; returns the fixtures and A's Member key.
async fn set_up_org_a(env: &TestEnv) -> anyhow::Result<(Fixtures, String)> {
    let org: uuid::Uuid = env
        .db()
        .await?
        .query_one("SELECT id FROM organizations", &[])
        .await?
        .get(0);
    let store = fluxcascade_store::Store::connect(&env.db_url, 2)?;
    let member_key = store.create_api_key(org, Role::Member, "m@a.test").await?;

    let hubspot = env.connect("hubspot").await?;
    let (access, refresh) = jobber_tokens(env).await?;
    let jobber = env
        .api_ok(
            Method::POST,
            "/v1/connections",
            Some(json!({
                "provider": "jobber",
                "accountName": "sweep jobber",
                "credentials": {"accessToken": access, "refreshToken": refresh}
            })),
        )
        .await?["id"]
        .as_str()
        .context("connection id")?
        .to_owned();
    let mapping = env.contacts_to_clients(&hubspot, &jobber).await?;
    let sync = env.trigger_sync(&mapping, "full").await?;
    env.wait_sync(&sync, WAIT).await?;
    let webhook = env
        .api_ok(
            Method::POST,
            "/v1/webhooks",
            Some(json!({"url": "http://127.0.0.1:9/a", "events": ["sync.failed"]})),
        )
        .await?;
    let webhook_secret = webhook["secret"].as_str().context("secret")?.to_owned();
    let webhook = webhook["id"].as_str().context("webhook id")?.to_owned();
    let dead_letter = poison_dead_letter(env, org).await?;
    // The Owner's own member and key: a Member must neither change nor see them.
    let me = |page: Value, field: &str| -> anyhow::Result<String> {
        page["data"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|row| row["role"] == "owner")
            .and_then(|row| row[field].as_str())
            .map(str::to_owned)
            .with_context(|| format!("no owner row in {page}"))
    };
    let owner_member = me(env.api_ok(Method::GET, "/v1/members", None).await?, "id")?;
    let owner_key = me(env.api_ok(Method::GET, "/v1/api-keys", None).await?, "id")?;
    let invite = env
        .api_ok(
            Method::POST,
            "/v1/invites",
            Some(json!({"email": "invited@a.test", "role": "member"})),
        )
        .await?;
    let invite_token = invite["token"].as_str().context("token")?.to_owned();
    let invite = invite["id"].as_str().context("invite id")?.to_owned();

    let ids = BTreeMap::from([
        ("connections", jobber.clone()),
        ("mappings", mapping.clone()),
        ("syncs", sync),
        ("webhooks", webhook),
        ("dead-letters", dead_letter),
        ("members", owner_member),
        ("api-keys", owner_key),
        ("invites", invite),
    ]);
    let secrets = vec![
        ("A's owner key", env.api_key.clone()),
        ("A's member key", member_key.clone()),
        ("the jobber access token", access),
        ("the jobber refresh token", refresh),
        ("A's webhook secret", webhook_secret),
        ("A's invite token", invite_token),
    ];
    Ok((
        Fixtures {
            ids,
            org: org.to_string(),
            hubspot,
            jobber,
            mapping,
            secrets,
        },
        member_key,
    ))
}

/// A dead letter of org A: a batch job no decoder accepts, dead-lettered by the worker.
async fn poison_dead_letter(env: &TestEnv, org: uuid::Uuid) -> anyhow::Result<String> {
    let publisher = Publisher::connect(&QueueConfig::new(AMQP_URL, &env.prefix)).await?;
    let poison = JobEnvelope::new(JobKind::Batch, org.to_string(), vec![0xff; 11]);
    publisher.publish(&poison).await?;
    let deadline = Instant::now() + WAIT;
    loop {
        let page = env
            .api_ok(Method::GET, "/v1/dead-letters?kind=batch", None)
            .await?;
        let found = page["data"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|l| l["jobId"] == poison.job_id.as_str());
        if let Some(letter) = found {
            return Ok(letter["id"].as_str().context("id")?.to_owned());
        }
        if Instant::now() > deadline {
            bail!("the poison job was not dead-lettered after {WAIT:?}: {page}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// One operation of the document.
struct Operation {
    method: Method,
    path: String,
    min_role: Option<String>,
    /// `Some(schema key)` when it takes a JSON body (see [`Fixtures::body`]).
    body_schema: Option<String>,
}

/// Every operation that needs a key (those without `security: [{}]`).
fn secured_operations(doc: &Value) -> Vec<Operation> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().into_iter().flatten() {
        for (method, op) in item.as_object().into_iter().flatten() {
            let public = op["security"].as_array().is_some_and(|reqs| {
                reqs.iter()
                    .all(|r| r.as_object().is_some_and(|o| o.is_empty()))
            });
            if public {
                continue;
            }
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).expect("method");
            let body_schema = op["requestBody"]["content"]["application/json"]["schema"]
                .as_object()
                .map(|schema| match schema.get("$ref").and_then(Value::as_str) {
                    Some(r) => r.rsplit('/').next().unwrap_or(r).to_owned(),
                    None => format!("inline:{method} {path}"),
                });
            out.push(Operation {
                path: path.clone(),
                min_role: op["x-min-role"].as_str().map(str::to_owned),
                body_schema,
                method,
            });
        }
    }
    out
}

/// A request's path with its parameters filled from the fixtures, and whether it names one of
/// A's resources.
fn fill(op: &Operation, fx: &Fixtures) -> anyhow::Result<(String, bool)> {
    let mut owned = false;
    let mut collection = "";
    let mut out = Vec::new();
    for seg in op.path.split('/') {
        if seg.starts_with('{') {
            match fx.path_value(collection) {
                Some(PathValue::OwnedId(id)) => {
                    owned = true;
                    out.push(id);
                }
                Some(PathValue::Shared(v)) => out.push(v.to_owned()),
                None => bail!(
                    "{} {}: no fixture for the `{collection}` collection; add one to \
                     Fixtures::ids in set_up_org_a (tests/tests/isolation_sweep.rs)",
                    op.method,
                    op.path
                ),
            }
        } else {
            collection = seg;
            out.push(seg.to_owned());
        }
    }
    Ok((out.join("/"), owned))
}

/// Calls `op` on `path` with `key`; status and body text.
async fn call(
    env: &TestEnv,
    op: &Operation,
    path: &str,
    key: Option<&str>,
    body: Option<&Value>,
) -> anyhow::Result<(u16, String)> {
    let mut req = env
        .http
        .request(op.method.clone(), format!("{}{path}", env.api_url));
    if let Some(k) = key {
        req = req.bearer_auth(k);
    }
    if let Some(b) = body {
        req = req.json(b);
    }
    let resp = req.send().await?;
    Ok((resp.status().as_u16(), resp.text().await?))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_of_the_document_keeps_organizations_apart() -> anyhow::Result<()> {
    let env = TestEnv::start("isolation_sweep", 1).await?;
    let (fx, member_key) = set_up_org_a(&env).await?;
    let b_owner = env.create_org("Org B")?;
    let mut secrets = fx.secrets.clone();
    secrets.push(("B's owner key", b_owner.clone()));

    let doc: Value = env
        .http
        .get(format!("{}/openapi.json", env.api_url))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let ops = secured_operations(&doc);
    assert!(
        ops.len() >= 25,
        "only {} operations need a key: {doc}",
        ops.len()
    );

    let mut failures = Vec::new();
    let mut answers = Vec::new();
    for op in &ops {
        let name = format!("{} {}", op.method, op.path);
        let (path, owned) = fill(op, &fx)?;
        let body = match &op.body_schema {
            Some(schema) => Some(fx.body(schema).with_context(|| {
                format!(
                    "{name}: no body fixture for schema `{schema}`; add one to Fixtures::body \
                     (tests/tests/isolation_sweep.rs)"
                )
            })?),
            None => None,
        };
        let body = body.as_ref();

        // (a) No key.
        let (status, text) = call(&env, op, &path, None, body).await?;
        if status != 401 {
            failures.push(format!("{name} without a key: {status} {text}"));
        }
        answers.push((format!("{name} without a key"), text));

        // (c) A's Member key: admin/owner operations are refused before anything else.
        let (status, text) = call(&env, op, &path, Some(&member_key), body).await?;
        match op.min_role.as_deref() {
            Some("admin" | "owner") if status != 403 => {
                failures.push(format!("{name} as A's Member: {status} (want 403) {text}"));
            }
            Some("member") if status == 401 || status == 403 => {
                failures.push(format!(
                    "{name} as A's Member: {status}, but x-min-role is member"
                ));
            }
            None => failures.push(format!("{name} declares no x-min-role")),
            _ => {}
        }
        answers.push((format!("{name} as A's Member"), text));

        // (b) B's Owner on A's ids: not found, and nothing of A's shows.
        let (status, text) = call(&env, op, &path, Some(&b_owner), body).await?;
        if owned && status != 404 {
            failures.push(format!(
                "{name} as B's Owner on A's id: {status} (want 404) {text}"
            ));
        }
        if status >= 500 {
            failures.push(format!("{name} as B's Owner: {status} {text}"));
        }
        for (collection, id) in &fx.ids {
            if text.contains(id.as_str()) {
                failures.push(format!(
                    "{name} as B's Owner shows A's {collection} id {id}: {status} {text}"
                ));
            }
        }
        for id in [&fx.org, &fx.hubspot, &fx.jobber, &fx.mapping] {
            if text.contains(id.as_str()) {
                failures.push(format!(
                    "{name} as B's Owner shows A's id {id}: {status} {text}"
                ));
            }
        }
        answers.push((format!("{name} as B's Owner"), text));
    }

    // No answer carries a secret created in setup.
    for (what, text) in &answers {
        for (secret_name, secret) in &secrets {
            if text.contains(secret.as_str()) {
                failures.push(format!("{what} answered {secret_name}"));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} isolation failures over {} operations:\n{}",
        failures.len(),
        ops.len(),
        failures.join("\n")
    );

    // The sweep reached A's resources: A's own Owner still sees each of them (by its own
    // `GET`, or in its collection's list when there is none).
    for (collection, id) in &fx.ids {
        let (status, v) = env
            .api(Method::GET, &format!("/v1/{collection}/{id}"), None)
            .await?;
        if status == 405 {
            let list = env
                .api_ok(Method::GET, &format!("/v1/{collection}?limit=100"), None)
                .await?;
            let listed = list["data"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|row| row["id"] == id.as_str());
            assert!(listed, "A's {collection} {id} survived the sweep: {list}");
        } else {
            assert_eq!(status, 200, "A's {collection} {id} survived the sweep: {v}");
        }
    }
    Ok(())
}
