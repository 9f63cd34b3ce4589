//! AES-256-GCM with the barrier's ciphertext layout.
//!
//! Layout: `[version 0x01][term: u32 BE][nonce: 12][ciphertext || tag: 16]`. The term says which
//! keyring key to use, so old values stay readable after a rotation. The caller's AAD (the
//! storage path) binds a ciphertext to where it is stored: moved elsewhere, it fails to open.

use aes_gcm::aead::{Aead, KeyInit, OsRng, Payload};
use aes_gcm::{AeadCore, Aes256Gcm, Key, Nonce};
use zeroize::{Zeroize, ZeroizeOnDrop};

const VERSION: u8 = 1;
const HEADER: usize = 1 + 4 + 12;
const TAG: usize = 16;

/// A 256-bit AES key; zeroized on drop and never printed.
#[derive(Clone, Zeroize, ZeroizeOnDrop, PartialEq, Eq)]
pub struct AesKey([u8; 32]);

impl AesKey {
    pub fn generate() -> Self {
        let key = Aes256Gcm::generate_key(OsRng);
        Self(key.into())
    }

    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        let arr: [u8; 32] = bytes.try_into().ok()?;
        Some(Self(arr))
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl std::fmt::Debug for AesKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AesKey(<redacted>)")
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AeadError {
    #[error("ciphertext is malformed")]
    Malformed,
    #[error("ciphertext has unsupported version {0}")]
    Version(u8),
    #[error("ciphertext failed authentication")]
    Authentication,
}

/// The authenticated data: the version and term header, then the caller's AAD. Covering the
/// header means a ciphertext cannot be relabelled with another term.
fn full_aad(header: &[u8], aad: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(header.len() + aad.len());
    out.extend_from_slice(header);
    out.extend_from_slice(aad);
    out
}

pub fn seal(key: &AesKey, term: u32, aad: &[u8], plaintext: &[u8]) -> Vec<u8> {
    let cipher = Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&key.0));
    let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
    let mut header = [VERSION, 0, 0, 0, 0];
    header[1..].copy_from_slice(&term.to_be_bytes());
    let ct = cipher
        .encrypt(
            &nonce,
            Payload {
                msg: plaintext,
                aad: &full_aad(&header, aad),
            },
        )
        .expect("AES-GCM encryption cannot fail for in-memory buffers under 64 GiB");
    let mut out = Vec::with_capacity(HEADER + ct.len());
    out.extend_from_slice(&header);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&ct);
    out
}

/// The term a ciphertext was written under, without decrypting it.
pub fn term_of(ciphertext: &[u8]) -> Result<u32, AeadError> {
    if ciphertext.len() < HEADER + TAG {
        return Err(AeadError::Malformed);
    }
    if ciphertext[0] != VERSION {
        return Err(AeadError::Version(ciphertext[0]));
    }
    let mut term = [0u8; 4];
    term.copy_from_slice(&ciphertext[1..5]);
    Ok(u32::from_be_bytes(term))
}

pub fn open(key: &AesKey, aad: &[u8], ciphertext: &[u8]) -> Result<Vec<u8>, AeadError> {
    term_of(ciphertext)?;
    let cipher = Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&key.0));
    let nonce = Nonce::from_slice(&ciphertext[5..HEADER]);
    cipher
        .decrypt(
            nonce,
            Payload {
                msg: &ciphertext[HEADER..],
                aad: &full_aad(&ciphertext[..5], aad),
            },
        )
        .map_err(|_| AeadError::Authentication)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_value_opens_with_same_key_and_aad() {
        let key = AesKey::generate();
        let ct = seal(&key, 7, b"path/a", b"secret");
        assert_eq!(term_of(&ct).unwrap(), 7);
        assert_eq!(open(&key, b"path/a", &ct).unwrap(), b"secret");
    }

    #[test]
    fn value_under_another_aad_fails_to_open() {
        let key = AesKey::generate();
        let ct = seal(&key, 1, b"path/a", b"secret");
        assert_eq!(open(&key, b"path/b", &ct), Err(AeadError::Authentication));
    }

    #[test]
    fn every_flipped_byte_fails_to_open() {
        let key = AesKey::generate();
        let ct = seal(&key, 1, b"p", b"some secret value");
        for i in 0..ct.len() {
            let mut bad = ct.clone();
            bad[i] ^= 0x01;
            assert!(
                open(&key, b"p", &bad).is_err(),
                "flipping byte {i} must fail"
            );
        }
    }

    #[test]
    fn wrong_key_and_truncation_fail() {
        let ct = seal(&AesKey::generate(), 1, b"p", b"v");
        assert_eq!(
            open(&AesKey::generate(), b"p", &ct),
            Err(AeadError::Authentication)
        );
        assert_eq!(
            open(&AesKey::generate(), b"p", &ct[..10]),
            Err(AeadError::Malformed)
        );
    }

    #[test]
    fn key_debug_is_redacted() {
        assert_eq!(format!("{:?}", AesKey::generate()), "AesKey(<redacted>)");
    }
}
