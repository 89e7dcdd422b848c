//! Where each provider lives (API and OAuth base URLs) and the OAuth app FluxCascade uses with it.

use fluxcascade_core::ProviderKind;

use crate::egress::ProviderMode;
use crate::Secret;

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

/// The four providers' apps.
#[derive(Debug, Clone)]
pub struct ProvidersConfig {
    pub hubspot: ProviderApp,
    pub jobber: ProviderApp,
    pub pipedrive: ProviderApp,
    pub salesforce: ProviderApp,
}

/// The client id the sandbox registers for every provider.
pub const SANDBOX_CLIENT_ID: &str = "sandbox-client";
/// The client secret the sandbox registers for every provider.
pub const SANDBOX_CLIENT_SECRET: &str = "sandbox-secret";

impl ProvidersConfig {
    /// Every provider pointed at the sandbox at `base_url` (`http://127.0.0.1:9100`),
    /// with the sandbox's registered app.
    pub fn sandbox(base_url: &str) -> Self {
        let base = base_url.trim_end_matches('/');
        let app = |prefix: &str| {
            let root = format!("{base}/{prefix}");
            ProviderApp {
                api_base: root.clone(),
                oauth_base: root,
                client_id: SANDBOX_CLIENT_ID.to_owned(),
                client_secret: Secret::from(SANDBOX_CLIENT_SECRET),
                mode: ProviderMode::Sandbox,
            }
        };
        ProvidersConfig {
            hubspot: app("hubspot"),
            jobber: app("jobber"),
            pipedrive: app("pipedrive"),
            salesforce: app("salesforce"),
        }
    }

    /// The real providers' hosts, with FluxCascade's production app credentials
    /// given as `(client_id, client_secret)` per provider.
    pub fn production(
        hubspot: (String, Secret),
        jobber: (String, Secret),
        pipedrive: (String, Secret),
        salesforce: (String, Secret),
    ) -> Self {
        let app =
            |api: &str, oauth: &str, (client_id, client_secret): (String, Secret)| ProviderApp {
                api_base: api.to_owned(),
                oauth_base: oauth.to_owned(),
                client_id,
                client_secret,
                mode: ProviderMode::Production,
            };
        ProvidersConfig {
            hubspot: app("https://api.hubapi.com", "https://api.hubapi.com", hubspot),
            jobber: app(
                "https://api.getjobber.com",
                "https://api.getjobber.com",
                jobber,
            ),
            // Pipedrive's API host is per company (`api_domain` from the token response).
            pipedrive: app(
                "https://api.pipedrive.com",
                "https://oauth.pipedrive.com",
                pipedrive,
            ),
            // Salesforce's API host is the `instance_url` from the token response.
            salesforce: app(
                "https://login.salesforce.com",
                "https://login.salesforce.com",
                salesforce,
            ),
        }
    }

    /// Whether these are the real providers or the sandbox.
    pub fn mode(&self) -> ProviderMode {
        self.hubspot.mode
    }

    /// The app for one provider.
    pub fn app(&self, kind: ProviderKind) -> &ProviderApp {
        match kind {
            ProviderKind::Hubspot => &self.hubspot,
            ProviderKind::Jobber => &self.jobber,
            ProviderKind::Pipedrive => &self.pipedrive,
            ProviderKind::Salesforce => &self.salesforce,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sandbox_points_every_provider_under_its_prefix() {
        let c = ProvidersConfig::sandbox("http://127.0.0.1:9100/");
        assert_eq!(c.hubspot.api_base, "http://127.0.0.1:9100/hubspot");
        assert_eq!(c.jobber.oauth_base, "http://127.0.0.1:9100/jobber");
        assert_eq!(
            c.app(ProviderKind::Salesforce).api_base,
            "http://127.0.0.1:9100/salesforce"
        );
        assert_eq!(c.pipedrive.client_id, "sandbox-client");
        assert_eq!(c.pipedrive.client_secret.expose(), "sandbox-secret");
        assert_eq!(c.mode(), ProviderMode::Sandbox);
    }

    #[test]
    fn production_is_production_mode() {
        let creds = || (String::new(), Secret::from(""));
        let c = ProvidersConfig::production(creds(), creds(), creds(), creds());
        assert_eq!(c.mode(), ProviderMode::Production);
        assert_eq!(c.salesforce.mode, ProviderMode::Production);
    }
}
