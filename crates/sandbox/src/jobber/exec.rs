//! Executes a parsed Jobber GraphQL operation against one account's store.

use std::ops::Bound;

use serde_json::{json, Value};

use super::document::{Field, GraphqlError, Operation, OperationKind};
use super::input::{client_from_create, client_from_edit, UserError};
use super::render::{client, client_payload, leaf, needs_selection, object, undefined_field};
use super::store::{
    decode_cursor, decode_id, encode_cursor, encode_id, ClientRecord, JobberClientStore,
};
use super::work::{JobberJob, JobberProperty, JobberWorkStore};
use super::{work_exec, JobberAccount};
use crate::clock::parse_iso;
use crate::state::lock;

/// Page size when `first` is not given, and the largest page served.
pub const DEFAULT_PAGE: usize = 20;
pub const MAX_PAGE: usize = 100;

/// The response `data` (None when validation failed), errors and records written.
#[derive(Debug, Default)]
pub struct ExecResult {
    pub data: Option<Value>,
    pub errors: Vec<Value>,
    pub writes: u64,
    /// Jobs created.
    pub job_writes: u64,
    /// (item kind, id, created) for every item written.
    pub changed: Vec<(&'static str, u64, bool)>,
}

fn failed(e: GraphqlError) -> ExecResult {
    ExecResult {
        data: None,
        errors: vec![e.to_json()],
        ..Default::default()
    }
}

pub fn execute(account: &JobberAccount, op: &Operation) -> ExecResult {
    match op.kind {
        OperationKind::Query => {
            let store = lock(&account.clients);
            let work = lock(&account.work);
            match object(&op.fields, "Query", |f| {
                query_field(account, &store, &work, f)
            }) {
                Ok(data) => ExecResult {
                    data: Some(data),
                    ..Default::default()
                },
                Err(e) => failed(e),
            }
        }
        OperationKind::Mutation => execute_mutation(account, &op.fields),
    }
}

fn query_field(
    account: &JobberAccount,
    store: &JobberClientStore,
    work: &JobberWorkStore,
    f: &Field,
) -> Result<Value, GraphqlError> {
    match f.name.as_str() {
        "clients" => clients_connection(store, f),
        "jobs" => work_exec::jobs_connection(f, store, work),
        "properties" => super::properties::properties_connection(f, store, work),
        "job" => {
            needs_selection(f, "Job")?;
            let id = f.arg("id").and_then(Value::as_str).unwrap_or_default();
            match decode_id("Job", id).and_then(|n| work.job(n)) {
                Some(j) => work_exec::job(j, &f.selection, store, work),
                None => work_exec::job(&JobberJob::default(), &f.selection, store, work)
                    .map(|_| Value::Null),
            }
        }
        "property" => {
            needs_selection(f, "Property")?;
            let id = f.arg("id").and_then(Value::as_str).unwrap_or_default();
            match decode_id("Property", id).and_then(|n| work.property(n)) {
                Some(p) => work_exec::property(p, &f.selection, store),
                None => work_exec::property(&JobberProperty::default(), &f.selection, store)
                    .map(|_| Value::Null),
            }
        }
        "client" => {
            needs_selection(f, "Client")?;
            let id = f.arg("id").and_then(Value::as_str).ok_or_else(|| {
                GraphqlError::new("Field 'client' is missing required arguments: id")
            })?;
            match decode_id("Client", id).and_then(|n| store.get(n)) {
                Some(c) => client(c, &f.selection),
                None => client(&ClientRecord::default(), &f.selection).map(|_| Value::Null),
            }
        }
        "account" => {
            needs_selection(f, "Account")?;
            object(&f.selection, "Account", |g| match g.name.as_str() {
                "id" => leaf(g, encode_id("Account", account.account_id).into()),
                "name" => leaf(g, account.name.clone().into()),
                _ => Err(undefined_field("Account", g)),
            })
        }
        _ => Err(undefined_field("Query", f)),
    }
}

struct ClientQuery {
    first: usize,
    cursor: Option<(i64, u64)>,
    updated_after: Option<i64>,
    updated_before: Option<i64>,
    by_updated: bool,
    archived: Option<bool>,
    is_company: Option<bool>,
    search: Option<String>,
}

fn time_arg(v: &Value, key: &str) -> Result<Option<i64>, GraphqlError> {
    match v.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => parse_iso(s)
            .map(Some)
            .ok_or_else(|| GraphqlError::new(format!("{s} is not a valid ISO8601DateTime"))),
        Some(other) => Err(GraphqlError::new(format!(
            "{other} is not a valid ISO8601DateTime"
        ))),
    }
}

