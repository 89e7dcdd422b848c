//! Loopback emulators of the providers' HTTP APIs (HubSpot CRM v3, Jobber GraphQL, Pipedrive
//! API v2, Salesforce REST) with OAuth, rate limits, webhooks and a `/_sandbox` control plane,
//! for tests, demos and benchmarks. Pipedrive and Salesforce document their own choices in
//! `pipedrive/mod.rs` and `salesforce/mod.rs`.
//!
//! Documented choices where the real provider is unknown or was simplified:
//! - `POST /_sandbox/reset` clears records, rate-limit windows and stats; accounts,
//!   issued tokens and config stay valid.
//! - Jobber answers a missing/invalid/expired token with HTTP 401
//!   `{"error":"invalid_request","message":...}` and a missing `X-JOBBER-GRAPHQL-VERSION`
//!   header with HTTP 400 `{"errors":[{"message":...}]}`.
//! - HubSpot expired tokens get 401 `EXPIRED_AUTHENTICATION`, unknown ones
//!   `INVALID_AUTHENTICATION`. HubSpot refresh tokens do not rotate; Jobber's do.
//! - HubSpot `GET` with `properties=` returns those plus `createdate`, `hs_object_id` and the
//!   modified date (as HubSpot does); without `properties` the type's defaults. List `limit`
//!   is clamped to 100; search `limit` above 200 and `after` ≥ 10,000 are 400s.
//! - Jobber `clients` is ordered by id, or by (updatedAt, id) when filtered by `updatedAt`;
//!   `first` defaults to 20 and is capped at 100; cursors encode (updatedAt ms, id). Jobber
//!   `properties` are ordered by id and carry no timestamps (as in Jobber's schema); property
//!   creates and edits send `PROPERTY_CREATE` / `PROPERTY_UPDATE` webhooks.
//! - `POST /_sandbox/oauth/{provider}/revoke?account=` revokes an account's refresh and access
//!   tokens, as a user disconnecting the app does.
//! - Stats `writes` count records written through the provider APIs, not the control plane.
//! - Webhooks go to `webhookUrl` + `/hooks/{provider}` (or `webhookUrl` with `{provider}`
//!   substituted) for API writes (`changeSource: INTEGRATION`, `sourceId` = app id 1) and
//!   control-plane create/patch (`CRM_UI`); seeding sends none. Up to 5 attempts each.

// Handlers return a ready `Response` as their early-exit error; its size is irrelevant here.
#![allow(clippy::result_large_err)]

mod auth;
mod clock;
pub mod config;
mod control;
mod control_delete;
mod control_jobs;
mod control_oauth;
mod control_request;
mod fake;
mod gate;
mod hubspot;
mod jobber;
mod normalize;
mod oauth;
mod pipedrive;
mod salesforce;
mod state;
mod stats;
mod webhook;
mod webhook_emit;

use std::future::IntoFuture;
use std::net::SocketAddr;

use axum::Router;
use tokio::net::TcpListener;

pub use config::SandboxConfig;
use state::{SandboxState, SharedState};

/// A bound, not yet serving, sandbox server: the main listener (every provider under its prefix,
/// and the control plane) and the Salesforce instance listener, which serves the instance API at
/// its root as a real org's `instance_url` (an origin: scheme, host, port, no path) does.
pub struct Sandbox {
    listener: TcpListener,
    instance_listener: TcpListener,
    addr: SocketAddr,
    instance_addr: SocketAddr,
    state: SharedState,
}

impl std::fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sandbox")
            .field("addr", &self.addr)
            .field("instance_addr", &self.instance_addr)
            .finish()
    }
}

impl Sandbox {
    /// Binds `addr` (use "127.0.0.1:0" for an ephemeral port) and the Salesforce instance
    /// listener on an ephemeral port of the same address.
    pub async fn bind(addr: &str) -> anyhow::Result<Sandbox> {
        let listener = TcpListener::bind(addr).await?;
        let ip = listener.local_addr()?.ip();
        let instance = TcpListener::bind(SocketAddr::new(ip, 0)).await?;
        Self::from_listeners(listener, instance)
    }

    /// Binds `addr` and the Salesforce instance listener on `instance_addr` (fixed ports for a
    /// deployment whose other services reach the sandbox by name).
    pub async fn bind_with_instance(addr: &str, instance_addr: &str) -> anyhow::Result<Sandbox> {
        let listener = TcpListener::bind(addr).await?;
        let instance = TcpListener::bind(instance_addr).await?;
        Self::from_listeners(listener, instance)
    }

    fn from_listeners(listener: TcpListener, instance: TcpListener) -> anyhow::Result<Sandbox> {
        let addr = listener.local_addr()?;
        let instance_addr = instance.local_addr()?;
        let state = SandboxState::start(format!("http://{addr}"), instance_addr.port());
        Ok(Sandbox {
            listener,
            instance_listener: instance,
            addr,
            instance_addr,
            state,
        })
    }

    /// `http://127.0.0.1:PORT`
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The Salesforce instance origin, `http://127.0.0.1:PORT` (no path).
    pub fn salesforce_instance_url(&self) -> String {
        format!("http://{}", self.instance_addr)
    }

    /// Serves both listeners until the process ends (or one of them fails).
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let app = tower::ServiceExt::<axum::extract::Request>::map_request(
            router(self.state.clone()),
            normalize::salesforce_trailing_slash,
        );
        let instance = tower::ServiceExt::<axum::extract::Request>::map_request(
            salesforce_instance_router(self.state),
            normalize::salesforce_trailing_slash,
        );
        tracing::info!(addr = %self.addr, instance = %self.instance_addr, "sandbox listening");
        let main = axum::serve(self.listener, axum::ServiceExt::into_make_service(app));
        let instance = axum::serve(
            self.instance_listener,
            axum::ServiceExt::into_make_service(instance),
        );
        tokio::try_join!(main.into_future(), instance.into_future())?;
        Ok(())
    }
}

/// The Salesforce instance API at the root (`/services/data/…`, `/services/oauth2/userinfo`).
fn salesforce_instance_router(state: SharedState) -> Router {
    salesforce::router(state.clone()).with_state(state)
}

fn router(state: SharedState) -> Router {
    Router::new()
        .nest("/hubspot", hubspot::router(state.clone()))
        .nest("/jobber", jobber::router(state.clone()))
        .nest(
            "/pipedrive",
            pipedrive::router(state.clone()).merge(oauth::pipedrive_routes()),
        )
        .nest(
            "/salesforce",
            salesforce::router(state.clone()).merge(oauth::salesforce_routes()),
        )
        .nest("/_sandbox", control::router())
        .with_state(state)
}
