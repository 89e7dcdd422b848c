//! Name resolution for outbound webhooks: the system resolver (or a fixed table in tests), and
//! the filter reqwest connects through, which refuses a name if any of its addresses is not
//! public — reqwest then only ever connects to addresses this filter has seen and passed.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use super::addr::{classify, AddrClass};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// How long one resolution may take.
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(5);

/// A name resolved to an address outside the public internet.
#[derive(Debug, Clone, thiserror::Error)]
#[error("resolves to {addr}, {}", class.describe())]
pub struct BlockedAddress {
    pub addr: IpAddr,
    pub class: AddrClass,
}

/// A name that could not be resolved (no such name, no answer, timeout).
#[derive(Debug, Clone, thiserror::Error)]
#[error("name resolution failed: {0}")]
pub(crate) struct DnsFailed(String);

/// Where host names are resolved: the system resolver, or a fixed table (tests).
#[derive(Clone)]
pub struct Resolver(Arc<dyn Resolve>);

impl std::fmt::Debug for Resolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Resolver")
    }
}

impl Default for Resolver {
    fn default() -> Self {
        Resolver::system()
    }
}

impl Resolver {
    /// The operating system's resolver (`getaddrinfo`).
    pub fn system() -> Resolver {
        Resolver(Arc::new(SystemResolver))
    }

    /// Names resolved from a fixed table; any other name does not resolve.
    pub fn fixed(table: StaticResolver) -> Resolver {
        Resolver(Arc::new(table))
    }

    /// Every address `host` resolves to (empty: it does not resolve).
    pub async fn lookup(&self, host: &str) -> Vec<IpAddr> {
        let Ok(name) = Name::from_str(host) else {
            return Vec::new();
        };
        match self.0.resolve(name).await {
            Ok(addrs) => addrs.map(|a| a.ip()).collect(),
            Err(_) => Vec::new(),
        }
    }

    /// This resolver as reqwest's, passing every name through unchanged.
    pub(crate) fn any_address(&self) -> Arc<dyn Resolve> {
        self.0.clone()
    }

    /// This resolver as reqwest's, refusing a name unless every address is public.
    pub(crate) fn public_only(&self) -> Arc<dyn Resolve> {
        Arc::new(PublicOnly(self.0.clone()))
    }
}

struct SystemResolver;

impl Resolve for SystemResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let found = tokio::time::timeout(LOOKUP_TIMEOUT, tokio::net::lookup_host((host, 0)))
                .await
                .map_err(|_| DnsFailed("timed out".into()))?
                .map_err(|e| DnsFailed(e.to_string()))?;
            let addrs: Vec<SocketAddr> = found.collect();
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

/// A fixed name → addresses table (tests resolve `hooks.example.com` without a network).
#[derive(Debug, Clone, Default)]
pub struct StaticResolver(HashMap<String, Vec<IpAddr>>);

impl StaticResolver {
    pub fn with(mut self, host: &str, addrs: &[IpAddr]) -> Self {
        self.0.insert(host.to_ascii_lowercase(), addrs.to_vec());
        self
    }
}

impl Resolve for StaticResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let found = self.0.get(&name.as_str().to_ascii_lowercase()).cloned();
        Box::pin(async move {
            match found {
                Some(ips) if !ips.is_empty() => {
                    let addrs: Vec<SocketAddr> =
                        ips.into_iter().map(|ip| SocketAddr::new(ip, 0)).collect();
                    Ok(Box::new(addrs.into_iter()) as Addrs)
                }
                _ => Err(DnsFailed("no such name".into()).into()),
            }
        })
    }
}

/// Resolves with the inner resolver and refuses the name if any address is not public.
struct PublicOnly(Arc<dyn Resolve>);

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        let inner = self.0.resolve(name);
        Box::pin(async move {
            let addrs: Vec<SocketAddr> = inner
                .await
                .map_err(|e| -> BoxError {
                    if e.is::<DnsFailed>() {
                        e
                    } else {
                        Box::new(DnsFailed(e.to_string()))
                    }
                })?
                .collect();
            if addrs.is_empty() {
                return Err(DnsFailed("no addresses".into()).into());
            }
            if let Some(blocked) = addrs.iter().find_map(|a| {
                let class = classify(a.ip());
                (!class.is_public()).then_some(BlockedAddress {
                    addr: a.ip(),
                    class,
                })
            }) {
                return Err(blocked.into());
            }
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> Resolver {
        Resolver::fixed(
            StaticResolver::default()
                .with("public.test", &["93.184.215.14".parse().unwrap()])
                .with(
                    "mixed.test",
                    &[
                        "93.184.215.14".parse().unwrap(),
                        "10.0.0.7".parse().unwrap(),
                    ],
                ),
        )
    }

    async fn through_filter(r: &Resolver, host: &str) -> Result<Vec<IpAddr>, String> {
        match r.public_only().resolve(Name::from_str(host).unwrap()).await {
            Ok(a) => Ok(a.map(|a| a.ip()).collect()),
            Err(e) => Err(match e.downcast::<BlockedAddress>() {
                Ok(b) => format!("blocked {}", b.addr),
                Err(e) => match e.downcast::<DnsFailed>() {
                    Ok(_) => "dns".to_owned(),
                    Err(e) => format!("other {e}"),
                },
            }),
        }
    }

    #[tokio::test]
    async fn the_filter_passes_public_names_and_refuses_any_private_answer() {
        let r = table();
        assert_eq!(
            through_filter(&r, "public.test").await,
            Ok(vec!["93.184.215.14".parse::<IpAddr>().unwrap()])
        );
        assert_eq!(
            through_filter(&r, "mixed.test").await,
            Err("blocked 10.0.0.7".into())
        );
        assert_eq!(through_filter(&r, "nowhere.test").await, Err("dns".into()));
    }

    #[tokio::test]
    async fn the_system_resolver_finds_localhost_and_the_filter_refuses_it() {
        let r = Resolver::system();
        assert!(r
            .lookup("localhost")
            .await
            .iter()
            .all(|ip| ip.is_loopback()));
        assert!(through_filter(&r, "localhost")
            .await
            .is_err_and(|e| e.starts_with("blocked ")));
    }
}
