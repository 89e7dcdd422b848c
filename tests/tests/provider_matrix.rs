//! Every provider as source and as target, through the real binary and the sandbox.
//!
//! Contacts go round a ring, HubSpot → Salesforce → Pipedrive → Jobber → HubSpot, so each
//! provider's contact-like object is read by one sync and written by another, and what arrives
//! back in HubSpot is checked against what left it. Company-like objects go round HubSpot →
//! Salesforce → Pipedrive → HubSpot; deal-like objects sync Salesforce → HubSpot and HubSpot →
//! Pipedrive; Jobber properties sync to HubSpot companies (HubSpot deals → Jobber jobs is
//! `deals_to_jobs.rs`).

use std::collections::BTreeSet;
use std::time::Duration;

use fluxcascade_tests::{fields, TestEnv};
use serde_json::{json, Value};

const N: u64 = 25;

struct Matrix {
    env: TestEnv,
    hubspot: String,
    salesforce: String,
    pipedrive: String,
    jobber: String,
}

impl Matrix {
    async fn start(name: &str) -> Matrix {
        let env = TestEnv::start(name, 2).await.expect("env");
        let hubspot = env.connect("hubspot").await.expect("hubspot");
        let salesforce = env.connect("salesforce").await.expect("salesforce");
        let pipedrive = env.connect("pipedrive").await.expect("pipedrive");
        let jobber = env.connect("jobber").await.expect("jobber");
        Matrix {
            env,
            hubspot,
            salesforce,
            pipedrive,
            jobber,
        }
    }

    fn conn(&self, provider: &str) -> &str {
        match provider {
            "hubspot" => &self.hubspot,
            "salesforce" => &self.salesforce,
            "pipedrive" => &self.pipedrive,
            _ => &self.jobber,
        }
    }

    /// Creates the mapping, runs one full sync and requires every record created.
    async fn sync(&self, from: (&str, &str), to: (&str, &str), pairs: Value, created: u64) {
        let m = self
            .env
            .create_mapping(json!({
                "name": format!("{}.{} to {}.{}", from.0, from.1, to.0, to.1),
                "source": {"connectionId": self.conn(from.0), "object": from.1},
                "target": {"connectionId": self.conn(to.0), "object": to.1},
                "fieldPairs": pairs,
            }))
            .await
            .unwrap_or_else(|e| panic!("mapping {from:?} → {to:?}: {e:#}"));
        // A run reads what changed before it started, floored to the source's timestamp
        // precision (Pipedrive, Salesforce and Jobber: whole seconds); the records the previous
        // leg just wrote must be at least a second old.
        tokio::time::sleep(Duration::from_millis(1_100)).await;
        let sync = self.env.trigger_sync(&m, "full").await.unwrap();
        let done = self
            .env
            .wait_sync(&sync, Duration::from_secs(180))
            .await
            .unwrap();
        assert_eq!(done["status"], "completed", "{from:?} → {to:?}: {done}");
        // Pipedrive and Jobber send webhooks for our own writes too, so some records may already
        // have been synced by a webhook run of this mapping (then this run skips them); what
        // the target holds is checked by the caller.
        let counts = &done["counts"];
        assert_eq!(counts["read"], created, "{from:?} → {to:?}: {done}");
        assert_eq!(counts["failed"], 0, "{from:?} → {to:?}: {done}");
        assert_eq!(
            counts["created"].as_u64().unwrap_or(0) + counts["skipped"].as_u64().unwrap_or(0),
            created,
            "{from:?} → {to:?}: {done}"
        );
    }

    /// `key(fields)` of every record the sandbox holds for `provider`/`object`.
    async fn keys(
        &self,
        provider: &str,
        object: &str,
        key: impl Fn(&Value) -> Option<String>,
    ) -> Vec<String> {
        let records = self.env.sandbox_records(provider, object).await.unwrap();
        let mut out: Vec<String> = records.iter().filter_map(|r| key(fields(r))).collect();
        out.sort();
        out
    }
}

