//! Salesforce REST emulation (`/salesforce`): orgs (accounts), SOQL queries with query
//! locators, single-record and sObject Collections writes, the daily API limit, the identity
//! URL, Outbound Messages and the control plane.
//!
//! Documented choices:
//! - Objects: Contact (`003…`), Account (`001…`), Opportunity (`006…`); ids are 18 characters
//!   and increase with creation, so `ORDER BY Id` is creation order.
//! - SystemModstamp/LastModifiedDate are whole seconds; a seed call gives all its records one
//!   SystemModstamp (as a bulk load does).
//! - A query locator fixes the result's records and order when the query runs (values are
//!   rendered per batch); at most 50 stay open per org, idle ones close after 15 minutes
//!   (then `INVALID_QUERY_LOCATOR`), as does every open locator on `/_sandbox/reset`.
//! - Every API response counts against the org's daily limit (also when limits are disabled,
//!   which only stops the 403) and carries `Sforce-Limit-Info: api-usage=used/limit`.
//! - Outbound Messages fire for control-plane creates and patches only (the stand-in for a
//!   user editing in Setup's UI), not for API writes or seeding.

pub mod collections;
pub mod control;
pub mod eval;
pub mod gate;
pub mod lex;
pub mod limit;
pub mod outbound;
pub mod query;
pub mod schema;
pub mod sobjects;
pub mod soql;
pub mod store;

use std::sync::{Arc, Mutex, MutexGuard};

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::middleware::from_fn_with_state;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;

use crate::auth::{bearer, TokenCheck};
use crate::oauth::salesforce_org_id;
use crate::state::{lock, Provider, SharedState};
use limit::SalesforceLimiter;
use schema::SObjectKind;
use store::SObjectStore;

/// One Salesforce org with its records.
pub struct SalesforceAccount {
    pub name: String,
    /// `00D…`, as in the token response's identity URL.
    pub org_id: String,
    /// `005…`, the connected user.
    pub user_id: String,
    stores: [Mutex<SObjectStore>; 3],
    pub limiter: Mutex<SalesforceLimiter>,
    pub cursors: Mutex<query::QueryCursors>,
    pub outbound: outbound::OutboundMessages,
}

impl SalesforceAccount {
    pub fn new(name: &str, _number: u64) -> Self {
        let org_id = salesforce_org_id(name);
        SalesforceAccount {
            name: name.to_owned(),
            user_id: format!("005{}", &org_id[3..]),
            org_id,
            stores: SObjectKind::ALL.map(|k| Mutex::new(SObjectStore::new(k))),
            limiter: Mutex::new(SalesforceLimiter::default()),
            cursors: Mutex::new(query::QueryCursors::default()),
            outbound: outbound::OutboundMessages::default(),
        }
    }

    pub fn store(&self, kind: SObjectKind) -> MutexGuard<'_, SObjectStore> {
        lock(&self.stores[kind.index()])
    }

    /// Drops every record, open query locator and the day's request count.
    pub fn clear(&self) {
        for s in &self.stores {
            lock(s).clear();
        }
        lock(&self.limiter).clear();
        lock(&self.cursors).clear();
    }
}

/// The org of the request's valid bearer token, if it has one.
fn token_account(
    state: &SharedState,
    headers: &axum::http::HeaderMap,
) -> Option<Arc<SalesforceAccount>> {
    match bearer(headers).map(|t| state.tokens.check_access(Provider::Salesforce, t)) {
        Some(TokenCheck::Valid { account }) => Some(state.salesforce.get_or_create(&account)),
        _ => None,
    }
}

