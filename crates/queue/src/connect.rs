//! Opening AMQP connections on the tokio runtime, with a timeout and reconnect backoff.
//!
//! An AMQP URL may list several brokers separated by commas (the nodes of one cluster):
//! each connection attempt starts at the next node in turn and tries the others in order, so
//! connections spread over the nodes and publishers and consumers fail over to a live one.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};
use lapin::uri::AMQPUri;
use lapin::{Connection, ConnectionProperties};
use tracing::{debug, warn};

use crate::error::QueueError;

/// How long one connection attempt (to one node) may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Where the next connection attempt starts in a multi-node URL list; shared by every
/// connection of the process so publishers and consumers land on different nodes.
static NEXT_NODE: AtomicUsize = AtomicUsize::new(0);

/// One broker of an `AMQP_URL` list: the parsed URL and its `host:port`, the only part of it
/// ever logged (the URL holds the password).
#[derive(Clone)]
pub struct AmqpNode {
    uri: AMQPUri,
    address: String,
}

impl AmqpNode {
    /// `host:port`, safe to log.
    pub fn address(&self) -> &str {
        &self.address
    }
}

impl std::fmt::Debug for AmqpNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("AmqpNode").field(&self.address).finish()
    }
}

/// Parses `amqp_url`: one URL or several separated by commas (whitespace around them is
/// ignored). The error names the position of a bad entry, never its text.
pub fn parse_amqp_urls(amqp_url: &str) -> Result<Vec<AmqpNode>, QueueError> {
    let entries: Vec<&str> = amqp_url.split(',').map(str::trim).collect();
    if entries.iter().all(|e| e.is_empty()) {
        return Err(QueueError::Config("the AMQP URL is empty".into()));
    }
    entries
        .iter()
        .enumerate()
        .map(|(i, entry)| {
            if entry.is_empty() {
                return Err(QueueError::Config(format!(
                    "AMQP URL entry {} of {} is empty",
                    i + 1,
                    entries.len()
                )));
            }
            let uri: AMQPUri = entry.parse().map_err(|_| {
                QueueError::Config(format!(
                    "AMQP URL entry {} of {} is not an amqp:// or amqps:// URL",
                    i + 1,
                    entries.len()
                ))
            })?;
            let address = format!("{}:{}", uri.authority.host, uri.authority.port);
            Ok(AmqpNode { uri, address })
        })
        .collect()
}

/// The order in which to try `n` nodes when the attempt counter is at `turn`.
fn attempt_order(n: usize, turn: usize) -> impl Iterator<Item = usize> {
    (0..n).map(move |i| (turn + i) % n)
}

/// Opens a connection driven by the current tokio runtime to the first node of `amqp_url`
/// (one URL or a comma-separated list) that answers, starting at the next node in turn.
pub(crate) async fn open_connection(amqp_url: &str) -> Result<Connection, QueueError> {
    let nodes = parse_amqp_urls(amqp_url)?;
    let turn = NEXT_NODE.fetch_add(1, Ordering::Relaxed);
    let mut last_error = None;
    for i in attempt_order(nodes.len(), turn) {
        let node = &nodes[i];
        match connect_one(node).await {
            Ok(connection) => {
                debug!(node = node.address(), "AMQP connection opened");
                return Ok(connection);
            }
            Err(error) => {
                if nodes.len() > 1 {
                    warn!(node = node.address(), error = %error, "AMQP node unreachable, trying the next one");
                }
                last_error = Some(error);
            }
        }
    }
    Err(last_error.unwrap_or_else(|| QueueError::Config("the AMQP URL is empty".into())))
}

async fn connect_one(node: &AmqpNode) -> Result<Connection, QueueError> {
    let properties = ConnectionProperties::default()
        .with_executor(tokio_executor_trait::Tokio::current())
        .with_reactor(tokio_reactor_trait::Tokio);
    match tokio::time::timeout(
        CONNECT_TIMEOUT,
        Connection::connect_uri(node.uri.clone(), properties),
    )
    .await
    {
        Ok(result) => Ok(result?),
        Err(_) => Err(QueueError::ConnectTimeout(CONNECT_TIMEOUT)),
    }
}

