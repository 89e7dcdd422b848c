//! The HTTP side of background roles (worker, scheduler): `/healthz` (alive), `/readyz` (the
//! role's dependencies reachable, as its readiness check says) and Prometheus `/metrics`.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

/// Answers whether each dependency is reachable, by name (`{"postgres": true, "rabbitmq": false}`).
pub type ReadinessCheck =
    Arc<dyn Fn() -> Pin<Box<dyn Future<Output = Vec<(&'static str, bool)>> + Send>> + Send + Sync>;

pub struct HealthServer {
    listener: tokio::net::TcpListener,
    ready: ReadinessCheck,
}

impl HealthServer {
    /// Binds `addr` (port 0 picks one).
    pub async fn bind(addr: &str, ready: ReadinessCheck) -> std::io::Result<HealthServer> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        Ok(HealthServer { listener, ready })
    }

    pub fn local_addr(&self) -> std::net::SocketAddr {
        self.listener
            .local_addr()
            .expect("bound listener has an address")
    }

    /// Serves until `shutdown` fires.
    pub async fn run(self, shutdown: CancellationToken) -> std::io::Result<()> {
        let ready = self.ready;
        let app = Router::new()
            .route("/healthz", get(|| async { Json(json!({"status": "ok"})) }))
            .route(
                "/readyz",
                get(move || {
                    let ready = ready.clone();
                    async move {
                        let checks = ready().await;
                        let ok = checks.iter().all(|(_, up)| *up);
                        let body: serde_json::Map<String, Value> = checks
                            .into_iter()
                            .map(|(name, up)| (name.to_string(), Value::Bool(up)))
                            .collect();
                        let code = if ok {
                            StatusCode::OK
                        } else {
                            StatusCode::SERVICE_UNAVAILABLE
                        };
                        (code, Json(Value::Object(body)))
                    }
                }),
            )
            .route("/metrics", get(|| async { crate::metrics().render() }));
        axum::serve(self.listener, app)
            .with_graceful_shutdown(shutdown.cancelled_owned())
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn readyz_reports_each_dependency_and_fails_when_one_is_down() {
        let up = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let flag = up.clone();
        let check: ReadinessCheck = Arc::new(move || {
            let db = flag.load(std::sync::atomic::Ordering::SeqCst);
            Box::pin(async move { vec![("postgres", db), ("rabbitmq", true)] })
        });
        let server = HealthServer::bind("127.0.0.1:0", check).await.unwrap();
        let addr = server.local_addr();
        let stop = CancellationToken::new();
        let task = tokio::spawn(server.run(stop.clone()));
        let get = |path: &'static str| async move {
            let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            s.write_all(format!("GET {path} HTTP/1.0\r\n\r\n").as_bytes())
                .await
                .unwrap();
            let mut out = String::new();
            s.read_to_string(&mut out).await.unwrap();
            out
        };
        assert!(get("/healthz").await.starts_with("HTTP/1.0 200"));
        assert!(get("/readyz").await.starts_with("HTTP/1.0 200"));
        up.store(false, std::sync::atomic::Ordering::SeqCst);
        let down = get("/readyz").await;
        assert!(down.starts_with("HTTP/1.0 503"), "{down}");
        assert!(down.contains("\"postgres\":false"), "{down}");
        assert!(get("/metrics").await.starts_with("HTTP/1.0 200"));
        stop.cancel();
        task.await.unwrap().unwrap();
    }
}
