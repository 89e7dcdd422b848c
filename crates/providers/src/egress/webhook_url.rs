//! Outbound webhook URLs: `https`, at most [`MAX_URL_LEN`] characters, and every address of the
//! host public — checked when a subscription is created ([`WebhookUrls::check`]) and before each
//! delivery ([`WebhookUrls::check_syntax`] here, the address filter in [`super::webhook_client`]).

use std::net::IpAddr;

use url::{Host, Url};

use super::addr::classify;
use super::resolve::Resolver;
use super::{EgressError, MAX_URL_LEN};

/// Whether webhook URLs may reach private addresses (local development only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PrivateAddresses {
    Refuse,
    Allow,
}

/// The webhook URL policy of a deployment, and the resolver it checks with.
#[derive(Debug, Clone)]
pub struct WebhookUrls {
    private: PrivateAddresses,
    resolver: Resolver,
}

impl Default for WebhookUrls {
    fn default() -> Self {
        WebhookUrls::public_only()
    }
}

impl WebhookUrls {
    /// Production: `https` to public addresses only.
    pub fn public_only() -> WebhookUrls {
        WebhookUrls {
            private: PrivateAddresses::Refuse,
            resolver: Resolver::system(),
        }
    }

    /// Local development (`FLUXCASCADE_ALLOW_PRIVATE_WEBHOOK_URLS=true`): `http` or `https` to
    /// any address, loopback receivers included.
    pub fn allow_private() -> WebhookUrls {
        WebhookUrls {
            private: PrivateAddresses::Allow,
            resolver: Resolver::system(),
        }
    }

    /// The same policy, resolving names with `resolver`.
    pub fn with_resolver(self, resolver: Resolver) -> WebhookUrls {
        WebhookUrls { resolver, ..self }
    }

    pub fn allows_private(&self) -> bool {
        self.private == PrivateAddresses::Allow
    }

    pub(crate) fn resolver(&self) -> &Resolver {
        &self.resolver
    }

