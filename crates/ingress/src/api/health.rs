//! `/healthz` (alive) and `/readyz` (Postgres and RabbitMQ reachable). Prometheus `/metrics` is
//! not on the API port: it has its own listener (`IngressConfig::metrics_listen`).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::AppState;

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "health", security(()),
    responses((status = 200, description = "`{\"status\": \"ok\"}`", body = Object)))]
pub async fn healthz() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

/// Readiness: Postgres and RabbitMQ reachable.
#[utoipa::path(get, path = "/readyz", tag = "health", security(()),
    responses(
        (status = 200, description = "`{\"status\": \"ok\", \"checks\": {...}}`", body = Object),
        (status = 503, description = "What is unavailable, with the error shape", body = Object),
    ))]
pub async fn readyz(State(state): State<AppState>) -> Response {
    let (database, queue) = tokio::join!(state.store.is_healthy(), state.publisher.is_healthy());
    let word = |ok: bool| if ok { "ok" } else { "unavailable" };
    let checks = json!({ "database": word(database), "queue": word(queue) });
    if database && queue {
        (
            StatusCode::OK,
            Json(json!({ "status": "ok", "checks": checks })),
        )
            .into_response()
    } else {
        let failed: Vec<&str> = [("database", database), ("queue", queue)]
            .into_iter()
            .filter(|(_, ok)| !ok)
            .map(|(name, _)| name)
            .collect();
        tracing::warn!(failed = ?failed, "not ready");
        let body = json!({
            "status": "unavailable",
            "checks": checks,
            "error": {
                "code": "unavailable",
                "message": format!("not ready: {} unavailable", failed.join(" and ")),
                "details": failed.iter().map(|f| json!({"field": f, "message": "unavailable"})).collect::<Vec<_>>(),
                "requestId": crate::request_id::current(),
            }
        });
        (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response()
    }
}