/// Delays between reconnect attempts: exponential from 100 ms to 2 s with jitter, endless. After
/// a broker outage consumers are back within seconds (the recovery target is 5 s); an attempt
/// every 2 s while it lasts costs one refused TCP connection.
pub(crate) fn reconnect_backoff() -> impl Iterator<Item = Duration> {
    ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(100))
        .with_max_delay(Duration::from_secs(2))
        .with_jitter()
        .without_max_times()
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amqps_urls_are_accepted_with_the_tls_port_by_default() {
        let nodes = parse_amqp_urls(
            "amqps://fc:s3cret@broker.example.com/%2f,amqps://fc:s3cret@b2.example.com:5676/%2f",
        )
        .unwrap();
        assert_eq!(nodes[0].address(), "broker.example.com:5671");
        assert_eq!(nodes[1].address(), "b2.example.com:5676");
        assert_eq!(nodes[0].uri.scheme, lapin::uri::AMQPScheme::AMQPS);
    }

    /// lapin is built with rustls: an `amqps://` connection opens with a TLS ClientHello (a
    /// handshake record, 0x16) rather than the plain `AMQP` protocol header. A local listener
    /// records the first bytes; no TLS broker is needed.
    #[tokio::test]
    async fn amqps_connections_speak_tls() {
        use tokio::io::AsyncReadExt;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let nodes = parse_amqp_urls(&format!("amqps://guest:guest@localhost:{port}/%2f")).unwrap();
        let mut client = tokio::spawn(async move { connect_one(&nodes[0]).await.map(|_| ()) });
        let mut socket = tokio::select! {
            accepted = listener.accept() => accepted.unwrap().0,
            ended = &mut client => panic!("the client gave up before connecting: {ended:?}"),
        };
        let mut first = [0u8; 3];
        socket.read_exact(&mut first).await.unwrap();
        drop(socket);
        assert_eq!(
            first[0], 0x16,
            "expected a TLS handshake record, got {first:?} (plain AMQP starts with b\"AMQ\")"
        );
        assert_eq!(first[1], 0x03, "TLS record version major");
        // The handshake then fails (the listener is no TLS server): an error, never a hang.
        assert!(client.await.unwrap().is_err());
    }

    #[test]
    fn one_url_is_one_node() {
        let nodes = parse_amqp_urls("amqp://guest:guest@127.0.0.1:5672/%2f").unwrap();
        assert_eq!(nodes.len(), 1);
        assert_eq!(nodes[0].address(), "127.0.0.1:5672");
        assert_eq!(nodes[0].uri.vhost, "/");
    }

    #[test]
    fn a_list_keeps_its_order_and_each_node_its_own_credentials_and_port() {
        let nodes =
            parse_amqp_urls("amqp://u:p@h1:5672/%2f, amqp://v:q@h2:5673/%2f,amqps://w:r@h3/prod")
                .unwrap();
        let addresses: Vec<&str> = nodes.iter().map(AmqpNode::address).collect();
        assert_eq!(addresses, ["h1:5672", "h2:5673", "h3:5671"]);
        assert_eq!(nodes[1].uri.authority.userinfo.username, "v");
        assert_eq!(nodes[2].uri.vhost, "prod");
    }

    #[test]
    fn bad_entries_are_refused_without_echoing_the_url() {
        for bad in [
            "",
            " , ",
            "amqp://u:s3cret@h1:5672/%2f,",
            "amqp://u:s3cret@h1:5672/%2f,http://u:s3cret@h2/",
            "amqp://u:s3cret@h1:notaport/%2f",
        ] {
            let e = parse_amqp_urls(bad).unwrap_err().to_string();
            assert!(matches!(parse_amqp_urls(bad), Err(QueueError::Config(_))));
            assert!(!e.contains("s3cret"), "{e}");
        }
        let e = parse_amqp_urls("amqp://a@h1/%2f,,amqp://b@h2/%2f").unwrap_err();
        assert!(e.to_string().contains("entry 2 of 3 is empty"), "{e}");
    }

    #[test]
    fn the_debug_form_shows_only_host_and_port() {
        let nodes = parse_amqp_urls("amqp://guest:s3cret@rabbit-0:5672/%2f").unwrap();
        let shown = format!("{nodes:?}");
        assert_eq!(shown, "[AmqpNode(\"rabbit-0:5672\")]");
    }

    #[test]
    fn attempts_start_at_the_turn_and_visit_every_node_once() {
        assert_eq!(attempt_order(3, 0).collect::<Vec<_>>(), [0, 1, 2]);
        assert_eq!(attempt_order(3, 4).collect::<Vec<_>>(), [1, 2, 0]);
        assert_eq!(attempt_order(1, 7).collect::<Vec<_>>(), [0]);
    }
}