    /// Everything that needs no DNS: length, scheme, host, and the address of an IP-literal host
    /// (in any spelling the WHATWG URL parser accepts: `2130706433`, `0x7f.1`, `0177.0.0.1`,
    /// `127.1`, `[::ffff:127.0.0.1]` are all 127.0.0.1).
    pub fn check_syntax(&self, raw: &str) -> Result<Url, EgressError> {
        if raw.len() > MAX_URL_LEN {
            return Err(EgressError::TooLong { max: MAX_URL_LEN });
        }
        let url = Url::parse(raw.trim()).map_err(EgressError::Invalid)?;
        let scheme_ok = match self.private {
            PrivateAddresses::Refuse => url.scheme() == "https",
            PrivateAddresses::Allow => matches!(url.scheme(), "http" | "https"),
        };
        if !scheme_ok {
            return Err(EgressError::Scheme {
                expected: match self.private {
                    PrivateAddresses::Refuse => "https",
                    PrivateAddresses::Allow => "http or https",
                },
            });
        }
        let literal = match url.host() {
            None => return Err(EgressError::NoHost),
            Some(Host::Domain(_)) => None,
            Some(Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
            Some(Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
        };
        if let (Some(ip), PrivateAddresses::Refuse) = (literal, self.private) {
            refuse_unless_public(&url, ip)?;
        }
        Ok(url)
    }

    /// The creation-time check: [`Self::check_syntax`], then the host resolved and every address
    /// it resolves to checked. A host that does not resolve is refused too.
    pub async fn check(&self, raw: &str) -> Result<Url, EgressError> {
        let url = self.check_syntax(raw)?;
        if self.private == PrivateAddresses::Allow {
            return Ok(url);
        }
        if let Some(Host::Domain(name)) = url.host() {
            let addrs = self.resolver.lookup(name).await;
            if addrs.is_empty() {
                return Err(EgressError::Unresolvable {
                    host: name.to_owned(),
                });
            }
            for ip in addrs {
                refuse_unless_public(&url, ip)?;
            }
        }
        Ok(url)
    }
}

fn refuse_unless_public(url: &Url, ip: IpAddr) -> Result<(), EgressError> {
    let class = classify(ip);
    if class.is_public() {
        return Ok(());
    }
    Err(EgressError::Blocked {
        host: url.host_str().unwrap_or_default().to_owned(),
        addr: ip,
        class,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::egress::{AddrClass, StaticResolver};

    fn production() -> WebhookUrls {
        WebhookUrls::public_only().with_resolver(Resolver::fixed(
            StaticResolver::default()
                .with("hooks.example.com", &["93.184.215.14".parse().unwrap()])
                .with("v6.example.com", &["2606:2800:220:1::1".parse().unwrap()])
                .with(
                    "rebind.example.com",
                    &[
                        "93.184.215.14".parse().unwrap(),
                        "127.0.0.1".parse().unwrap(),
                    ],
                )
                .with(
                    "metadata.example.com",
                    &["169.254.169.254".parse().unwrap()],
                ),
        ))
    }

    #[test]
    fn every_spelling_of_loopback_is_the_same_address() {
        for raw in [
            "https://127.0.0.1/",
            "https://2130706433/",
            "https://0x7f000001/",
            "https://0x7f.1/",
            "https://0177.0.0.1/",
            "https://0177.1/",
            "https://127.1/",
            "https://127.0.1/",
            "https://%31%32%37.0.0.1/",
            "https://[::ffff:127.0.0.1]/",
            "https://[::ffff:7f00:1]/",
            "https://[::127.0.0.1]/",
            "https://[64:ff9b::7f00:1]/",
            "https://[2002:7f00:1::]/",
            "https://[::1]/",
            "https://127.0.0.1:5432/",
        ] {
            match production().check_syntax(raw) {
                Err(EgressError::Blocked { class, .. }) => {
                    assert_eq!(class, AddrClass::Loopback, "{raw}")
                }
                other => panic!("{raw}: {other:?}"),
            }
        }
    }

    #[test]
    fn literal_private_link_local_and_unspecified_hosts_are_refused() {
        for (raw, want) in [
            (
                "https://169.254.169.254/latest/meta-data",
                AddrClass::LinkLocal,
            ),
            ("https://0.0.0.0/", AddrClass::Unspecified),
            ("https://0/", AddrClass::Unspecified),
            ("https://[::]/", AddrClass::Unspecified),
            ("https://10.0.0.1/", AddrClass::Private),
            ("https://0xa.0.0.1/", AddrClass::Private),
            ("https://192.168.0.1/", AddrClass::Private),
            ("https://172.16.5.4/", AddrClass::Private),
            ("https://100.64.0.1/", AddrClass::SharedCgnat),
            ("https://[fd00::1]/", AddrClass::Private),
            ("https://[fe80::1]/", AddrClass::LinkLocal),
            ("https://224.0.0.1/", AddrClass::Multicast),
            ("https://255.255.255.255/", AddrClass::Broadcast),
        ] {
            match production().check_syntax(raw) {
                Err(EgressError::Blocked { class, .. }) => assert_eq!(class, want, "{raw}"),
                other => panic!("{raw}: {other:?}"),
            }
        }
    }

    #[test]
    fn production_requires_https_and_a_bounded_length() {
        let p = production();
        assert!(matches!(
            p.check_syntax("http://hooks.example.com/x"),
            Err(EgressError::Scheme { expected: "https" })
        ));
        assert!(matches!(
            p.check_syntax("ftp://hooks.example.com/"),
            Err(EgressError::Scheme { .. })
        ));
        assert!(matches!(
            p.check_syntax("/relative"),
            Err(EgressError::Invalid(_))
        ));
        let long = format!("https://hooks.example.com/{}", "a".repeat(MAX_URL_LEN));
        assert!(matches!(
            p.check_syntax(&long),
            Err(EgressError::TooLong { .. })
        ));
        assert!(p.check_syntax("https://hooks.example.com/fc").is_ok());
        assert!(p.check_syntax("https://8.8.8.8/x").is_ok());
    }

    #[tokio::test]
    async fn creation_resolves_the_host_and_checks_every_address() {
        let p = production();
        assert!(p.check("https://hooks.example.com/fc").await.is_ok());
        assert!(p.check("https://v6.example.com/fc").await.is_ok());
        match p.check("https://rebind.example.com/").await {
            Err(EgressError::Blocked { addr, class, .. }) => {
                assert_eq!(addr, "127.0.0.1".parse::<IpAddr>().unwrap());
                assert_eq!(class, AddrClass::Loopback);
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            p.check("https://metadata.example.com/").await,
            Err(EgressError::Blocked {
                class: AddrClass::LinkLocal,
                ..
            })
        ));
        assert!(matches!(
            p.check("https://nowhere.example.com/").await,
            Err(EgressError::Unresolvable { .. })
        ));
    }

    #[tokio::test]
    async fn local_development_allows_http_and_loopback() {
        let dev = WebhookUrls::allow_private();
        assert!(dev.check("http://127.0.0.1:9000/x").await.is_ok());
        assert!(dev.check("https://[::1]/").await.is_ok());
        assert!(dev.check("ftp://127.0.0.1/").await.is_err());
        assert!(dev.allows_private() && !production().allows_private());
    }
}
