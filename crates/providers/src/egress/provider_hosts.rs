//! Provider API hosts: outside sandbox mode a connection's instance URL (Salesforce
//! `instance_url`, Pipedrive `api_domain`) must be `https` on the default port and inside the
//! provider's own domains; HubSpot and Jobber have one fixed API host each.

use fluxcascade_core::ProviderKind;
use url::{Host, Url};

use super::{EgressError, MAX_URL_LEN};

/// Where provider hosts may be: the real providers (production) or the loopback sandbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderMode {
    /// Only the providers' own `https` hosts.
    Production,
    /// Any `http(s)` host (the sandbox emulates every provider on one loopback origin).
    Sandbox,
}

/// The hosts a provider's API may live on: exact names, or `.suffix` for any subdomain.
pub fn allowed_hosts(kind: ProviderKind) -> &'static [&'static str] {
    match kind {
        ProviderKind::Salesforce => &[".salesforce.com", ".force.com", ".cloudforce.com"],
        ProviderKind::Pipedrive => &[".pipedrive.com"],
        ProviderKind::Hubspot => &["api.hubapi.com"],
        ProviderKind::Jobber => &["api.getjobber.com"],
    }
}

fn host_allowed(kind: ProviderKind, host: &str) -> bool {
    allowed_hosts(kind).iter().any(|pattern| {
        if pattern.starts_with('.') {
            host.len() > pattern.len() && host.ends_with(pattern)
        } else {
            host == *pattern
        }
    })
}

/// Checks a connection's API host (from a token response, the client, or storage) before any
/// request with the connection's token goes there. Errors name the host, never the whole URL
/// (which could carry credentials).
pub fn check_instance_url(
    kind: ProviderKind,
    raw: &str,
    mode: ProviderMode,
) -> Result<Url, EgressError> {
    if raw.len() > MAX_URL_LEN {
        return Err(EgressError::TooLong { max: MAX_URL_LEN });
    }
    let url = Url::parse(raw.trim()).map_err(EgressError::Invalid)?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(EgressError::Credentials);
    }
    let scheme_ok = match mode {
        ProviderMode::Sandbox => matches!(url.scheme(), "http" | "https"),
        ProviderMode::Production => url.scheme() == "https",
    };
    if !scheme_ok {
        return Err(EgressError::Scheme {
            expected: match mode {
                ProviderMode::Sandbox => "http or https",
                ProviderMode::Production => "https",
            },
        });
    }
    let Some(host) = url.host() else {
        return Err(EgressError::NoHost);
    };
    match mode {
        ProviderMode::Sandbox => {}
        ProviderMode::Production => {
            if url.port().is_some() {
                return Err(EgressError::Port);
            }
            if url.query().is_some() || url.fragment().is_some() {
                return Err(EgressError::QueryOrFragment);
            }
            let allowed = match &host {
                Host::Domain(name) => host_allowed(kind, name),
                Host::Ipv4(_) | Host::Ipv6(_) => false,
            };
            if !allowed {
                return Err(EgressError::OutsideProviderDomains {
                    host: host.to_string(),
                    provider: kind,
                    allowed: allowed_hosts(kind)
                        .iter()
                        .map(|p| match p.strip_prefix('.') {
                            Some(suffix) => format!("*.{suffix}"),
                            None => (*p).to_owned(),
                        })
                        .collect::<Vec<_>>()
                        .join(", "),
                });
            }
        }
    }
    Ok(url)
}

/// A stored instance URL re-checked before an adapter uses it: the API base (no trailing
/// slash), or a permanent error naming the host (never the URL, which could carry a secret).
/// Salesforce's `instance_url` is an origin: only its scheme, host and port are kept, as
/// Salesforce's own client libraries do (a path there is not Salesforce's, and is dropped).
pub(crate) fn instance_base(
    kind: ProviderKind,
    raw: &str,
    mode: ProviderMode,
) -> Result<String, crate::ProviderError> {
    let url =
        check_instance_url(kind, raw, mode).map_err(|e| refused(kind, "connection's", raw, &e))?;
    Ok(match kind {
        ProviderKind::Salesforce => url.origin().ascii_serialization(),
        _ => raw.trim().trim_end_matches('/').to_owned(),
    })
}

