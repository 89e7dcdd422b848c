//! Issued OAuth codes, access tokens and refresh tokens, bound to a provider account.

use std::collections::HashMap;
use std::sync::RwLock;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ring::rand::{SecureRandom, SystemRandom};

use crate::clock::now_ms;
use crate::state::Provider;

/// A one-time authorization code issued by an authorize endpoint.
#[derive(Debug, Clone)]
pub struct CodeGrant {
    pub provider: Provider,
    pub account: String,
    pub client_id: String,
    pub redirect_uri: String,
}

#[derive(Debug, Clone)]
struct AccessGrant {
    provider: Provider,
    account: String,
    expires_at_ms: i64,
}

#[derive(Debug, Clone)]
struct RefreshGrant {
    provider: Provider,
    account: String,
    client_id: String,
}

/// What a bearer token turned out to be.
#[derive(Debug, Clone, PartialEq)]
pub enum TokenCheck {
    Valid { account: String },
    Expired { seconds_ago: i64 },
    Unknown,
}

#[derive(Default)]
struct Tokens {
    codes: HashMap<String, CodeGrant>,
    access: HashMap<String, AccessGrant>,
    refresh: HashMap<String, RefreshGrant>,
}

/// All grants of all providers.
#[derive(Default)]
pub struct TokenRegistry {
    inner: RwLock<Tokens>,
}

/// A random URL-safe string of `n` random bytes.
pub fn random_token(n: usize) -> String {
    let mut buf = vec![0u8; n];
    if SystemRandom::new().fill(&mut buf).is_err() {
        // Fall back to the thread RNG; the sandbox needs uniqueness, not secrecy.
        use rand::RngCore;
        rand::thread_rng().fill_bytes(&mut buf);
    }
    URL_SAFE_NO_PAD.encode(buf)
}

impl TokenRegistry {
    pub fn issue_code(&self, grant: CodeGrant) -> String {
        let code = random_token(18);
        self.write().codes.insert(code.clone(), grant);
        code
    }

    /// Consumes a code (codes are single use).
    pub fn take_code(&self, provider: Provider, code: &str) -> Option<CodeGrant> {
        let mut t = self.write();
        match t.codes.get(code) {
            Some(g) if g.provider == provider => t.codes.remove(code),
            _ => None,
        }
    }

    /// Registers an access token minted by the caller.
    pub fn issue_access(&self, provider: Provider, account: &str, token: String, ttl_seconds: u64) {
        let expires_at_ms = now_ms().saturating_add((ttl_seconds as i64).saturating_mul(1000));
        self.write().access.insert(
            token,
            AccessGrant {
                provider,
                account: account.to_owned(),
                expires_at_ms,
            },
        );
    }

    /// Registers an access token (minted by the caller) and a fresh refresh token.
    pub fn issue_pair(
        &self,
        provider: Provider,
        account: &str,
        client_id: &str,
        access_token: String,
        ttl_seconds: u64,
    ) -> String {
        self.issue_access(provider, account, access_token, ttl_seconds);
        let refresh = random_token(24);
        self.write().refresh.insert(
            refresh.clone(),
            RefreshGrant {
                provider,
                account: account.to_owned(),
                client_id: client_id.to_owned(),
            },
        );
        refresh
    }

    /// Looks up a refresh token; when `rotate`, it is consumed.
    pub fn use_refresh(
        &self,
        provider: Provider,
        token: &str,
        client_id: &str,
        rotate: bool,
    ) -> Option<String> {
        let mut t = self.write();
        let grant = t.refresh.get(token)?;
        if grant.provider != provider || grant.client_id != client_id {
            return None;
        }
        let account = grant.account.clone();
        if rotate {
            t.refresh.remove(token);
        }
        Some(account)
    }

    pub fn check_access(&self, provider: Provider, token: &str) -> TokenCheck {
        let t = self.inner.read().unwrap_or_else(|e| e.into_inner());
        match t.access.get(token) {
            Some(g) if g.provider == provider => {
                let now = now_ms();
                if now >= g.expires_at_ms {
                    TokenCheck::Expired {
                        seconds_ago: (now - g.expires_at_ms) / 1000,
                    }
                } else {
                    TokenCheck::Valid {
                        account: g.account.clone(),
                    }
                }
            }
            _ => TokenCheck::Unknown,
        }
    }

    /// Seconds left on an access token (for HubSpot's token introspection).
    pub fn access_expires_in(&self, provider: Provider, token: &str) -> Option<(String, i64)> {
        let t = self.inner.read().unwrap_or_else(|e| e.into_inner());
        let g = t.access.get(token).filter(|g| g.provider == provider)?;
        Some((g.account.clone(), (g.expires_at_ms - now_ms()) / 1000))
    }

    /// Revokes every refresh and access token of one account (as a user uninstalling the app
    /// does); returns how many refresh tokens were revoked.
    pub fn revoke_account(&self, provider: Provider, account: &str) -> usize {
        let mut t = self.write();
        let before = t.refresh.len();
        t.refresh
            .retain(|_, g| !(g.provider == provider && g.account == account));
        t.access
            .retain(|_, g| !(g.provider == provider && g.account == account));
        before - t.refresh.len()
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Tokens> {
        self.inner.write().unwrap_or_else(|e| e.into_inner())
    }
}

/// Reads the token of an `Authorization: Bearer <token>` header.
pub fn bearer(headers: &axum::http::HeaderMap) -> Option<&str> {
    let v = headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
        .filter(|t| !t.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotated_refresh_token_is_single_use() {
        let reg = TokenRegistry::default();
        let r = reg.issue_pair(Provider::Jobber, "default", "c", "a1".into(), 60);
        assert_eq!(
            reg.use_refresh(Provider::Jobber, &r, "c", true).as_deref(),
            Some("default")
        );
        assert_eq!(reg.use_refresh(Provider::Jobber, &r, "c", true), None);
        assert_eq!(
            reg.check_access(Provider::Jobber, "a1"),
            TokenCheck::Valid {
                account: "default".into()
            }
        );
        assert_eq!(
            reg.check_access(Provider::Hubspot, "a1"),
            TokenCheck::Unknown
        );
    }
}