fn text(v: &Value, pointer: &str) -> Option<String> {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .map(str::to_owned)
}

fn set(v: &[String]) -> BTreeSet<String> {
    v.iter().cloned().collect()
}

#[tokio::test]
async fn contacts_go_round_all_four_providers_and_come_back_intact() {
    let m = Matrix::start("matrix_contacts").await;
    m.env.seed("hubspot", "contacts", N).await.unwrap();
    fn person(
        first: &'static str,
        last: &'static str,
        email: &'static str,
    ) -> impl Fn(&Value) -> Option<String> {
        move |f: &Value| {
            Some(format!(
                "{}|{}|{}",
                text(f, first)?,
                text(f, last)?,
                text(f, email)?.to_lowercase()
            ))
        }
    }
    let original = m
        .keys(
            "hubspot",
            "contacts",
            person("/firstname", "/lastname", "/email"),
        )
        .await;
    assert_eq!(original.len(), N as usize);

    m.sync(
        ("hubspot", "contacts"),
        ("salesforce", "Contact"),
        json!([
            {"sourceField": "firstname", "targetField": "FirstName"},
            {"sourceField": "lastname", "targetField": "LastName", "required": true},
            {"sourceField": "email", "targetField": "Email"}
        ]),
        N,
    )
    .await;
    let in_salesforce = m
        .keys(
            "salesforce",
            "Contact",
            person("/FirstName", "/LastName", "/Email"),
        )
        .await;
    assert_eq!(in_salesforce, original, "HubSpot → Salesforce");

    m.sync(
        ("salesforce", "Contact"),
        ("pipedrive", "persons"),
        json!([
            {"sourceFields": ["FirstName", "LastName"], "targetField": "name",
             "transform": "concatenate", "transformOptions": {"separator": " "}},
            {"sourceField": "Email", "targetField": "emails[0].value"}
        ]),
        N,
    )
    .await;
    let in_pipedrive = m
        .keys("pipedrive", "persons", |f| {
            Some(format!(
                "{}|{}",
                text(f, "/name")?,
                text(f, "/emails/0/value")?.to_lowercase()
            ))
        })
        .await;
    let expected: Vec<String> = {
        let mut v: Vec<String> = original
            .iter()
            .map(|k| {
                let p: Vec<&str> = k.split('|').collect();
                format!("{} {}|{}", p[0], p[1], p[2])
            })
            .collect();
        v.sort();
        v
    };
    assert_eq!(in_pipedrive, expected, "Salesforce → Pipedrive");

    m.sync(
        ("pipedrive", "persons"),
        ("jobber", "clients"),
        json!([
            {"sourceField": "first_name", "targetField": "firstName"},
            {"sourceField": "last_name", "targetField": "lastName", "required": true},
            {"sourceField": "emails[0].value", "targetField": "emails[0].address"}
        ]),
        N,
    )
    .await;
    let in_jobber = m
        .keys(
            "jobber",
            "clients",
            person("/firstName", "/lastName", "/emails/0/address"),
        )
        .await;
    assert_eq!(set(&in_jobber), set(&original), "Pipedrive → Jobber");

    m.sync(
        ("jobber", "clients"),
        ("hubspot", "contacts"),
        json!([
            {"sourceField": "firstName", "targetField": "firstname"},
            {"sourceField": "lastName", "targetField": "lastname"},
            {"sourceField": "emails[0].address", "targetField": "email"}
        ]),
        N,
    )
    .await;
    // Every contact that left HubSpot came back once, as a new contact with the same values.
    let back = m
        .keys(
            "hubspot",
            "contacts",
            person("/firstname", "/lastname", "/email"),
        )
        .await;
    let mut twice = original.clone();
    twice.extend(original.iter().cloned());
    twice.sort();
    assert_eq!(back, twice, "Jobber → HubSpot");
}

