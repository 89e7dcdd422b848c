//! The ingress: FluxCascade's stateless REST API. It authenticates, validates, stores and enqueues;
//! it never calls a provider's data API.
//!
//! Choices the brief left open:
//! - `POST /v1/syncs` with an unknown or another org's `mappingId` in the body is 422 naming
//!   `mappingId`; an unknown or foreign id in a path is always 404.
//! - `PATCH /v1/mappings/{id}` replaces the given top-level keys; a `null` value removes the key
//!   (so `schedule: null` unschedules), then the result is validated like a new mapping.
//! - A `Sync` also carries `error`: why the run failed as a whole, when it did.
//! - `POST /v1/mappings/preview` accepts `{"id"?, "fields"}` or bare-field records; a record without
//!   an id is named `records[i]`; a `bidirectional` mapping previews its source→target pass.

pub mod api;
pub mod auth;
pub mod console;
pub mod error;
pub mod hooks;
pub mod json;
pub mod openapi;
pub mod paging;
pub mod request_id;

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use fluxcascade_providers::egress::{self, WebhookUrls};
use fluxcascade_providers::ProvidersConfig;
use fluxcascade_queue::Publisher;
use fluxcascade_store::{MasterKey, Store};
use fluxcascade_telemetry::{HealthServer, ReadinessCheck};
use tokio_util::sync::CancellationToken;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiError;

/// Default metrics address: loopback, a free port (printed at start), like the worker's.
pub const DEFAULT_METRICS_LISTEN: &str = "127.0.0.1:0";

/// Default request-body limit (1 MiB).
pub const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;

/// Backpressure: how long a request may wait for the broker to confirm its job (connecting
/// included) before it is answered 503 with `Retry-After`; a broker blocking publishers (memory
/// or disk alarm) is answered 503 at once. Webhook receivers keep their own, shorter deadlines.
pub const PUBLISH_DEADLINE: std::time::Duration = std::time::Duration::from_secs(5);

/// Backpressure: how long a request may wait for a free database connection before it is
/// answered 503 with `Retry-After` (the ingress's pool is built with it).
pub const DB_WAIT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

/// Where the API listens and how large a body may be.
#[derive(Debug, Clone)]
pub struct IngressConfig {
    /// `host:port`, e.g. `127.0.0.1:8080`; port 0 picks a free port.
    pub listen: String,
    /// Bodies over this many bytes are answered 413.
    pub max_body_bytes: usize,
    /// The providers' apps (OAuth endpoints and client secrets, which also sign webhooks).
    pub providers: ProvidersConfig,
    /// The URL providers and browsers reach this ingress at (OAuth redirect and webhook
    /// subscription URLs are built from it); empty: `http://` + the bound address.
    pub public_url: String,
    /// Which outbound webhook URLs `POST /v1/webhooks` accepts (public `https` only, unless
    /// private URLs are allowed for local development).
    pub webhook_urls: WebhookUrls,
    /// Where Prometheus `/metrics` (with `/healthz`, `/readyz`) is served, never on the public
    /// API port; port 0 picks one; `None`: not served.
    pub metrics_listen: Option<String>,
    /// How long console sessions live.
    pub sessions: console::session::SessionConfig,
    /// The origins an API OAuth flow's `redirectTo` may name (`https://app.example.com`).
    pub oauth_redirect_origins: Vec<String>,
}

impl Default for IngressConfig {
    fn default() -> IngressConfig {
        IngressConfig {
            listen: "127.0.0.1:8080".into(),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            providers: ProvidersConfig::sandbox("http://127.0.0.1:9100"),
            public_url: String::new(),
            webhook_urls: WebhookUrls::public_only(),
            metrics_listen: Some(DEFAULT_METRICS_LISTEN.into()),
            sessions: console::session::SessionConfig::default(),
            oauth_redirect_origins: Vec::new(),
        }
    }
}

/// What every handler shares: one `Arc`, so the per-request clone axum makes is one increment.
#[derive(Clone)]
pub struct AppState(Arc<SharedState>);

impl std::ops::Deref for AppState {
    type Target = SharedState;
    fn deref(&self) -> &SharedState {
        &self.0
    }
}

/// The contents of [`AppState`].
pub struct SharedState {
    pub store: Store,
    pub publisher: Publisher,
    pub master_key: Arc<MasterKey>,
    pub max_body_bytes: usize,
    pub providers: Arc<ProvidersConfig>,
    /// See [`IngressConfig::public_url`].
    pub public_url: Arc<str>,
    /// For OAuth token endpoints and webhook subscriptions (never a provider's data API);
    /// follows no redirect ([`egress::provider_client`]).
    pub http: reqwest::Client,
    /// See [`IngressConfig::webhook_urls`].
    pub webhook_urls: WebhookUrls,
    /// Publishes webhook jobs, coalescing concurrent deliveries (see [`hooks::coalesce`]).
    pub hooks: hooks::coalesce::HookBatcher,
    /// See [`IngressConfig::sessions`].
    pub sessions: console::session::SessionConfig,
    /// See [`IngressConfig::oauth_redirect_origins`] (as `Origin::ascii_serialization`).
    pub oauth_redirect_origins: Vec<String>,
}

