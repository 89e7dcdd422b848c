//! Secrets at rest: AES-256-GCM (`ring::aead`), a random 96-bit nonce per seal, the owning row as AAD,
//! and the master keys — one current key that seals, previous keys that still open.
//!
//! A stored ciphertext describes itself: `v1:<key id>:` followed by `nonce || ciphertext || tag`,
//! all in the one `bytea` value (see [`SealedToken::to_stored`]). We chose this over a key-id column
//! beside each ciphertext because the id then cannot be separated from the bytes it names: an
//! `UPDATE` that replaces one token and keeps another (`COALESCE(new, refresh_token)`) keeps each
//! with its own id, access and refresh token of one connection can be under different keys during
//! a rotation, and a future sealed column needs no companion column to stay readable. The V14
//! migration prefixed every existing value with the id from the old `key_id` column and dropped it.
//!
//! A key's id is derived from the key: the first 8 hex chars of the SHA-256 of its 32 bytes, so the
//! same key always has the same id in every process and no id can name two keys.
//! `FLUXCASCADE_MASTER_KEY` is `base64` or `id:base64`; `FLUXCASCADE_MASTER_KEYS_PREVIOUS` is a
//! comma-separated list of the same. A given id must be the derived one (a guard against pasting the
//! wrong key next to an id). Opening a value sealed under a key this process does not have fails
//! with [`StoreError::UnknownKey`], which names the key id — never key material.

use base64::Engine;
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use ring::rand::{SecureRandom, SystemRandom};

use crate::StoreError;

/// The version tag every stored ciphertext starts with.
const FORMAT: &[u8] = b"v1:";

/// One 32-byte key and its derived id.
struct KeyEntry {
    id: String,
    key: LessSafeKey,
}

impl KeyEntry {
    /// `base64` or `id:base64`; `what` names the variable in errors (never the value).
    fn parse(text: &str, what: &str) -> Result<KeyEntry, StoreError> {
        let text = text.trim();
        let (given_id, b64) = match text.split_once(':') {
            Some((id, b64)) => (Some(id.trim()), b64.trim()),
            None => (None, text),
        };
        let raw = base64::engine::general_purpose::STANDARD
            .decode(b64)
            // The decoder's error would quote the offending character of the key: not shown.
            .map_err(|_| StoreError::Crypto(format!("{what} is not base64")))?;
        if raw.len() != 32 {
            return Err(StoreError::Crypto(format!(
                "{what} must be 32 bytes, got {}",
                raw.len()
            )));
        }
        let digest = ring::digest::digest(&ring::digest::SHA256, &raw);
        let id = hex::encode(&digest.as_ref()[..4]);
        if let Some(given) = given_id {
            if given != id {
                return Err(StoreError::Crypto(format!(
                    "{what}: the key given as id {given:?} has id {id} (an id is the first 8 hex chars of the key's SHA-256)"
                )));
            }
        }
        let unbound = UnboundKey::new(&AES_256_GCM, &raw)
            .map_err(|_| StoreError::Crypto(format!("{what} is not an AES-256 key")))?;
        Ok(KeyEntry {
            id,
            key: LessSafeKey::new(unbound),
        })
    }
}

/// The master keys: the current one seals, every one (current first, then the previous ones) opens
/// what was sealed under it. Passed around as one value, so every process that reads or writes a
/// secret holds the same set.
pub struct MasterKey {
    current: KeyEntry,
    previous: Vec<KeyEntry>,
    rng: SystemRandom,
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MasterKey")
            .field("key_id", &self.current.id)
            .field("previous_key_ids", &self.previous_key_ids())
            .field("keys", &"[redacted]")
            .finish()
    }
}

/// A sealed value: `nonce || ciphertext || tag`, and the id of the key that sealed it.
#[derive(Clone, PartialEq, Eq)]
pub struct SealedToken {
    pub key_id: String,
    pub bytes: Vec<u8>,
}

impl std::fmt::Debug for SealedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SealedToken")
            .field("key_id", &self.key_id)
            .field("bytes", &format_args!("[{} bytes]", self.bytes.len()))
            .finish()
    }
}

impl SealedToken {
    /// The stored form: `v1:<key id>:` then the sealed bytes.
    pub fn to_stored(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(FORMAT.len() + self.key_id.len() + 1 + self.bytes.len());
        out.extend_from_slice(FORMAT);
        out.extend_from_slice(self.key_id.as_bytes());
        out.push(b':');
        out.extend_from_slice(&self.bytes);
        out
    }