fn client_query(f: &Field) -> Result<ClientQuery, GraphqlError> {
    if f.arg("last").is_some() || f.arg("before").is_some() {
        return Err(GraphqlError::new(
            "Backward pagination (last/before) is not supported by the sandbox",
        ));
    }
    let first = match f.arg("first") {
        None => DEFAULT_PAGE,
        Some(v) => {
            let n = v
                .as_i64()
                .ok_or_else(|| GraphqlError::new("Argument 'first' must be an Int"))?;
            if n < 0 {
                return Err(GraphqlError::new("Argument 'first' on Field 'clients' has an invalid value. Expected type 'Int'."));
            }
            (n as usize).min(MAX_PAGE)
        }
    };
    let cursor = match f.arg("after").and_then(Value::as_str) {
        None => None,
        Some(c) => Some(
            decode_cursor(c).ok_or_else(|| GraphqlError::new(format!("Invalid cursor: {c}")))?,
        ),
    };
    let filter = f.arg("filter").cloned().unwrap_or(Value::Null);
    let updated = filter.get("updatedAt").filter(|v| v.is_object());
    let (mut updated_after, mut updated_before) = (None, None);
    if let Some(u) = updated {
        updated_after = time_arg(u, "after")?;
        updated_before = time_arg(u, "before")?;
        if let Some(eq) = time_arg(u, "eq")? {
            updated_after = Some(eq - 1);
            updated_before = Some(eq + 1000);
        }
    }
    Ok(ClientQuery {
        first,
        cursor,
        updated_after,
        updated_before,
        by_updated: updated.is_some(),
        archived: filter.get("isArchived").and_then(Value::as_bool),
        is_company: filter.get("isCompany").and_then(Value::as_bool),
        search: f
            .arg("searchTerm")
            .and_then(Value::as_str)
            .map(str::to_lowercase)
            .filter(|s| !s.is_empty()),
    })
}

fn keep(q: &ClientQuery, c: &ClientRecord) -> bool {
    q.archived.is_none_or(|a| c.is_archived == a)
        && q.is_company.is_none_or(|b| c.is_company == b)
        && q.search.as_ref().is_none_or(|s| {
            c.name().to_lowercase().contains(s)
                || c.emails
                    .iter()
                    .any(|e| e.address.to_lowercase().contains(s))
        })
}

fn matching<'a>(
    store: &'a JobberClientStore,
    q: &'a ClientQuery,
    cursor: Option<(i64, u64)>,
) -> Box<dyn Iterator<Item = &'a ClientRecord> + 'a> {
    if q.by_updated {
        let lower = q.updated_after.map(|a| (a, u64::MAX));
        let from = match (lower, cursor) {
            (Some(l), Some(c)) => Bound::Excluded(l.max(c)),
            (Some(l), None) => Bound::Excluded(l),
            (None, Some(c)) => Bound::Excluded(c),
            (None, None) => Bound::Unbounded,
        };
        Box::new(
            store
                .iter_by_updated(from, q.updated_before)
                .filter(move |c| keep(q, c)),
        )
    } else {
        Box::new(
            store
                .iter_by_id(cursor.map(|(_, id)| id))
                .filter(move |c| keep(q, c)),
        )
    }
}

