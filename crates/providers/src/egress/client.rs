//! The HTTP clients every outbound call is made with (redirects never followed), reading an
//! answer up to a cap, and describing a reqwest error without the URL it was sent to.

use std::time::Duration;

use reqwest::redirect;

use super::webhook_url::WebhookUrls;

/// The most of a provider's answer that is read (DESIGN §9).
pub const PROVIDER_BODY_LIMIT: usize = 16 * 1024 * 1024;
/// The most of a webhook receiver's answer that is read.
pub const DELIVERY_BODY_LIMIT: usize = 64 * 1024;

/// The client for provider APIs, OAuth token endpoints and identity calls: redirects are not
/// followed (a 3xx is an error), so a provider host can never send a token elsewhere.
pub fn provider_client(timeout: Duration) -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .redirect(redirect::Policy::none())
        .timeout(timeout)
        .connect_timeout(Duration::from_secs(10).min(timeout))
        .pool_max_idle_per_host(64)
        .user_agent(concat!("FluxCascade/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// The client for webhook deliveries: redirects are not followed (a signed POST must not be
/// replayed elsewhere), and unless `urls` allows private addresses every name is resolved by a
/// filter that refuses non-public answers, so the connection goes to a checked address.
/// IP-literal hosts skip resolution: check them with [`WebhookUrls::check_syntax`] first. No
/// proxy from the environment is used, so the filter sees every name.
pub fn webhook_client(
    urls: &WebhookUrls,
    timeout: Duration,
) -> Result<reqwest::Client, reqwest::Error> {
    let resolver = if urls.allows_private() {
        urls.resolver().any_address()
    } else {
        urls.resolver().public_only()
    };
    reqwest::Client::builder()
        // Through a proxy the proxy would resolve the name, past the address filter.
        .no_proxy()
        .redirect(redirect::Policy::none())
        .dns_resolver2(resolver)
        .timeout(timeout)
        .connect_timeout(Duration::from_secs(5).min(timeout))
        .user_agent(concat!("FluxCascade-Webhooks/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// Why an answer could not be read.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    /// Larger than the cap; reading stopped there.
    #[error("the answer is larger than {limit} bytes")]
    TooLarge { limit: usize },
    /// The connection failed while reading.
    #[error("reading the answer failed: {0}")]
    Transport(String),
}

/// Reads at most `limit` bytes of `response`: a declared `Content-Length` over the cap is refused
/// before reading, and a streamed body stops at the first chunk past it.
pub async fn read_capped(
    mut response: reqwest::Response,
    limit: usize,
) -> Result<Vec<u8>, BodyError> {
    match response.content_length() {
        Some(n) if n > limit as u64 => return Err(BodyError::TooLarge { limit }),
        // A declared length within the cap: hyper stops at it, so one collect is safe.
        Some(_) => {
            return response
                .bytes()
                .await
                .map(Vec::from)
                .map_err(|e| BodyError::Transport(describe(e)))
        }
        None => {}
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| BodyError::Transport(describe(e)))?
    {
        if body.len() + chunk.len() > limit {
            return Err(BodyError::TooLarge { limit });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The error and its causes (`a: b: c`) without the request URL, which may carry a token
/// (HubSpot's token-info URL does).
pub fn describe(e: reqwest::Error) -> String {
    let e = e.without_url();
    let mut text = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_transport_error_never_shows_the_url() {
        // A port that was just free: the connection is refused.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let http = provider_client(Duration::from_secs(5)).unwrap();
        let e = http
            .get(format!(
                "http://127.0.0.1:{port}/oauth/v1/access-tokens/secret-token-123"
            ))
            .send()
            .await
            .unwrap_err();
        let text = describe(e);
        assert!(!text.contains("secret-token-123"), "{text}");
        assert!(!text.contains(&format!("127.0.0.1:{port}")), "{text}");
        assert!(text.contains("error sending request"), "{text}");
    }
}