impl SharedState {
    /// The app of a provider, or 404 `provider_not_configured` when this deployment has none.
    pub fn provider_app(
        &self,
        kind: fluxcascade_core::ProviderKind,
    ) -> Result<&fluxcascade_providers::ProviderApp, ApiError> {
        self.providers
            .app(kind)
            .ok_or_else(|| ApiError::provider_not_configured(kind))
    }
}

impl AppState {
    /// State with the default 1 MiB body limit and the default (sandbox) providers.
    pub fn new(store: Store, publisher: Publisher, master_key: Arc<MasterKey>) -> AppState {
        let defaults = IngressConfig::default();
        let publisher = publisher.with_deadline(PUBLISH_DEADLINE);
        AppState(Arc::new(SharedState {
            hooks: hooks::coalesce::HookBatcher::start(publisher.clone()),
            store,
            publisher,
            master_key,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            providers: Arc::new(defaults.providers),
            public_url: "http://127.0.0.1:8080".into(),
            http: egress::provider_client(std::time::Duration::from_secs(10))
                .expect("the HTTP client builds"),
            webhook_urls: defaults.webhook_urls,
            sessions: defaults.sessions,
            oauth_redirect_origins: defaults.oauth_redirect_origins,
        }))
    }
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("store", &self.store)
            .field("publisher", &self.publisher)
            .field("master_key", &self.master_key)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("public_url", &self.public_url)
            .finish_non_exhaustive()
    }
}

/// The whole API as a router (tests serve it directly), with `GET /openapi.json` describing it.
pub fn router(state: AppState) -> Router {
    let limit = state.max_body_bytes;
    let (routes, mut doc) = api_routes().split_for_parts();
    openapi::finish(&mut doc);
    routes
        .route("/openapi.json", openapi::serve(doc))
        .merge(console::routes())
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(limit))
        .layer(middleware::map_response(error::ensure_json_errors))
        .layer(CatchPanicLayer::custom(on_panic))
        .layer(middleware::from_fn(count_requests))
        .layer(middleware::from_fn(request_id::scope))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(request_id::make_span)
                .on_response(request_id::on_response),
        )
        .layer(PropagateRequestIdLayer::new(request_id::REQUEST_ID_HEADER))
        .layer(SetRequestIdLayer::new(
            request_id::REQUEST_ID_HEADER,
            request_id::MakeUuidV7,
        ))
        .layer(middleware::from_fn(request_id::drop_unacceptable))
        .with_state(state)
}

/// The documented API: every route here is in `/openapi.json` (see [`openapi`]): the `/v1`
/// API, the provider webhook receivers and the health checks.
fn api_routes() -> OpenApiRouter<AppState> {
    use api::{connections, dead_letters, health, mappings, oauth, preview, syncs, webhooks};
    OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .routes(routes!(health::healthz))
        .routes(routes!(health::readyz))
        .routes(routes!(console::session::login, console::session::logout))
        .merge(hooks::router())
        .routes(routes!(connections::list, connections::create))
        .routes(routes!(connections::get_one, connections::delete))
        .routes(routes!(api::connection_tokens::reconnect))
        .routes(routes!(api::org::get_org, api::org::patch_org))
        .routes(routes!(api::members::list))
        .routes(routes!(api::members::patch, api::members::delete))
        .routes(routes!(api::invites::create, api::invites::list))
        .routes(routes!(api::invites::revoke))
        .routes(routes!(api::invites::accept))
        .routes(routes!(api::api_keys::list, api::api_keys::create))
        .routes(routes!(api::api_keys::revoke))
        .routes(routes!(api::audit::list))
        .routes(routes!(dead_letters::list))
        .routes(routes!(dead_letters::get_one, dead_letters::delete))
        .routes(routes!(dead_letters::replay))
        .routes(routes!(mappings::list, mappings::create))
        .routes(routes!(preview::preview))
        .routes(routes!(
            mappings::get_one,
            mappings::patch,
            mappings::delete
        ))
        .routes(routes!(oauth::authorize))
        .routes(routes!(oauth::callback))
        .routes(routes!(syncs::list, syncs::trigger))
        .routes(routes!(syncs::get_one))
        .routes(routes!(syncs::errors))
        .routes(routes!(api::usage::get_usage))
        .routes(routes!(webhooks::list, webhooks::create))
        .routes(routes!(webhooks::get_one, webhooks::delete))
        .routes(routes!(webhooks::deliveries))
}