#[tokio::test]
async fn companies_and_deals_sync_between_providers() {
    let m = Matrix::start("matrix_companies").await;
    m.env.seed("hubspot", "companies", N).await.unwrap();
    let names = m.keys("hubspot", "companies", |f| text(f, "/name")).await;

    m.sync(
        ("hubspot", "companies"),
        ("salesforce", "Account"),
        json!([
            {"sourceField": "name", "targetField": "Name", "required": true},
            {"sourceField": "phone", "targetField": "Phone"},
            {"sourceField": "city", "targetField": "BillingCity"}
        ]),
        N,
    )
    .await;
    assert_eq!(
        m.keys("salesforce", "Account", |f| text(f, "/Name")).await,
        names,
        "HubSpot companies → Salesforce Accounts"
    );
    m.sync(
        ("salesforce", "Account"),
        ("pipedrive", "organizations"),
        json!([{"sourceField": "Name", "targetField": "name", "required": true}]),
        N,
    )
    .await;
    assert_eq!(
        m.keys("pipedrive", "organizations", |f| text(f, "/name"))
            .await,
        names,
        "Salesforce Accounts → Pipedrive organizations"
    );
    m.sync(
        ("pipedrive", "organizations"),
        ("hubspot", "companies"),
        json!([{"sourceField": "name", "targetField": "name"}]),
        N,
    )
    .await;
    let mut twice = names.clone();
    twice.extend(names.iter().cloned());
    twice.sort();
    assert_eq!(
        m.keys("hubspot", "companies", |f| text(f, "/name")).await,
        twice,
        "Pipedrive organizations → HubSpot companies"
    );

    // Jobber properties (service addresses, Jobber's account-like object) → HubSpot companies.
    m.env.seed("jobber", "properties", N).await.unwrap();
    let sites = m
        .keys("jobber", "properties", |f| {
            Some(format!(
                "{}, {}",
                text(f, "/address/street1")?,
                text(f, "/address/city")?
            ))
        })
        .await;
    assert_eq!(sites.len(), N as usize);
    m.sync(
        ("jobber", "properties"),
        ("hubspot", "companies"),
        json!([
            {"sourceFields": ["address.street1", "address.city"], "targetField": "name",
             "transform": "concatenate", "transformOptions": {"separator": ", "}},
            {"sourceField": "address.city", "targetField": "city"}
        ]),
        N,
    )
    .await;
    let companies = m.keys("hubspot", "companies", |f| text(f, "/name")).await;
    assert!(
        set(&sites).is_subset(&set(&companies)),
        "Jobber properties → HubSpot companies: {sites:?}"
    );

    // Deals: Salesforce opportunities → HubSpot deals → Pipedrive deals.
    m.env.seed("salesforce", "Opportunity", N).await.unwrap();
    let opportunities = m
        .keys("salesforce", "Opportunity", |f| {
            Some(format!("{}|{}", text(f, "/Name")?, text(f, "/StageName")?))
        })
        .await;
    assert_eq!(opportunities.len(), N as usize);
    m.sync(
        ("salesforce", "Opportunity"),
        ("hubspot", "deals"),
        json!([
            {"sourceField": "Name", "targetField": "dealname", "required": true},
            {"sourceField": "StageName", "targetField": "dealstage"},
            {"sourceField": "CloseDate", "targetField": "closedate", "transform": "date_iso"}
        ]),
        N,
    )
    .await;
    let deals = m
        .keys("hubspot", "deals", |f| {
            Some(format!(
                "{}|{}",
                text(f, "/dealname")?,
                text(f, "/dealstage")?
            ))
        })
        .await;
    assert_eq!(
        deals, opportunities,
        "Salesforce opportunities → HubSpot deals"
    );
    m.sync(
        ("hubspot", "deals"),
        ("pipedrive", "deals"),
        json!([{"sourceField": "dealname", "targetField": "title", "required": true}]),
        N,
    )
    .await;
    let titles = m.keys("pipedrive", "deals", |f| text(f, "/title")).await;
    let dealnames: Vec<String> = deals
        .iter()
        .map(|d| d.split('|').next().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(titles, dealnames, "HubSpot deals → Pipedrive deals");
}
