//! Unit tests of sealing, the stored format and the master key set (current and previous keys).

use super::*;

fn key() -> String {
    MasterKey::generate_base64()
}

#[test]
fn seal_open_roundtrip_and_aad_binding() {
    let key = MasterKey::from_base64(&key()).unwrap();
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
fn the_stored_form_names_its_key_and_round_trips() {
    let key = MasterKey::from_base64(&key()).unwrap();
    let stored = key.seal_stored("c", "tok").unwrap();
    let prefix = format!("v1:{}:", key.key_id());
    assert!(stored.starts_with(prefix.as_bytes()));
    assert_eq!(key.current_prefix(), prefix.as_bytes());
    assert!(key.is_current(&stored));
    assert_eq!(SealedToken::key_id_of(&stored).unwrap(), key.key_id());
    assert_eq!(key.open_stored("c", &stored).unwrap(), "tok");
    for bad in [
        &b""[..],
        b"\x00\x01\x02",
        b"v1:",
        b"v1:ab cd:xyz",
        b"v2:abcd:xyz",
    ] {
        assert!(
            matches!(SealedToken::from_stored(bad), Err(StoreError::Corrupt(_))),
            "{bad:?}"
        );
    }
}

#[test]
fn previous_keys_open_and_only_the_current_key_seals() {
    let (a, b) = (key(), key());
    let old = MasterKey::from_base64(&a).unwrap();
    let stored_a = old.seal_stored("c", "under A").unwrap();
    let rotated = MasterKey::from_config(&b, Some(&a)).unwrap();
    assert_eq!(rotated.previous_key_ids(), vec![old.key_id()]);
    assert_eq!(rotated.open_stored("c", &stored_a).unwrap(), "under A");
    assert!(!rotated.is_current(&stored_a));
    let stored_b = rotated.seal_stored("c", "under B").unwrap();
    assert!(rotated.is_current(&stored_b));
    assert_ne!(rotated.key_id(), old.key_id());
    // B alone opens B's value, not A's.
    let only_b = MasterKey::from_base64(&b).unwrap();
    assert_eq!(only_b.open_stored("c", &stored_b).unwrap(), "under B");
    assert!(only_b.open_stored("c", &stored_a).is_err());
}

#[test]
fn an_unknown_key_id_is_named_and_no_key_material_is() {
    let (a, b) = (key(), key());
    let old = MasterKey::from_base64(&a).unwrap();
    let only_b = MasterKey::from_base64(&b).unwrap();
    let stored = old.seal_stored("c", "tok").unwrap();
    let e = only_b.open_stored("c", &stored).unwrap_err();
    assert!(
        matches!(&e, StoreError::UnknownKey(id) if id == old.key_id()),
        "{e:?}"
    );
    let text = e.to_string();
    assert!(text.contains(old.key_id()), "{text}");
    for secret in [&a, &b] {
        assert!(!text.contains(secret.as_str()), "{text}");
    }
}

#[test]
fn keys_with_ids_must_carry_their_own_id() {
    let a = key();
    let id = MasterKey::from_base64(&a).unwrap().key_id().to_owned();
    let with_id = MasterKey::from_base64(&format!("{id}:{a}")).unwrap();
    assert_eq!(with_id.key_id(), id);
    let e = MasterKey::from_base64(&format!("deadbeef:{a}")).unwrap_err();
    assert!(e.to_string().contains(&id), "{e}");
    assert!(!e.to_string().contains(&a), "{e}");
    let e = MasterKey::from_config(&key(), Some(&format!("{a}, nonsense"))).unwrap_err();
    assert!(
        e.to_string()
            .contains("FLUXCASCADE_MASTER_KEYS_PREVIOUS entry 2"),
        "{e}"
    );
    // Blank entries and the current key itself are not previous keys.
    let k = MasterKey::from_config(&a, Some(&format!(" ,{a},"))).unwrap();
    assert!(k.previous_key_ids().is_empty());
}

#[test]
fn rejects_bad_keys() {
    assert!(MasterKey::from_base64("not base64!").is_err());
    assert!(MasterKey::from_base64("AAAA").is_err());
}

#[test]
fn debug_redacts() {
    let (a, b) = (key(), key());
    let k = MasterKey::from_config(&a, Some(&b)).unwrap();
    let text = format!("{k:?}");
    assert!(text.contains("redacted"), "{text}");
    assert!(!text.contains(&a) && !text.contains(&b), "{text}");
    let sealed = k.seal("c", "plaintext-token").unwrap();
    let text = format!("{sealed:?}");
    assert!(
        text.contains(k.key_id()) && text.contains("bytes"),
        "{text}"
    );
}
