//! A test-controlled TCP proxy between the processes and Postgres or RabbitMQ. It forwards bytes
//! both ways until a test cuts it: `cut()` closes every open connection at once and refuses new
//! ones (accepted and closed at once) until `restore()`. Outages are made only this way; the
//! machine's shared Postgres and RabbitMQ are never stopped.
//!
//! The proxy runs on its own thread and runtime, so it keeps forwarding while the test's runtime
//! is blocked (e.g. in `TestEnv`'s `Drop`, which stops processes that still talk through it).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// A TCP proxy on `127.0.0.1:<ephemeral>` to one upstream address.
pub struct FaultProxy {
    addr: SocketAddr,
    upstream: SocketAddr,
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

struct Shared {
    upstream: SocketAddr,
    /// `true` while the proxy is cut.
    cut: watch::Sender<bool>,
    forwarded: AtomicU64,
    refused: AtomicU64,
    open: AtomicU64,
}

impl std::fmt::Debug for FaultProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FaultProxy")
            .field("addr", &self.addr)
            .field("upstream", &self.upstream)
            .field("cut", &self.is_cut())
            .field("open", &self.open())
            .finish()
    }
}

impl FaultProxy {
    /// Listens on `127.0.0.1:0` and forwards every connection to `upstream`.
    pub fn start(upstream: SocketAddr) -> std::io::Result<FaultProxy> {
        let (cut, _) = watch::channel(false);
        let shared = Arc::new(Shared {
            upstream,
            cut,
            forwarded: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            open: AtomicU64::new(0),
        });
        let (stop, mut stopped) = watch::channel(false);
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let accept_shared = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name(format!("fault-proxy-{}", upstream.port()))
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                rt.block_on(async move {
                    let listener = match TcpListener::bind("127.0.0.1:0").await {
                        Ok(l) => l,
                        Err(e) => {
                            let _ = ready_tx.send(Err(e));
                            return;
                        }
                    };
                    let _ = ready_tx.send(listener.local_addr());
                    tokio::select! {
                        _ = accept_loop(listener, accept_shared) => {}
                        _ = stopped.wait_for(|s| *s) => {}
                    }
                });
                // Dropping the runtime ends every connection task and closes its sockets.
            })?;
        let addr = ready_rx
            .recv()
            .map_err(|_| std::io::Error::other("the proxy thread ended before listening"))??;
        Ok(FaultProxy {
            addr,
            upstream,
            shared,
            stop,
            thread: Some(thread),
        })
    }

    /// Where clients connect instead of the upstream.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn upstream(&self) -> SocketAddr {
        self.upstream
    }

    /// Closes every open connection at once; new connections are closed as soon as accepted
    /// until [`FaultProxy::restore`].
    pub fn cut(&self) {
        self.shared.cut.send_replace(true);
    }

    /// Forwards new connections again.
    pub fn restore(&self) {
        self.shared.cut.send_replace(false);
    }

    pub fn is_cut(&self) -> bool {
        *self.shared.cut.borrow()
    }

    /// Cuts, waits `outage`, restores; returns once restored.
    pub async fn cut_for(&self, outage: Duration) {
        self.cut();
        tokio::time::sleep(outage).await;
        self.restore();
    }

    /// Connections forwarded to the upstream so far.
    pub fn connections(&self) -> u64 {
        self.shared.forwarded.load(Ordering::SeqCst)
    }

    /// Connections accepted and closed at once because the proxy was cut.
    pub fn refused(&self) -> u64 {
        self.shared.refused.load(Ordering::SeqCst)
    }

    /// Connections open right now.
    pub fn open(&self) -> u64 {
        self.shared.open.load(Ordering::SeqCst)
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.cut();
        self.stop.send_replace(true);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let Ok((client, _)) = listener.accept().await else {
            // e.g. EMFILE: back off instead of spinning.
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        tokio::spawn(forward(client, Arc::clone(&shared)));
    }
}

/// Decrements the open count however a connection ends.
struct OpenGuard(Arc<Shared>);

impl Drop for OpenGuard {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::SeqCst);
    }
}

