//! Shared helpers of the queue integration tests: unique prefixes cleaned up on drop,
//! a recording job handler, reading a queue directly, and a TCP proxy that can be cut.

#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use fluxcascade_queue::{
    async_trait, incoming_trace, JobEnvelope, JobError, JobHandler, QueueConfig, Topology,
};
use lapin::options::BasicGetOptions;
use lapin::{BasicProperties, Connection, ConnectionProperties};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};

pub const AMQP_URL: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";

/// A unique prefix whose queues and exchanges are deleted when dropped (even on panic).
pub struct TestPrefix(pub String);

impl TestPrefix {
    pub fn new() -> TestPrefix {
        TestPrefix(format!("fctest-{}", uuid::Uuid::new_v4().simple()))
    }

    /// Config with short retry tiers (100/200/300/400 ms).
    pub fn config(&self) -> QueueConfig {
        self.config_at(AMQP_URL)
    }

    pub fn config_at(&self, url: &str) -> QueueConfig {
        let mut config = QueueConfig::new(url, self.0.clone());
        config.retry_delays = Some(vec![
            Duration::from_millis(100),
            Duration::from_millis(200),
            Duration::from_millis(300),
            Duration::from_millis(400),
        ]);
        config
    }
}

impl Drop for TestPrefix {
    fn drop(&mut self) {
        let prefix = self.0.clone();
        let _ = std::thread::spawn(move || {
            if let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                let _ = rt.block_on(Topology::delete(AMQP_URL, &prefix));
            }
        })
        .join();
    }
}

/// One call of the handler, as the handler saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub job: JobEnvelope,
    pub traceparent: Option<String>,
}

type Decide = dyn Fn(&JobEnvelope) -> Result<(), JobError> + Send + Sync;

/// Reports every call on a channel and answers with `decide`.
pub struct Recorder {
    tx: mpsc::UnboundedSender<Seen>,
    decide: Box<Decide>,
    delay: Duration,
}

impl Recorder {
    pub fn new(
        decide: impl Fn(&JobEnvelope) -> Result<(), JobError> + Send + Sync + 'static,
    ) -> (Arc<Recorder>, mpsc::UnboundedReceiver<Seen>) {
        Recorder::slow(Duration::ZERO, decide)
    }

    pub fn slow(
        delay: Duration,
        decide: impl Fn(&JobEnvelope) -> Result<(), JobError> + Send + Sync + 'static,
    ) -> (Arc<Recorder>, mpsc::UnboundedReceiver<Seen>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let recorder = Recorder {
            tx,
            decide: Box::new(decide),
            delay,
        };
        (Arc::new(recorder), rx)
    }
}

#[async_trait]
impl JobHandler for Recorder {
    async fn handle(&self, job: &JobEnvelope) -> Result<(), JobError> {
        let _ = self.tx.send(Seen {
            job: job.clone(),
            traceparent: incoming_trace().traceparent,
        });
        if !self.delay.is_zero() {
            tokio::time::sleep(self.delay).await;
        }
        (self.decide)(job)
    }
}

/// Receives the next handler call, failing the test after `secs` seconds.
pub async fn next_seen(rx: &mut mpsc::UnboundedReceiver<Seen>, secs: u64) -> Seen {
    tokio::time::timeout(Duration::from_secs(secs), rx.recv())
        .await
        .expect("timed out waiting for the handler")
        .expect("handler channel closed")
}

pub async fn raw_connection() -> Connection {
    Connection::connect(
        AMQP_URL,
        ConnectionProperties::default()
            .with_executor(tokio_executor_trait::Tokio::current())
            .with_reactor(tokio_reactor_trait::Tokio),
    )
    .await
    .expect("connect to RabbitMQ")
}

/// Takes one message from `queue`, polling for up to `secs` seconds.
pub async fn get_one(queue: &str, secs: u64) -> Option<(Vec<u8>, BasicProperties)> {
    let connection = raw_connection().await;
    let channel = connection.create_channel().await.expect("channel");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    let found = loop {
        let got = channel
            .basic_get(queue, BasicGetOptions { no_ack: true })
            .await
            .expect("basic.get");
        if let Some(message) = got {
            break Some((message.delivery.data, message.delivery.properties));
        }
        if tokio::time::Instant::now() >= deadline {
            break None;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let _ = connection.close(200, "test done").await;
    found
}

/// Number of ready messages in `queue`.
pub async fn ready_count(queue: &str) -> u32 {
    let connection = raw_connection().await;
    let channel = connection.create_channel().await.expect("channel");
    let declared = channel
        .queue_declare(
            queue,
            lapin::options::QueueDeclareOptions {
                passive: true,
                ..Default::default()
            },
            lapin::types::FieldTable::default(),
        )
        .await
        .expect("passive declare");
    let _ = connection.close(200, "test done").await;
    declared.message_count()
}

/// A TCP proxy in front of RabbitMQ that a test can cut (closing every connection
/// and refusing new ones) and restore.
pub struct CutProxy {
    pub url: String,
    up: watch::Sender<bool>,
}

impl CutProxy {
    pub async fn start() -> CutProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let port = listener.local_addr().expect("proxy addr").port();
        let (up, up_rx) = watch::channel(true);
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if !*up_rx.borrow() {
                    drop(client);
                    continue;
                }
                let mut cut = up_rx.clone();
                tokio::spawn(async move {
                    let Ok(mut server) = TcpStream::connect("127.0.0.1:5672").await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = cut.wait_for(|up| !*up) => {}
                    }
                });
            }
        });
        CutProxy {
            url: format!("amqp://guest:guest@127.0.0.1:{port}/%2f"),
            up,
        }
    }

    pub fn cut(&self) {
        let _ = self.up.send(false);
    }

    pub fn restore(&self) {
        let _ = self.up.send(true);
    }
}

/// Runs a consumer in a task; cancel the token to stop it.
pub fn start(
    config: QueueConfig,
    options: fluxcascade_queue::ConsumerOptions,
    handler: Arc<dyn JobHandler>,
) -> (
    tokio_util::sync::CancellationToken,
    tokio::task::JoinHandle<()>,
) {
    let shutdown = tokio_util::sync::CancellationToken::new();
    let token = shutdown.clone();
    let handle = tokio::spawn(async move {
        fluxcascade_queue::run_consumer(config, options, handler, token)
            .await
            .expect("consumer");
    });
    (shutdown, handle)
}

/// The failure reason a retried or dead-lettered message carries.
pub fn reason_header(properties: &BasicProperties) -> Option<String> {
    let headers = properties.headers().as_ref()?;
    match headers.inner().get(fluxcascade_queue::REASON_HEADER)? {
        lapin::types::AMQPValue::LongString(s) => {
            Some(String::from_utf8_lossy(s.as_bytes()).into_owned())
        }
        _ => None,
    }
}
