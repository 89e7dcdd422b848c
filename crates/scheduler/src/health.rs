//! The scheduler's readiness check for the shared health server: Postgres and RabbitMQ reachable.

use std::sync::Arc;

use fluxcascade_queue::Publisher;
use fluxcascade_store::Store;
use fluxcascade_telemetry::ReadinessCheck;

pub fn readiness(store: Store, publisher: Publisher) -> ReadinessCheck {
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