fn clients_connection(store: &JobberClientStore, f: &Field) -> Result<Value, GraphqlError> {
    needs_selection(f, "ClientConnection")?;
    let q = client_query(f)?;
    let mut it = matching(store, &q, q.cursor);
    let page: Vec<&ClientRecord> = it.by_ref().take(q.first).collect();
    let has_next = it.next().is_some();
    let cursor_of = |c: &ClientRecord| encode_cursor(c.updated_ms, c.id);
    object(&f.selection, "ClientConnection", |g| {
        match g.name.as_str() {
            "nodes" => {
                needs_selection(g, "Client")?;
                client(&ClientRecord::default(), &g.selection)?;
                page.iter()
                    .map(|c| client(c, &g.selection))
                    .collect::<Result<Vec<_>, _>>()
                    .map(Value::Array)
            }
            "edges" => {
                needs_selection(g, "ClientEdge")?;
                edge(&ClientRecord::default(), &g.selection, "")?;
                page.iter()
                    .map(|c| edge(c, &g.selection, &cursor_of(c)))
                    .collect::<Result<Vec<_>, _>>()
                    .map(Value::Array)
            }
            "pageInfo" => {
                needs_selection(g, "PageInfo")?;
                object(&g.selection, "PageInfo", |h| match h.name.as_str() {
                    "endCursor" => leaf(h, page.last().map(|c| cursor_of(c)).into()),
                    "startCursor" => leaf(h, page.first().map(|c| cursor_of(c)).into()),
                    "hasNextPage" => leaf(h, has_next.into()),
                    "hasPreviousPage" => leaf(h, q.cursor.is_some().into()),
                    _ => Err(undefined_field("PageInfo", h)),
                })
            }
            "totalCount" => leaf(g, json!(matching(store, &q, None).count())),
            _ => Err(undefined_field("ClientConnection", g)),
        }
    })
}

fn edge(c: &ClientRecord, fields: &[Field], cursor: &str) -> Result<Value, GraphqlError> {
    object(fields, "ClientEdge", |h| match h.name.as_str() {
        "cursor" => leaf(h, cursor.into()),
        "node" => {
            needs_selection(h, "Client")?;
            client(c, &h.selection)
        }
        _ => Err(undefined_field("ClientEdge", h)),
    })
}

