//! `ApiClient` against loopback servers that misbehave like a hostile "provider": a redirect to
//! another internal port is not followed, and an endless answer is cut at the body cap.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::{ApiClient, ApiRequest, ProviderPolicy};
use crate::egress::provider_client;
use crate::{ProviderError, StaticToken};

struct TestPolicy;

impl ProviderPolicy for TestPolicy {
    fn name(&self) -> &'static str {
        "test"
    }
    fn rate_limit_wait(&self, _body: &Value) -> Duration {
        Duration::from_secs(1)
    }
}

fn client() -> ApiClient {
    ApiClient::new(
        provider_client(Duration::from_secs(10)).expect("client"),
        Arc::new(StaticToken("secret-token".into())),
        Box::new(TestPolicy),
    )
}

async fn get(api: &ApiClient, url: String) -> Result<(reqwest::StatusCode, Value), ProviderError> {
    api.send(&ApiRequest {
        method: Method::GET,
        url,
        body: None,
        headers: &[],
    })
    .await
}

/// Reads one request head (up to the blank line).
async fn read_head(stream: &mut TcpStream) {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
}

/// A loopback server answering every connection with `answer(stream)`; counts connections.
async fn serve<F, Fut>(answer: F) -> (String, Arc<AtomicUsize>)
where
    F: Fn(TcpStream) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let hits = Arc::new(AtomicUsize::new(0));
    let counted = hits.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            counted.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(answer(stream));
        }
    });
    (format!("http://{addr}"), hits)
}

#[tokio::test]
async fn a_redirect_to_another_internal_port_is_not_followed() {
    let (internal, internal_hits) = serve(|mut s| async move {
        read_head(&mut s).await;
        let _ = s
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 21\r\n\r\n{\"internal\":\"secret\"}")
            .await;
    })
    .await;
    let location = format!("{internal}/admin");
    let (provider, provider_hits) = serve(move |mut s| {
        let location = location.clone();
        async move {
            read_head(&mut s).await;
            let answer =
                format!("HTTP/1.1 302 Found\r\nlocation: {location}\r\ncontent-length: 0\r\n\r\n");
            let _ = s.write_all(answer.as_bytes()).await;
        }
    })
    .await;

    let err = get(&client(), format!("{provider}/crm/v3/objects"))
        .await
        .expect_err("a redirect is an error");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(provider_hits.load(Ordering::SeqCst), 1);
    assert_eq!(
        internal_hits.load(Ordering::SeqCst),
        0,
        "the redirect target was contacted"
    );
    match err {
        ProviderError::Permanent(m) => {
            assert!(m.contains("302") && m.contains("redirect"), "{m}");
            assert!(!m.contains("secret"), "{m}");
        }
        other => panic!("{other:?}"),
    }
}

/// Writes `HTTP/1.1 200` and then body bytes until the client goes away; returns how many.
async fn endless(mut s: TcpStream, header: &'static str, written: Arc<AtomicUsize>) {
    read_head(&mut s).await;
    if s.write_all(header.as_bytes()).await.is_err() {
        return;
    }
    let chunk = [b'a'; 16 * 1024];
    let framed = {
        let mut f = format!("{:x}\r\n", chunk.len()).into_bytes();
        f.extend_from_slice(&chunk);
        f.extend_from_slice(b"\r\n");
        f
    };
    let chunked = header.contains("chunked");
    loop {
        let out: &[u8] = if chunked { &framed } else { &chunk };
        if s.write_all(out).await.is_err() {
            return;
        }
        if written.fetch_add(chunk.len(), Ordering::SeqCst) > 1 << 30 {
            return;
        }
    }
}

#[tokio::test]
async fn an_endless_answer_stops_at_the_body_cap() {
    for header in [
        // Declared too large: refused before reading.
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 1073741824\r\n\r\n",
        // Streamed without a length: reading stops at the first chunk past the cap.
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n",
    ] {
        let written = Arc::new(AtomicUsize::new(0));
        let sent = written.clone();
        let (provider, _) = serve(move |s| endless(s, header, sent.clone())).await;
        let mut api = client();
        api.set_body_limit(256 * 1024);
        let started = Instant::now();
        let err = tokio::time::timeout(
            Duration::from_secs(20),
            get(&api, format!("{provider}/huge")),
        )
        .await
        .expect("the read stops instead of running to 1 GiB")
        .expect_err("over the cap is an error");
        match &err {
            ProviderError::Permanent(m) => assert!(m.contains("more than 262144 bytes"), "{m}"),
            other => panic!("{header}: {other:?}"),
        }
        assert!(started.elapsed() < Duration::from_secs(20));
        // The server could only push what the socket buffers hold past the cap.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let total = written.load(Ordering::SeqCst);
        assert!(
            total < 64 * 1024 * 1024,
            "{header}: the client read {total} bytes"
        );
    }
}
