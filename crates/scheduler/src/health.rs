//! The scheduler's small HTTP side: `/healthz`, `/readyz` (Postgres and RabbitMQ reachable), `/metrics`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use fluxcascade_queue::Publisher;
use fluxcascade_store::Store;
use serde_json::json;
use tokio_util::sync::CancellationToken;

#[derive(Clone)]
struct HealthState {
    store: Store,
    publisher: Publisher,
}

pub struct HealthServer {
    listener: tokio::net::TcpListener,
    state: HealthState,
}

impl HealthServer {
    pub async fn bind(
        addr: &str,
        store: Store,
        publisher: Publisher,
    ) -> anyhow::Result<HealthServer> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        Ok(HealthServer {
            listener,
            state: HealthState { store, publisher },
        })
    }

    pub fn local_addr(&self) -> std::net::SocketAddr {
        self.listener
            .local_addr()
            .expect("bound listener has an address")
    }

    pub async fn run(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let app = Router::new()
            .route("/healthz", get(|| async { Json(json!({"status": "ok"})) }))
            .route("/readyz", get(ready))
            .route(
                "/metrics",
                get(|| async { fluxcascade_telemetry::metrics().render() }),
            )
            .with_state(self.state);
        axum::serve(self.listener, app)
            .with_graceful_shutdown(shutdown.cancelled_owned())
            .await?;
        Ok(())
    }
}

async fn ready(State(s): State<HealthState>) -> (StatusCode, Json<serde_json::Value>) {
    let db = s.store.is_healthy().await;
    let mq = s.publisher.is_healthy().await;
    let code = if db && mq {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, Json(json!({"postgres": db, "rabbitmq": mq})))
}