async fn not_found() -> ApiError {
    ApiError::new(
        axum::http::StatusCode::NOT_FOUND,
        "not_found",
        "no such route",
    )
}

fn on_panic(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("handler panicked");
    ApiError::internal().into_response()
}

/// Counts and times requests by route template (`fluxcascade_http_requests_total` by status,
/// `fluxcascade_http_request_duration_seconds` by method and status class): the time until the
/// response's head is ready. An unmatched path is `unmatched`, never the raw path.
async fn count_requests(req: Request, next: Next) -> Response {
    let started = std::time::Instant::now();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned());
    let method = req.method().clone();
    let resp = next.run(req).await;
    fluxcascade_telemetry::metrics().observe_http(
        route.as_deref().unwrap_or("unmatched"),
        method.as_str(),
        resp.status().as_u16(),
        started.elapsed(),
    );
    resp
}

/// A bound, not yet serving, API server.
pub struct Ingress {
    listener: tokio::net::TcpListener,
    local_addr: SocketAddr,
    router: Router,
    /// `/metrics`, `/healthz`, `/readyz` on their own address (see [`IngressConfig::metrics_listen`]).
    metrics: Option<HealthServer>,
}

impl std::fmt::Debug for Ingress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ingress")
            .field("local_addr", &self.local_addr)
            .field("metrics_addr", &self.metrics_addr())
            .finish_non_exhaustive()
    }
}

impl Ingress {
    /// Binds the listener (so `local_addr` is known before serving).
    pub async fn build(
        config: IngressConfig,
        store: Store,
        publisher: Publisher,
        master_key: Arc<MasterKey>,
    ) -> anyhow::Result<Ingress> {
        let listener = tokio::net::TcpListener::bind(&config.listen)
            .await
            .with_context(|| format!("cannot listen on {}", config.listen))?;
        let local_addr = listener
            .local_addr()
            .context("listener has no local address")?;
        let metrics = match &config.metrics_listen {
            Some(addr) => Some(
                HealthServer::bind(addr, readiness(store.clone(), publisher.clone()))
                    .await
                    .with_context(|| format!("cannot listen on {addr} for metrics"))?,
            ),
            None => None,
        };
        // Backpressure: a blocked or slow broker is a quick 503, never a hung request.
        let publisher = publisher.with_deadline(PUBLISH_DEADLINE);
        let state = AppState(Arc::new(SharedState {
            hooks: hooks::coalesce::HookBatcher::start(publisher.clone()),
            store,
            publisher,
            master_key,
            max_body_bytes: config.max_body_bytes,
            providers: Arc::new(config.providers),
            public_url: if config.public_url.is_empty() {
                format!("http://{local_addr}").into()
            } else {
                config.public_url.trim_end_matches('/').into()
            },
            http: egress::provider_client(std::time::Duration::from_secs(10))
                .context("building the HTTP client")?,
            webhook_urls: config.webhook_urls,
            sessions: config.sessions,
            oauth_redirect_origins: config
                .oauth_redirect_origins
                .iter()
                .filter_map(|o| url::Url::parse(o).ok())
                .map(|u| u.origin().ascii_serialization())
                .collect(),
        }));
        Ok(Ingress {
            listener,
            local_addr,
            router: router(state),
            metrics,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Where `/metrics` is served, if it is.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics.as_ref().map(HealthServer::local_addr)
    }

    /// Serves until `shutdown` is cancelled, then finishes in-flight requests and returns.
    pub async fn run_until_stopped(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        tracing::info!(addr = %self.local_addr, metrics = ?self.metrics_addr(), "ingress listening");
        let metrics = self.metrics.map(|server| {
            let stop = shutdown.clone();
            tokio::spawn(async move {
                if let Err(error) = server.run(stop).await {
                    tracing::error!(error = %error, "ingress metrics server failed");
                }
            })
        });
        axum::serve(self.listener, self.router)
            .with_graceful_shutdown(shutdown.cancelled_owned())
            .await
            .context("ingress server failed")?;
        if let Some(task) = metrics {
            let _ = task.await;
        }
        tracing::info!("ingress stopped");
        Ok(())
    }
}

/// The metrics server's readiness: Postgres and RabbitMQ reachable (as the API's `/readyz`).
fn readiness(store: Store, publisher: Publisher) -> ReadinessCheck {
    Arc::new(move || {
        let (store, publisher) = (store.clone(), publisher.clone());
        Box::pin(async move {
            vec![
                ("postgres", store.is_healthy().await),
                ("rabbitmq", publisher.is_healthy().await),
            ]
        })
    })
}
