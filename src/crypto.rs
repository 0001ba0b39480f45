//! Secret handling: encryption of store access tokens at rest, key derivation, HMAC helpers.

use aes_gcm::aead::{Aead, Payload};
use aes_gcm::{Aes256Gcm, KeyInit, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

pub type HmacSha256 = Hmac<Sha256>;

/// HKDF-SHA256 with an empty salt: one 32-byte key per purpose from one secret.
pub fn derive_key(ikm: &[u8], info: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    Hkdf::<Sha256>::new(None, ikm)
        .expand(info, &mut out)
        .expect("32 bytes is a valid HKDF-SHA256 output length");
    out
}

pub fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC accepts any key length");
    mac.update(message);
    mac.finalize().into_bytes().into()
}

/// Constant-time check of `expected_tag` against HMAC-SHA256(key, message).
pub fn hmac_sha256_verify(key: &[u8], message: &[u8], expected_tag: &[u8]) -> bool {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC accepts any key length");
    mac.update(message);
    mac.verify_slice(expected_tag).is_ok()
}

/// Constant-time equality of two byte strings (length is not secret).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

pub fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buf);
    hex::encode(buf)
}

/// AES-256-GCM for values stored at rest. The stored form is `v2.{key id}.` + base64(nonce ‖
/// ciphertext); the associated data binds a ciphertext to its row (the shop domain), so a token
/// copied onto another shop's row does not decrypt.
///
/// Keys rotate: values are written under the current key and read under whichever key their id
/// names, the current or the previous one (`TOKEN_ENCRYPTION_KEY_PREVIOUS`); a reader told a
/// value is stale writes it back under the current key, so the previous key can be retired once
/// every row was read. `v1.` values (no key id, written before ids existed) are tried with each.
#[derive(Clone)]
pub struct TokenCipher {
    /// The current key first.
    keys: Vec<(String, Aes256Gcm)>,
}

#[derive(Debug, thiserror::Error)]
#[error("stored secret could not be decrypted (wrong TOKEN_ENCRYPTION_KEY or tampered row)")]
pub struct DecryptError;

const LEGACY_PREFIX: &str = "v1.";
const PREFIX: &str = "v2.";

/// A key's public name: 8 hex digits of a hash of it, so a stored value says which key to use
/// without revealing anything about the key.
pub fn key_id(key: &[u8; 32]) -> String {
    hex::encode(&hmac_sha256(key, b"atelier/key-id/v1")[..4])
}

impl TokenCipher {
    pub fn new(key: &[u8; 32]) -> Self {
        Self::with_previous(key, None)
    }

    /// The current key, and the one before a rotation.
    pub fn with_previous(key: &[u8; 32], previous: Option<&[u8; 32]>) -> Self {
        TokenCipher {
            keys: std::iter::once(key)
                .chain(previous)
                .map(|k| (key_id(k), Aes256Gcm::new(k.into())))
                .collect(),
        }
    }

    pub fn encrypt(&self, plaintext: &str, associated_data: &str) -> String {
        let (id, cipher) = &self.keys[0];
        let mut nonce = [0u8; 12];
        rand::rng().fill_bytes(&mut nonce);
        let ciphertext = cipher
            .encrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: plaintext.as_bytes(),
                    aad: associated_data.as_bytes(),
                },
            )
            .expect("AES-GCM encryption of a short token cannot fail");
        let mut blob = nonce.to_vec();
        blob.extend_from_slice(&ciphertext);
        format!("{PREFIX}{id}.{}", STANDARD_NO_PAD.encode(blob))
    }

    pub fn decrypt(&self, stored: &str, associated_data: &str) -> Result<String, DecryptError> {
        self.decrypt_fresh(stored, associated_data).map(|(v, _)| v)
    }

    /// The plaintext, and whether the stored value should be written again under the current
    /// key (it names the previous key, or no key).
    pub fn decrypt_fresh(
        &self,
        stored: &str,
        associated_data: &str,
    ) -> Result<(String, bool), DecryptError> {
        if let Some(rest) = stored.strip_prefix(PREFIX) {
            let (id, b64) = rest.split_once('.').ok_or(DecryptError)?;
            let at = self
                .keys
                .iter()
                .position(|(k, _)| k == id)
                .ok_or(DecryptError)?;
            let plain = open(&self.keys[at].1, b64, associated_data)?;
            return Ok((plain, at != 0));
        }
        let b64 = stored.strip_prefix(LEGACY_PREFIX).ok_or(DecryptError)?;
        self.keys
            .iter()
            .find_map(|(_, c)| open(c, b64, associated_data).ok())
            .map(|plain| (plain, true))
            .ok_or(DecryptError)
    }
}

