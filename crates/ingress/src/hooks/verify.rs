//! Signature and secret checks for the webhook receivers, all in constant time.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use ring::{digest, hmac, rand::SecureRandom};
use subtle::ConstantTimeEq;

/// HubSpot rejects (and we reject) a request timestamp further than this from now.
pub const HUBSPOT_MAX_SKEW_MS: i64 = 5 * 60 * 1000;

/// HubSpot v3: `signature` = base64(HMAC-SHA256(secret, method + uri + body + timestamp)).
pub fn hubspot_v3(
    secret: &str,
    method: &str,
    uri: &str,
    body: &[u8],
    timestamp: &str,
    signature: &str,
) -> bool {
    let Ok(sig) = STANDARD.decode(signature.trim()) else {
        return false;
    };
    let mut message = Vec::with_capacity(method.len() + uri.len() + body.len() + timestamp.len());
    message.extend_from_slice(method.as_bytes());
    message.extend_from_slice(uri.as_bytes());
    message.extend_from_slice(body);
    message.extend_from_slice(timestamp.as_bytes());
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    hmac::verify(&key, &message, &sig).is_ok()
}

/// Whether HubSpot's millisecond `timestamp` is within five minutes of `now_ms`.
pub fn hubspot_fresh(timestamp: &str, now_ms: i64) -> bool {
    timestamp
        .trim()
        .parse::<i64>()
        .is_ok_and(|ts| (now_ms - ts).abs() <= HUBSPOT_MAX_SKEW_MS)
}

/// Jobber: `signature` = base64(HMAC-SHA256(client secret, raw body)).
pub fn jobber(secret: &str, body: &[u8], signature: &str) -> bool {
    let Ok(sig) = STANDARD.decode(signature.trim()) else {
        return false;
    };
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    hmac::verify(&key, body, &sig).is_ok()
}

/// SHA-256 of a webhook secret (what the connection row keeps).
pub fn secret_hash(secret: &str) -> Vec<u8> {
    digest::digest(&digest::SHA256, secret.as_bytes())
        .as_ref()
        .to_vec()
}

/// Whether `candidate` hashes to `stored`, compared in constant time (`subtle`).
pub fn secret_matches(candidate: &str, stored: &[u8]) -> bool {
    let hash = secret_hash(candidate);
    bool::from(hash.as_slice().ct_eq(stored))
}

/// A new random webhook secret (32 bytes, base64url).
pub fn new_secret() -> Result<String, ring::error::Unspecified> {
    let mut bytes = [0u8; 32];
    ring::rand::SystemRandom::new().fill(&mut bytes)?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sign(secret: &str, msg: &[u8]) -> String {
        let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
        STANDARD.encode(hmac::sign(&key, msg))
    }

    #[test]
    fn hubspot_signature_covers_method_uri_body_and_timestamp() {
        let sig = sign("s", b"POSThttps://x.test/hooks/hubspot?a=1[]1700000000000");
        let ok = |m, u, b: &[u8], t| hubspot_v3("s", m, u, b, t, &sig);
        assert!(ok(
            "POST",
            "https://x.test/hooks/hubspot?a=1",
            b"[]",
            "1700000000000"
        ));
        assert!(!ok(
            "GET",
            "https://x.test/hooks/hubspot?a=1",
            b"[]",
            "1700000000000"
        ));
        assert!(!ok(
            "POST",
            "https://x.test/hooks/hubspot",
            b"[]",
            "1700000000000"
        ));
        assert!(!ok(
            "POST",
            "https://x.test/hooks/hubspot?a=1",
            b"[ ]",
            "1700000000000"
        ));
        assert!(!ok(
            "POST",
            "https://x.test/hooks/hubspot?a=1",
            b"[]",
            "1700000000001"
        ));
        assert!(!hubspot_v3("t", "POST", "u", b"", "1", "not base64!"));
    }

    #[test]
    fn hubspot_timestamps_older_or_newer_than_five_minutes_are_stale() {
        let now = 1_700_000_000_000;
        assert!(hubspot_fresh("1700000000000", now));
        assert!(hubspot_fresh(&(now - HUBSPOT_MAX_SKEW_MS).to_string(), now));
        assert!(!hubspot_fresh(
            &(now - HUBSPOT_MAX_SKEW_MS - 1).to_string(),
            now
        ));
        assert!(!hubspot_fresh(
            &(now + HUBSPOT_MAX_SKEW_MS + 1).to_string(),
            now
        ));
        assert!(!hubspot_fresh("yesterday", now));
    }

    #[test]
    fn jobber_signature_is_over_the_raw_body() {
        let sig = sign("secret", b"{\"a\":1}");
        assert!(jobber("secret", b"{\"a\":1}", &sig));
        assert!(!jobber("secret", b"{\"a\": 1}", &sig));
        assert!(!jobber("other", b"{\"a\":1}", &sig));
    }

    #[test]
    fn secrets_are_verified_by_hash() {
        let s = new_secret().unwrap();
        assert_eq!(s.len(), 43);
        let stored = secret_hash(&s);
        assert!(secret_matches(&s, &stored));
        assert!(!secret_matches("guess", &stored));
        assert!(!secret_matches(&s, &stored[..31]));
        assert!(!secret_matches(&s, &[]));
    }
}
