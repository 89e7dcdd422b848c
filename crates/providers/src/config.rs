//! Where each provider lives (API and OAuth base URLs) and the OAuth app FluxCascade uses with it.
//!
//! A provider without app credentials is *not configured* (`None`), never an app with an empty
//! secret: it serves no webhook receiver and no OAuth, and its connections cannot be used.

use fluxcascade_core::ProviderKind;

use crate::egress::ProviderMode;
use crate::{ProviderError, Secret};

/// One provider's endpoints and OAuth app credentials.
#[derive(Debug, Clone)]
pub struct ProviderApp {
    /// Data API base, no trailing slash (`https://api.hubapi.com`).
    pub api_base: String,
    /// OAuth base, no trailing slash: token and authorize paths are appended to it.
    pub oauth_base: String,
    pub client_id: String,
    pub client_secret: Secret,
    /// Production: instance URLs (token responses, clients, storage) must be the provider's own
    /// `https` hosts; sandbox: any `http(s)` host.
    pub mode: ProviderMode,
}

impl ProviderApp {
    /// FluxCascade's app at the real provider's hosts.
    pub fn production(kind: ProviderKind, client_id: String, client_secret: Secret) -> Self {
        let (api, oauth) = match kind {
            ProviderKind::Hubspot => ("https://api.hubapi.com", "https://api.hubapi.com"),
            ProviderKind::Jobber => ("https://api.getjobber.com", "https://api.getjobber.com"),
            // Pipedrive's API host is per company (`api_domain` from the token response).
            ProviderKind::Pipedrive => ("https://api.pipedrive.com", "https://oauth.pipedrive.com"),
            // Salesforce's API host is the `instance_url` from the token response.
            ProviderKind::Salesforce => (
                "https://login.salesforce.com",
                "https://login.salesforce.com",
            ),
        };
        ProviderApp {
            api_base: api.to_owned(),
            oauth_base: oauth.to_owned(),
            client_id,
            client_secret,
            mode: ProviderMode::Production,
        }
    }
}

/// The four providers' apps; `None`: that provider is not configured on this deployment.
#[derive(Debug, Clone)]
pub struct ProvidersConfig {
    /// The real providers or the sandbox (whichever apps are configured).
    pub mode: ProviderMode,
    pub hubspot: Option<ProviderApp>,
    pub jobber: Option<ProviderApp>,
    pub pipedrive: Option<ProviderApp>,
    pub salesforce: Option<ProviderApp>,
}

/// A provider this deployment has no app credentials for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{0} is not configured on this deployment (it has no app credentials for it)")]
pub struct NotConfigured(pub ProviderKind);

impl From<NotConfigured> for ProviderError {
    fn from(e: NotConfigured) -> Self {
        ProviderError::Permanent(e.to_string())
    }
}

/// The client id the sandbox registers for every provider.
pub const SANDBOX_CLIENT_ID: &str = "sandbox-client";
/// The client secret the sandbox registers for every provider (public: refused outside sandbox mode).
pub const SANDBOX_CLIENT_SECRET: &str = "sandbox-secret";

impl ProvidersConfig {
    /// Every provider pointed at the sandbox at `base_url` (`http://127.0.0.1:9100`),
    /// with the sandbox's registered app.
    pub fn sandbox(base_url: &str) -> Self {
        let base = base_url.trim_end_matches('/');
        let app = |prefix: &str| {
            let root = format!("{base}/{prefix}");
            Some(ProviderApp {
                api_base: root.clone(),
                oauth_base: root,
                client_id: SANDBOX_CLIENT_ID.to_owned(),
                client_secret: Secret::from(SANDBOX_CLIENT_SECRET),
                mode: ProviderMode::Sandbox,
            })
        };
        ProvidersConfig {
            mode: ProviderMode::Sandbox,
            hubspot: app("hubspot"),
            jobber: app("jobber"),
            pipedrive: app("pipedrive"),
            salesforce: app("salesforce"),
        }
    }

    /// Production with no provider configured yet (add apps with [`ProvidersConfig::app_mut`]).
    pub fn production() -> Self {
        ProvidersConfig {
            mode: ProviderMode::Production,
            hubspot: None,
            jobber: None,
            pipedrive: None,
            salesforce: None,
        }
    }

    /// Whether these are the real providers or the sandbox.
    pub fn mode(&self) -> ProviderMode {
        self.mode
    }

    /// The app for one provider, if it is configured.
    pub fn app(&self, kind: ProviderKind) -> Option<&ProviderApp> {
        match kind {
            ProviderKind::Hubspot => self.hubspot.as_ref(),
            ProviderKind::Jobber => self.jobber.as_ref(),
            ProviderKind::Pipedrive => self.pipedrive.as_ref(),
            ProviderKind::Salesforce => self.salesforce.as_ref(),
        }
    }

    /// The app for one provider, or [`NotConfigured`].
    pub fn require(&self, kind: ProviderKind) -> Result<&ProviderApp, NotConfigured> {
        self.app(kind).ok_or(NotConfigured(kind))
    }

    /// The slot of one provider's app (to set or clear it).
    pub fn app_mut(&mut self, kind: ProviderKind) -> &mut Option<ProviderApp> {
        match kind {
            ProviderKind::Hubspot => &mut self.hubspot,
            ProviderKind::Jobber => &mut self.jobber,
            ProviderKind::Pipedrive => &mut self.pipedrive,
            ProviderKind::Salesforce => &mut self.salesforce,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sandbox_points_every_provider_under_its_prefix() {
        let c = ProvidersConfig::sandbox("http://127.0.0.1:9100/");
        let app = |kind| c.app(kind).expect("configured");
        assert_eq!(
            app(ProviderKind::Hubspot).api_base,
            "http://127.0.0.1:9100/hubspot"
        );
        assert_eq!(
            app(ProviderKind::Jobber).oauth_base,
            "http://127.0.0.1:9100/jobber"
        );
        assert_eq!(
            app(ProviderKind::Salesforce).api_base,
            "http://127.0.0.1:9100/salesforce"
        );
        assert_eq!(app(ProviderKind::Pipedrive).client_id, "sandbox-client");
        assert_eq!(
            app(ProviderKind::Pipedrive).client_secret.expose(),
            "sandbox-secret"
        );
    }

    #[test]
    fn an_unconfigured_provider_is_absent_and_its_use_a_permanent_error() {
        let mut c = ProvidersConfig::production();
        *c.app_mut(ProviderKind::Jobber) = Some(ProviderApp::production(
            ProviderKind::Jobber,
            "id".into(),
            Secret::from("s3cret"),
        ));
        assert!(c.app(ProviderKind::Hubspot).is_none());
        assert_eq!(
            c.require(ProviderKind::Jobber).unwrap().api_base,
            "https://api.getjobber.com"
        );
        let e = ProviderError::from(c.require(ProviderKind::Salesforce).unwrap_err());
        assert!(
            matches!(&e, ProviderError::Permanent(m) if m.contains("salesforce is not configured")),
            "{e:?}"
        );
        // What a worker meets with a connection of that provider: no adapter, a permanent error.
        let ctx = crate::ConnectionContext::simple(
            std::sync::Arc::new(crate::StaticToken("t".into())),
            reqwest::Client::new(),
        );
        let Err(e) = crate::connect(ProviderKind::Hubspot, &c, ctx) else {
            panic!("an adapter for an unconfigured provider");
        };
        assert!(
            matches!(&e, ProviderError::Permanent(m) if m.contains("hubspot is not configured")),
            "{e:?}"
        );
    }
}