/// `GET /salesforce/id/{orgId}/{userId}`: the identity of the token's user.
async fn identity(
    State(state): State<SharedState>,
    Path((org_id, user_id)): Path<(String, String)>,
    headers: axum::http::HeaderMap,
) -> Response {
    let Some(account) = token_account(&state, &headers) else {
        return gate::invalid_session();
    };
    if account.org_id != org_id || account.user_id != user_id {
        return (StatusCode::FORBIDDEN, "Bad_Id").into_response();
    }
    let base = format!("{}/salesforce", state.base_url);
    let v = schema::API_VERSION.trim_start_matches('v');
    Json(json!({
        "id": format!("{base}/id/{org_id}/{user_id}"),
        "asserted_user": true,
        "user_id": user_id,
        "organization_id": org_id,
        "username": format!("{}@sandbox.invalid", account.name),
        "nick_name": account.name,
        "display_name": account.name,
        "email": format!("{}@sandbox.invalid", account.name),
        "active": true,
        "user_type": "STANDARD",
        "language": "en_US",
        "locale": "en_US",
        "utcOffset": 0,
        "urls": {
            "enterprise": format!("{base}/services/Soap/c/{v}/{org_id}"),
            "partner": format!("{base}/services/Soap/u/{v}/{org_id}"),
            "rest": format!("{base}/services/data/v{{version}}/"),
            "sobjects": format!("{base}/services/data/v{{version}}/sobjects/"),
            "query": format!("{base}/services/data/v{{version}}/query/"),
        },
    }))
    .into_response()
}

/// `GET /services/oauth2/userinfo`: the OpenID Connect user info of the bearer token's user
/// (served by the login host and by every instance), with `organization_id`.
async fn userinfo(State(state): State<SharedState>, headers: axum::http::HeaderMap) -> Response {
    let Some(account) = token_account(&state, &headers) else {
        return (
            StatusCode::FORBIDDEN,
            Json(json!({"error": "invalid_token", "error_description": "Bad_OAuth_Token"})),
        )
            .into_response();
    };
    let base = format!("{}/salesforce", state.base_url);
    let (org_id, user_id) = (&account.org_id, &account.user_id);
    Json(json!({
        "sub": format!("{base}/id/{org_id}/{user_id}"),
        "user_id": user_id,
        "organization_id": org_id,
        "preferred_username": format!("{}@sandbox.invalid", account.name),
        "nickname": account.name,
        "name": account.name,
        "email": format!("{}@sandbox.invalid", account.name),
        "email_verified": true,
        "active": true,
        "user_type": "STANDARD",
        "language": "en_US",
        "locale": "en_US",
        "utcOffset": 0,
    }))
    .into_response()
}

/// Routes under `/salesforce` (the OAuth routes are merged in by the caller).
pub fn router(state: SharedState) -> Router<SharedState> {
    let api = Router::new()
        .route("/services/data/{version}/query", get(query::query))
        .route(
            "/services/data/{version}/query/{locator}",
            get(query::query_more),
        )
        .route("/services/data/{version}/queryAll", get(query::query_all))
        .route(
            "/services/data/{version}/queryAll/{locator}",
            get(query::query_more),
        )
        .route(
            "/services/data/{version}/sobjects/{sobject}",
            post(sobjects::create),
        )
        .route(
            "/services/data/{version}/sobjects/{sobject}/{id}",
            get(sobjects::get_one)
                .patch(sobjects::update)
                .delete(sobjects::delete),
        )
        .route(
            "/services/data/{version}/composite/sobjects",
            post(collections::create).patch(collections::update),
        )
        .route(
            "/services/data/{version}/composite/sobjects/{sobject}",
            post(collections::retrieve).get(collections::retrieve_by_query),
        )
        .route_layer(from_fn_with_state(state.clone(), gate::salesforce_api));
    Router::new()
        .route("/id/{org_id}/{user_id}", get(identity))
        .route("/services/oauth2/userinfo", get(userinfo))
        .merge(api)
        .layer(from_fn_with_state(state, gate::salesforce_common))
}

/// The sObject of a path segment (exact API name, any case), or Salesforce's 404.
pub fn kind_of(sobject: &str) -> Result<SObjectKind, Response> {
    SObjectKind::parse(sobject)
        .filter(|k| k.name().eq_ignore_ascii_case(sobject))
        .ok_or_else(|| {
            gate::sf_error(
                StatusCode::NOT_FOUND,
                "NOT_FOUND",
                "The requested resource does not exist",
            )
        })
}

/// The shared account handle put in request extensions by the gate.
pub type AccountExt = axum::Extension<Arc<SalesforceAccount>>;
