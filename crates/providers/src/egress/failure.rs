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
