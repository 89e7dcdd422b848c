//! API tests: the real app on port 0 with a private Postgres database and a real RabbitMQ publisher.
//! (A crate root resolves `mod` next to itself, hence the `#[path]`s into `tests/api/`.)

#[path = "api/harness.rs"]
mod harness;

#[path = "api/auth.rs"]
mod auth;
#[path = "api/backpressure.rs"]
mod backpressure;
#[path = "api/connections.rs"]
mod connections;
#[path = "api/dead_letters.rs"]
mod dead_letters;
#[path = "api/fail_closed.rs"]
mod fail_closed;
#[path = "api/hooks.rs"]
mod hooks;
#[path = "api/identity.rs"]
mod identity;
#[path = "api/invites.rs"]
mod invites;
#[path = "api/mappings.rs"]
mod mappings;
#[path = "api/members.rs"]
mod members;
#[path = "api/metrics.rs"]
mod metrics;
#[path = "api/openapi.rs"]
mod openapi;
#[path = "api/preview.rs"]
mod preview;
#[path = "api/reconnect.rs"]
mod reconnect;
#[path = "api/request_id.rs"]
mod request_id;
#[path = "api/syncs.rs"]
mod syncs;
#[path = "api/usage.rs"]
mod usage;
#[path = "api/webhooks.rs"]
mod webhooks;
