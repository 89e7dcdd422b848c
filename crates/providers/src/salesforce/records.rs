//! Salesforce wire format ↔ `Record`: the synced sObjects and their default fields, the SOQL of
//! full and incremental reads (compound `(SystemModstamp, Id)` cursor), record parsing, and the
//! page token (the query locator path plus where to restart if the locator has expired).

use chrono::{DateTime, TimeZone, Utc};
use fluxcascade_core::{Cursor, Record};
use serde_json::{Map, Value};

use crate::ProviderError;

/// The REST API version the adapter speaks.
pub const API_VERSION: &str = "v60.0";
/// Salesforce's smallest and largest query batch (`Sforce-Query-Options: batchSize`).
pub const MIN_BATCH: u32 = 200;
pub const MAX_BATCH: u32 = 2000;
/// Most records one sObject Collections create/update takes.
pub const MAX_WRITE: usize = 200;
/// Most ids one sObject Collections retrieve takes.
pub const MAX_RETRIEVE: usize = 2000;
/// Fields the provider sets itself; dropped from written fields.
pub const READ_ONLY: &[&str] = &[
    "attributes",
    "Id",
    "IsDeleted",
    "CreatedDate",
    "CreatedById",
    "LastModifiedDate",
    "LastModifiedById",
    "SystemModstamp",
];

/// What the adapter needs to know about one sObject type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SalesforceObject {
    /// API name: `Contact`, `Account`, `Opportunity`.
    pub name: &'static str,
    /// Fields always read (the caller's are added).
    pub default_fields: &'static [&'static str],
}

const OBJECTS: &[SalesforceObject] = &[
    SalesforceObject {
        name: "Contact",
        default_fields: &[
            "Id",
            "FirstName",
            "LastName",
            "Email",
            "Phone",
            "AccountId",
            "MailingStreet",
            "MailingCity",
            "MailingState",
            "MailingPostalCode",
            "MailingCountry",
            "SystemModstamp",
            "CreatedDate",
        ],
    },
    SalesforceObject {
        name: "Account",
        default_fields: &[
            "Id",
            "Name",
            "Phone",
            "Website",
            "BillingStreet",
            "BillingCity",
            "BillingState",
            "BillingPostalCode",
            "BillingCountry",
            "SystemModstamp",
            "CreatedDate",
        ],
    },
    SalesforceObject {
        name: "Opportunity",
        default_fields: &[
            "Id",
            "Name",
            "StageName",
            "Amount",
            "CloseDate",
            "AccountId",
            "Probability",
            "SystemModstamp",
            "CreatedDate",
        ],
    },
];

/// The sObject for `name`: the API name in any case, or its plural (`contacts`,
/// `opportunities`); anything else is a permanent error.
pub fn object(name: &str) -> Result<&'static SalesforceObject, ProviderError> {
    let lower = name.to_ascii_lowercase();
    let singular = match lower.as_str() {
        "opportunities" => "opportunity",
        other => other.strip_suffix('s').unwrap_or(other),
    };
    OBJECTS
        .iter()
        .find(|o| o.name.eq_ignore_ascii_case(singular) || o.name.eq_ignore_ascii_case(&lower))
        .ok_or_else(|| {
            ProviderError::Permanent(format!("Salesforce object `{name}` is not supported"))
        })
}

/// The defaults plus `wanted` (deduplicated case-insensitively, as Salesforce compares field
/// names). Names other than `[A-Za-z0-9_.]` are refused (they would not be SOQL).
pub fn fields_for(obj: &SalesforceObject, wanted: &[String]) -> Result<Vec<String>, ProviderError> {
    let mut fields: Vec<String> = obj.default_fields.iter().map(|s| (*s).to_owned()).collect();
    for w in wanted {
        let w = w.trim();
        if w.is_empty()
            || !w
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
        {
            return Err(ProviderError::Permanent(format!(
                "`{w}` is not a Salesforce field name"
            )));
        }
        if !fields.iter().any(|f| f.eq_ignore_ascii_case(w)) {
            fields.push(w.to_owned());
        }
    }
    Ok(fields)
}