/// The permanent error for a refused instance URL: names the host, never the URL (whose user
/// name, path or query could carry a secret).
pub(crate) fn refused(
    kind: ProviderKind,
    whose: &str,
    raw: &str,
    e: &EgressError,
) -> crate::ProviderError {
    let host = Url::parse(raw.trim())
        .ok()
        .and_then(|u| u.host_str().map(|h| format!(" (host `{h}`)")))
        .unwrap_or_default();
    crate::ProviderError::Permanent(format!(
        "the {whose} {} instance URL{host} is refused: {e}",
        kind.as_str()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ProviderKind::*;
    use ProviderMode::*;

    #[test]
    fn production_accepts_the_providers_own_https_hosts() {
        for (kind, url) in [
            (Salesforce, "https://acme.my.salesforce.com"),
            (Salesforce, "https://na1.salesforce.com/"),
            (Salesforce, "https://acme--dev.sandbox.my.salesforce.com"),
            (Salesforce, "https://acme.lightning.force.com"),
            (Salesforce, "https://acme.cloudforce.com"),
            (Salesforce, "https://ACME.My.SalesForce.com"),
            (Pipedrive, "https://acme.pipedrive.com"),
            (Pipedrive, "https://api.pipedrive.com"),
            (Hubspot, "https://api.hubapi.com"),
            (Jobber, "https://api.getjobber.com/"),
        ] {
            assert!(
                check_instance_url(kind, url, Production).is_ok(),
                "{kind:?} {url}"
            );
        }
    }

    #[test]
    fn production_refuses_everything_else_naming_the_host() {
        for (kind, url, host) in [
            (
                Salesforce,
                "https://salesforce.com.evil.test",
                "salesforce.com.evil.test",
            ),
            (
                Salesforce,
                "https://evilsalesforce.com",
                "evilsalesforce.com",
            ),
            (Salesforce, "https://salesforce.com", "salesforce.com"),
            (
                Salesforce,
                "https://acme.salesforce.com.",
                "acme.salesforce.com.",
            ),
            (
                Salesforce,
                "https://acme.pipedrive.com",
                "acme.pipedrive.com",
            ),
            (Pipedrive, "https://127.0.0.1", "127.0.0.1"),
            (Pipedrive, "https://2130706433", "127.0.0.1"),
            (Pipedrive, "https://[::1]", "[::1]"),
            (Pipedrive, "https://localhost", "localhost"),
            (
                Hubspot,
                "https://api.hubapi.com.evil.test",
                "api.hubapi.com.evil.test",
            ),
            (Hubspot, "https://x.hubapi.com", "x.hubapi.com"),
            (Jobber, "https://getjobber.com", "getjobber.com"),
        ] {
            match check_instance_url(kind, url, Production) {
                Err(e @ EgressError::OutsideProviderDomains { .. }) => {
                    assert!(e.to_string().contains(&format!("`{host}`")), "{e}")
                }
                other => panic!("{kind:?} {url}: {other:?}"),
            }
        }
    }

    #[test]
    fn production_requires_https_default_port_and_no_credentials() {
        let check = |url| check_instance_url(Salesforce, url, Production);
        assert!(matches!(
            check("http://acme.my.salesforce.com"),
            Err(EgressError::Scheme { .. })
        ));
        assert!(matches!(
            check("https://acme.my.salesforce.com:8443"),
            Err(EgressError::Port)
        ));
        assert!(matches!(
            check("https://tok:secret@acme.my.salesforce.com"),
            Err(EgressError::Credentials)
        ));
        assert!(matches!(
            check("https://acme.my.salesforce.com/?x=1"),
            Err(EgressError::QueryOrFragment)
        ));
        assert!(matches!(
            check("acme.my.salesforce.com"),
            Err(EgressError::Invalid(_))
        ));
        assert!(matches!(
            check("file:///etc/passwd"),
            Err(EgressError::Scheme { .. })
        ));
        let long = format!("https://acme.my.salesforce.com/{}", "a".repeat(MAX_URL_LEN));
        assert!(matches!(check(&long), Err(EgressError::TooLong { .. })));
    }

    #[test]
    fn a_salesforce_instance_url_is_used_as_its_origin_only() {
        assert_eq!(
            instance_base(Salesforce, "https://acme.my.salesforce.com/", Production).unwrap(),
            "https://acme.my.salesforce.com"
        );
        assert_eq!(
            instance_base(Salesforce, "https://acme.my.salesforce.com/x/y", Production).unwrap(),
            "https://acme.my.salesforce.com",
            "a path is not Salesforce's and is dropped, as Salesforce's clients drop it"
        );
        assert_eq!(
            instance_base(Salesforce, "http://127.0.0.1:9101", Sandbox).unwrap(),
            "http://127.0.0.1:9101"
        );
        assert_eq!(
            instance_base(Pipedrive, "http://127.0.0.1:9100/pipedrive/", Sandbox).unwrap(),
            "http://127.0.0.1:9100/pipedrive",
            "Pipedrive's api_domain keeps its path (the sandbox serves Pipedrive under a prefix)"
        );
    }

    #[test]
    fn an_error_never_echoes_credentials_in_the_url() {
        let e = check_instance_url(Pipedrive, "https://secret-token@evil.test", Production)
            .unwrap_err();
        assert!(!e.to_string().contains("secret-token"), "{e}");
        let e = check_instance_url(
            Pipedrive,
            "https://evil.test/?token=secret-token",
            Production,
        )
        .unwrap_err();
        assert!(!e.to_string().contains("secret-token"), "{e}");
    }

    #[test]
    fn sandbox_mode_accepts_any_http_host_but_not_other_schemes() {
        assert!(
            check_instance_url(Salesforce, "http://127.0.0.1:9100/salesforce", Sandbox).is_ok()
        );
        assert!(check_instance_url(Pipedrive, "https://localhost:1", Sandbox).is_ok());
        assert!(check_instance_url(Pipedrive, "ftp://127.0.0.1/", Sandbox).is_err());
        assert!(check_instance_url(Pipedrive, "http://u:p@127.0.0.1/", Sandbox).is_err());
    }
}
