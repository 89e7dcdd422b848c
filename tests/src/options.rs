//! How a [`crate::TestEnv`] wires its processes: proxies for outages, other brokers, extra
//! environment.

/// How [`crate::TestEnv::start_with`] wires the processes (ingress, workers, scheduler) it starts.
/// Migrations, `admin` commands and the test's own clients always go direct.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Route the processes' Postgres connections through `env.db_proxy`.
    pub db_proxy: bool,
    /// Route the processes' RabbitMQ connections through `env.amqp_proxy`.
    pub amqp_proxy: bool,
    /// The broker URL(s) instead of [`crate::AMQP_URL`], e.g. a cluster's nodes separated by commas
    /// (not with `amqp_proxy`).
    pub amqp_url: Option<String>,
    /// Extra environment for every process, e.g. `FLUXCASCADE_RETRY_DELAYS` (all processes of a
    /// queue prefix must agree on it) or the scheduler's reaper knobs.
    pub env: Vec<(String, String)>,
}

impl Options {
    /// Adds one variable to [`Options::env`].
    pub fn with_env(mut self, name: &str, value: &str) -> Options {
        self.env.push((name.to_owned(), value.to_owned()));
        self
    }
}