fn execute_mutation(account: &JobberAccount, fields: &[Field]) -> ExecResult {
    // Validate every selection first (against a dummy result) so a bad document writes nothing.
    let dummy = ClientRecord::default();
    let dummy_errors = [UserError {
        message: String::new(),
        path: Vec::new(),
    }];
    let validation = object(fields, "Mutation", |f| match f.name.as_str() {
        "clientCreate" => client_payload(
            "ClientCreatePayload",
            Some(&dummy),
            &dummy_errors,
            &f.selection,
        ),
        "clientEdit" => client_payload(
            "ClientEditPayload",
            Some(&dummy),
            &dummy_errors,
            &f.selection,
        ),
        "clientArchive" => client_payload(
            "ClientArchivePayload",
            Some(&dummy),
            &dummy_errors,
            &f.selection,
        ),
        "jobCreate" | "jobEdit" => work_exec::job_payload(
            None,
            &dummy_errors,
            &f.selection,
            &JobberClientStore::default(),
            &JobberWorkStore::default(),
        ),
        "propertyCreate" => work_exec::property_payload(
            None,
            &[],
            &dummy_errors,
            &f.selection,
            &JobberClientStore::default(),
        ),
        "propertyEdit" => super::properties::edit_payload(
            None,
            &dummy_errors,
            &f.selection,
            &JobberClientStore::default(),
        ),
        _ => Err(undefined_field("Mutation", f)),
    });
    if let Err(e) = validation {
        return failed(e);
    }
    let mut changed = Vec::new();
    let mut store = lock(&account.clients);
    let mut work = lock(&account.work);
    let data = object(fields, "Mutation", |f| match f.name.as_str() {
        "jobCreate" => {
            let input = f.arg("input").cloned().unwrap_or_else(|| json!({}));
            match work_exec::create_job(&mut work, &input) {
                Ok(id) => {
                    changed.push(("Job", id, true));
                    work_exec::job_payload(work.job(id), &[], &f.selection, &store, &work)
                }
                Err(errs) => work_exec::job_payload(None, &errs, &f.selection, &store, &work),
            }
        }
        "jobEdit" => {
            let id = f
                .arg("jobId")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            let input = f.arg("input").cloned().unwrap_or_else(|| json!({}));
            match work_exec::edit_job(&mut work, &id, &input) {
                Ok(jid) => {
                    changed.push(("Job", jid, false));
                    work_exec::job_payload(work.job(jid), &[], &f.selection, &store, &work)
                }
                Err(errs) => work_exec::job_payload(None, &errs, &f.selection, &store, &work),
            }
        }
        "propertyCreate" => {
            let cid = f
                .arg("clientId")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let input = f.arg("input").cloned().unwrap_or_else(|| json!({}));
            match work_exec::create_properties(&store, &mut work, cid, &input) {
                Ok((owner, props)) => {
                    changed.extend(props.iter().map(|p| ("Property", p.id, true)));
                    work_exec::property_payload(store.get(owner), &props, &[], &f.selection, &store)
                }
                Err(errs) => work_exec::property_payload(None, &[], &errs, &f.selection, &store),
            }
        }
        "propertyEdit" => {
            let pid = f
                .arg("propertyId")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let input = f.arg("input").cloned().unwrap_or_else(|| json!({}));
            match super::properties::edit_property(&mut work, pid, &input) {
                Ok(id) => {
                    changed.push(("Property", id, false));
                    super::properties::edit_payload(work.property(id), &[], &f.selection, &store)
                }
                Err(errs) => super::properties::edit_payload(None, &errs, &f.selection, &store),
            }
        }
        "clientCreate" => {
            let input = f.arg("input").ok_or_else(|| {
                GraphqlError::new("Field 'clientCreate' is missing required arguments: input")
            })?;
            match client_from_create(&mut store, input) {
                Ok(c) => {
                    let id = store.insert(c);
                    changed.push(("Client", id, true));
                    client_payload("ClientCreatePayload", store.get(id), &[], &f.selection)
                }
                Err(errs) => client_payload("ClientCreatePayload", None, &errs, &f.selection),
            }
        }
        "clientEdit" => {
            let id = f.arg("clientId").and_then(Value::as_str).ok_or_else(|| {
                GraphqlError::new("Field 'clientEdit' is missing required arguments: clientId")
            })?;
            let input = f.arg("input").cloned().unwrap_or_else(|| json!({}));
            let Some(current) = decode_id("Client", id).and_then(|n| store.get(n)).cloned() else {
                let errs = [UserError {
                    message: "Client not found".into(),
                    path: vec!["clientId".into()],
                }];
                return client_payload("ClientEditPayload", None, &errs, &f.selection);
            };
            match client_from_edit(&mut store, &current, &input) {
                Ok(c) => {
                    let cid = c.id;
                    store.replace(c);
                    changed.push(("Client", cid, false));
                    client_payload("ClientEditPayload", store.get(cid), &[], &f.selection)
                }
                Err(errs) => {
                    client_payload("ClientEditPayload", Some(&current), &errs, &f.selection)
                }
            }
        }
        "clientArchive" => {
            let id = f.arg("clientId").and_then(Value::as_str).ok_or_else(|| {
                GraphqlError::new("Field 'clientArchive' is missing required arguments: clientId")
            })?;
            let Some(mut c) = decode_id("Client", id).and_then(|n| store.get(n)).cloned() else {
                let errs = [UserError {
                    message: "Client not found".into(),
                    path: vec!["clientId".into()],
                }];
                return client_payload("ClientArchivePayload", None, &errs, &f.selection);
            };
            let cid = c.id;
            if !c.is_archived {
                c.is_archived = true;
                store.replace(c);
                changed.push(("Client", cid, false));
            }
            client_payload("ClientArchivePayload", store.get(cid), &[], &f.selection)
        }
        _ => Err(undefined_field("Mutation", f)),
    });
    match data {
        Ok(d) => ExecResult {
            data: Some(d),
            errors: Vec::new(),
            writes: changed.iter().filter(|c| c.0 == "Client").count() as u64,
            job_writes: changed.iter().filter(|c| c.0 == "Job").count() as u64,
            changed,
        },
        Err(e) => ExecResult {
            data: None,
            errors: vec![e.to_json()],
            writes: changed.iter().filter(|c| c.0 == "Client").count() as u64,
            job_writes: changed.iter().filter(|c| c.0 == "Job").count() as u64,
            changed,
        },
    }
}
