//! Token encryption at rest: AES-256-GCM (`ring::aead`), random 96-bit nonce per seal, connection id as AAD.

use base64::Engine;
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use ring::rand::{SecureRandom, SystemRandom};

use crate::StoreError;

/// The master key tokens are sealed with. `key_id` is stored beside each ciphertext so keys can rotate.
pub struct MasterKey {
    key_id: String,
    key: LessSafeKey,
    rng: SystemRandom,
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MasterKey")
            .field("key_id", &self.key_id)
            .field("key", &"[redacted]")
            .finish()
    }
}

/// A sealed value: `nonce || ciphertext || tag`, plus the id of the key that sealed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedToken {
    pub key_id: String,
    pub bytes: Vec<u8>,
}

impl MasterKey {
    /// From base64 of 32 bytes (`FLUXCASCADE_MASTER_KEY`). The key id is derived from the key
    /// (first 8 hex chars of its SHA-256), so the same key always has the same id.
    pub fn from_base64(b64: &str) -> Result<MasterKey, StoreError> {
        let raw = base64::engine::general_purpose::STANDARD
            .decode(b64.trim())
            .map_err(|e| StoreError::Crypto(format!("master key is not base64: {e}")))?;
        if raw.len() != 32 {
            return Err(StoreError::Crypto(format!(
                "master key must be 32 bytes, got {}",
                raw.len()
            )));
        }
        let digest = ring::digest::digest(&ring::digest::SHA256, &raw);
        let key_id = hex::encode(&digest.as_ref()[..4]);
        let unbound = UnboundKey::new(&AES_256_GCM, &raw)
            .map_err(|_| StoreError::Crypto("bad key".into()))?;
        Ok(MasterKey {
            key_id,
            key: LessSafeKey::new(unbound),
            rng: SystemRandom::new(),
        })
    }

    /// A fresh random key, base64 (for `make run` and tests).
    pub fn generate_base64() -> String {
        let mut raw = [0u8; 32];
        SystemRandom::new()
            .fill(&mut raw)
            .expect("system RNG failed");
        base64::engine::general_purpose::STANDARD.encode(raw)
    }

    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    pub fn seal(&self, aad: &str, plaintext: &str) -> Result<SealedToken, StoreError> {
        let mut nonce = [0u8; NONCE_LEN];
        self.rng
            .fill(&mut nonce)
            .map_err(|_| StoreError::Crypto("RNG failure".into()))?;
        let mut buf = plaintext.as_bytes().to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad.as_bytes()),
                &mut buf,
            )
            .map_err(|_| StoreError::Crypto("seal failed".into()))?;
        let mut bytes = nonce.to_vec();
        bytes.extend_from_slice(&buf);
        Ok(SealedToken {
            key_id: self.key_id.clone(),
            bytes,
        })
    }

    pub fn open(&self, aad: &str, sealed: &SealedToken) -> Result<String, StoreError> {
        if sealed.key_id != self.key_id {
            return Err(StoreError::Crypto(format!(
                "token sealed with unknown key {}",
                sealed.key_id
            )));
        }
        if sealed.bytes.len() < NONCE_LEN {
            return Err(StoreError::Crypto("sealed token too short".into()));
        }
        let (nonce, ct) = sealed.bytes.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce)
            .map_err(|_| StoreError::Crypto("bad nonce".into()))?;
        let mut buf = ct.to_vec();
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(aad.as_bytes()), &mut buf)
            .map_err(|_| {
                StoreError::Crypto("token does not open with this key and connection".into())
            })?;
        String::from_utf8(plain.to_vec())
            .map_err(|_| StoreError::Crypto("token is not UTF-8".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_roundtrip_and_aad_binding() {
        let key = MasterKey::from_base64(&MasterKey::generate_base64()).unwrap();
        let sealed = key.seal("conn-1", "secret-token").unwrap();
        assert!(!sealed.bytes.windows(12).any(|w| w == b"secret-token"));
        assert_eq!(key.open("conn-1", &sealed).unwrap(), "secret-token");
        assert!(
            key.open("conn-2", &sealed).is_err(),
            "a token moved to another connection must not open"
        );
        let again = key.seal("conn-1", "secret-token").unwrap();
        assert_ne!(again.bytes, sealed.bytes, "nonces are random");
    }

    #[test]
    fn rejects_bad_keys() {
        assert!(MasterKey::from_base64("not base64!").is_err());
        assert!(MasterKey::from_base64("AAAA").is_err());
    }

    #[test]
    fn debug_redacts() {
        let key = MasterKey::from_base64(&MasterKey::generate_base64()).unwrap();
        assert!(format!("{key:?}").contains("redacted"));
    }
}