/// A SOQL datetime literal (whole seconds, UTC): `2026-01-01T00:00:00Z`.
pub fn soql_datetime(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// A SOQL string literal.
pub fn soql_string(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// `SELECT … FROM obj [WHERE <after cursor>] ORDER BY SystemModstamp, Id` (a cursor without an
/// id means "from that time on": `SystemModstamp >= X`). The cursor is
/// compared at whole seconds (Salesforce's precision); a cursor with a fraction is floored,
/// which can only re-read records, never skip one.
pub fn soql(obj: &SalesforceObject, fields: &[String], after: Option<&Cursor>) -> String {
    let mut q = format!("SELECT {} FROM {}", fields.join(", "), obj.name);
    if let Some(c) = after {
        let secs = c.updated_at.timestamp();
        let at = Utc
            .timestamp_opt(secs, 0)
            .single()
            .map(soql_datetime)
            .unwrap_or_else(|| soql_datetime(c.updated_at));
        if c.id.is_empty() {
            q.push_str(&format!(" WHERE SystemModstamp >= {at}"));
        } else {
            q.push_str(&format!(
                " WHERE SystemModstamp > {at} OR (SystemModstamp = {at} AND Id > {})",
                soql_string(&c.id)
            ));
        }
    }
    q.push_str(" ORDER BY SystemModstamp, Id");
    q
}

/// Parses `2026-01-01T00:00:00.000+0000` (also RFC 3339).
pub fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f%z")
        .or_else(|_| DateTime::parse_from_rfc3339(s))
        .ok()
        .map(|d| d.with_timezone(&Utc))
}

/// One record of a query or retrieve answer: `Id`, `SystemModstamp`, and the fields
/// (everything but `attributes`).
pub fn parse_record(obj: &SalesforceObject, v: &Value) -> Result<Record, ProviderError> {
    let Some(m) = v.as_object() else {
        return Err(ProviderError::Permanent(format!(
            "Salesforce {} record is not an object",
            obj.name
        )));
    };
    let id = m
        .get("Id")
        .and_then(Value::as_str)
        .ok_or_else(|| {
            ProviderError::Permanent(format!("Salesforce {} record without an Id", obj.name))
        })?
        .to_owned();
    let updated_at = m
        .get("SystemModstamp")
        .and_then(Value::as_str)
        .and_then(parse_time)
        .ok_or_else(|| {
            ProviderError::Permanent(format!(
                "Salesforce {} {id} has no readable SystemModstamp",
                obj.name
            ))
        })?;
    let mut fields: Map<String, Value> = m.clone();
    fields.remove("attributes");
    Ok(Record {
        id,
        updated_at,
        fields: Value::Object(fields),
        deleted: false,
    })
}

/// The `records` of a query answer.
pub fn parse_records(obj: &SalesforceObject, body: &Value) -> Result<Vec<Record>, ProviderError> {
    body.get("records")
        .and_then(Value::as_array)
        .ok_or_else(|| ProviderError::Permanent("Salesforce query answer without records".into()))?
        .iter()
        .map(|r| parse_record(obj, r))
        .collect()
}

/// The written fields of one op: an object without the read-only fields.
pub fn writable(fields: &Value) -> Result<Map<String, Value>, String> {
    match fields {
        Value::Object(m) => Ok(m
            .iter()
            .filter(|(k, _)| !READ_ONLY.iter().any(|r| r.eq_ignore_ascii_case(k)))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()),
        Value::Null => Ok(Map::new()),
        other => Err(format!("fields must be a JSON object, got {other}")),
    }
}

/// The opaque page token: the query locator path, and the last record of the page so an
/// expired locator can be replaced by a query restarting after it.
#[derive(Debug, Clone, PartialEq)]
pub struct PageToken {
    /// `/services/data/v60.0/query/01g…-2000`
    pub locator: String,
    pub resume: Option<Cursor>,
}

impl PageToken {
    /// `<locator>` or `<locator>#<epoch ms>,<id>`.
    pub fn encode(&self) -> String {
        match &self.resume {
            Some(c) => format!(
                "{}#{},{}",
                self.locator,
                c.updated_at.timestamp_millis(),
                c.id
            ),
            None => self.locator.clone(),
        }
    }

    pub fn decode(token: &str) -> Result<PageToken, ProviderError> {
        let (locator, resume) = match token.split_once('#') {
            Some((l, r)) => (l, Some(r)),
            None => (token, None),
        };
        if !locator.starts_with("/services/data/") || locator.contains("..") {
            return Err(ProviderError::Permanent(format!(
                "not a Salesforce page token: {token}"
            )));
        }
        let resume = resume.and_then(|r| {
            let (ms, id) = r.split_once(',')?;
            let updated_at = Utc.timestamp_millis_opt(ms.parse().ok()?).single()?;
            Some(Cursor {
                updated_at,
                id: id.to_owned(),
            })
        });
        Ok(PageToken {
            locator: locator.to_owned(),
            resume,
        })
    }
}

/// The page token of a query answer: `None` when `done`.
pub fn next_token(body: &Value, records: &[Record]) -> Option<String> {
    if body.get("done").and_then(Value::as_bool) == Some(true) {
        return None;
    }
    let locator = body.get("nextRecordsUrl").and_then(Value::as_str)?;
    Some(
        PageToken {
            locator: locator.to_owned(),
            resume: records.last().map(Cursor::of),
        }
        .encode(),
    )
}

/// The `Sforce-Query-Options` header for a page size: Salesforce takes 200..2000; the header
/// value is rounded down to a multiple of 100 (a batch size is a hint to Salesforce anyway).
pub fn batch_header(page_size: u32) -> &'static str {
    const OPTIONS: [&str; 19] = [
        "batchSize=200",
        "batchSize=300",
        "batchSize=400",
        "batchSize=500",
        "batchSize=600",
        "batchSize=700",
        "batchSize=800",
        "batchSize=900",
        "batchSize=1000",
        "batchSize=1100",
        "batchSize=1200",
        "batchSize=1300",
        "batchSize=1400",
        "batchSize=1500",
        "batchSize=1600",
        "batchSize=1700",
        "batchSize=1800",
        "batchSize=1900",
        "batchSize=2000",
    ];
    let size = if page_size == 0 {
        MAX_BATCH
    } else {
        page_size.clamp(MIN_BATCH, MAX_BATCH)
    };
    OPTIONS[((size - MIN_BATCH) / 100) as usize]
}
