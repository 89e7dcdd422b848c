//! Egress policy at the adapters' edge, in production mode: a stored instance URL outside the
//! provider's domains is refused before any request (the loopback "internal service" sees no
//! connection), and a token endpoint naming a foreign API host is not trusted.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use fluxcascade_core::ProviderKind;
use fluxcascade_providers::egress::provider_client;
use fluxcascade_providers::{
    connect, exchange_code, refresh, ConnectionContext, ProviderApp, ProviderError,
    ProvidersConfig, Secret, StaticToken,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const TOKEN: &str = "tok-very-secret";

fn production() -> ProvidersConfig {
    let mut config = ProvidersConfig::production();
    for kind in ProviderKind::ALL {
        *config.app_mut(kind) = Some(ProviderApp::production(
            kind,
            "client".to_owned(),
            Secret::from("client-secret"),
        ));
    }
    config
}

/// A loopback server answering every request with `answer`; counts connections.
async fn serve(answer: &'static str) -> (u16, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let hits = Arc::new(AtomicUsize::new(0));
    let counted = hits.clone();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            counted.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut buf = vec![0u8; 16 * 1024];
                let _ = s.read(&mut buf).await;
                let _ = s.write_all(answer.as_bytes()).await;
            });
        }
    });
    (port, hits)
}

fn context(instance_url: String) -> ConnectionContext {
    let mut ctx = ConnectionContext::simple(
        Arc::new(StaticToken(TOKEN.into())),
        provider_client(Duration::from_secs(5)).expect("client"),
    );
    ctx.instance_url = Some(instance_url);
    ctx
}

#[tokio::test]
async fn a_stored_instance_url_outside_the_providers_domains_gets_no_request() {
    let (port, hits) = serve("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}").await;
    for (kind, url) in [
        (ProviderKind::Salesforce, format!("http://127.0.0.1:{port}")),
        (
            ProviderKind::Salesforce,
            format!("https://localhost:{port}"),
        ),
        (
            ProviderKind::Pipedrive,
            format!("https://2130706433:{port}/"),
        ),
        (
            ProviderKind::Pipedrive,
            format!("https://{TOKEN}@acme.pipedrive.com.127.0.0.1.nip.io:{port}"),
        ),
    ] {
        let err = match connect(kind, &production(), context(url.clone())) {
            Ok(_) => panic!("{kind:?} {url}: accepted"),
            Err(e) => e,
        };
        let ProviderError::Permanent(message) = &err else {
            panic!("{kind:?} {url}: {err:?}");
        };
        assert!(message.contains("instance URL"), "{message}");
        let host = url::Url::parse(&url)
            .unwrap()
            .host_str()
            .unwrap()
            .to_owned();
        assert!(message.contains(&format!("`{host}`")), "{message}");
        assert!(!message.contains(TOKEN), "{message}");
    }
    // The hosts are named so an admin can tell what was refused.
    let err = connect(
        ProviderKind::Salesforce,
        &production(),
        context("https://evil.example/".into()),
    )
    .err()
    .expect("refused");
    assert!(err.to_string().contains("`evil.example`"), "{err}");
    assert!(!err.is_retryable());
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(hits.load(Ordering::SeqCst), 0, "a request reached loopback");

    // The provider's own hosts are accepted (no request is made to build an adapter).
    for (kind, url) in [
        (ProviderKind::Salesforce, "https://acme.my.salesforce.com"),
        (ProviderKind::Pipedrive, "https://acme.pipedrive.com"),
    ] {
        assert!(
            connect(kind, &production(), context(url.into())).is_ok(),
            "{url}"
        );
    }
}

#[tokio::test]
async fn a_token_response_naming_a_foreign_api_host_is_refused() {
    // The token endpoint is operator configuration (here on loopback); the API host it names is not.
    let (port, _) = serve(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 90\r\n\r\n\
         {\"access_token\":\"tok-very-secret\",\"refresh_token\":\"r\",\"instance_url\":\"http://10.0.0.5\"}   ",
    )
    .await;
    let mut config = production();
    for app in [&mut config.salesforce, &mut config.pipedrive] {
        let app = app.as_mut().expect("configured");
        app.oauth_base = format!("http://127.0.0.1:{port}");
    }
    let http = provider_client(Duration::from_secs(5)).expect("client");
    for kind in [ProviderKind::Salesforce, ProviderKind::Pipedrive] {
        let app = config.app(kind).expect("configured");
        let exchanged = exchange_code(kind, app, &http, "code", "https://app.test/cb").await;
        let refreshed = refresh(kind, app, &http, "r").await;
        for result in [exchanged, refreshed] {
            match result {
                Err(ProviderError::Permanent(m)) => {
                    assert!(m.contains("`10.0.0.5`"), "{m}");
                    assert!(!m.contains(TOKEN), "{m}");
                }
                other => panic!("{kind:?}: {other:?}"),
            }
        }
    }
}
