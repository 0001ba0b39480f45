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

/// AES-256-GCM for values stored at rest. The stored form is `v1.` + base64(nonce ‖ ciphertext);
/// the associated data binds a ciphertext to its row (the shop domain), so a token copied onto
/// another shop's row does not decrypt.
#[derive(Clone)]
pub struct TokenCipher {
    cipher: Aes256Gcm,
}

#[derive(Debug, thiserror::Error)]
#[error("stored secret could not be decrypted (wrong TOKEN_ENCRYPTION_KEY or tampered row)")]
pub struct DecryptError;

const VERSION_PREFIX: &str = "v1.";

impl TokenCipher {
    pub fn new(key: &[u8; 32]) -> Self {
        TokenCipher {
            cipher: Aes256Gcm::new(key.into()),
        }
    }

    pub fn encrypt(&self, plaintext: &str, associated_data: &str) -> String {
        let mut nonce = [0u8; 12];
        rand::rng().fill_bytes(&mut nonce);
        let ciphertext = self
            .cipher
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
        format!("{VERSION_PREFIX}{}", STANDARD_NO_PAD.encode(blob))
    }

    pub fn decrypt(&self, stored: &str, associated_data: &str) -> Result<String, DecryptError> {
        let blob = stored
            .strip_prefix(VERSION_PREFIX)
            .and_then(|b| STANDARD_NO_PAD.decode(b).ok())
            .ok_or(DecryptError)?;
        if blob.len() < 12 + 16 {
            return Err(DecryptError);
        }
        let (nonce, ciphertext) = blob.split_at(12);
        let plain = self
            .cipher
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
}
