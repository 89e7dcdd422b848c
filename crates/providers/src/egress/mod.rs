//! Egress policy: the one place that decides where FluxCascade may send a request and how much
//! of the answer it reads. Every outbound call goes through it: provider adapters and OAuth
//! ([`provider_client`], [`check_instance_url`], [`read_capped`]), the ingress's set-up calls,
//! and outbound webhook deliveries ([`WebhookUrls`], [`webhook_client`], [`classify_failure`]).
//!
//! - Provider hosts: outside [`ProviderMode::Sandbox`] an instance URL must be `https`, on the
//!   default port, inside the provider's domains. Redirects are never followed.
//! - Webhook URLs: `https`, ≤ [`MAX_URL_LEN`], and every address the host resolves to must be
//!   public ([`addr::classify`]), at creation and at each delivery; the delivery connects only to
//!   addresses its own resolver checked, so a DNS answer cannot change between check and use.
//!   [`WebhookUrls::allow_private`] lifts the address and scheme rules for local development.
//! - Bodies: provider answers ≤ [`PROVIDER_BODY_LIMIT`], delivery answers ≤
//!   [`DELIVERY_BODY_LIMIT`] read; errors never carry a request URL (tokens live in some).

pub mod addr;
mod client;
mod failure;
pub(crate) mod provider_hosts;
mod resolve;
mod webhook_url;

use std::net::IpAddr;

use fluxcascade_core::ProviderKind;

pub use addr::{classify, is_public, AddrClass};
pub use client::{
    describe, provider_client, read_capped, webhook_client, BodyError, DELIVERY_BODY_LIMIT,
    PROVIDER_BODY_LIMIT,
};
pub use failure::{classify_failure, FailureClass};
pub use provider_hosts::{allowed_hosts, check_instance_url, ProviderMode};
pub use resolve::{BlockedAddress, Resolver, StaticResolver};
pub use webhook_url::WebhookUrls;

/// The longest URL accepted anywhere (webhook and instance URLs).
pub const MAX_URL_LEN: usize = 2048;

/// Why a URL may not be used. Messages name the host at most, never the whole URL.
#[derive(Debug, thiserror::Error)]
pub enum EgressError {
    #[error("must be at most {max} characters")]
    TooLong { max: usize },
    #[error("is not a valid absolute URL ({0})")]
    Invalid(url::ParseError),
    #[error("must be an absolute URL with a host")]
    NoHost,
    #[error("must use {expected}")]
    Scheme { expected: &'static str },
    #[error("must not contain a user name or password")]
    Credentials,
    #[error("must use the default port")]
    Port,
    #[error("must not have a query or fragment")]
    QueryOrFragment,
    #[error("host `{host}` is not a {} API host (allowed: {allowed})", provider.as_str())]
    OutsideProviderDomains {
        host: String,
        provider: ProviderKind,
        allowed: String,
    },
    #[error("host `{host}` does not resolve")]
    Unresolvable { host: String },
    #[error("host `{host}` resolves to {addr}, {}; only public addresses are allowed", class.describe())]
    Blocked {
        host: String,
        addr: IpAddr,
        class: AddrClass,
    },
}
