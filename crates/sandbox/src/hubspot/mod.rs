//! HubSpot CRM v3 emulation: accounts (portals), routes and OAuth wiring.

pub mod assoc;
pub mod batch;
pub mod batch_upsert;
pub mod error;
pub mod limit;
pub mod objects;
pub mod search;
pub mod store;

use std::sync::{Mutex, MutexGuard};

use axum::middleware::from_fn_with_state;
use axum::routing::{get, post};
use axum::Router;

use crate::gate;
use crate::oauth;
use crate::state::{lock, SharedState};
use limit::HubspotLimiter;
use store::{HubspotObjectKind, HubspotObjectStore};

/// One HubSpot portal with its object stores.
pub struct HubspotAccount {
    pub name: String,
    pub portal_id: u64,
    stores: [Mutex<HubspotObjectStore>; 3],
    pub limiter: Mutex<HubspotLimiter>,
    pub associations: Mutex<assoc::HubspotAssociations>,
}

impl HubspotAccount {
    pub fn new(name: &str, portal_id: u64) -> Self {
        HubspotAccount {
            name: name.to_owned(),
            portal_id,
            stores: HubspotObjectKind::ALL.map(|k| Mutex::new(HubspotObjectStore::new(k))),
            limiter: Mutex::new(HubspotLimiter::default()),
            associations: Mutex::new(assoc::HubspotAssociations::default()),
        }
    }

    pub fn store(&self, kind: HubspotObjectKind) -> MutexGuard<'_, HubspotObjectStore> {
        lock(&self.stores[kind.index()])
    }

    /// Drops every record and the rate-limit windows.
    pub fn clear(&self) {
        for s in &self.stores {
            lock(s).clear();
        }
        lock(&self.limiter).clear();
        lock(&self.associations).clear();
    }
}

/// Routes under `/hubspot`.
pub fn router(state: SharedState) -> Router<SharedState> {
    let api = Router::new()
        .route(
            "/crm/v3/objects/{object_type}",
            get(objects::list).post(objects::create),
        )
        .route(
            "/crm/v3/objects/{object_type}/{id}",
            get(objects::get_one)
                .patch(objects::update)
                .delete(objects::archive),
        )
        .route(
            "/crm/v3/objects/{object_type}/batch/read",
            post(batch::read),
        )
        .route(
            "/crm/v3/objects/{object_type}/batch/create",
            post(batch::create),
        )
        .route(
            "/crm/v3/objects/{object_type}/batch/update",
            post(batch::update),
        )
        .route(
            "/crm/v3/objects/{object_type}/batch/upsert",
            post(batch_upsert::upsert),
        )
        .route(
            "/crm/v3/objects/{object_type}/batch/archive",
            post(batch_upsert::archive),
        )
        .route("/crm/v3/objects/{object_type}/search", post(search::search))
        .route(
            "/crm/v4/objects/{object_type}/{id}/associations/{to_type}",
            get(assoc::list_v4),
        )
        .route(
            "/crm/v4/objects/{object_type}/{id}/associations/default/{to_type}/{to_id}",
            axum::routing::put(assoc::create_default_v4),
        )
        .route_layer(from_fn_with_state(state.clone(), gate::hubspot_api));
    Router::new()
        .route("/oauth/authorize", get(oauth::hubspot_authorize))
        .route("/oauth/v1/token", post(oauth::hubspot_token))
        .route(
            "/oauth/v1/access-tokens/{token}",
            get(oauth::hubspot_token_info),
        )
        .merge(api)
        .layer(from_fn_with_state(state, gate::hubspot_common))
}