    /// Reads the stored form; `Corrupt` for anything else (never echoing the bytes).
    pub fn from_stored(stored: &[u8]) -> Result<SealedToken, StoreError> {
        let rest = stored.strip_prefix(FORMAT).ok_or_else(|| {
            StoreError::Corrupt("a sealed value without its v1:<key id>: prefix".into())
        })?;
        let colon = rest
            .iter()
            .take(65)
            .position(|b| *b == b':')
            .ok_or_else(|| StoreError::Corrupt("a sealed value without a key id".into()))?;
        let key_id = std::str::from_utf8(&rest[..colon])
            .ok()
            .filter(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric()))
            .ok_or_else(|| StoreError::Corrupt("a sealed value with a malformed key id".into()))?;
        Ok(SealedToken {
            key_id: key_id.to_owned(),
            bytes: rest[colon + 1..].to_vec(),
        })
    }

    /// The key id a stored value was sealed under.
    pub fn key_id_of(stored: &[u8]) -> Result<String, StoreError> {
        Ok(SealedToken::from_stored(stored)?.key_id)
    }
}

impl MasterKey {
    /// One key, base64 of 32 bytes (or `id:base64`), with no previous keys.
    pub fn from_base64(b64: &str) -> Result<MasterKey, StoreError> {
        MasterKey::from_config(b64, None)
    }

    /// `FLUXCASCADE_MASTER_KEY` and `FLUXCASCADE_MASTER_KEYS_PREVIOUS` (comma-separated; empty
    /// entries ignored). A previous key equal to the current one is dropped; a repeated one too.
    pub fn from_config(current: &str, previous: Option<&str>) -> Result<MasterKey, StoreError> {
        let current = KeyEntry::parse(current, "FLUXCASCADE_MASTER_KEY")?;
        let mut prev: Vec<KeyEntry> = Vec::new();
        for (i, text) in previous
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .enumerate()
        {
            let what = format!("FLUXCASCADE_MASTER_KEYS_PREVIOUS entry {}", i + 1);
            let entry = KeyEntry::parse(text, &what)?;
            if entry.id != current.id && prev.iter().all(|p| p.id != entry.id) {
                prev.push(entry);
            }
        }
        Ok(MasterKey {
            current,
            previous: prev,
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

    /// The id of the current (sealing) key.
    pub fn key_id(&self) -> &str {
        &self.current.id
    }

    /// The ids of the previous keys, in configuration order.
    pub fn previous_key_ids(&self) -> Vec<&str> {
        self.previous.iter().map(|k| k.id.as_str()).collect()
    }

    /// The prefix of every value sealed under the current key (`v1:<id>:`), for SQL that finds
    /// values under other keys.
    pub fn current_prefix(&self) -> Vec<u8> {
        SealedToken {
            key_id: self.current.id.clone(),
            bytes: Vec::new(),
        }
        .to_stored()
    }

    /// Whether a stored value is sealed under the current key.
    pub fn is_current(&self, stored: &[u8]) -> bool {
        stored.starts_with(&self.current_prefix())
    }

    pub fn seal(&self, aad: &str, plaintext: &str) -> Result<SealedToken, StoreError> {
        let mut nonce = [0u8; NONCE_LEN];
        self.rng
            .fill(&mut nonce)
            .map_err(|_| StoreError::Crypto("RNG failure".into()))?;
        let mut buf = plaintext.as_bytes().to_vec();
        self.current
            .key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad.as_bytes()),
                &mut buf,
            )
            .map_err(|_| StoreError::Crypto("seal failed".into()))?;
        let mut bytes = nonce.to_vec();
        bytes.extend_from_slice(&buf);
        Ok(SealedToken {
            key_id: self.current.id.clone(),
            bytes,
        })
    }

    /// Seals under the current key and returns the stored form.
    pub fn seal_stored(&self, aad: &str, plaintext: &str) -> Result<Vec<u8>, StoreError> {
        Ok(self.seal(aad, plaintext)?.to_stored())
    }

    /// Opens with whichever configured key sealed it; [`StoreError::UnknownKey`] when none did.
    pub fn open(&self, aad: &str, sealed: &SealedToken) -> Result<String, StoreError> {
        let entry = std::iter::once(&self.current)
            .chain(&self.previous)
            .find(|k| k.id == sealed.key_id)
            .ok_or_else(|| StoreError::UnknownKey(sealed.key_id.clone()))?;
        if sealed.bytes.len() < NONCE_LEN {
            return Err(StoreError::Crypto("sealed token too short".into()));
        }
        let (nonce, ct) = sealed.bytes.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce)
            .map_err(|_| StoreError::Crypto("bad nonce".into()))?;
        let mut buf = ct.to_vec();
        let plain = entry
            .key
            .open_in_place(nonce, Aad::from(aad.as_bytes()), &mut buf)
            .map_err(|_| {
                StoreError::Crypto(format!(
                    "a value sealed under key {} does not open with it for this row",
                    entry.id
                ))
            })?;
        String::from_utf8(plain.to_vec())
            .map_err(|_| StoreError::Crypto("token is not UTF-8".into()))
    }

    /// Opens a stored value (`v1:<key id>:…`).
    pub fn open_stored(&self, aad: &str, stored: &[u8]) -> Result<String, StoreError> {
        self.open(aad, &SealedToken::from_stored(stored)?)
    }
}

#[cfg(test)]
#[path = "crypto_tests.rs"]
mod tests;
