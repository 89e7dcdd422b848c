//! What went wrong with an outbound request, as a class the delivery log can show a tenant:
//! never the raw socket error, which would tell open, refused and filtered ports apart in
//! detail and could name internal hosts.

use super::resolve::{BlockedAddress, DnsFailed};

/// The kind of failure of one outbound request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureClass {
    /// The URL's host is, or resolved to, a non-public address.
    BlockedAddress,
    /// The host name did not resolve.
    Dns,
    /// The receiver refused the connection.
    ConnectRefused,
    /// Any other failure to connect (unreachable, reset).
    ConnectFailed,
    /// No answer in time.
    Timeout,
    /// The TLS handshake failed (certificate, protocol).
    Tls,
    /// The receiver answered with a non-2xx status.
    Status,
    /// The answer was larger than the cap.
    TooLarge,
    /// The stored URL is not acceptable (scheme, syntax).
    InvalidUrl,
    /// Anything else while sending or reading.
    RequestFailed,
}

impl FailureClass {
    pub fn as_str(self) -> &'static str {
        match self {
            FailureClass::BlockedAddress => "blocked_address",
            FailureClass::Dns => "dns",
            FailureClass::ConnectRefused => "connect_refused",
            FailureClass::ConnectFailed => "connect_failed",
            FailureClass::Timeout => "timeout",
            FailureClass::Tls => "tls",
            FailureClass::Status => "status",
            FailureClass::TooLarge => "too_large",
            FailureClass::InvalidUrl => "invalid_url",
            FailureClass::RequestFailed => "request_failed",
        }
    }
}

impl std::fmt::Display for FailureClass {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The class of a failed send, found by walking the error's causes (an `io::Error`'s wrapped
/// error included, which `source()` skips).
pub fn classify_failure(e: &reqwest::Error) -> FailureClass {
    let mut found = None;
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cause {
        if let Some(class) = class_of(err) {
            found = Some(class);
            break;
        }
        cause = err.source();
    }
    match found {
        Some(class) => class,
        None if e.is_timeout() => FailureClass::Timeout,
        None if e.is_connect() => FailureClass::ConnectFailed,
        None if e.is_redirect() || e.is_status() => FailureClass::Status,
        None => FailureClass::RequestFailed,
    }
}

fn class_of(err: &(dyn std::error::Error + 'static)) -> Option<FailureClass> {
    if err.is::<BlockedAddress>() {
        return Some(FailureClass::BlockedAddress);
    }
    if err.is::<DnsFailed>() {
        return Some(FailureClass::Dns);
    }
    if err.is::<rustls::Error>() {
        return Some(FailureClass::Tls);
    }
    let io = err.downcast_ref::<std::io::Error>()?;
    match io.kind() {
        std::io::ErrorKind::ConnectionRefused => Some(FailureClass::ConnectRefused),
        std::io::ErrorKind::TimedOut => Some(FailureClass::Timeout),
        _ => io.get_ref().and_then(|inner| class_of(inner)),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::io::AsyncWriteExt;
    use tokio::net::TcpListener;

    use super::*;
    use crate::egress::{webhook_client, Resolver, StaticResolver, WebhookUrls};

    async fn class_of_post(urls: &WebhookUrls, timeout: Duration, url: &str) -> FailureClass {
        let http = webhook_client(urls, timeout).unwrap();
        let e = http.post(url).body("{}").send().await.unwrap_err();
        classify_failure(&e)
    }

    fn free_port() -> u16 {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    }

    #[tokio::test]
    async fn a_name_resolving_to_loopback_is_a_blocked_address_and_not_contacted() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let urls = WebhookUrls::public_only();
        let class = class_of_post(
            &urls,
            Duration::from_secs(5),
            &format!("https://localhost:{port}/"),
        )
        .await;
        assert_eq!(class, FailureClass::BlockedAddress);
        let accepted = tokio::time::timeout(Duration::from_millis(200), listener.accept()).await;
        assert!(accepted.is_err(), "the receiver was contacted");
    }

    #[tokio::test]
    async fn refused_dns_tls_and_timeout_are_told_apart_by_class() {
        let dev = WebhookUrls::allow_private();
        let port = free_port();
        assert_eq!(
            class_of_post(
                &dev,
                Duration::from_secs(5),
                &format!("http://127.0.0.1:{port}/")
            )
            .await,
            FailureClass::ConnectRefused
        );
        let no_names = dev
            .clone()
            .with_resolver(Resolver::fixed(StaticResolver::default()));
        assert_eq!(
            class_of_post(&no_names, Duration::from_secs(5), "http://nowhere.test/").await,
            FailureClass::Dns
        );
        // A plain-HTTP server answering a TLS handshake with text: the handshake fails.
        let plain = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let plain_port = plain.local_addr().unwrap().port();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = plain.accept().await {
                let _ = s.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n").await;
            }
        });
        assert_eq!(
            class_of_post(
                &dev,
                Duration::from_secs(5),
                &format!("https://127.0.0.1:{plain_port}/")
            )
            .await,
            FailureClass::Tls
        );
        // A server that accepts and never answers.
        let silent = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let silent_port = silent.local_addr().unwrap().port();
        tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((s, _)) = silent.accept().await {
                held.push(s);
            }
        });
        assert_eq!(
            class_of_post(
                &dev,
                Duration::from_millis(300),
                &format!("http://127.0.0.1:{silent_port}/")
            )
            .await,
            FailureClass::Timeout
        );
    }
}