async fn forward(mut client: TcpStream, shared: Arc<Shared>) {
    let mut cut = shared.cut.subscribe();
    if *cut.borrow_and_update() {
        shared.refused.fetch_add(1, Ordering::SeqCst);
        return;
    }
    shared.open.fetch_add(1, Ordering::SeqCst);
    let _open = OpenGuard(Arc::clone(&shared));
    let mut upstream = tokio::select! {
        s = TcpStream::connect(shared.upstream) => match s {
            Ok(s) => s,
            Err(_) => return,
        },
        _ = cut.wait_for(|c| *c) => return,
    };
    shared.forwarded.fetch_add(1, Ordering::SeqCst);
    let _ = client.set_nodelay(true);
    let _ = upstream.set_nodelay(true);
    tokio::select! {
        _ = tokio::io::copy_bidirectional(&mut client, &mut upstream) => {}
        _ = cut.wait_for(|c| *c) => {}
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    /// An upstream that echoes every byte back.
    async fn echo_server() -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let (mut r, mut w) = s.split();
                    let _ = tokio::io::copy(&mut r, &mut w).await;
                });
            }
        });
        addr
    }

    async fn round_trip(s: &mut TcpStream, msg: &[u8]) -> std::io::Result<Vec<u8>> {
        s.write_all(msg).await?;
        let mut buf = vec![0; msg.len()];
        s.read_exact(&mut buf).await?;
        Ok(buf)
    }

    /// Whether the peer closed `s` (EOF or reset) within a few seconds.
    async fn closed(s: &mut TcpStream) -> bool {
        let mut buf = [0u8; 16];
        matches!(
            tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf)).await,
            Ok(Ok(0) | Err(_))
        )
    }

    #[tokio::test]
    async fn forwards_both_ways_and_counts_connections() {
        let proxy = FaultProxy::start(echo_server().await).unwrap();
        let mut a = TcpStream::connect(proxy.addr()).await.unwrap();
        let mut b = TcpStream::connect(proxy.addr()).await.unwrap();
        assert_eq!(round_trip(&mut a, b"hello").await.unwrap(), b"hello");
        assert_eq!(round_trip(&mut b, b"world").await.unwrap(), b"world");
        let big = vec![7u8; 1 << 20];
        assert_eq!(round_trip(&mut a, &big).await.unwrap(), big);
        assert_eq!(proxy.connections(), 2);
        assert_eq!(proxy.open(), 2);
        drop(a);
        let mut c = TcpStream::connect(proxy.addr()).await.unwrap();
        assert_eq!(round_trip(&mut c, b"x").await.unwrap(), b"x");
        assert_eq!(proxy.connections(), 3);
        assert_eq!(proxy.refused(), 0);
    }

    #[tokio::test]
    async fn a_cut_closes_open_connections_and_refuses_new_ones_until_restored() {
        let proxy = FaultProxy::start(echo_server().await).unwrap();
        let mut a = TcpStream::connect(proxy.addr()).await.unwrap();
        let mut b = TcpStream::connect(proxy.addr()).await.unwrap();
        round_trip(&mut a, b"1").await.unwrap();
        round_trip(&mut b, b"2").await.unwrap();

        proxy.cut();
        assert!(proxy.is_cut());
        assert!(
            closed(&mut a).await,
            "an open connection is closed by the cut"
        );
        assert!(closed(&mut b).await);
        let mut during = TcpStream::connect(proxy.addr()).await.unwrap();
        assert!(closed(&mut during).await, "a new connection is refused");
        assert!(round_trip(&mut during, b"lost").await.is_err());
        assert_eq!(proxy.refused(), 1);
        assert_eq!(proxy.connections(), 2);

        proxy.restore();
        let mut after = TcpStream::connect(proxy.addr()).await.unwrap();
        assert_eq!(round_trip(&mut after, b"back").await.unwrap(), b"back");
        assert_eq!(proxy.connections(), 3);
        assert_eq!(proxy.open(), 1, "the cut connections are gone");
    }

    #[tokio::test]
    async fn cut_for_restores_after_the_outage() {
        let proxy = FaultProxy::start(echo_server().await).unwrap();
        let mut a = TcpStream::connect(proxy.addr()).await.unwrap();
        round_trip(&mut a, b"1").await.unwrap();
        proxy.cut_for(Duration::from_millis(200)).await;
        assert!(!proxy.is_cut());
        assert!(closed(&mut a).await);
        let mut b = TcpStream::connect(proxy.addr()).await.unwrap();
        assert_eq!(round_trip(&mut b, b"2").await.unwrap(), b"2");
    }

    #[tokio::test]
    async fn an_unreachable_upstream_closes_the_client() {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap()
        };
        let proxy = FaultProxy::start(port).unwrap();
        let mut a = TcpStream::connect(proxy.addr()).await.unwrap();
        assert!(closed(&mut a).await);
        assert_eq!(proxy.connections(), 0);
    }
}