fn open(cipher: &Aes256Gcm, b64: &str, associated_data: &str) -> Result<String, DecryptError> {
    let blob = STANDARD_NO_PAD.decode(b64).map_err(|_| DecryptError)?;
    if blob.len() < 12 + 16 {
        return Err(DecryptError);
    }
    let (nonce, ciphertext) = blob.split_at(12);
    let plain = cipher
        .decrypt(
            &Nonce::try_from(nonce).map_err(|_| DecryptError)?,
            Payload {
                msg: ciphertext,
                aad: associated_data.as_bytes(),
            },
        )
        .map_err(|_| DecryptError)?;
    String::from_utf8(plain).map_err(|_| DecryptError)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_round_trips_and_is_not_stored_in_clear() {
        let c = TokenCipher::new(&[7u8; 32]);
        let stored = c.encrypt("shpat_0123456789abcdef", "a.myshopify.com");
        assert!(!stored.contains("shpat"));
        assert_ne!(
            stored,
            c.encrypt("shpat_0123456789abcdef", "a.myshopify.com"),
            "fresh nonce"
        );
        assert_eq!(
            c.decrypt(&stored, "a.myshopify.com").unwrap(),
            "shpat_0123456789abcdef"
        );
    }

    #[test]
    fn wrong_key_row_or_tampering_fails() {
        let c = TokenCipher::new(&[7u8; 32]);
        let stored = c.encrypt("shpat_x", "a.myshopify.com");
        assert!(
            TokenCipher::new(&[8u8; 32])
                .decrypt(&stored, "a.myshopify.com")
                .is_err()
        );
        assert!(c.decrypt(&stored, "b.myshopify.com").is_err());
        let mut tampered = stored.clone().into_bytes();
        let last = tampered.len() - 2;
        tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
        assert!(
            c.decrypt(std::str::from_utf8(&tampered).unwrap(), "a.myshopify.com")
                .is_err()
        );
        assert!(c.decrypt("garbage", "a.myshopify.com").is_err());
    }

    #[test]
    fn constant_time_eq_behaves_like_eq() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }

    #[test]
    fn values_name_their_key_and_survive_a_rotation() {
        let (k1, k2) = ([1u8; 32], [2u8; 32]);
        let old = TokenCipher::new(&k1);
        let stored = old.encrypt("shpat_x", "a.myshopify.com");
        assert!(
            stored.starts_with(&format!("v2.{}.", key_id(&k1))),
            "{stored}"
        );
        assert_ne!(key_id(&k1), key_id(&k2));

        let rotated = TokenCipher::with_previous(&k2, Some(&k1));
        assert_eq!(
            rotated.decrypt_fresh(&stored, "a.myshopify.com").unwrap(),
            ("shpat_x".to_owned(), true),
            "read under the previous key, to be written again"
        );
        let again = rotated.encrypt("shpat_x", "a.myshopify.com");
        assert_eq!(
            rotated.decrypt_fresh(&again, "a.myshopify.com").unwrap(),
            ("shpat_x".to_owned(), false)
        );
        assert!(
            TokenCipher::new(&k2)
                .decrypt(&stored, "a.myshopify.com")
                .is_err()
        );
        assert_eq!(
            TokenCipher::new(&k2)
                .decrypt(&again, "a.myshopify.com")
                .unwrap(),
            "shpat_x"
        );
        // A key id that names the current key does not let a value of another key pass.
        let forged = format!(
            "v2.{}.{}",
            key_id(&k2),
            stored.splitn(3, '.').nth(2).unwrap()
        );
        assert!(rotated.decrypt(&forged, "a.myshopify.com").is_err());
    }

    #[test]
    fn values_written_before_key_ids_are_still_read() {
        let key = [5u8; 32];
        let c = TokenCipher::new(&key);
        // The former format: `v1.` + base64(nonce ‖ ciphertext) under the key.
        let v2 = c.encrypt("shpat_y", "a.myshopify.com");
        let legacy = format!("v1.{}", v2.splitn(3, '.').nth(2).unwrap());
        assert_eq!(
            c.decrypt_fresh(&legacy, "a.myshopify.com").unwrap(),
            ("shpat_y".to_owned(), true)
        );
        let rotated = TokenCipher::with_previous(&[6u8; 32], Some(&key));
        assert_eq!(
            rotated.decrypt(&legacy, "a.myshopify.com").unwrap(),
            "shpat_y"
        );
    }
}
